"""State the workers of one host share without a server: a SQLite file beside the log.

Each operation is one short write transaction; SQLite's file lock orders the workers, and one
that cannot get it within ``timeout_s`` gets ``StateDown`` like a dead server. Rows not touched
for a day (windows) or past their use (buckets, leases) are swept now and then. The file must
be on a local disk: SQLite's locks do not hold over NFS.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from distillguard.gateway.state.limits import Limit, admit_on, settle_on
from distillguard.gateway.state.protocol import StateDown

T = TypeVar("T")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bucket (key TEXT PRIMARY KEY, tokens REAL, updated REAL)",
    "CREATE INDEX IF NOT EXISTS bucket_updated ON bucket (updated)",
    "CREATE TABLE IF NOT EXISTS lease (key TEXT, lease TEXT, until REAL, PRIMARY KEY (key, lease))",
    "CREATE INDEX IF NOT EXISTS lease_until ON lease (until)",
    "CREATE TABLE IF NOT EXISTS online (account TEXT PRIMARY KEY, flags TEXT, updated REAL)",
    "CREATE INDEX IF NOT EXISTS online_updated ON online (updated)",
    "CREATE TABLE IF NOT EXISTS signup (key TEXT, at REAL)",
    "CREATE INDEX IF NOT EXISTS signup_key_at ON signup (key, at)",
)


class _SqliteLedger:
    """The limits' ledger (``limits.Ledger``) over the open transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def bucket(self, key: str) -> tuple[float, float] | None:
        row = self.db.execute("SELECT tokens, updated FROM bucket WHERE key = ?", (key,)).fetchone()
        return (float(row[0]), float(row[1])) if row else None

    def put_bucket(self, key: str, tokens: float, now: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO bucket VALUES (?, ?, ?)", (key, tokens, now))

    def leases(self, key: str, now: float) -> int:
        self.db.execute("DELETE FROM lease WHERE key = ? AND until <= ?", (key, now))
        row = self.db.execute("SELECT count(*) FROM lease WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def add_lease(self, key: str, lease: str, until: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO lease VALUES (?, ?, ?)", (key, lease, until))

    def drop_lease(self, key: str, lease: str) -> None:
        self.db.execute("DELETE FROM lease WHERE key = ? AND lease = ?", (key, lease))


class LocalState:
    """Buckets, leases and online windows in a SQLite file the workers of one host share."""

    def __init__(self, path: Path, timeout_s: float = 0.05) -> None:
        self.path, self.failures = path, 0
        self._db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")  # counts, not records: speed over a crash
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._ledger = _SqliteLedger(self._db)
        self._ops = 0
        self._last = 0.0

    def _now(self) -> float:
        # Wall clock, shared by the workers; never backwards here, so a bucket never refills
        # twice when the clock is stepped back.
        self._last = max(self._last, time.time())
        return self._last

    def _write(self, work: Callable[[float], T]) -> T:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = work(self._now())
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.failures += 1
            raise StateDown(f"local state busy or broken ({exc})") from None
        self._ops += 1
        if self._ops % 10_000 == 0:
            self._sweep()
        return out

    def _sweep(self) -> None:
        now = time.time()
        with contextlib.suppress(sqlite3.Error):
            # A bucket is full again after a minute unless it is in debt: kept a day for that.
            self._db.execute("DELETE FROM bucket WHERE updated < ?", (now - 86_400,))
            self._db.execute("DELETE FROM lease WHERE until < ?", (now,))
            self._db.execute("DELETE FROM online WHERE updated < ?", (now - 86_400,))
            self._db.execute("DELETE FROM signup WHERE at < ?", (now - 2 * 86_400,))

    async def admit(self, limits: Sequence[Limit], lease: str, lease_s: float) -> tuple[float, int]:
        return self._write(lambda now: admit_on(self._ledger, limits, lease, lease_s, now))

    def settle(
        self, charges: Sequence[tuple[str, float, float]], leases: Sequence[str], lease: str
    ) -> None:
        with contextlib.suppress(StateDown):  # a lease left to expire, never a lost answer
            self._write(lambda now: settle_on(self._ledger, charges, leases, lease, now))

    def observe(self, account: str, flag: bool, window: int) -> None:
        def work(now: float) -> None:
            row = self._db.execute(
                "SELECT flags FROM online WHERE account = ?", (account,)
            ).fetchone()
            flags = ((row[0] if row else "") + ("1" if flag else "0"))[-window:]
            self._db.execute(
                "INSERT OR REPLACE INTO online VALUES (?, ?, ?)", (account, flags, now)
            )

        with contextlib.suppress(StateDown):  # a lost observation, never a lost request
            self._write(work)

    def window(self, account: str) -> tuple[int, int]:
        try:
            row = self._db.execute(
                "SELECT flags FROM online WHERE account = ?", (account,)
            ).fetchone()
        except sqlite3.Error:
            self.failures += 1
            return 0, 0
        return (row[0].count("1"), len(row[0])) if row else (0, 0)

    async def signups(self, keys: Sequence[str], at: float, window_s: float) -> list[int]:
        def work(now: float) -> list[int]:
            counts = []
            for key in keys:
                self._db.execute("INSERT INTO signup VALUES (?, ?)", (key, at))
                row = self._db.execute(
                    "SELECT count(*) FROM signup WHERE key = ? AND at > ? AND at <= ?",
                    (key, at - window_s, at),
                ).fetchone()
                counts.append(int(row[0]))
            return counts

        return self._write(work)

    async def close(self) -> None:
        self._db.close()
