"""The command line as a user runs it: exit codes, messages, summaries, --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.contract.examples import example_event
from distillguard.ingest.command import EXIT_QUARANTINED
from distillguard.store.database import MEMORY_ENV, Store

SAMPLE = Path(__file__).parent.parent / "src" / "distillguard" / "data" / "sample"
runner = CliRunner()


def test_ingest_the_bundled_sample_reports_and_quarantines(tmp_path: Path) -> None:
    store = tmp_path / "dg.duckdb"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(SAMPLE / "events.jsonl"),
            "--accounts",
            str(SAMPLE / "accounts.jsonl"),
            "--store",
            str(store),
        ],
    )
    assert result.exit_code == EXIT_QUARANTINED, result.output
    assert "stored" in result.output
    assert "123" in result.output
    assert "missing_field" in result.output
    assert "bad_timestamp" in result.output
    entries = [
        json.loads(line) for line in (tmp_path / "dg.quarantine.jsonl").read_text().splitlines()
    ]
    assert [(e["line"], e["field"]) for e in entries] == [(41, "account_id"), (81, "ts")]

    info = runner.invoke(app, ["info", "--store", str(store)])
    assert info.exit_code == 0, info.output
    assert "anthropic_messages" in info.output
    assert "123" in info.output


def test_clean_input_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(example_event(i)) for i in range(5)) + "\n")
    result = runner.invoke(app, ["ingest", str(path), "--store", str(tmp_path / "s.duckdb"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", str(tmp_path / "nope.jsonl"), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 1
    assert "nope.jsonl: no such file or directory" in result.output


def test_retention_conflict_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(example_event(0)) + "\n")
    store = str(tmp_path / "s.duckdb")
    assert (
        runner.invoke(
            app, ["ingest", str(path), "--store", store, "--retention", "derived", "-q"]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["ingest", str(path), "--store", store, "--retention", "full"])
    assert result.exit_code == 1
    assert "created with retention=derived" in result.output


def test_the_store_memory_limit_is_bounded_and_can_be_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(example_event(0)) + "\n")
    with Store.open(tmp_path / "default.duckdb") as store:  # not DuckDB's 80% of memory
        default = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert default is not None
    assert default[0].endswith(" GiB")
    assert 0.9 <= float(default[0].split()[0]) <= 4.0
    monkeypatch.setenv(MEMORY_ENV, "512MB")
    with Store.open(tmp_path / "set.duckdb") as store:
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchone() == (
            "488.2 MiB",
        )
    monkeypatch.setenv(MEMORY_ENV, "lots")
    result = runner.invoke(app, ["ingest", str(path), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert "DISTILLGUARD_MEMORY_LIMIT='lots' is not a memory size" in result.output


def test_info_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "--store", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "run `distillguard ingest` first" in result.output


def test_schema_prints_and_writes(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["schema", "event"])
    assert printed.exit_code == 0
    assert json.loads(printed.output)["required"][:2] == ["ts", "request_id"]
    written = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert written.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "account.schema.json",
        "event.schema.json",
    ]
    assert runner.invoke(app, ["schema", "nonsense"]).exit_code == 2


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "distillguard", "--help"], capture_output=True, text=True, check=True
    )
    assert "ingest" in result.stdout
    assert "distillation" in result.stdout


def test_ingest_summary_names_files_skipped_in_a_directory(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.JSONL").write_text(json.dumps(example_event(0)) + "\n")
    (logs / "app.log").write_text(json.dumps(example_event(1)) + "\n")
    result = runner.invoke(app, ["ingest", str(logs), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    assert "files skipped (not logs)" in result.output
    assert str(logs / "app.log") in result.output
