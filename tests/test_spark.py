"""The Spark engine against the embedded one: the same logs in, the same results out.

One small world (the mini scenario, one day of it as a Hive-style Parquet lake, and a file of
broken and duplicate records) is scanned by both engines through the CLI, on a real local
Spark (pyspark and Java 17, as ``make setup`` installs them).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario
from distillguard.spark.read import list_files
from distillguard.spark.session import SparkUnavailable, check
from tests.scanned import MINI

runner = CliRunner()
UNTIL = "2026-03-04T12:00:00Z"  # half of the lake's day, and a replay step per day before it


LITELLM = Path(__file__).parent / "data" / "formats" / "litellm_callback.jsonl"


def _broken(first: dict[str, Any]) -> bytes:
    """A log segment a real pipeline might write: one good event, four bad records and a
    replay of an event already logged elsewhere."""
    good = first | {"request_id": "extra-good-1", "ts": "2026-03-03T10:00:00Z"}
    no_account = {k: v for k, v in first.items() if k != "account_id"}
    no_account["request_id"] = "extra-no-account"
    bad_ts = first | {"request_id": "extra-bad-ts", "ts": "yesterday"}
    lines = [
        msgspec.json.encode(good),
        b'{"request_id": "cut-off", "ts": "2026-03-03T',
        msgspec.json.encode(no_account),
        msgspec.json.encode(bad_ts),
        b"[1, 2, 3]",
        # The same request id as in the simulated day, read first (it is named first): both
        # engines keep this copy and count the simulated one as the duplicate.
        msgspec.json.encode(first | {"model": "replayed-model"}),
    ]
    return b"\n".join(lines) + b"\n"


def _to_lake(day: Path, lake: Path) -> None:
    """One day of JSONL as a data team keeps it: Parquet under ``date=...``, bodies as JSON."""
    rows = []
    for line in day.read_bytes().splitlines():
        e = msgspec.json.decode(line)
        e["request"] = msgspec.json.encode(e["request"]).decode()
        e["response"] = (
            None if e.get("response") is None else msgspec.json.encode(e["response"]).decode()
        )
        e["date"] = e["ts"][:10]
        rows.append(e)
    pq.write_to_dataset(pa.Table.from_pylist(rows), lake, partition_cols=["date"])
    (lake / "_SUCCESS").write_bytes(b"")
    (lake / "README.txt").write_text("not a log\n")
    day.unlink()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark")
    spec = root / "mini.yaml"
    spec.write_text(MINI)
    sim = root / "sim"
    simulate(load_scenario(spec), sim, workers=2)
    first = msgspec.json.decode((sim / "events" / "day-001.jsonl").read_bytes().split(b"\n")[0])
    (root / "broken.jsonl").write_bytes(_broken(first))
    _to_lake(sim / "events" / "day-003.jsonl", root / "lake")
    return root


def _scan(world: Path, engine: str) -> Path:
    out = world / engine
    args = [str(world / "broken.jsonl"), str(world / "sim" / "events"), str(world / "lake")]
    args += [str(LITELLM)]  # another tool's format: both engines detect it and read it alike
    args += ["--accounts", str(world / "sim" / "accounts.jsonl"), "--out", str(out)]
    args += ["--engine", engine, "--until", UNTIL, "--replay", "1d"]
    if engine == "spark":
        args += ["--spark-master", "local[2]"]
    result = runner.invoke(app, ["scan", *args])
    assert result.exit_code == 0, result.output
    (out / "console.txt").write_text(result.output)
    return out


@pytest.fixture(scope="module")
def both(world: Path) -> tuple[Path, Path]:
    return _scan(world, "duckdb"), _scan(world, "spark")


def _accounts(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "accounts.csv", newline="") as f:
        return {row["account_id"]: row for row in csv.DictReader(f)}


def test_spark_gives_every_account_the_same_verdict_risk_and_reasons(
    both: tuple[Path, Path],
) -> None:
    duck, spark = (_accounts(out) for out in both)
    assert duck.keys() == spark.keys()
    assert len(duck) > 300
    assert "u_k.novak" in duck  # read from LiteLLM's format by both engines
    verdicts = {a: r["verdict"] for a, r in duck.items()}
    assert {"clear", "block"} <= set(verdicts.values())
    differ = [a for a in duck if duck[a]["verdict"] != spark[a]["verdict"]]
    assert differ == []
    for a, row in duck.items():
        assert float(spark[a]["risk"]) == pytest.approx(float(row["risk"]), abs=1e-4), a
        assert spark[a]["reasons"] == row["reasons"], a
        assert spark[a]["cluster_id"] == row["cluster_id"], a
        assert spark[a]["campaign_id"] == row["campaign_id"], a
        assert spark[a]["flagged_at"] == row["flagged_at"], a
    assert any(r["flagged_at"] for r in duck.values())


def test_spark_finds_the_same_campaigns_with_the_same_evidence(both: tuple[Path, Path]) -> None:
    duck, spark = (json.loads((out / "campaigns.json").read_text()) for out in both)
    assert len(duck) >= 2
    assert spark == duck


def test_spark_quarantines_the_same_records_for_the_same_reasons(
    both: tuple[Path, Path],
) -> None:
    def refused(path: Path) -> list[tuple[str, int, str, str]]:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        return sorted((Path(q["file"]).name, q["line"], q["field"], q["reason"]) for q in lines)

    duck_out, spark_out = both
    duck = refused(duck_out / "store.quarantine.jsonl")
    spark = refused(spark_out / "quarantine.jsonl")
    assert len(duck) == 4
    assert {name for name, *_ in duck} == {"broken.jsonl"}
    assert spark == duck
    duck_manifest = json.loads((duck_out / "manifest.json").read_text())
    spark_manifest = json.loads((spark_out / "manifest.json").read_text())
    assert (duck_manifest["engine"], spark_manifest["engine"]) == ("duckdb", "spark")
    assert spark_manifest["events"] == duck_manifest["events"]
    assert spark_manifest["until"] == duck_manifest["until"]
    console = (spark_out / "console.txt").read_text()
    assert "1 duplicate(s)" in console
    assert "4 record(s) quarantined" in console
    assert "README.txt" in console  # the lake's note is named as skipped, not read


def test_a_lake_is_listed_as_uris_with_hidden_files_left_out(world: Path) -> None:
    files, skipped = list_files([(world / "lake").as_uri()])
    assert files
    assert all(f.startswith("file://") and f.endswith(".parquet") for f in files)
    assert all("/date=2026-03-04/" in f for f in files)
    assert [Path(s).name for s in skipped] == ["README.txt"]


def test_missing_java_is_named_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    with pytest.raises(SparkUnavailable, match="Java 17"):
        check()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark"], "give EVENTS"),
        (["logs/", "--engine", "spark", "--store", "x.duckdb"], "--store is for the duckdb"),
        (["logs/", "--spark-master", "local[2]"], "--spark-master needs --engine spark"),
        (["--engine", "flink"], "flink"),
        (["s3://logs/api/"], "URIs need --engine spark"),
    ],
)
def test_engine_options_that_cannot_work_are_refused_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["scan", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_a_uri_to_a_hive_name_with_escapes_is_read_as_that_file(tmp_path: Path) -> None:
    # Hive writes "atlas-3 mini" as atlas-3%20mini: the listing must open that very file, and
    # the directory still gives the model its real name.
    from distillguard.contract.examples import example_event
    from distillguard.spark.read import SCHEMA, Settings, _parse_file

    part = tmp_path / "lake" / "model=atlas-3%20mini"
    part.mkdir(parents=True)
    events = [example_event(i) for i in range(5)]
    rows = [{k: v for k, v in e.items() if k != "model"} for e in events]
    for row in rows:
        row["request"] = msgspec.json.encode(row["request"]).decode()
        row["response"] = None
    pq.write_table(pa.Table.from_pylist(rows), part / "part 0.parquet")
    (files, _) = list_files([(tmp_path / "lake").as_uri()])
    assert len(files) == 1
    settings = Settings(max_record_bytes=1 << 20, now=datetime(2027, 1, 1, tzinfo=UTC))
    table = pa.Table.from_batches(list(_parse_file(files[0], settings, 7)), schema=SCHEMA)
    assert table.column("q_reason").null_count == table.num_rows == 5
    assert set(table.column("model").to_pylist()) == {"atlas-3 mini"}
    assert set(table.column("file_index").to_pylist()) == {7}
    assert set(table.column("source_file").to_pylist()) == {
        f"{(tmp_path / 'lake').as_uri()}/model=atlas-3%20mini/part 0.parquet"
    }


def test_a_uri_that_cannot_be_opened_is_one_refused_record(tmp_path: Path) -> None:
    from distillguard.spark.read import Settings, _parse_file

    settings = Settings(max_record_bytes=1 << 20, now=datetime(2027, 1, 1, tzinfo=UTC))
    gone = (tmp_path / "gone.jsonl").as_uri()
    (batch,) = list(_parse_file(gone, settings))
    assert batch.column("q_reason").to_pylist() == ["unreadable_file"]
    assert batch.column("q_file").to_pylist() == [gone]


def test_an_old_java_is_refused_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = tmp_path / "jdk8" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk8"))
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    with pytest.raises(SparkUnavailable, match="is Java 8"):
        check()
