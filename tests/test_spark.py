"""The Spark engine against the embedded one: the same logs in, the same results out.

One small world (the mini scenario, one day of it as a Hive-style Parquet lake, and a file of
broken and duplicate records) is scanned by both engines through the CLI, on a real local
Spark (pyspark and Java 17, as ``make setup`` installs them).
"""

from __future__ import annotations

import csv
import json
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
        msgspec.json.encode(first),  # the same request id as in the simulated day: a duplicate
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
    args = [str(world / "sim" / "events"), str(world / "lake"), str(world / "broken.jsonl")]
    args += ["--accounts", str(world / "sim" / "accounts.jsonl"), "--out", str(out)]
    args += ["--engine", engine]
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
    verdicts = {a: r["verdict"] for a, r in duck.items()}
    assert {"clear", "block"} <= set(verdicts.values())
    differ = [a for a in duck if duck[a]["verdict"] != spark[a]["verdict"]]
    assert differ == []
    for a, row in duck.items():
        assert float(spark[a]["risk"]) == pytest.approx(float(row["risk"]), abs=1e-4), a
        assert spark[a]["reasons"] == row["reasons"], a
        assert spark[a]["cluster_id"] == row["cluster_id"], a
        assert spark[a]["campaign_id"] == row["campaign_id"], a


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
    with pytest.raises(SparkUnavailable, match="Java 17"):
        check()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark"], "give EVENTS"),
        (["logs/", "--engine", "spark", "--store", "x.duckdb"], "--store is for the duckdb"),
        (["logs/", "--spark-master", "local[2]"], "--spark-master needs --engine spark"),
        (["--engine", "flink"], "flink"),
    ],
)
def test_engine_options_that_cannot_work_are_refused_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["scan", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()
