"""The embedded store: one DuckDB file holding events, accounts and store settings.

Later stages query these tables with SQL; nothing re-parses request JSON.

>>> store = Store.open(":memory:")
>>> store.retention, store.count("events")
(<Retention.FULL: 'full'>, 0)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from distillguard.contract.event import CONTRACT_VERSION
from distillguard.store.columns import ACCOUNT_COLUMNS, EVENT_COLUMNS, create_table_sql

MEMORY_ENV = "DISTILLGUARD_MEMORY_LIMIT"
GIB = 1 << 30


def physical_memory() -> int:
    """The machine's memory in bytes; 4 GiB where the platform does not say (Windows)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 4 * GIB


def memory_limit(total: int | None = None) -> str:
    """DuckDB's memory limit for the store: ``$DISTILLGUARD_MEMORY_LIMIT`` (DuckDB's own
    notation, e.g. ``4GB``), else a sixteenth of the machine's memory, 1 to 4 GiB. DuckDB's own
    default, 80% of memory, let a 1M-event scan peak at 4.5 GB; past the limit its joins,
    sorts and aggregates spill to ``STORE.tmp/`` instead of growing.

    >>> memory_limit(total=24 * GIB), memory_limit(total=8 * GIB), memory_limit(total=256 * GIB)
    ('1536MiB', '1024MiB', '4096MiB')
    """
    given = os.environ.get(MEMORY_ENV, "").strip()
    if given:
        return given
    total = physical_memory() if total is None else total
    return f"{min(max(total // 16, GIB), 4 * GIB) >> 20}MiB"


