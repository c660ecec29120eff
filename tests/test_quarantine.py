"""Every quarantine reason: the bad record goes to quarantine with file, line and field; its
neighbours are stored."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.contract.examples import example_event
from distillguard.signals.derived import derive
from distillguard.store import Store
from tests.conftest import NOW, RunIngest, WriteLines, parquet_rows, quarantined


def _with(**changes: Any) -> dict[str, Any]:
    event = example_event(7)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = event
        for parent in parents:
            target = target[parent]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return event


_DELETE = object()


def _derived(field: str, value: Any) -> dict[str, Any]:
    """An event as a derived-retention gateway logs it, with one derived column changed."""
    event = example_event(7)
    derived = msgspec.to_builtins(derive(event["request"], event["endpoint"], None))
    if value is _DELETE:
        del derived[field]
    else:
        derived[field] = value
    return {**event, "request": {}, "derived": derived}


def _raw(event: dict[str, Any], placeholder: str, literal: bytes) -> bytes:
    """``event`` as JSON with one string value replaced by a literal msgspec cannot write."""
    return msgspec.json.encode(event).replace(f'"{placeholder}"'.encode(), literal)


def _deep(depth: int) -> bytes:
    return _raw(_with(request__metadata="DEEP"), "DEEP", b"[" * depth + b"]" * depth)


CASES = [
    ("bad_json", b'{"ts": "2026-03-01T00:00:00Z", "request_id": ', ""),
    ("bad_json", b'{"request_id": "r", "note": "\xff\xfe"}', ""),
    ("not_an_object", b'["a", "list"]', ""),
    ("missing_field", _with(account_id=_DELETE), "account_id"),
    ("missing_field", _with(request=_DELETE), "request"),
    ("wrong_type", _with(model=12), "model"),
    ("wrong_type", _with(request="a string, not the JSON body"), "request"),
    ("wrong_type", _with(usage__input_tokens=1.5), "usage.input_tokens"),
    ("wrong_type", _derived("lsh_0", "abc"), "derived.lsh_0"),
    ("missing_field", _derived("capability", _DELETE), "derived.capability"),
    ("bad_value", _derived("n_turns", -1), "derived.n_turns"),
    ("bad_value", _derived("lsh_2", 2**64), "derived.lsh_2"),
    ("wrong_type", _with(client={"ip": ["198.51.100.1"]}), "client.ip"),
    ("bad_value", _with(request_id=""), "request_id"),
    ("bad_value", _with(client__ip="not-an-ip"), "client.ip"),
    ("bad_value", _with(client__asn="Comcast"), "client.asn"),
    ("bad_value", _with(usage__output_tokens=-3), "usage.output_tokens"),
    ("bad_value", _with(status=42), "status"),
    ("bad_timestamp", _with(ts="2026-02-30T00:00:00Z"), "ts"),
    ("bad_timestamp", _with(ts="2026-03-01T00:00:00"), "ts"),
    ("bad_timestamp", _with(ts="yesterday"), "ts"),
    ("bad_timestamp", _with(ts=1767225600), "ts"),
    ("bad_timestamp", _with(ts="1999-12-31T23:59:59Z"), "ts"),
    ("bad_timestamp", _with(ts="2030-01-01T00:00:00Z"), "ts"),
    ("missing_field", _with(ts=_DELETE), "ts"),
    ("bad_json", _deep(1_000), ""),
    ("bad_json", _deep(100_000), ""),
    (
        "bad_value",
        _raw(_with(request__metadata={"s": [1, "X"]}), "X", b"1e400"),
        "request.metadata.s[1]",
    ),
    ("bad_value", _raw(_with(latency_ms="X"), "X", b"-1e999"), "latency_ms"),
    ("bad_value", _with(latency_ms=1e39), "latency_ms"),
    ("bad_value", _with(request__temperature=1e39), "request.temperature"),
    ("bad_value", _with(request__top_p=-1e39), "request.top_p"),
    ("bad_value", _raw(_with(request__top_p="X"), "X", b"9" * 400), "request.top_p"),
    ("bad_value", _raw(_with(request__n="X"), "X", b"9" * 5000), ""),  # msgspec names no place
]


@pytest.mark.parametrize(("reason", "bad", "field"), CASES)
def test_bad_record_is_quarantined_with_its_place_and_neighbours_kept(
    reason: str,
    bad: Any,
    field: str,
    write_lines: WriteLines,
    run_ingest: RunIngest,
    tmp_path: Path,
) -> None:
    path = write_lines("events.jsonl", [example_event(1), bad, example_event(2)])
    report = run_ingest(path)
    assert report.stored == 2
    assert dict(report.quarantined) == {reason: 1}
    [entry] = quarantined(tmp_path)
    assert (entry["file"], entry["line"], entry["field"], entry["reason"]) == (
        str(path),
        2,
        field,
        reason,
    )
    assert entry["message"]
    assert entry["record_bytes"] > 0
    assert "record" in entry


def test_oversized_record_is_skipped_without_reading_it_whole(
    write_lines: WriteLines, run_ingest: RunIngest, tmp_path: Path
) -> None:
    big = example_event(5)
    big["request"]["messages"][1]["content"] = "x" * 200_000
    path = write_lines("events.jsonl", [example_event(1), big, example_event(2)])
    report = run_ingest(path, max_record_bytes=50_000)
    assert report.stored == 2
    assert dict(report.quarantined) == {"oversized": 1}
    [entry] = quarantined(tmp_path)
    assert (entry["line"], entry["reason"]) == (2, "oversized")
    assert "over the limit of 50000" in entry["message"]


def test_truncated_gzip_keeps_every_line_before_the_cut(
    tmp_path: Path, run_ingest: RunIngest
) -> None:
    from tests.conftest import encode

    data = gzip.compress(b"".join(encode(example_event(i)) + b"\n" for i in range(2000)))
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = run_ingest(path)
    assert 0 < report.stored < 2000
    assert dict(report.quarantined) == {"truncated_file": 1}
    [entry] = quarantined(tmp_path)
    assert entry["line"] == report.stored + 1
    assert "ends early" in entry["message"]


def test_unreadable_parquet_is_reported_not_raised(tmp_path: Path, run_ingest: RunIngest) -> None:
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    report = run_ingest(path)
    assert report.stored == 0
    assert dict(report.quarantined) == {"unreadable_file": 1}
    assert quarantined(tmp_path)[0]["file"] == str(path)


def test_future_check_uses_the_given_clock(write_lines: WriteLines, run_ingest: RunIngest) -> None:
    soon = (NOW.replace(hour=20)).isoformat()
    path = write_lines("events.jsonl", [_with(ts=soon)])
    assert run_ingest(path).stored == 1


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("depth", [500, 900, 990, 100_000])
def test_deeply_nested_parquet_body_is_quarantined_not_fatal(
    depth: int, workers: int, tmp_path: Path, run_ingest: RunIngest, store: Store
) -> None:
    # Near the limit a body may decode in one place and fail in the next (pickling it to a
    # worker, encoding it for the store or the quarantine): every path must hold.
    rows = parquet_rows([example_event(i) for i in range(4)])
    deep = "[" * depth + "]" * depth
    rows[1]["request"] = f'{{"messages": [], "x": {deep}}}'
    rows[2]["request"] = f'{{"messages": [], "x": {deep}}}'
    rows[2]["account_id"] = None
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    report = run_ingest(path, workers=workers)
    entries = quarantined(tmp_path)
    assert report.records == 4  # row 2 is stored or refused, never lost
    assert 3 in [e["line"] for e in entries]
    stored = {r[0] for r in store.query("SELECT request_id FROM events")}
    assert {"req_000000000", "req_000000003"} <= stored
    if depth == 100_000:
        assert [(e["line"], e["field"], e["reason"]) for e in entries] == [
            (2, "request", "bad_json"),
            (3, "request", "bad_json"),
        ]
        assert "nested too deeply" in entries[0]["message"]


def test_parquet_body_number_out_of_range_names_its_path(
    tmp_path: Path, run_ingest: RunIngest
) -> None:
    rows = parquet_rows([example_event(i) for i in range(3)])
    rows[1]["request"] = '{"messages": [], "metadata": {"score": 1e400}}'
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert run_ingest(path).stored == 2
    [entry] = quarantined(tmp_path)
    assert (entry["line"], entry["field"], entry["reason"]) == (
        2,
        "request.metadata.score",
        "bad_value",
    )
    assert "out of range" in entry["message"]


def test_parquet_timestamp_past_year_9999_loses_only_its_row(
    tmp_path: Path, run_ingest: RunIngest
) -> None:
    rows = parquet_rows([example_event(i) for i in range(5)])
    micros = [int(datetime.fromisoformat(r["ts"]).timestamp() * 1e6) for r in rows]
    micros[1] = 253_402_300_800 * 10**6  # 10000-01-01: Arrow holds it, Python cannot
    ts = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    table = pa.Table.from_pylist(rows)
    table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    report = run_ingest(path, chunk_size=3)  # the bad row shares a batch with good ones
    assert report.stored == 4
    [entry] = quarantined(tmp_path)
    assert (entry["line"], entry["field"], entry["reason"]) == (2, "ts", "bad_timestamp")
    assert "year" in entry["message"]


def _sized(i: int, size: int) -> bytes:
    """Event ``i`` as a JSON line of exactly ``size`` bytes (padded by an extra field)."""
    line = msgspec.json.encode(example_event(i) | {"pad": ""})
    return line.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(line)) + b'"')


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_size_limit_counts_the_record_not_its_line_terminator(
    newline: bytes, tmp_path: Path, run_ingest: RunIngest
) -> None:
    limit = 2048
    path = tmp_path / "events.jsonl"
    path.write_bytes(newline.join([_sized(1, limit), _sized(2, limit + 1), _sized(3, limit)]))
    report = run_ingest(path, max_record_bytes=limit)
    assert (report.stored, dict(report.quarantined)) == (2, {"oversized": 1})
    [entry] = quarantined(tmp_path)
    assert entry["line"] == 2
    assert entry["message"] == f"record is {limit + 1} bytes, over the limit of {limit}"


def test_parquet_size_limit_counts_bytes_not_characters(
    tmp_path: Path, run_ingest: RunIngest
) -> None:
    rows = parquet_rows([example_event(i) for i in range(3)])
    rows[1]["request"] = '{"messages": [], "note": "' + "é" * 1500 + '"}'  # 1,528 chars
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert run_ingest(path, max_record_bytes=2048).stored == 2
    [entry] = quarantined(tmp_path)
    assert (entry["line"], entry["reason"]) == (2, "oversized")
    assert "3028 bytes" in entry["message"]
