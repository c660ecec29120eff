"""Random corruption of a valid log never crashes ingest and never loses a valid record."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.contract.examples import example_event
from distillguard.ingest import IngestOptions, ingest
from distillguard.store import Store
from tests.conftest import NOW

N_LINES = 40
LINES = [msgspec.json.encode(example_event(i)) for i in range(N_LINES)]

corruption = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.integers(1, 400)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("newline"), st.integers(0, 10_000), st.just(b"\n")),
)


def _corrupt(line: bytes, op: tuple[str, int, object]) -> bytes:
    kind, at, arg = op
    at %= len(line)
    if kind == "flip":
        assert isinstance(arg, int)
        return line[:at] + bytes([arg]) + line[at + 1 :]
    if kind == "cut":
        assert isinstance(arg, int)
        return line[:at] + line[at + arg :]
    assert isinstance(arg, bytes)
    return line[:at] + arg + line[at:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    damage=st.dictionaries(st.integers(0, N_LINES - 1), corruption, max_size=12),
    gz=st.booleans(),
    chunk_size=st.sampled_from([3, 7, 1000]),
)
def test_corruption_never_crashes_and_never_loses_a_valid_record(
    damage: dict[int, tuple[str, int, object]], gz: bool, chunk_size: int
) -> None:
    lines = [_corrupt(line, damage[i]) if i in damage else line for i, line in enumerate(LINES)]
    data = b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("events.jsonl.gz" if gz else "events.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        with Store.open(Path(tmp) / "s.duckdb") as store:
            report = ingest(
                [path],
                store,
                quarantine_path=Path(tmp) / "q.jsonl",
                options=IngestOptions(chunk_size=chunk_size, now=NOW),
            )
            stored = {r[0] for r in store.query("SELECT request_id FROM events")}
            quarantine = Path(tmp) / "q.jsonl"
            refused = quarantine.read_bytes().count(b"\n") if quarantine.exists() else 0
    untouched = {f"req_{i:09d}" for i in range(N_LINES) if i not in damage}
    assert untouched <= stored
    assert report.stored == len(stored)
    assert refused == sum(report.quarantined.values())
    # Every non-blank line is accounted for exactly once.
    records = sum(1 for line in data.split(b"\n") if line.strip())
    assert report.records == records


@settings(max_examples=25, deadline=None)
@given(cut=st.floats(0.05, 0.99))
def test_truncated_gzip_never_crashes_and_keeps_a_prefix(cut: float) -> None:
    data = gzip.compress(b"\n".join(LINES) + b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl.gz"
        path.write_bytes(data[: int(len(data) * cut)])
        with Store.open(Path(tmp) / "s.duckdb") as store:
            report = ingest(
                [path], store, quarantine_path=Path(tmp) / "q.jsonl", options=IngestOptions(now=NOW)
            )
            stored = sorted(r[0] for r in store.query("SELECT request_id FROM events"))
    assert stored == [f"req_{i:09d}" for i in range(len(stored))]  # a prefix, none skipped
    assert report.quarantined["truncated_file"] + report.quarantined["bad_json"] >= 1
