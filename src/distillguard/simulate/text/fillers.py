"""Generated slot fillers: numbers, ids, dates, amounts. A phrasing names them like any slot.

>>> import random
>>> rng = random.Random(3)
>>> GENERATORS["order_id"](rng), GENERATORS["date"](rng), GENERATORS["price"](rng)
('#32939071', '2024-06-20', '77.60')
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

_UPPER = string.ascii_uppercase + string.digits


def _code(rng: random.Random, n: int, alphabet: str = _UPPER) -> str:
    return "".join(alphabet[int(rng.random() * len(alphabet))] for _ in range(n))


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2023, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _price(rng: random.Random) -> str:
    cents = rng.choice((0, 0, 99, 49, 95, rng.randint(0, 99)))
    return f"{rng.choice((rng.randint(3, 99), rng.randint(100, 1999)))}.{cents:02d}"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "num": lambda r: str(r.randint(2, 99)),
    "small": lambda r: str(r.randint(2, 9)),
    "count": lambda r: str(r.choice((5, 10, 10, 12, 15, 20, 20, 25, 30, 50, 100))),
    "big": lambda r: str(r.randint(100, 9999)),
    "year": lambda r: str(r.randint(1985, 2025)),
    "pct": lambda r: f"{r.randint(1, 60)}%",
    "price": _price,
    "amount": lambda r: f"{r.randint(20, 25000):,}",
    "date": _date,
    "time": lambda r: f"{r.randint(6, 22):02d}:{r.choice((0, 15, 30, 45)):02d}",
    "order_id": lambda r: "#" + str(r.randint(1_000_000, 99_999_999)),
    "booking_ref": lambda r: _code(r, 6, string.ascii_uppercase),
    "ticket_id": lambda r: f"{_code(r, 3, string.ascii_uppercase)}-{r.randint(1000, 99999)}",
    "invoice_no": lambda r: f"INV-{r.randint(2023, 2026)}-{r.randint(100, 99999):05d}",
    "account_no": lambda r: "****" + str(r.randint(1000, 9999)),
    "phone": lambda r: (
        f"+{r.choice((1, 44, 49, 33, 34, 81, 86, 55))} {r.randint(200, 999)} "
        f"{r.randint(100, 999)} {r.randint(1000, 9999)}"
    ),
    "zip": lambda r: str(r.randint(10000, 99999)),
    "version": lambda r: f"{r.randint(0, 5)}.{r.randint(0, 30)}.{r.randint(0, 12)}",
    "port": lambda r: str(r.choice((3000, 5000, 5432, 6379, 8000, 8080, 8443, 9000))),
    "ms": lambda r: str(r.randint(12, 4800)),
    "percent_int": lambda r: str(r.randint(5, 95)),
    "score10": lambda r: str(r.randint(1, 10)),
    "hash": lambda r: _code(r, 7, "0123456789abcdef"),
}
