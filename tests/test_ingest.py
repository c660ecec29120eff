"""Ingest into a real DuckDB store: both API shapes, every input format, idempotence, retention."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.contract.examples import example_account, example_event
from distillguard.ingest import IngestOptions, SourceError, ingest
from distillguard.store import Retention, Store, StoreError
from tests.conftest import NOW, RunIngest, WriteLines, parquet_rows, quarantined


def _row(store: Store, request_id: str, columns: str) -> tuple[object, ...]:
    rows = store.query(f"SELECT {columns} FROM events WHERE request_id = ?", [request_id])
    assert len(rows) == 1
    return rows[0]


def test_both_api_shapes_are_normalised_into_columns(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    openai = example_event(0)  # chat with a tool loop
    anthropic = example_event(1)  # messages with an image
    path = write_lines("events.jsonl", [openai, anthropic])
    assert run_ingest(path).stored == 2
    assert _row(
        store,
        "req_000000000",
        "api_shape, n_turns, n_tools, n_tool_calls, n_tool_results, ip_prefix, asn, input_tokens",
    ) == (
        "openai_chat",
        2,
        1,
        1,
        1,
        "198.51.0.0/24",
        64496,
        40,
    )
    shape, images, user_turns, system_chars, tool_hash = _row(
        store, "req_000000001", "api_shape, n_images, n_user_turns, system_chars, tool_schema_hash"
    )
    assert (shape, images, user_turns) == ("anthropic_messages", 1, 2)
    assert system_chars == len("You are a careful coding assistant.")
    openai_tool_hash = _row(store, "req_000000000", "tool_schema_hash")[0]
    assert tool_hash == openai_tool_hash  # same tool, offered through either API


def test_reingesting_the_same_data_adds_nothing(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    path = write_lines("events.jsonl", [example_event(i) for i in range(30)])
    first = run_ingest(path)
    second = run_ingest(path)
    assert (first.stored, first.duplicates) == (30, 0)
    assert (second.stored, second.duplicates) == (0, 30)
    assert store.count("events") == 30


def test_duplicates_within_one_file_keep_the_first(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    first, again = example_event(3), example_event(3)
    again["model"] = "something-else"
    report = run_ingest(write_lines("events.jsonl", [first, again]))
    assert (report.stored, report.duplicates) == (1, 1)
    assert store.query("SELECT model FROM events")[0][0] == first["model"]


def test_gzip_plain_parquet_and_directories_are_all_read(
    tmp_path: Path, write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    write_lines("logs/a.jsonl", [example_event(i) for i in range(0, 10)])
    write_lines("logs/day2/b.jsonl.gz", [example_event(i) for i in range(10, 20)], gz=True)
    write_lines("logs/empty.jsonl", [])
    (tmp_path / "logs" / "notes.txt").write_text("not a log")
    events = [example_event(i) for i in range(20, 30)]
    table = pa.Table.from_pylist(
        [
            {
                **e,
                "request": msgspec.json.encode(e["request"]).decode(),
                "response": msgspec.json.encode(e["response"]).decode(),
            }
            for e in events
        ]
    )
    pq.write_table(table, tmp_path / "logs" / "c.parquet")
    report = run_ingest(tmp_path / "logs")
    assert report.files == 3 + 1  # a, b, empty, c; notes.txt is not a log file
    assert report.skipped == [str(tmp_path / "logs" / "notes.txt")]
    assert report.clean
    assert report.stored == 30
    assert store.count("events") == 30


def test_a_hive_partitioned_lake_is_read_with_the_fields_its_directories_hold(
    tmp_path: Path, run_ingest: RunIngest, store: Store
) -> None:
    # As a data team keeps logs: Parquet partitioned by day and model, which drops the model
    # column from the files; the job's markers and an unfinished task's output beside them.
    events = [example_event(i) for i in range(24)]
    for i, e in enumerate(events):
        e["model"] = ("atlas-2", "atlas 3/mini")[i % 2]  # a value the directory name escapes
        e["date"] = e["ts"][:10]
    lake = tmp_path / "lake"
    pq.write_to_dataset(
        pa.Table.from_pylist(parquet_rows(events)), lake, partition_cols=["date", "model"]
    )
    parts = sorted(lake.rglob("*.parquet"))
    assert parts
    assert all("model=" in str(p) for p in parts)
    assert "model" not in pq.read_schema(parts[0]).names
    (lake / "_SUCCESS").write_bytes(b"")
    (lake / "_temporary" / "0").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(parquet_rows([example_event(99)])),
        lake / "_temporary" / "0" / "part-00009.parquet",
    )
    report = run_ingest(lake)
    assert report.clean
    assert report.skipped == []
    assert report.stored == 24
    assert report.files == len(parts)
    got = dict(store.query("SELECT request_id, model FROM events"))
    assert got == {e["request_id"]: e["model"] for e in events}


def test_parquet_with_flat_dotted_columns_and_nulls(
    tmp_path: Path, run_ingest: RunIngest, store: Store
) -> None:
    rows = []
    for i in range(4):
        e = example_event(i)
        rows.append(
            {
                "ts": e["ts"],
                "request_id": e["request_id"],
                "account_id": e["account_id"],
                "endpoint": e["endpoint"],
                "model": e["model"],
                "client.ip": e["client"]["ip"],
                "client.user_agent": None,
                "usage.input_tokens": 10,
                "request": msgspec.json.encode(e["request"]).decode(),
            }
        )
    rows[3]["account_id"] = None  # a null required field is a missing one
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "flat.parquet")
    report = run_ingest(tmp_path / "flat.parquet")
    assert report.stored == 3
    assert dict(report.quarantined) == {"missing_field": 1}
    assert quarantined(tmp_path)[0]["line"] == 4
    assert store.query("SELECT sum(input_tokens) FROM events")[0][0] == 30


def test_unknown_fields_are_kept_in_extra(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    event = example_event(2) | {"region": "eu-west-1", "trace": {"id": "abc"}}
    event["client"]["ja4h"] = "ge11nn05"
    run_ingest(write_lines("events.jsonl", [event]))
    extra = msgspec.json.decode(store.query("SELECT extra FROM events")[0][0])
    assert extra == {"region": "eu-west-1", "trace": {"id": "abc"}, "client.ja4h": "ge11nn05"}


def test_derived_retention_keeps_no_prompt_text_anywhere(
    tmp_path: Path, write_lines: WriteLines
) -> None:
    secret = "my confidential business plan"
    event = example_event(0)
    event["request"]["messages"][1]["content"] = secret
    broken = example_event(1)
    broken["request"]["messages"][2]["content"] = secret
    del broken["account_id"]
    path = write_lines("events.jsonl", [event, broken])
    quarantine = tmp_path / "q.jsonl"
    with Store.open(tmp_path / "private.duckdb", retention=Retention.DERIVED) as store:
        report = ingest([path], store, quarantine_path=quarantine, options=IngestOptions(now=NOW))
        assert report.stored == 1
        assert store.query("SELECT request_json, response_json, prompt_chars FROM events")[0] == (
            None,
            None,
            len("You are a helpful assistant for Acme support.") + len(secret),
        )
    assert secret not in quarantine.read_text()
    assert secret.encode() not in (tmp_path / "private.duckdb").read_bytes()


def test_a_store_refuses_a_different_retention(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.duckdb", retention=Retention.DERIVED).close()
    with pytest.raises(StoreError, match="retention=derived"):
        Store.open(tmp_path / "s.duckdb", retention=Retention.FULL)
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.retention is Retention.DERIVED


def test_accounts_are_stored_and_later_facts_win(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    first = write_lines(
        "accounts.jsonl",
        [example_account(i) for i in range(5)]
        + [
            {"account_id": "acct_bad", "created_at": "not a date"},
        ],
    )
    report = run_ingest(accounts=[first])
    assert (report.accounts_new, report.accounts_quarantined) == (5, 1)
    upgraded = example_account(2) | {"tier": "Enterprise", "verified": True}
    second = write_lines("accounts2.jsonl", [upgraded, upgraded | {"tier": "EDU"}])
    report = run_ingest(accounts=[second])
    assert (report.accounts_new, report.accounts_updated) == (0, 2)  # both lines update it
    assert store.query("SELECT tier, verified FROM accounts WHERE account_id = 'acct_00002'") == [
        ("edu", True)
    ]


def test_worker_processes_store_exactly_what_one_process_does(
    tmp_path: Path, write_lines: WriteLines
) -> None:
    records: list[object] = [example_event(i) for i in range(3000)]
    records[1234] = b"{broken"
    path = write_lines("events.jsonl", records)
    results = []
    for workers in (1, 2):
        with Store.open(tmp_path / f"w{workers}.duckdb") as store:
            report = ingest(
                [path],
                store,
                quarantine_path=tmp_path / f"q{workers}.jsonl",
                options=IngestOptions(workers=workers, chunk_size=500, now=NOW),
            )
            ids = store.query("SELECT request_id, prompt_chars FROM events ORDER BY 1")
            results.append((report.stored, dict(report.quarantined), ids))
    assert results[0] == results[1]
    assert results[0][0] == 2999


def test_a_missing_path_fails_before_anything_is_written(tmp_path: Path, store: Store) -> None:
    with pytest.raises(SourceError, match="no such file"):
        ingest([tmp_path / "nope.jsonl"], store, quarantine_path=tmp_path / "q.jsonl")
    assert store.count("events") == 0


@pytest.mark.parametrize("gz", [False, True])
def test_a_byte_order_mark_does_not_cost_the_first_record(
    gz: bool, tmp_path: Path, run_ingest: RunIngest, store: Store
) -> None:
    data = b"\xef\xbb\xbf" + b"".join(
        msgspec.json.encode(example_event(i)) + b"\n" for i in range(3)
    )
    path = tmp_path / "events.jsonl"
    path.write_bytes(gzip.compress(data) if gz else data)
    report = run_ingest(path)
    assert (report.stored, report.clean) == (3, True)
    assert store.query("SELECT min(source_line) FROM events") == [(1,)]


@pytest.mark.parametrize("chunk_size", [2, 1000])
def test_repeated_account_lines_are_counted_and_the_last_wins(
    chunk_size: int, write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    lines = [example_account(0), example_account(1), example_account(1) | {"tier": "pro"}]
    lines += [{"account_id": "acct_00002"}, example_account(1) | {"tier": "Research"}]
    report = run_ingest(accounts=[write_lines("accounts.jsonl", lines)], chunk_size=chunk_size)
    assert (report.accounts_new, report.accounts_updated, report.accounts_quarantined) == (3, 2, 0)
    assert store.query("SELECT tier FROM accounts WHERE account_id = 'acct_00001'") == [
        ("research",)
    ]


def test_directory_suffixes_match_in_any_case_and_other_files_are_reported(
    tmp_path: Path, write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    write_lines("logs/B.JSONL", [example_event(0)])
    write_lines("logs/x.JSONL.GZ", [example_event(1)], gz=True)
    write_lines("logs/day.NDJson", [example_event(2)])
    pq.write_table(
        pa.Table.from_pylist(parquet_rows([example_event(3)])), tmp_path / "logs/c.PARQUET"
    )
    write_lines("logs/app.log", [example_event(4)])
    write_lines("logs/sub/readme.txt", [b"not a log"])
    write_lines("logs/.hidden.log", [b"an editor's file"])
    write_lines("logs/.git/HEAD", [b"ref: refs/heads/main"])
    report = run_ingest(tmp_path / "logs")
    assert (report.files, report.stored, report.clean) == (4, 4, True)
    assert report.skipped == [str(tmp_path / "logs/app.log"), str(tmp_path / "logs/sub/readme.txt")]


def test_a_store_from_before_signal_columns_is_refused_with_advice(tmp_path: Path) -> None:
    Store.open(tmp_path / "old.duckdb").close()
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("DELETE FROM meta WHERE key = 'store_version'")
    con.close()
    with pytest.raises(StoreError, match=r"older distillguard.*new --store path"):
        Store.open(tmp_path / "old.duckdb")


def test_signals_are_stored_as_columns(
    write_lines: WriteLines, run_ingest: RunIngest, store: Store
) -> None:
    event = example_event(0)
    event["request"] = {
        "messages": [
            {
                "role": "user",
                "content": (
                    "Calculate 12 * 12. The correct answer is 144. "
                    "Reconstruct the full reasoning step by step."
                ),
            }
        ]
    }
    run_ingest(write_lines("e.jsonl", [event]))
    score, capability, head = store.query(
        "SELECT reasoning_elicitation, capability, template_head FROM events"
    )[0]
    assert score == pytest.approx(0.9)
    assert capability == "math_reasoning"
    assert head is not None
