"""Shared fixtures: a real DuckDB store on disk and helpers to write log files."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.ingest import IngestOptions, IngestReport, ingest
from distillguard.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)  # a fixed clock for the "not in the future" check

WriteLines = Callable[..., Path]


def encode(record: Any) -> bytes:
    return record if isinstance(record, bytes) else msgspec.json.encode(record)


def parquet_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as Parquet rows: bodies as JSON text, as exporters write them."""
    return [
        e | {"request": msgspec.json.encode(e["request"]).decode(), "response": None}
        for e in events
    ]


@pytest.fixture
def write_lines(tmp_path: Path) -> WriteLines:
    """Write records (dicts, or raw bytes for broken lines) as JSON Lines, gzipped if asked."""

    def write(name: str, records: Iterable[Any], *, gz: bool = False) -> Path:
        data = b"".join(encode(r) + b"\n" for r in records)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


@pytest.fixture
def store(tmp_path: Path) -> Iterable[Store]:
    with Store.open(tmp_path / "store.duckdb") as db:
        yield db


RunIngest = Callable[..., IngestReport]


@pytest.fixture
def run_ingest(store: Store, tmp_path: Path) -> RunIngest:
    """Ingest into the test store with a fixed clock; options may be overridden."""

    def run(*events: Path, accounts: Iterable[Path] = (), **options: Any) -> IngestReport:
        options.setdefault("now", NOW)
        return ingest(
            list(events),
            store,
            accounts=list(accounts),
            quarantine_path=tmp_path / "quarantine.jsonl",
            options=IngestOptions(**options),
        )

    return run


def scan_store(store: Store, out: Path) -> dict[str, dict[str, str]]:
    """Close the store, run ``distillguard scan`` on it into ``out``; accounts.csv by account."""
    path = store.path
    store.close()
    result = CliRunner().invoke(app, ["scan", "--store", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    with (out / "accounts.csv").open(newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


def quarantined(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "quarantine.jsonl"
    if not path.exists():
        return []
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]
