"""Elicitation worded afresh for every request, as a campaign with an LLM paraphraser sends it.

Nothing is fixed per client: each request draws its core ask, synonyms, opener, pretext,
closer, register and where the problem sits, so no skeleton repeats across requests or
accounts. Phrasings are the red team's own (``text/data/redteam/``), not the text bank's.

>>> import random
>>> e = Elicitor.load()
>>> p = e.prompt("hidden_reasoning", random.Random(4), "en")
>>> p.intent, p.messages[-1]["role"], len(FAMILIES)
('hidden_reasoning', 'user', 10)
>>> e.prompt("hidden_reasoning", random.Random(4), "ko").messages[-1]["content"] != ""
True
"""

from __future__ import annotations

import math
import random
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from distillguard.simulate.tactics.problems import SYLLABUS, problem
from distillguard.simulate.text import INTENTS, Prompt

FAMILIES = (
    "continue_thinking",
    "dataset_pretext",
    "encode_reasoning",
    "fake_authority",
    "persona",
    "prior_turn",
    "structured_transcript",
    "translate_reasoning",
    "verbatim_recall",
    "wrap_tags",
)
FRESH_INTENTS = ("reasoning_reconstruction", "hidden_reasoning", "rubric_grading", "coding_harvest")
MULTI_LANGUAGES = ("ko", "it", "tr", "ar", "hi", "vi", "id", "pl", "nl", "uk", "sv", "th")
_SLOT = re.compile(r"\{\{([a-z_]+)\}\}")
_VERBS = frozenset(
    (
        *("pick", "resume", "go", "put", "wrap", "open", "enclose", "recall", "quote"),
        *("reproduce", "translate", "give", "use", "lay", "return", "format", "play", "stay"),
        *("convert", "hide", "score", "grade", "assess", "act", "write", "solve"),
    )
)
_ASK = ("Please ", "Could you ", "Can you ", "I'd like you to ", "I need you to ", "Kindly ")
_BEFORE = (":\n", "\n\n", " — ", ":\n\n", ": ")
_AFTER = ("\n\n", "\n", "\n\n", " ")
_TOKENS = {"reasoning_reconstruction": (400, 2500), "hidden_reasoning": (300, 2200)}


def read_data(name: str) -> Any:
    path = resources.files("distillguard.simulate.text") / "data" / "redteam" / name
    return yaml.safe_load(path.read_text("utf-8"))


