"""Problems by topic, written for this project: what students study and farms harvest.

The topic order is a syllabus: a curriculum farm and a class of students both walk it one
topic at a time. Numbers are drawn per problem, so no two problems are the same text.

>>> import random
>>> text, answer = problem("probability", random.Random(2))
>>> len(TOPICS), bool(text), bool(answer)
(14, True, True)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Gen = Callable[[random.Random], tuple[str, str]]
_NAMES = ("Amara", "Bo", "Carmen", "Dmitri", "Esi", "Farid", "Greta", "Hiro", "Ines", "Jonas")
_ITEMS = ("jackets", "lamps", "bicycles", "headphones", "chairs", "tickets", "backpacks")


def _percentages(r: random.Random) -> tuple[str, str]:
    price, off, tax = r.randint(40, 900), r.choice((10, 15, 20, 25, 30, 35)), r.choice((5, 8, 10))
    item = r.choice(_ITEMS)
    if r.random() < 0.5:
        final = price * (1 - off / 100) * (1 + tax / 100)
        return (
            f"A shop sells {item} at ${price}. During a sale the price drops by {off}%, and then "
            f"a {tax}% sales tax is added. What does one cost at the till?",
            f"${final:.2f}",
        )
    a, b = r.randint(2, 40), r.randint(2, 40)
    end = 100 * (1 + a / 100) * (1 - b / 100)
    return (
        f"A town's population grew by {a}% one year and fell by {b}% the next. By what "
        "percentage did it change over the two years?",
        f"{end - 100:+.2f}%",
    )


def _equations(r: random.Random) -> tuple[str, str]:
    x, y = r.randint(20, 300), r.randint(20, 300)
    pa, pb = r.randint(3, 15), r.randint(16, 40)
    return (
        f"A theatre sold {x + y} tickets. Student tickets cost ${pa} and adult tickets ${pb}; "
        f"takings were ${x * pa + y * pb}. How many of each kind were sold?",
        f"{x} student, {y} adult",
    )


def _probability(r: random.Random) -> tuple[str, str]:
    red, blue, k = r.randint(2, 9), r.randint(2, 9), 2
    total = red + blue
    p = math.comb(red, k) / math.comb(total, k)
    if r.random() < 0.5:
        return (
            f"A bag holds {red} red and {blue} blue marbles. Two are drawn without replacement. "
            "What is the probability that both are red?",
            f"{p:.4f}",
        )
    n = r.randint(2, 4)
    q = 1 - (5 / 6) ** n
    return (f"{n} fair dice are rolled. What is the chance of at least one six?", f"{q:.4f}")


def _combinatorics(r: random.Random) -> tuple[str, str]:
    n, k = r.randint(6, 14), r.randint(2, 5)
    if r.random() < 0.5:
        return (
            f"In how many ways can a committee of {k} be chosen from {n} people?",
            str(math.comb(n, k)),
        )
    word = r.choice(("BANANA", "LETTER", "STATISTICS", "PEPPER", "COMMITTEE"))
    count = math.factorial(len(word))
    for ch in set(word):
        count //= math.factorial(word.count(ch))
    return (f"How many distinct arrangements of the letters of {word} are there?", str(count))


def _kinematics(r: random.Random) -> tuple[str, str]:
    v, a, t = r.randint(0, 20), r.randint(1, 6), r.randint(3, 15)
    if r.random() < 0.5:
        s = v * t + a * t * t / 2
        return (
            f"A car moving at {v} m/s accelerates uniformly at {a} m/s² for {t} s. How far does "
            "it travel in that time?",
            f"{s:g} m",
        )
    u, ang = r.randint(10, 40), r.choice((30, 45, 60))
    rng_m = u * u * math.sin(math.radians(2 * ang)) / 9.81
    return (
        f"A ball is kicked at {u} m/s at {ang}° above level ground. Ignoring air resistance, "
        "how far away does it land?",
        f"{rng_m:.1f} m",
    )


def _interest(r: random.Random) -> tuple[str, str]:
    pv, rate, years = r.randint(1, 50) * 1000, r.choice((2, 3, 4, 5, 6, 7)), r.randint(2, 20)
    fv = pv * (1 + rate / 100) ** years
    return (
        f"${pv:,} is invested at {rate}% a year, compounded annually. What is it worth after "
        f"{years} years?",
        f"${fv:,.2f}",
    )


def _geometry(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(3, 30), r.randint(3, 30)
    if r.random() < 0.5:
        return (
            f"A ladder reaches {b} m up a wall with its foot {a} m from the wall. How long is it?",
            f"{math.hypot(a, b):.2f} m",
        )
    return (
        f"A circular garden has a diameter of {2 * a} m. A path {b % 4 + 1} m wide runs round "
        "its edge, outside it. What is the area of the path?",
        f"{math.pi * ((a + b % 4 + 1) ** 2 - a * a):.2f} m²",
    )


def _work(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 12), r.randint(3, 15)
    return (
        f"One pipe fills a tank in {a} hours and another in {b} hours. How long do they take "
        "together?",
        f"{a * b / (a + b):.2f} hours",
    )


def _numbers(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(20, 999), r.randint(20, 999)
    if r.random() < 0.5:
        return (f"Find the greatest common divisor of {a} and {b}.", str(math.gcd(a, b)))
    base, exp, mod = r.randint(2, 9), r.randint(10, 99), r.choice((7, 11, 13, 17))
    return (
        f"What is the remainder when {base}^{exp} is divided by {mod}?",
        str(pow(base, exp, mod)),
    )


def _algorithms(r: random.Random) -> tuple[str, str]:
    n = r.choice((10**4, 10**5, 10**6))
    task, cost = r.choice(
        (
            (
                f"Given an array of up to {n:,} integers, find the length of the longest "
                "strictly increasing subsequence.",
                "O(n log n)",
            ),
            (
                f"Given {n:,} intervals, merge every pair that overlaps; return them sorted.",
                "O(n log n)",
            ),
            (
                "Given a grid of 0s and 1s, count its islands of 1s (cells joined side to side).",
                "O(rows × cols)",
            ),
            (
                f"Given a string of up to {n:,} characters, find its longest palindrome substring.",
                "O(n²)",
            ),
            (
                "Given a list of course prerequisites, decide whether all courses can be finished.",
                "O(V + E)",
            ),
            (f"Given {n:,} stock prices, find the best profit from one buy then one sell.", "O(n)"),
        )
    )
    return task, f"an {cost} algorithm"


def _puzzles(r: random.Random) -> tuple[str, str]:
    a, b = r.sample(_NAMES, 2)
    age, diff = r.randint(6, 30), r.randint(2, 12)
    later = r.randint(2, 10)
    return (
        f"{a} is {diff} years older than {b}. In {later} years their ages will add up to "
        f"{2 * age + diff + 2 * later}. How old is {b} now?",
        str(age),
    )


def _statistics(r: random.Random) -> tuple[str, str]:
    xs = sorted(r.randint(1, 60) for _ in range(r.randint(5, 9)))
    mean, mid = sum(xs) / len(xs), len(xs) // 2
    median = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
    return (
        f"For the data set {', '.join(map(str, xs))}, find the mean, the median and the range.",
        f"mean {mean:.2f}, median {median:g}, range {xs[-1] - xs[0]}",
    )


def _chemistry(r: random.Random) -> tuple[str, str]:
    grams = r.randint(5, 120)
    moles = grams / 16.04
    return (
        f"How many grams of water form when {grams} g of methane burns completely in oxygen?",
        f"{moles * 2 * 18.02:.1f} g",
    )


def _economics(r: random.Random) -> tuple[str, str]:
    p0, p1 = r.randint(2, 20), r.randint(21, 40)
    q0, q1 = r.randint(500, 900), r.randint(100, 499)
    e = ((q1 - q0) / ((q1 + q0) / 2)) / ((p1 - p0) / ((p1 + p0) / 2))
    return (
        f"When the price of a good rises from ${p0} to ${p1}, quantity demanded falls from {q0} "
        "to {q1} units. What is the price elasticity of demand (midpoint method)?".replace(
            "{q1}", str(q1)
        ),
        f"{e:.2f}",
    )


TOPICS: dict[str, Gen] = {
    "percentages": _percentages,
    "equations": _equations,
    "probability": _probability,
    "combinatorics": _combinatorics,
    "kinematics": _kinematics,
    "interest": _interest,
    "geometry": _geometry,
    "work_rates": _work,
    "number_theory": _numbers,
    "algorithms": _algorithms,
    "puzzles": _puzzles,
    "statistics": _statistics,
    "chemistry": _chemistry,
    "economics": _economics,
}
SYLLABUS = tuple(TOPICS)
"""The order a course (or a curriculum farm) walks the topics."""


def problem(topic: str, rng: random.Random) -> tuple[str, str]:
    """A fresh problem of a topic and its answer."""
    return TOPICS[topic](rng)


def any_problem(rng: random.Random) -> tuple[str, str]:
    return TOPICS[rng.choice(SYLLABUS)](rng)
