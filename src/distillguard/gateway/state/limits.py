"""Budgets as data: a request is admitted only when every limit on it has room.

A ``Limit`` is one budget on one key (``account:acct_1:rpm``, ``cluster:c7:tpm``, ...):

- ``rate``: a token bucket holding ``limit`` a minute (a minute's worth of burst) from which
  the request takes ``cost``: 1 for requests per minute; 0 for tokens per minute, whose cost
  is only known when the answer is in (``settle`` charges it, and the bucket may go below
  zero: the next request waits until the debt is paid, and is told how long).
- ``concurrent``: at most ``limit`` requests in flight; each holds a lease until ``settle``
  ends it, or until it expires (a worker that died holding it).

Admission is all or nothing: a request refused by its cluster's budget takes nothing from its
account's. The wait is the largest of the limits that refused it: a truthful Retry-After.

>>> ledger = MemoryLedger()
>>> rpm = Limit("account:a:rpm", "rate", 2, 1.0)
>>> [admit_on(ledger, [rpm], "r1", 60, now=0.0) for _ in range(3)]
[(0.0, -1), (0.0, -1), (30.0, 0)]
>>> tpm = Limit("account:a:tpm", "rate", 600, 0.0)
>>> admit_on(ledger, [tpm], "r2", 60, now=0.0)
(0.0, -1)
>>> settle_on(ledger, [("account:a:tpm", 600, 1200)], [], "r2", now=0.0)  # used two minutes'
>>> admit_on(ledger, [tpm], "r3", 60, now=0.0)
(60.0, 0)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["rate", "concurrent"]
_MAX_KEYS = 200_000  # in memory: the least recently used go first
CONCURRENT_RETRY_S = 1.0  # a slot frees when a running request ends: nobody knows when


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    kind: Kind
    limit: float  # per minute (rate) or requests at once (concurrent)
    cost: float = 1.0  # rate only: taken at admission


def refill(tokens: float, elapsed: float, per_minute: float, cost: float) -> tuple[float, float]:
    """A bucket after ``elapsed`` seconds and a request for ``cost``: (tokens left, wait).

    >>> refill(0.0, 30.0, 10.0, 1.0)  # half a minute refills half of 10
    (4.0, 0.0)
    >>> refill(0.5, 0.0, 60.0, 1.0)  # half a token short at one a second
    (0.5, 0.5)
    >>> refill(-30.0, 0.0, 60.0, 0.0)  # in debt: wait until it is paid
    (-30.0, 30.0)
    """
    rate = per_minute / 60.0
    tokens = min(per_minute, tokens + max(0.0, elapsed) * rate)
    if tokens >= cost:
        return tokens - cost, 0.0
    return tokens, (cost - tokens) / rate if rate > 0 else 60.0


class Ledger(Protocol):
    """Where buckets and leases are kept (a dict, a SQLite file); one caller at a time."""

    def bucket(self, key: str) -> tuple[float, float] | None: ...  # (tokens, updated)

    def put_bucket(self, key: str, tokens: float, now: float) -> None: ...

    def leases(self, key: str, now: float) -> int: ...  # live leases, expired ones dropped

    def add_lease(self, key: str, lease: str, until: float) -> None: ...

    def drop_lease(self, key: str, lease: str) -> None: ...


def admit_on(
    ledger: Ledger, limits: Sequence[Limit], lease: str, lease_s: float, now: float
) -> tuple[float, int]:
    """(0.0, -1) with every limit taken, or (wait, index of the limit that waits longest) with
    nothing taken."""
    after: list[float] = []
    worst, at = 0.0, -1
    for i, limit in enumerate(limits):
        if limit.kind == "concurrent":
            wait = CONCURRENT_RETRY_S if ledger.leases(limit.key, now) >= limit.limit else 0.0
            after.append(0.0)
        else:
            tokens, updated = ledger.bucket(limit.key) or (limit.limit, now)
            left, wait = refill(tokens, now - updated, limit.limit, limit.cost)
            after.append(left)
        if wait > worst:
            worst, at = wait, i
    if at >= 0:
        return worst, at
    for limit, left in zip(limits, after, strict=True):
        if limit.kind == "concurrent":
            ledger.add_lease(limit.key, lease, now + lease_s)
        else:
            ledger.put_bucket(limit.key, left, now)
    return 0.0, -1


def settle_on(
    ledger: Ledger,
    charges: Sequence[tuple[str, float, float]],
    leases: Sequence[str],
    lease: str,
    now: float,
) -> None:
    """After the answer: charge ``(key, per_minute, amount)`` and end the request's leases."""
    for key, per_minute, amount in charges:
        tokens, updated = ledger.bucket(key) or (per_minute, now)
        left, _ = refill(tokens, now - updated, per_minute, 0.0)
        ledger.put_bucket(key, left - amount, now)
    for key in leases:
        ledger.drop_lease(key, lease)


class MemoryLedger:
    """One process's buckets and leases, bounded: the least recently used go first."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._leases: OrderedDict[str, dict[str, float]] = OrderedDict()

    def bucket(self, key: str) -> tuple[float, float] | None:
        return self._buckets.get(key)

    def put_bucket(self, key: str, tokens: float, now: float) -> None:
        self._buckets.pop(key, None)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > _MAX_KEYS:
            self._buckets.popitem(last=False)

    def leases(self, key: str, now: float) -> int:
        held = self._leases.get(key)
        if not held:
            return 0
        for lease in [k for k, until in held.items() if until <= now]:
            del held[lease]
        return len(held)

    def add_lease(self, key: str, lease: str, until: float) -> None:
        held = self._leases.pop(key, {})
        held[lease] = until
        self._leases[key] = held
        if len(self._leases) > _MAX_KEYS:
            self._leases.popitem(last=False)

    def drop_lease(self, key: str, lease: str) -> None:
        held = self._leases.get(key)
        if held is not None:
            held.pop(lease, None)
