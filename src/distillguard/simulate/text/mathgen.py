"""Generated maths problems with their answers: arithmetic, algebra, percentages, word problems.

Benchmarks and students both mix textbook exercises with competition problems (CHAMP);
these are the textbook half, cheap to make and endless.

>>> import random
>>> text, answer = problem(random.Random(4), "en")
>>> bool(text) and bool(answer)
True
"""

from __future__ import annotations

import random
from collections.abc import Callable

Gen = Callable[[random.Random, str], tuple[str, str]]

_WORD = {
    "en": (
        "{n} has {a} {thing}. {pron} buys {b} packs with {c} {thing} each and gives away {d}. "
        "How many {thing} does {n} have now?"
    ),
    "zh": "{n}有{a}个{thing}，又买了{b}包，每包{c}个，然后送出{d}个。{n}现在有多少个{thing}？",
    "es": (
        "{n} tiene {a} {thing}. Compra {b} paquetes de {c} {thing} cada uno y regala {d}. "
        "¿Cuántos {thing} tiene {n} ahora?"
    ),
    "de": (
        "{n} hat {a} {thing}. Sie kauft {b} Packungen mit je {c} {thing} und verschenkt {d}. "
        "Wie viele {thing} hat {n} jetzt?"
    ),
    "fr": (
        "{n} a {a} {thing}. Elle achète {b} paquets de {c} {thing} et en donne {d}. "
        "Combien de {thing} a {n} maintenant ?"
    ),
    "ru": (
        "У {n} было {a} {thing}. Она купила {b} упаковок по {c} штук и отдала {d}. Сколько стало?"
    ),
    "ja": (
        "{n}は{thing}を{a}個持っています。{c}個入りの袋を{b}袋買い、{d}個あげました。"
        "今いくつありますか。"
    ),
    "pt": (
        "{n} tem {a} {thing}. Compra {b} pacotes com {c} {thing} cada e dá {d}. "
        "Quantos {thing} {n} tem agora?"
    ),
}
_THING = {
    "en": "stickers",
    "zh": "贴纸",
    "es": "cromos",
    "de": "Sticker",
    "fr": "autocollants",
    "ru": "наклеек",
    "ja": "シール",
    "pt": "figurinhas",
}
_RATE = {
    "en": (
        "A train travels {d} km in {t} hours. At the same speed, how far does it go in {u} hours?"
    ),
    "zh": "一列火车{t}小时行驶{d}千米。按同样的速度，{u}小时行驶多少千米？",
    "es": (
        "Un tren recorre {d} km en {t} horas. A la misma velocidad, ¿cuánto recorre en {u} horas?"
    ),
    "de": (
        "Ein Zug fährt {d} km in {t} Stunden. Wie weit kommt "
        "er bei gleicher Geschwindigkeit in {u} Stunden?"
    ),
    "fr": (
        "Un train parcourt {d} km en {t} heures. À la même vitesse, quelle distance en {u} heures ?"
    ),
    "ru": (
        "Поезд проходит {d} км за {t} ч. Какое расстояние он пройдёт за {u} ч с той же скоростью?"
    ),
    "ja": "列車が{t}時間で{d}km進みます。同じ速さで{u}時間では何km進みますか。",
    "pt": (
        "Um trem percorre {d} km em {t} horas. Na mesma "
        "velocidade, quantos km percorre em {u} horas?"
    ),
}
# Symbolic problems read the same everywhere; only the verb in front is translated.
_VERBS = {
    "en": ("Solve for x: ", "Compute ", "Find ", "Solve the system: "),
    "zh": ("解方程：", "计算：", "求导：", "解方程组："),
    "es": ("Resuelve para x: ", "Calcula ", "Halla ", "Resuelve el sistema: "),
    "de": ("Löse nach x auf: ", "Berechne ", "Bestimme ", "Löse das Gleichungssystem: "),
    "fr": ("Résous pour x : ", "Calcule ", "Détermine ", "Résous le système : "),
    "ja": ("xを求めよ：", "計算せよ：", "求めよ：", "連立方程式を解け："),
    "ru": ("Найдите x: ", "Вычислите ", "Найдите ", "Решите систему: "),
    "pt": ("Resolva para x: ", "Calcule ", "Encontre ", "Resolva o sistema: "),
}
_NAMES = ("Maria", "Ana", "Lena", "Yuki", "Olga", "Sofia", "Mei", "Clara")


