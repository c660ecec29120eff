"""The simulator: deterministic, in the contract, and every knob visible in the traffic."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from distillguard.ingest import IngestOptions, ingest
from distillguard.simulate.lookalikes import ALL_KINDS
from distillguard.simulate.populations import KINDS
from distillguard.simulate.run import LABEL_COLUMNS, simulate
from distillguard.simulate.scenario import BUILTIN, ScenarioError, load_scenario
from distillguard.store import Store
from tests.scanned import simulate_into

LATE = datetime(2026, 11, 1, tzinfo=UTC)

# Small enough to run in a second or two, with every tactic switched on somewhere.
KNOBS = """
name: knobs
start: 2026-03-02T00:00:00Z
days: 3
seed: 5
models:
  - {name: old-model, released: 2025-09-01T00:00:00Z}
  - {name: new-model, released: 2026-03-03T06:00:00Z}
populations:
  - {kind: oss_agent, accounts: 30, groups: 1, requests_per_day: 10, active_share: 1.0}
  - {kind: hobbyist, accounts: 40, requests_per_day: 3}
campaigns:
  - name: pivoting
    accounts: 12
    requests_per_day: 1500
    workload: {agentic_harvest: 0.5, reasoning_reconstruction: 0.5}
    payment_methods: 3
    creation: {burst_hours: 4, days_before_start: 1}
    pivot: {share: 0.5, within_hours: 12}
    rename_tools: true
    proxy: {kind: datacenter, ips: 5, asns: 1}
  - name: slow
    accounts: 30
    start_day: 1.0
    requests_per_day: 5000
    per_account_cap: 20
    workload: {rubric_grading: 1.0}
    ban_share_per_day: 0.2
    camouflage: 0.3
