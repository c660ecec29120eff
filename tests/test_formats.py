"""Other tools' logs through ingest into a real DuckDB store: LiteLLM, OTel, OpenAI Batch,
Langfuse. The samples in tests/data/formats were written from each tool's published types
(tests/data/formats/SOURCES.md), not from the contract."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.formats import FORMATS, detect
from distillguard.ingest import IngestOptions, ingest
from distillguard.store import Store
from tests.conftest import RunIngest, quarantined

SAMPLES = Path(__file__).parent / "data" / "formats"
HARVESTERS = {"u_k.novak", "u_t.ferris", "u_r.okafor"}  # the keys eval-batch-01, -02, qa-synth-7


def _lines(name: str) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in (SAMPLES / name).read_bytes().splitlines()]


def _spans(name: str, group: str, scopes: str, key: str) -> int:
    return sum(
        len(scope.get(key, []))
        for line in _lines(name)
        for resource in line.get(group, [])
        for scope in resource.get(scopes, [])
    )


def _column(store: Store, sql: str) -> list[Any]:
    return [row[0] for row in store.query(sql)]


@pytest.mark.parametrize(
    ("sample", "name"),
    [
        ("litellm_callback.jsonl", "litellm"),
        ("litellm_spendlogs.jsonl", "litellm"),
        ("otel_traces.jsonl", "otel"),
        ("otel_logs.jsonl", "otel"),
        ("openai_batch_input.jsonl", "openai-batch"),
        ("openai_batch_output.jsonl", "openai-batch"),
        ("langfuse_observations.jsonl", "langfuse"),
    ],
)
def test_each_sample_is_recognised_from_its_first_records(sample: str, name: str) -> None:
    assert detect(_lines(sample)).name == name


def test_litellm_payloads_keep_identity_address_and_bodies(
    run_ingest: RunIngest, store: Store
) -> None:
    report = run_ingest(SAMPLES / "litellm_callback.jsonl")
    assert report.clean
    assert report.stored == len(_lines("litellm_callback.jsonl"))
    assert report.formats == {"litellm": 1}
    accounts = set(_column(store, "SELECT DISTINCT account_id FROM events"))
    assert accounts >= HARVESTERS  # the key owner's user id, not the end user
    assert not any(a.startswith(("cust_", "dev_")) for a in accounts)
    assert _column(store, "SELECT count(*) FROM events WHERE ip IS NULL OR n_turns = 0") == [0]
    endpoints = set(_column(store, "SELECT DISTINCT endpoint FROM events"))
    assert {"/v1/chat/completions", "/v1/responses", "/v1/messages"} <= endpoints
    statuses = set(_column(store, "SELECT DISTINCT status FROM events"))
    assert {200, 429, 400} <= statuses  # failures keep LiteLLM's error code
    # The harvesters' shared system prompt is one signature across their accounts.
    shared = store.query(
        "SELECT count(DISTINCT account_id) FROM events WHERE account_id IN ? "
        "GROUP BY system_hash ORDER BY 1 DESC LIMIT 1",
        [sorted(HARVESTERS)],
    )
    assert shared[0][0] == 3


def test_litellm_spend_logs_read_the_stored_body_and_forwarded_address(
    run_ingest: RunIngest, store: Store
) -> None:
    report = run_ingest(
        SAMPLES / "litellm_spendlogs.jsonl", SAMPLES / "litellm_spendlogs_timestamptz.jsonl"
    )
    rows = len(_lines("litellm_spendlogs.jsonl")) + len(
        _lines("litellm_spendlogs_timestamptz.jsonl")
    )
    assert report.clean
    assert report.stored + report.duplicates == rows
    # Rows with every body field empty (content logging off) are stored without text signals.
    empty = sum(
        1
        for name in ("litellm_spendlogs.jsonl", "litellm_spendlogs_timestamptz.jsonl")
        for r in _lines(name)
        if not r.get("proxy_server_request") and r.get("messages") in ({}, None, "")
    )
    assert _column(store, "SELECT count(*) FROM events WHERE n_turns = 0") == [empty]
    # "10.40.2.17, 198.51.100.23" (X-Forwarded-For): the public client address is kept.
    ips = set(_column(store, "SELECT DISTINCT ip FROM events"))
    assert "198.51.100.23" in ips
    assert not any("," in ip for ip in ips)


def test_otel_spans_become_events_and_other_spans_are_counted_not_lost(
    run_ingest: RunIngest, store: Store
) -> None:
    report = run_ingest(SAMPLES / "otel_traces.jsonl")
    spans = _spans("otel_traces.jsonl", "resourceSpans", "scopeSpans", "spans")
    assert report.clean
    assert report.stored + sum(report.skipped_records.values()) == spans
    assert report.stored > 0
    assert sum(report.skipped_records.values()) > 0
    assert set(_column(store, "SELECT DISTINCT account_id FROM events")) >= HARVESTERS
    assert _column(store, "SELECT count(*) FROM events WHERE n_turns = 0") == [0]
    # The older conventions (content in span events, enduser.id) are read too.
    assert (
        _column(
            store, "SELECT count(*) FROM events WHERE extra->>'$.otel.service' = 'completions-v1'"
        )[0]
        > 0
    )


def test_otel_without_captured_content_keeps_metadata_only(
    run_ingest: RunIngest, store: Store
) -> None:
    report = run_ingest(SAMPLES / "otel_traces_nocontent.jsonl")
    assert report.clean
    assert report.stored > 0
    assert _column(store, "SELECT count(*) FROM events WHERE n_turns > 0") == [0]
    assert (
        _column(store, "SELECT count(*) FROM events WHERE input_tokens IS NULL")[0] < report.stored
    )


def test_otel_events_without_an_account_are_refused_by_name_unless_one_is_given(
    run_ingest: RunIngest, store: Store, tmp_path: Path
) -> None:
    records = _spans("otel_logs.jsonl", "resourceLogs", "scopeLogs", "logRecords")
    report = run_ingest(SAMPLES / "otel_logs.jsonl")
    refused = quarantined(tmp_path)
    assert report.stored == 0
    assert len(refused) + sum(report.skipped_records.values()) == records
    assert refused[0]["field"].endswith(".attributes.user.id")
    assert "--account-id" in refused[0]["message"]
    again = run_ingest(SAMPLES / "otel_logs.jsonl", account_id="gateway-tenant")
    assert again.stored == len(refused)


def test_openai_batch_pairs_inputs_with_outputs_in_any_order(
    run_ingest: RunIngest, store: Store, tmp_path: Path
) -> None:
    # Outputs named first, inputs after: pairing does not depend on the order given.
    report = run_ingest(
        SAMPLES / "openai_batch_output.jsonl",
        SAMPLES / "openai_batch_input.jsonl",
        account_id="org-batch-owner",
        now=datetime.now(UTC),  # a failed request has no answer: its file's time is its time
    )
    inputs = _lines("openai_batch_input.jsonl")
    assert report.clean
    assert report.stored == len(inputs)
    assert report.formats == {"openai-batch": 2}
    assert _column(store, "SELECT count(*) FROM events WHERE ip IS NOT NULL") == [0]
    outputs = {o["custom_id"]: o for o in _lines("openai_batch_output.jsonl")}
    failed = [c for c, o in outputs.items() if o.get("error")]
    paired = store.query("SELECT extra->>'$.batch.custom_id', status, output_tokens FROM events")
    for custom_id, status, tokens in paired:
        output = outputs[custom_id]
        if custom_id in failed:
            assert status is None
        else:
            assert status == output["response"]["status_code"]
            usage = output["response"]["body"]["usage"]
            assert tokens == usage.get("completion_tokens", usage.get("output_tokens"))
    # Without --account-id, requests that set no user are refused by name, the rest stored.
    users = sum(1 for i in inputs if i["body"].get("user") or i["body"].get("safety_identifier"))
    assert 0 < users < len(inputs)


def test_batch_output_without_its_input_is_refused_not_dropped(
    run_ingest: RunIngest, tmp_path: Path
) -> None:
    lonely = tmp_path / "out.jsonl"
    shutil.copy(SAMPLES / "openai_batch_output.jsonl", lonely)
    report = run_ingest(lonely, account_id="org")
    refused = quarantined(tmp_path)
    assert report.stored == 0
    assert len(refused) == len(_lines("openai_batch_output.jsonl"))
    assert {r["field"] for r in refused} == {"custom_id"}
    assert "input" in refused[0]["message"]


def test_langfuse_generations_are_calls_with_litellm_identity(
    run_ingest: RunIngest, store: Store
) -> None:
    report = run_ingest(SAMPLES / "langfuse_observations.jsonl")
    observations = _lines("langfuse_observations.jsonl")
    generations = sum(1 for o in observations if o["type"] in ("GENERATION", "EMBEDDING"))
    assert report.clean
    assert report.stored == generations
    assert report.stored + sum(report.skipped_records.values()) == len(observations)
    assert set(_column(store, "SELECT DISTINCT account_id FROM events")) >= HARVESTERS
    assert _column(store, "SELECT count(*) FROM events WHERE n_turns = 0") == [0]


@pytest.mark.parametrize(
    "sample",
    [
        "litellm_callback.jsonl",
        "litellm_spendlogs.jsonl",
        "otel_traces.jsonl",
        "openai_batch_input.jsonl",
        "langfuse_observations.jsonl",
    ],
)
def test_a_corrupt_line_in_each_format_is_quarantined_and_its_neighbours_kept(
    sample: str, run_ingest: RunIngest, tmp_path: Path
) -> None:
    lines = (SAMPLES / sample).read_bytes().splitlines()
    cut = len(lines) // 2
    broken = [*lines[:cut], lines[cut][: len(lines[cut]) // 2], *lines[cut + 1 :]]
    path = tmp_path / sample
    path.write_bytes(b"\n".join(broken) + b"\n")
    extra = []
    if "batch" in sample:  # a batch's two files are paired within one directory
        extra = [tmp_path / "openai_batch_output.jsonl"]
        shutil.copy(SAMPLES / "openai_batch_output.jsonl", extra[0])
    now = datetime.now(UTC)
    whole = run_ingest(*[SAMPLES / sample, *extra], account_id="a", now=now)
    store_path = tmp_path / "second.duckdb"
    with Store.open(store_path) as second:
        report = ingest(
            [path, *extra],
            second,
            quarantine_path=tmp_path / "q2.jsonl",
            options=IngestOptions(now=now, account_id="a"),
        )
    refused = [msgspec.json.decode(x) for x in (tmp_path / "q2.jsonl").read_bytes().splitlines()]
    bad_json = [r for r in refused if r["reason"] == "bad_json"]
    assert len(bad_json) == 1
    assert bad_json[0]["line"] == cut + 1
    assert bad_json[0]["file"] == str(path)
    # Everything the broken line did not carry is still stored.
    assert report.stored >= whole.stored - _events_in(sample, lines[cut])
    assert report.stored < whole.stored


def _events_in(sample: str, line: bytes) -> int:
    record = msgspec.json.decode(line)
    if "resourceSpans" in record:
        return sum(len(s["spans"]) for r in record["resourceSpans"] for s in r["scopeSpans"])
    return 1


def test_a_field_a_format_cannot_read_is_named_in_its_own_terms(
    run_ingest: RunIngest, tmp_path: Path
) -> None:
    rows = _lines("litellm_callback.jsonl")
    rows[3]["startTime"] = "yesterday"
    line = next(
        x
        for x in _lines("otel_traces.jsonl")
        if any(
            a["key"] == "gen_ai.request.model"
            for s in x["resourceSpans"][0]["scopeSpans"][0]["spans"]
            for a in s["attributes"]
        )
    )
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"]
    gen = next(
        i
        for i, s in enumerate(span)
        if any(a["key"] == "gen_ai.request.model" for a in s["attributes"])
    )
    span[gen]["attributes"] = [
        a
        for a in span[gen]["attributes"]
        if a["key"] not in ("gen_ai.request.model", "gen_ai.response.model")
    ]
    litellm, otel = tmp_path / "litellm.jsonl", tmp_path / "otel.jsonl"
    litellm.write_bytes(b"\n".join(msgspec.json.encode(r) for r in rows) + b"\n")
    otel.write_bytes(msgspec.json.encode(line) + b"\n")
    report = run_ingest(litellm, otel)
    refused = {r["file"]: r for r in quarantined(tmp_path)}
    assert sum(report.quarantined.values()) == 2
    assert refused[str(litellm)]["field"] == "startTime"
    assert refused[str(litellm)]["reason"] == "bad_timestamp"
    assert refused[str(litellm)]["line"] == 4
    assert refused[str(otel)]["field"] == (
        f"resourceSpans[0].scopeSpans[0].spans[{gen}].attributes.gen_ai.request.model"
    )
    assert refused[str(otel)]["message"].startswith("otel: ")


def test_cli_takes_a_format_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    runner = CliRunner()
    store = tmp_path / "s.duckdb"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(SAMPLES / "litellm_callback.jsonl"),
            "--store",
            str(store),
            "--format",
            "LiteLLM",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "litellm 1" in result.output
    result = runner.invoke(
        app,
        [
            "ingest",
            str(SAMPLES / "litellm_callback.jsonl"),
            "--store",
            str(store),
            "--format",
            "splunk",
        ],
    )
    assert result.exit_code == 2
    assert "unknown log format 'splunk'" in result.output
    assert all(name in result.output for name in FORMATS)
    # Forced to the contract, LiteLLM's records are refused with the contract's reasons.
    result = runner.invoke(
        app,
        [
            "ingest",
            str(SAMPLES / "litellm_callback.jsonl"),
            "--store",
            str(tmp_path / "c.duckdb"),
            "-f",
            "contract",
            "-q",
        ],
    )
    assert result.exit_code == 3


def test_scan_runs_on_a_log_without_addresses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "scan",
            str(SAMPLES / "openai_batch_input.jsonl"),
            str(SAMPLES / "openai_batch_output.jsonl"),
            "--account-id",
            "org-batch-owner",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    with Store.open(out / "store.duckdb") as db:
        assert db.query("SELECT count(*), count(ip), count(ip_prefix) FROM events")[0][1:] == (0, 0)
    assert (out / "accounts.csv").read_text().count("\n") > 1


@pytest.mark.parametrize(
    "samples",
    [
        ["litellm_callback.jsonl"],
        ["litellm_spendlogs.jsonl"],
        ["otel_traces.jsonl"],
        ["otel_traces_nocontent.jsonl"],
        ["langfuse_observations.jsonl"],
    ],
)
def test_each_format_goes_through_scan(samples: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = [str(SAMPLES / s) for s in samples]
    result = CliRunner().invoke(app, ["scan", *paths, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    listed = (out / "accounts.csv").read_text()
    assert all(account in listed for account in HARVESTERS)
