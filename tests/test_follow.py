"""``ingest --follow`` on a real DuckDB store: growth, restarts, rotation, a failed commit."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.contract.examples import example_event
from distillguard.ingest import IngestOptions
from distillguard.ingest.follow import follow
from distillguard.ingest.run import IngestReport
from distillguard.store import Store


def _line(i: int) -> bytes:
    return msgspec.json.encode(example_event(i) | {"request_id": f"req-{i}"}) + b"\n"


def _once(db: Store, logs: Path, tmp_path: Path) -> IngestReport:
    return follow(
        logs,
        db,
        quarantine_path=tmp_path / "q.jsonl",
        options=IngestOptions(),
        poll_seconds=0.01,
        stop=lambda report: True,  # one pass
    )


def _stored(db: Store) -> list[str]:
    return sorted(r[0] for r in db.query("SELECT request_id FROM events"))


def test_a_restart_in_the_middle_of_a_growing_file_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    segment = logs / "gateway-0001.jsonl"
    half = _line(3)[:40]
    segment.write_bytes(b"".join(_line(i) for i in range(3)) + half)  # a line being written
    with Store.open(tmp_path / "s.duckdb") as db:
        first = _once(db, logs, tmp_path)
        assert first.stored == 3
    # The process stops; the writer finishes the line and goes on; a new process starts.
    with segment.open("ab") as f:
        f.write(_line(3)[40:] + b"".join(_line(i) for i in range(4, 7)))
    with Store.open(tmp_path / "s.duckdb") as db:
        second = _once(db, logs, tmp_path)
        assert second.stored == 4
        assert second.duplicates == 0  # nothing read twice
        assert _stored(db) == sorted(f"req-{i}" for i in range(7))
        assert not (tmp_path / "q.jsonl").exists()  # the half line was never read as a record


def test_a_rotated_file_keeps_its_position_and_a_new_one_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    current = logs / "events.jsonl"
    current.write_bytes(_line(0) + _line(1))
    with Store.open(tmp_path / "s.duckdb") as db:
        assert _once(db, logs, tmp_path).stored == 2
        with current.open("ab") as f:  # written just before rotation
            f.write(_line(2))
        current.rename(logs / "events.1.jsonl")
        current.write_bytes(_line(3))
        report = _once(db, logs, tmp_path)
        assert (report.stored, report.duplicates) == (2, 0)
        assert _stored(db) == ["req-0", "req-1", "req-2", "req-3"]


def test_bad_lines_are_quarantined_once_with_their_line_numbers(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "events.jsonl"
    path.write_bytes(_line(0) + b'{"broken\n')
    with Store.open(tmp_path / "s.duckdb") as db:
        _once(db, logs, tmp_path)
        with path.open("ab") as f:
            f.write(_line(1) + b"[1]\n")
        report = _once(db, logs, tmp_path)
        assert _stored(db) == ["req-0", "req-1"]
    refused = [msgspec.json.decode(x) for x in (tmp_path / "q.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in refused] == [(2, "bad_json"), (4, "not_an_object")]
    assert report.quarantined == {"not_an_object": 1}


def test_a_commit_that_fails_moves_no_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.jsonl").write_bytes(_line(0) + _line(1))
    calls = {"n": 0}
    real = Store.insert_events

    def failing(self: Store, batch: object) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real(self, batch)  # type: ignore[arg-type]  # the rows go in, then the disk fails
            raise OSError("disk full")
        return real(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "insert_events", failing)
    with Store.open(tmp_path / "s.duckdb") as db:
        with pytest.raises(OSError, match="disk full"):
            _once(db, logs, tmp_path)
        assert _stored(db) == []  # rolled back with the position
        report = _once(db, logs, tmp_path)
        assert (report.stored, report.duplicates) == (2, 0)


def test_follow_needs_one_directory(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_line(0))
    result = CliRunner().invoke(
        app, ["ingest", "--follow", str(path), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 2
    assert "--follow reads one directory" in result.output


def test_a_compressed_file_is_read_whole_once_it_stops_growing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "old.jsonl.gz").write_bytes(gzip.compress(_line(0) + _line(1)))
    seen: list[int] = []

    def passes(n: int) -> IngestReport:
        seen.clear()
        return follow(
            logs,
            db,
            quarantine_path=tmp_path / "q.jsonl",
            poll_seconds=0.01,
            on_step=lambda report: seen.append(report.stored),
            stop=lambda report: len(seen) >= n,
        )

    with Store.open(tmp_path / "s.duckdb") as db:
        assert passes(2).stored == 2
        assert seen == [0, 2]  # first look: its size may still change; then read
        assert passes(2).stored == 0  # and never again, after a restart too
        assert _stored(db) == ["req-0", "req-1"]