def _word(rng: random.Random, lang: str) -> tuple[str, str]:
    a, b, c = rng.randint(5, 60), rng.randint(2, 9), rng.randint(3, 12)
    d = rng.randint(1, a)
    text = _WORD.get(lang, _WORD["en"]).format(
        n=rng.choice(_NAMES), pron="She", a=a, b=b, c=c, d=d, thing=_THING.get(lang, "stickers")
    )
    return text, str(a + b * c - d)


def _rate(rng: random.Random, lang: str) -> tuple[str, str]:
    v, t, u = rng.randint(40, 160), rng.randint(2, 5), rng.randint(2, 9)
    return _RATE.get(lang, _RATE["en"]).format(d=v * t, t=t, u=u), str(v * u)


def _linear(rng: random.Random, lang: str) -> tuple[str, str]:
    a, x, b = rng.randint(2, 12), rng.randint(-15, 20), rng.randint(-30, 30)
    verb = _VERBS.get(lang, _VERBS["en"])[0]
    return f"{verb}{a}x {'+' if b >= 0 else '-'} {abs(b)} = {a * x + b}", f"x = {x}"


def _arith(rng: random.Random, lang: str) -> tuple[str, str]:
    a, b, c = rng.randint(12, 999), rng.randint(3, 99), rng.randint(2, 50)
    return f"{_VERBS.get(lang, _VERBS['en'])[1]}{a} × {b} − {c}²", str(a * b - c * c)


def _percent(rng: random.Random, lang: str) -> tuple[str, str]:
    p, n = rng.choice((5, 12, 15, 20, 25, 35, 40, 75)), rng.randint(2, 40) * 20
    return f"{_VERBS.get(lang, _VERBS['en'])[1]}{p}% × {n}", f"{p * n / 100:g}"


def _quadratic(rng: random.Random, lang: str) -> tuple[str, str]:
    r, s = rng.randint(-9, 9), rng.randint(-9, 9)
    b, c = -(r + s), r * s
    verb = _VERBS.get(lang, _VERBS["en"])[0]
    return f"{verb}x² {'+' if b >= 0 else '-'} {abs(b)}x {'+' if c >= 0 else '-'} {abs(c)} = 0", (
        f"x = {min(r, s)}, x = {max(r, s)}" if r != s else f"x = {r}"
    )


def _derivative(rng: random.Random, lang: str) -> tuple[str, str]:
    a, n, b = rng.randint(2, 9), rng.randint(2, 6), rng.randint(1, 20)
    return f"{_VERBS.get(lang, _VERBS['en'])[2]}d/dx ({a}x^{n} + {b}x)", f"{a * n}x^{n - 1} + {b}"


def _system(rng: random.Random, lang: str) -> tuple[str, str]:
    x, y = rng.randint(-8, 12), rng.randint(-8, 12)
    a, b, c, d = rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 6), -rng.randint(1, 6)
    verb = _VERBS.get(lang, _VERBS["en"])[3]
    eqs = f"{a}x + {b}y = {a * x + b * y}, {c}x - {-d}y = {c * x + d * y}"
    return verb + eqs, f"x = {x}, y = {y}"


WORDED: tuple[Gen, ...] = (_word, _rate)
SYMBOLIC: tuple[Gen, ...] = (_linear, _arith, _percent, _quadratic, _derivative, _system)


def problem(rng: random.Random, lang: str) -> tuple[str, str]:
    """A generated problem in ``lang`` (symbolic ones read the same in every language)."""
    gen = rng.choice(WORDED) if rng.random() < 0.4 else rng.choice(SYMBOLIC)
    return gen(rng, lang)