# Where `ingest --follow` has read to in each file, moved with the rows it stored.
POSITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS follow_positions (
    file_key VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, byte_offset BIGINT NOT NULL,
    line BIGINT NOT NULL, format VARCHAR NOT NULL, updated TIMESTAMPTZ NOT NULL
)
"""

# Indicators partners shared (distillguard intel import): kept apart from what was observed.
PARTNER_TABLE = """
CREATE TABLE IF NOT EXISTS partner_indicators (
    source VARCHAR NOT NULL, stix_id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL, salted BOOLEAN NOT NULL, confidence INTEGER NOT NULL,
    campaign VARCHAR, expires TIMESTAMPTZ NOT NULL, imported_at TIMESTAMPTZ NOT NULL,
    local_value VARCHAR,  -- this provider's own value a salted digest matched, else NULL
    campaign_ref VARCHAR,  -- the STIX id of the campaign it indicates (names repeat across scans)
    PRIMARY KEY (source, stix_id)
)"""
_PARTNER_COLUMNS = [  # the order of put_partner_indicators' rows
    ("source", pa.string()),
    ("stix_id", pa.string()),
    ("kind", pa.string()),
    ("value", pa.string()),
    ("salted", pa.bool_()),
    ("confidence", pa.int32()),
    ("campaign", pa.string()),
    ("expires", pa.timestamp("us", tz="UTC")),
    ("imported_at", pa.timestamp("us", tz="UTC")),
    ("local_value", pa.string()),
    ("campaign_ref", pa.string()),
]
LOCK_WAIT_S = 30.0  # how long opening waits for another process to let go of the file

DEFAULT_STORE = Path("distillguard.duckdb")


STORE_VERSION = "4"  # bump when columns change; old stores are refused, not misread


class Retention(StrEnum):
    """What a store keeps of each request."""

    FULL = "full"  # derived columns and the raw request/response JSON
    DERIVED = "derived"  # derived columns only: no prompt or response text is stored


class StoreError(RuntimeError):
    """The store cannot be opened or used as asked; the message says what to do."""


@dataclass
class StoreSummary:
    path: str
    retention: str
    events: int
    accounts: int
    first_ts: datetime | None
    last_ts: datetime | None
    event_accounts: int
    by_shape: list[tuple[str, int]] = field(default_factory=list)
    by_model: list[tuple[str, int]] = field(default_factory=list)


class Store:
    """A distillguard store in a DuckDB database file (``:memory:`` for a throwaway one)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: str | Path = DEFAULT_STORE, *, retention: Retention | None = None) -> Store:
        """Open (creating if needed) the store at ``path``.

        ``retention`` is fixed when the store is created (default ``full``); asking
        an existing store for a different one is refused rather than silently mixing
        policies, since a privacy-minded store must never start keeping text.
        """
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                con = duckdb.connect(target)
                break
            except duckdb.IOException as exc:
                # Another process holds the file (the console drawing a page, for a moment):
                # wait for it rather than fail a long ingest at its start.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreError(f"cannot open store {target}: {exc}") from exc
                time.sleep(0.2)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open store {target}: {exc}") from exc
        # Order of rows carries no meaning here; not preserving it lets DuckDB stream inserts.
        con.execute("SET preserve_insertion_order = false")
        limit = memory_limit()
        try:
            con.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
        except duckdb.Error as exc:
            con.close()
            raise StoreError(f"{MEMORY_ENV}={limit!r} is not a memory size ({exc})") from exc
        store = cls(con, target)
        store._ensure_schema(retention)
        return store

    def _ensure_schema(self, retention: Retention | None) -> None:
        con = self.con
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(create_table_sql("events", EVENT_COLUMNS, key="request_id"))
        con.execute(create_table_sql("accounts", ACCOUNT_COLUMNS, key="account_id"))
        con.execute(PARTNER_TABLE)
        con.execute(POSITIONS_TABLE)
        # Stores from before salted matching (2026-11-30) lack these columns.
        for column in ("local_value", "campaign_ref"):
            con.execute(f"ALTER TABLE partner_indicators ADD COLUMN IF NOT EXISTS {column} VARCHAR")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ["contract_version", CONTRACT_VERSION],
                    ["store_version", STORE_VERSION],
                    ["retention", (retention or Retention.FULL).value],
                ],
            )
            return
        if meta.get("contract_version") != CONTRACT_VERSION:
            raise StoreError(
                f"store {self.path} holds contract v{meta.get('contract_version')}, "
                f"this distillguard writes v{CONTRACT_VERSION}: use a new --store path"
            )
        if meta.get("store_version") != STORE_VERSION:
            raise StoreError(
                f"store {self.path} was written by an older distillguard (store layout "
                f"v{meta.get('store_version', '1')}, now v{STORE_VERSION}: it has no signals "
                "by meaning); ingest into a new --store path"
            )
        if retention is not None and retention.value != meta["retention"]:
            raise StoreError(
                f"store {self.path} was created with retention={meta['retention']}; "
                f"refusing to ingest with retention={retention.value}. Leave --retention "
                "out to use the store's setting, or use a new --store path"
            )

    @property
    def retention(self) -> Retention:
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'retention'").fetchall()
        return Retention(rows[0][0]) if rows else Retention.FULL

    def put_partner_indicators(self, rows: list[tuple[Any, ...]]) -> int:
        """Store a partner's indicators in one transaction (all or none); a re-import of the
        same indicator replaces it, keeping a salted match it does not make again. Rows:
        source, stix_id, kind, value, salted, confidence, campaign, expires, imported_at,
        local_value, campaign_ref."""
        con = self.con
        if not rows:  # a bundle with nothing usable: nothing to write
            return 0
        # One statement may not update a row twice: the last of repeated ids wins, as it would
        # row by row. Arrow, not executemany: 200,000 rows in a second, not minutes.
        unique = list({(r[0], r[1]): r for r in rows}.values())
        batch = pa.table(
            {
                name: pa.array([r[k] for r in unique], kind)
                for k, (name, kind) in enumerate(_PARTNER_COLUMNS)
            }
        )
        names = ", ".join(name for name, _ in _PARTNER_COLUMNS)
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_partner_batch", batch)
            # A re-import without the salt keeps the matches an earlier one made.
            con.execute(
                f"""INSERT INTO partner_indicators ({names}) SELECT {names} FROM _partner_batch
                   ON CONFLICT (source, stix_id) DO UPDATE SET
                       kind = excluded.kind, value = excluded.value, salted = excluded.salted,
                       confidence = excluded.confidence, campaign = excluded.campaign,
                       campaign_ref = excluded.campaign_ref,
                       expires = excluded.expires, imported_at = excluded.imported_at,
                       local_value = CASE WHEN excluded.value = partner_indicators.value
                           THEN coalesce(excluded.local_value, partner_indicators.local_value)
                           ELSE excluded.local_value END"""
            )
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_partner_batch")
        con.execute("COMMIT")
        return len(unique)

    def insert_events(self, batch: pa.Table) -> int:
        """Insert a batch of event rows; rows whose request_id is already stored are skipped.

        Returns how many rows were new.
        """
        return self._insert("INSERT OR IGNORE INTO events SELECT * FROM batch", batch)

    def positions(self) -> dict[str, tuple[str, int, int, str]]:
        """Where ``ingest --follow`` stopped in each file: key → (path, offset, line, format)."""
        rows = self.con.execute(
            "SELECT file_key, path, byte_offset, line, format FROM follow_positions"
        ).fetchall()
        return {r[0]: (r[1], int(r[2]), int(r[3]), r[4]) for r in rows}

    def insert_events_at(
        self, batch: pa.Table, key: str, path: str, offset: int, line: int, fmt: str
    ) -> int:
        """Insert events and move a followed file's position in one transaction, so a restart
        neither loses nor repeats a record. Returns how many rows were new."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            new = self.insert_events(batch)
            con.execute(
                "INSERT OR REPLACE INTO follow_positions VALUES (?, ?, ?, ?, ?, now())",
                [key, path, offset, line, fmt],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return new

    def upsert_accounts(self, batch: pa.Table) -> int:
        """Insert or replace account rows (later facts about an account win). Returns rows new."""
        before = self.count("accounts")
        self._insert("INSERT OR REPLACE INTO accounts SELECT * FROM batch", batch)
        return self.count("accounts") - before

    def _insert(self, sql: str, batch: pa.Table) -> int:
        self.con.register("batch", batch)
        try:
            rows = self.con.execute(sql).fetchall()
        finally:
            self.con.unregister("batch")
        return int(rows[0][0]) if rows else 0

    def count(self, table: str) -> int:
        if table not in ("events", "accounts"):
            raise ValueError(f"unknown table {table!r}")
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def summary(self, top: int = 5) -> StoreSummary:
        n, first, last, n_accounts = self.con.execute(
            "SELECT count(*), min(ts), max(ts), count(DISTINCT account_id) FROM events"
        ).fetchall()[0]
        return StoreSummary(
            path=self.path,
            retention=self.retention.value,
            events=n,
            accounts=self.count("accounts"),
            first_ts=first,
            last_ts=last,
            event_accounts=n_accounts,
            by_shape=self._top("api_shape", top),
            by_model=self._top("model", top),
        )

    def _top(self, column: str, top: int) -> list[tuple[str, int]]:
        rows = self.con.execute(
            f"SELECT {column}, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?",
            [top],
        ).fetchall()
        return [(str(name), int(n)) for name, n in rows]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