class Elicitor:
    """Fresh elicitation prompts for the intents in ``FRESH_INTENTS``, in 13 languages."""

    def __init__(self, en: dict[str, Any], multi: dict[str, Any]) -> None:
        self.en, self.multi = en, multi

    @classmethod
    @cache
    def load(cls) -> Elicitor:
        return cls(read_data("elicit_en.yaml"), read_data("elicit_multi.yaml"))

    def fill(self, text: str, rng: random.Random, values: dict[str, str] | None = None) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if values and name in values:
                return values[name]
            return str(rng.choice(self.en[name]))

        return _SLOT.sub(one, text)

    def prompt(
        self,
        intent: str,
        rng: random.Random,
        lang: str = "en",
        topic: str | None = None,
        system: str | None = None,
    ) -> Prompt:
        if lang in self.multi and intent in ("hidden_reasoning", "reasoning_reconstruction"):
            messages = self._multi(intent, rng, lang)
        else:
            messages = self._english(intent, rng, topic or rng.choice(SYLLABUS))
        return Prompt(
            intent,
            INTENTS[intent],
            system,
            messages,
            None,
            None,
            None,
            _TOKENS.get(intent, (300, 1800)),
        )

    def _english(self, intent: str, rng: random.Random, topic: str) -> list[dict[str, Any]]:
        if intent == "coding_harvest":
            text, answer = problem("algorithms", rng)
        else:
            text, answer = problem(topic, rng)
        if intent == "hidden_reasoning":
            family = rng.choice(FAMILIES)
            core = self.fill(rng.choice(self.en["hidden"][family]), rng)
            if family == "prior_turn":
                ask = {"role": "user", "content": self._dress(core, None, rng)}
                return [*_history(text, answer, rng), ask]
        elif intent == "reasoning_reconstruction":
            core = self.fill(rng.choice(self.en["reconstruct"]), rng, {"answer": answer})
        elif intent == "rubric_grading":
            core = self.fill(
                rng.choice(self.en["grading"]), rng, {"rubric": rng.choice(self.en["rubric"])}
            )
            wrong = rng.random() < 0.4
            claim = "something else entirely" if wrong else f"about {answer}"
            text = f"{text}\n\nAttempt: {_attempt(rng)} {claim}."
        else:
            core = self.fill(rng.choice(self.en["coding"]), rng, {"problem": text})
            return [{"role": "user", "content": self._dress(core, None, rng)}]
        return [{"role": "user", "content": self._dress(core, text, rng)}]

    def _dress(self, core: str, text: str | None, rng: random.Random) -> str:
        """Register, politeness, opener, pretext, closer and problem placement, all per request."""
        first = core.split(" ", 1)[0].lower()
        register = rng.random()
        if first in _VERBS and rng.random() < 0.6:
            ask = rng.choice(_ASK)
            core = ask + core
            end = "?" if ask.startswith(("Could", "Can")) else "."
        else:
            core, end = core[0].upper() + core[1:], rng.choice((".", ".", "!", ""))
        core = core.rstrip(".") + end
        parts: list[str] = []
        if rng.random() < 0.35:
            parts.append(rng.choice(self.en["openers"]))
        if rng.random() < 0.25:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(self.en["pretexts"]))
        lead = " ".join(parts)
        label = rng.choice(self.en["labels"])
        if text is None:
            body = core
        elif rng.random() < 0.5:
            body = f"{label}{text}{rng.choice(_AFTER)}{core}"
        else:
            body = f"{core.rstrip('.:?!')}{rng.choice(_BEFORE)}{label}{text}"
        if lead and rng.random() < 0.8:
            body = body[0].lower() + body[1:] if lead.endswith(",") else body
            out = f"{lead} {body}"
        else:
            out = f"{body}\n\n{lead}" if lead else body
        if rng.random() < 0.35:
            out += rng.choice((" ", "\n\n", "\n")) + rng.choice(self.en["closers"])
        if register < 0.25:  # typed fast: lower case, no final full stop
            out = out.lower().rstrip(".")
        return out

    def _multi(self, intent: str, rng: random.Random, lang: str) -> list[dict[str, Any]]:
        book = self.multi[lang]
        text, answer = multi_problem(book, rng)
        if intent == "reasoning_reconstruction":
            ask = rng.choice(book["reconstruct"]).replace("{{answer}}", answer)
        else:
            family = rng.choice(FAMILIES)
            ask = book["hidden"][family]
            if family == "prior_turn":
                return [*_history(text, answer, rng), {"role": "user", "content": ask}]
        return [{"role": "user", "content": multi_dress(book, ask, text, rng)}]


def multi_problem(book: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """One of a language's problem frames with fresh numbers, and its answer."""
    kind = rng.choice(("pct", "marbles", "speed"))
    a, b, p = rng.randint(3, 12), rng.randint(2, 9), rng.choice((10, 15, 20, 25, 30, 40))
    if kind == "pct":
        a *= rng.choice((10, 25, 50, 100))
        answer = f"{a * (1 - p / 100):g}"
    elif kind == "marbles":
        answer = f"{math.comb(a, 2) / math.comb(a + b, 2):.4f}"
    else:
        a *= rng.choice((20, 35, 60))
        answer = f"{a / b:.1f}"
    text = book["problems"][kind].replace("{{a}}", str(a)).replace("{{b}}", str(b))
    return text.replace("{{p}}", str(p)), answer


def multi_dress(book: dict[str, Any], ask: str, text: str, rng: random.Random) -> str:
    body = f"{text}\n\n{ask}" if rng.random() < 0.5 else f"{ask}\n\n{text}"
    if rng.random() < 0.4:
        body = f"{rng.choice(book['openers'])} {body}"
    if rng.random() < 0.4:
        body = f"{body} {rng.choice(book['closers'])}"
    return body


def _attempt(rng: random.Random) -> str:
    return rng.choice(
        (
            "I set it up as an equation and solved it, getting",
            "Using the formula directly I ended up with",
            "Drew a diagram, then the numbers gave",
            "My working gives",
            "After simplifying I arrive at",
        )
    )


def _history(text: str, answer: str, rng: random.Random) -> list[dict[str, Any]]:
    reply = rng.choice(("The answer is {a}.", "{a}", "It comes to {a}.", "Result: {a}"))
    return [
        {"role": "user", "content": text},
        {"role": "assistant", "content": reply.format(a=answer)},
    ]