"""


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def knobs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    root = tmp_path_factory.mktemp("knobs")
    spec = root / "knobs.yaml"
    spec.write_text(KNOBS)
    out = root / "sim"
    simulate_into(spec, out, root / "store.duckdb")
    con = duckdb.connect(str(root / "store.duckdb"), read_only=True)
    con.execute(
        f"CREATE TEMP TABLE labels AS SELECT * FROM read_csv('{out}/labels.csv', "
        "all_varchar = true)"
    )
    yield out, con
    con.close()


def test_same_seed_same_files_whatever_the_workers(tmp_path: Path) -> None:
    spec = tmp_path / "knobs.yaml"
    spec.write_text(KNOBS)
    scenario = load_scenario(spec)
    simulate(scenario, tmp_path / "a", workers=1, days=2)
    simulate(scenario, tmp_path / "b", workers=2, days=2)
    simulate(scenario, tmp_path / "c", workers=2, days=2, seed=99)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_labels_cover_every_account_and_stay_out_of_events(
    knobs: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    out, _ = knobs
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == LABEL_COLUMNS
    accounts = {
        line.split('"account_id":"')[1].split('"')[0]
        for line in (out / "accounts.jsonl").read_text().splitlines()
    }
    assert {r["account_id"] for r in rows} == accounts
    assert {r["campaign"] for r in rows if r["is_attack"] == "1"} == {"pivoting", "slow"}
    text = (out / "events").joinpath("day-001.jsonl").read_text()
    for word in ("pivoting", "hobbyist", "attack"):
        assert word not in text


def test_pivot_share_after_release(knobs: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = knobs
    (before, after) = con.execute("""
        SELECT avg((model = 'new-model')::INT) FILTER (WHERE ts < TIMESTAMPTZ '2026-03-03 06:00Z'),
               avg((model = 'new-model')::INT) FILTER (WHERE ts > TIMESTAMPTZ '2026-03-03 18:00Z')
        FROM events JOIN labels USING (account_id) WHERE campaign = 'pivoting'""").fetchall()[0]
    assert before == 0
    assert 0.4 < after < 0.6


def test_farm_created_in_a_burst_with_reused_payment(
    knobs: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    _, con = knobs
    spread, cards, n = con.execute("""
        SELECT date_diff('minute', min(created_at), max(created_at)),
               count(DISTINCT payment_fingerprint), count(*)
        FROM accounts JOIN labels USING (account_id) WHERE campaign = 'pivoting'""").fetchall()[0]
    assert n == 12
    assert cards == 3
    assert spread <= 4 * 60


def test_renamed_tools_break_schema_equality_but_agent_users_share_one(
    knobs: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    _, con = knobs
    rows = dict(
        con.execute("""
        SELECT population || ':' || coalesce(campaign, ''), count(DISTINCT tool_schema_hash)::DOUBLE
               / count(DISTINCT account_id)
        FROM events JOIN labels USING (account_id) WHERE n_tools > 0 GROUP BY 1""").fetchall()
    )
    assert rows["oss_agent:"] < 0.1  # thousands of users, one tool schema
    assert rows["attack:pivoting"] >= 1.0  # every account renames its tools


def test_slow_and_low_cap_bans_and_replacements(
    knobs: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    _, con = knobs
    (busiest,) = con.execute("""
        SELECT max(n) FROM (SELECT count(*) n FROM events JOIN labels USING (account_id)
        WHERE campaign = 'slow' GROUP BY account_id, date_trunc('day', ts))""").fetchall()[0]
    assert busiest <= 20
    (replaced,) = con.execute("""
        SELECT count(*) FROM accounts JOIN labels USING (account_id)
        WHERE campaign = 'slow' AND created_at > TIMESTAMPTZ '2026-03-03 12:00Z'""").fetchall()[0]
    assert replaced >= 3


def test_round_robin_spreads_evenly(knobs: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = knobs
    lo, hi = con.execute("""
        SELECT min(n), max(n) FROM (SELECT count(*) n FROM events JOIN labels USING (account_id)
        WHERE campaign = 'pivoting' GROUP BY account_id)""").fetchall()[0]
    assert hi <= lo * 1.3


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_generate_and_ingest_cleanly(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(name)
    report = simulate(scenario, tmp_path / "sim", scale=0.02, days=2, workers=2)
    with (tmp_path / "sim" / "labels.csv").open() as fh:
        labels = list(csv.DictReader(fh))
    populations = {r["population"] for r in labels}
    assert {p.kind for p in scenario.populations} <= populations
    assert {c.name for c in scenario.campaigns} == {r["campaign"] for r in labels} - {""}
    with Store.open(tmp_path / "store.duckdb") as store:
        result = ingest(
            [tmp_path / "sim" / "events"],
            store,
            accounts=[tmp_path / "sim" / "accounts.jsonl"],
            quarantine_path=tmp_path / "q.jsonl",
            options=IngestOptions(now=LATE),
        )
        assert result.clean
        assert store.count("events") == report.events > 0


def test_builtins_use_every_population_kind() -> None:
    kinds = {p.kind for name in BUILTIN for p in load_scenario(name).populations}
    assert kinds >= set(KINDS)  # `content` also uses the look-alikes (lookalikes.py)
    assert kinds <= set(ALL_KINDS)


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        (
            "  - {kind: hobbyist, accounts: 40, requests_per_day: 3}",
            "field $.populations[1].kind: unknown kind",
        ),
        ("    workload: {rubric_grading: 1.0}", "unknown intent"),
        (
            "    ban_share_per_day: 0.2",
            f":{KNOBS.splitlines().index('    ban_share_per_day: 0.2') + 1}: "
            "field $.campaigns[1].ban_share_per_day",
        ),
    ],
)
def test_scenario_errors_name_file_line_and_field(tmp_path: Path, patch: str, where: str) -> None:
    broken = {
        "  - {kind: hobbyist, accounts: 40, requests_per_day: 3}": (
            "  - {kind: hobbyists, accounts: 40, requests_per_day: 3}"
        ),
        "    workload: {rubric_grading: 1.0}": "    workload: {rubric_grade: 1.0}",
        "    ban_share_per_day: 0.2": "    ban_share_per_day: lots",
    }[patch]
    path = tmp_path / "bad.yaml"
    path.write_text(KNOBS.replace(patch, broken))
    with pytest.raises(ScenarioError, match=r"bad\.yaml") as info:
        load_scenario(path)
    assert where in str(info.value)


def test_unknown_scenario_name_lists_the_builtins() -> None:
    with pytest.raises(ScenarioError, match="built-in: default, hard, incident"):
        load_scenario("nope")


def test_cli_writes_a_scenario_and_explains_a_broken_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from distillguard.cli import app

    spec = tmp_path / "knobs.yaml"
    spec.write_text(KNOBS)
    result = CliRunner().invoke(
        app, ["simulate", "--scenario", str(spec), "--out", str(tmp_path / "s"), "--days", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "next: distillguard ingest" in result.output
    assert (tmp_path / "s" / "events" / "day-001.jsonl").stat().st_size > 0
    spec.write_text(KNOBS.replace("days: 3", "days: three"))
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "knobs.yaml:4: field $.days" in result.output
