"""Small generated tables (CSV or Markdown) for data-analysis prompts.

>>> import random
>>> text, cols = table(random.Random(1), rows=(3, 3))
>>> len(text.splitlines()) >= 4, len(cols) >= 4
(True, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

Col = tuple[str, Callable[[random.Random], str]]
_REGIONS = ("North", "South", "East", "West", "EMEA", "APAC", "LATAM")
_PRODUCTS = ("Basic", "Pro", "Team", "Enterprise", "Add-on")
_CHANNELS = ("web", "ios", "android", "partner", "email")
_DEPTS = ("Sales", "Engineering", "Support", "Finance", "Marketing", "Ops")


def _date(r: random.Random) -> str:
    return f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


SCHEMAS: tuple[tuple[Col, ...], ...] = (
    (
        ("order_id", lambda r: str(r.randint(10000, 99999))),
        ("date", _date),
        ("region", lambda r: r.choice(_REGIONS)),
        ("product", lambda r: r.choice(_PRODUCTS)),
        ("units", lambda r: str(r.randint(1, 40))),
        ("revenue", lambda r: f"{r.uniform(20, 4000):.2f}"),
    ),
    (
        ("user_id", lambda r: f"u{r.randint(100, 9999)}"),
        ("signup_date", _date),
        ("channel", lambda r: r.choice(_CHANNELS)),
        ("sessions", lambda r: str(r.randint(0, 90))),
        ("churned", lambda r: r.choice(("0", "0", "0", "1"))),
    ),
    (
        ("sensor", lambda r: f"S-{r.randint(1, 12):02d}"),
        ("timestamp", lambda r: f"{_date(r)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}"),
        ("temp_c", lambda r: f"{r.gauss(21, 4):.1f}"),
        ("humidity", lambda r: f"{r.uniform(20, 90):.0f}"),
        ("status", lambda r: r.choice(("ok", "ok", "ok", "warn", "fail"))),
    ),
    (
        ("employee", lambda r: f"E{r.randint(1000, 9999)}"),
        ("dept", lambda r: r.choice(_DEPTS)),
        ("salary", lambda r: str(r.randrange(38000, 190000, 500))),
        ("tenure_years", lambda r: str(r.randint(0, 25))),
        ("rating", lambda r: str(r.randint(1, 5))),
    ),
    (
        ("day", _date),
        ("page", lambda r: r.choice(("/", "/pricing", "/docs", "/blog", "/signup"))),
        ("visits", lambda r: str(r.randint(50, 20000))),
        ("bounce_rate", lambda r: f"{r.uniform(0.2, 0.9):.2f}"),
        ("conversions", lambda r: str(r.randint(0, 400))),
    ),
    (
        ("ticker", lambda r: r.choice(("ACME", "GLBX", "INIT", "UMBR", "NWND"))),
        ("date", _date),
        ("open", lambda r: f"{r.uniform(10, 400):.2f}"),
        ("close", lambda r: f"{r.uniform(10, 400):.2f}"),
        ("volume", lambda r: str(r.randint(1000, 9_000_000))),
    ),
)


POOL = 1500


@dataclass(frozen=True)
class _Rows:
    cols: tuple[str, ...]
    csv: tuple[str, ...]
    markdown: tuple[str, ...]


@cache
def _pools() -> tuple[_Rows, ...]:
    # Rows are made once; a table is a random run of them (cheap at render time).
    rng = random.Random(20260223)
    out = []
    for schema in SCHEMAS:
        rows = [[g(rng) for _, g in schema] for _ in range(POOL)]
        out.append(
            _Rows(
                tuple(c[0] for c in schema),
                tuple(",".join(r) for r in rows),
                tuple("| " + " | ".join(r) + " |" for r in rows),
            )
        )
    return tuple(out)


def table(rng: random.Random, rows: tuple[int, int] = (5, 14)) -> tuple[str, tuple[str, ...]]:
    """A CSV (mostly) or Markdown table, and its column names."""
    pool = rng.choice(_pools())
    n = rng.randint(*rows)
    start = rng.randrange(POOL - n)
    if rng.random() < 0.75:
        return ",".join(pool.cols) + "\n" + "\n".join(pool.csv[start : start + n]), pool.cols
    head = "| " + " | ".join(pool.cols) + " |\n|" + "---|" * len(pool.cols) + "\n"
    return head + "\n".join(pool.markdown[start : start + n]), pool.cols
