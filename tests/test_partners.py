"""Partner intelligence in the scan: a campaign one provider exported is caught sooner at a
second provider it also targets, its reasons name the partner, a salted account id matches its
account, and a poisoned bundle naming what real customers share flags none of them."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.intel.export import salted
from tests.scanned import simulate_into

# One operator, two providers. At provider A its farm is loud (a fresh burst of accounts at full
# use); at provider B the same operator, with the same proxies, cards and pipeline, runs aged,
# verified accounts at a lower rate in office hours, with camouflage.
HARVEST = """
    operator: op-x
    workload: {reasoning_reconstruction: 0.6, rubric_grading: 0.2, hidden_reasoning: 0.2}
    templates: 2
    payment_methods: 3
    email_domains: 2
    proxy: {kind: datacenter, ips: 20, asns: 2, rotation: per_request}
"""
WORLD = """
name: provider-{name}
start: 2026-03-02T00:00:00Z
days: 3
seed: {seed}
models:
  - {{name: old-model, released: 2025-09-01T00:00:00Z}}
populations:
  - {{kind: hobbyist, accounts: 120, requests_per_day: 4}}
  - {{kind: campus, accounts: 70, groups: 1, requests_per_day: 6, active_share: 0.8}}
  - {{kind: oss_agent, accounts: 50, groups: 1, requests_per_day: 15, active_share: 0.8}}
  - {{kind: corporate, accounts: 30, groups: 2, requests_per_day: 8}}
  - {{kind: judge, accounts: 3, groups: 1, requests_per_day: 300}}
campaigns:
  - name: harvest
    start_day: 0.2
{campaign}"""
LOUD = "    accounts: 20\n    requests_per_day: 800\n    timing: flat\n"
QUIET = """    accounts: 12
    requests_per_day: 300
    verified_share: 0.9
    creation: {burst_hours: 600, days_before_start: 40}
    camouflage: 0.3
    timing: business
"""
SALT = b"a-secret-the-two-providers-agreed"
FLAGGED = ("challenge", "block")


def _world(root: Path, name: str, seed: int, campaign: str) -> Path:
    spec = root / f"{name}.yaml"
    spec.write_text(WORLD.format(name=name, seed=seed, campaign=campaign) + HARVEST)
    sim = root / name
    simulate_into(spec, sim, sim / "store.duckdb")
    return sim


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _scan(store: Path, out: Path, *args: str) -> dict[str, dict[str, str]]:
    _cli("scan", "--store", str(store), "--out", str(out), "-q", *args)
    with (out / "accounts.csv").open() as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partners")
    a = _world(root, "a", 11, LOUD)
    _world(root, "b", 23, QUIET)
    _scan(a / "store.duckdb", a / "out")
    (root / "partner.salt").write_bytes(SALT)
    _cli("intel", "export", "--results", str(a / "out"), "--all", "--salt-file",
         str(root / "partner.salt"), "--out", str(root / "bundle.json"),
         "--producer", "provider-a")  # fmt: skip
    return root


def _labels(sim: Path) -> dict[str, str]:
    with (sim / "labels.csv").open() as f:
        return {r["account_id"]: r["population"] or "attack" for r in csv.DictReader(f)}


def _events_before_flag(store: Path, rows: dict[str, dict[str, str]], ids: list[str]) -> int:
    """Requests the campaign's accounts sent before each was flagged (all, if never)."""
    with duckdb.connect(str(store), read_only=True) as con:
        total = 0
        for account in ids:
            at = rows[account]["flagged_at"] or "9999-01-01T00:00:00Z"
            (n,) = con.execute(
                "SELECT count(*) FROM events WHERE account_id = ? AND ts < ?::TIMESTAMPTZ",
                [account, at],
            ).fetchall()[0]
            total += n
    return total


def test_a_scanned_campaign_exports_as_a_valid_bundle_that_imports_into_a_fresh_store(
    worlds: Path,
) -> None:
    import stix2
    from stix2patterns.validator import run_validator

    text = (worlds / "bundle.json").read_text()
    bundle = stix2.parse(text, allow_custom=True)
    kinds = {o["type"] for o in bundle.objects}
    assert {"identity", "campaign", "indicator", "x-distillguard-signature", "relationship",
            "sighting", "marking-definition"} <= kinds  # fmt: skip
    assert all(run_validator(o.pattern) == [] for o in bundle.objects if o["type"] == "indicator")
    with (worlds / "a" / "labels.csv").open() as f:
        ids = [r["account_id"] for r in csv.DictReader(f)]
    assert not any(a in text for a in ids)  # account ids leave only as salted digests
    fresh = worlds / "fresh.duckdb"
    done = _cli("intel", "import", str(worlds / "bundle.json"), "--store", str(fresh))
    assert "skipped" not in done.output
    with duckdb.connect(str(fresh), read_only=True) as con:
        (n,) = con.execute("SELECT count(*) FROM partner_indicators").fetchall()[0]
    assert n == sum(o["type"] in ("indicator", "x-distillguard-signature") for o in bundle.objects)


def test_a_partner_bundle_flags_the_same_campaign_sooner(worlds: Path) -> None:
    b = worlds / "b"
    informed = worlds / "b-informed"
    informed.mkdir()
    shutil.copy(b / "store.duckdb", informed / "store.duckdb")
    done = _cli("intel", "import", str(worlds / "bundle.json"),
                "--store", str(informed / "store.duckdb"),
                "--salt-file", str(worlds / "partner.salt"))  # fmt: skip
    # The operator's cards and e-mail domains, matched through the partnership's salt.
    matched = re.search(r"(\d+) of \d+ salted digests match", done.output)
    assert matched, done.output
    assert int(matched.group(1)) >= 3

    alone = _scan(b / "store.duckdb", b / "out", "--replay", "6h")
    told = _scan(informed / "store.duckdb", informed / "out", "--replay", "6h")
    labels = _labels(b)
    farm = [a for a, p in labels.items() if p == "attack"]
    assert all(told[a]["verdict"] in FLAGGED for a in farm)
    before_alone = _events_before_flag(b / "store.duckdb", alone, farm)
    before_told = _events_before_flag(informed / "store.duckdb", told, farm)
    assert before_told < before_alone / 2, (before_told, before_alone)

    def first(rows: dict[str, dict[str, str]]) -> datetime:
        return min(datetime.fromisoformat(rows[a]["flagged_at"]) for a in farm
                   if rows[a]["flagged_at"])  # fmt: skip

    assert first(told) < first(alone)
    # Without the salt only addresses and pipeline signatures match: less, but not nothing.
    unsalted = worlds / "b-unsalted"
    unsalted.mkdir()
    shutil.copy(b / "store.duckdb", unsalted / "store.duckdb")
    _cli("intel", "import", str(worlds / "bundle.json"), "--store", str(unsalted / "store.duckdb"))
    partly = _scan(unsalted / "store.duckdb", unsalted / "out", "--replay", "6h")
    assert first(partly) <= first(alone)
    assert _events_before_flag(unsalted / "store.duckdb", partly, farm) <= before_alone
    for a in farm:  # every reason that comes from a partner names it
        assert "reported by partner provider-a" in told[a]["reasons"]
    (campaign,) = {told[a]["campaign_id"] for a in farm}
    listed = json.loads((informed / "out" / "campaigns.json").read_text())
    (mine,) = [c for c in listed if c["campaign_id"] == campaign]
    assert mine["partners"][0]["source"] == "provider-a"
    assert mine["partners"][0]["accounts"] >= len(farm)

    # Real customers are not flagged for the partner's report.
    # Importing again without the salt keeps the matches the salted import made.
    again = _cli("intel", "import", str(worlds / "bundle.json"),
                 "--store", str(informed / "store.duckdb"))  # fmt: skip
    assert "kept but unmatched" in again.output
    with duckdb.connect(str(informed / "store.duckdb"), read_only=True) as con:
        (kept,) = con.execute("SELECT count(local_value) FROM partner_indicators").fetchall()[0]
    assert kept == int(matched.group(1))

    def legit(rows: dict[str, dict[str, str]]) -> set[str]:
        return {a for a, r in rows.items() if labels.get(a) != "attack" and r["verdict"] in FLAGGED}

    assert legit(told) <= legit(alone)


def _indicator(pattern: str, n: int) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{n}",
            "pattern_type": "stix", "pattern": pattern, "confidence": 100}  # fmt: skip


def _signature(kind: str, value: str, n: int) -> dict[str, Any]:
    return {"type": "x-distillguard-signature", "spec_version": "2.1",
            "id": f"x-distillguard-signature--{n}", "kind": kind, "value": value,
            "algorithm": "distillguard-v1", "confidence": 100}  # fmt: skip


def test_a_poisoned_bundle_naming_real_customers_flags_none_of_them(worlds: Path) -> None:
    b = worlds / "b"
    labels = _labels(b)
    poisoned = worlds / "b-poisoned"
    poisoned.mkdir()
    shutil.copy(b / "store.duckdb", poisoned / "store.duckdb")

    def commonest(population: str, column: str) -> str:
        ids = [a for a, p in labels.items() if p == population]
        with duckdb.connect(str(b / "store.duckdb"), read_only=True) as con:
            return str(con.execute(
                f"SELECT {column}::VARCHAR FROM events WHERE account_id IN (SELECT unnest(?)) "
                f"AND {column} IS NOT NULL GROUP BY 1 ORDER BY count(DISTINCT account_id) DESC "
                "LIMIT 1", [ids],
            ).fetchall()[0][0])  # fmt: skip

    # A partner, mistaken or hostile, names everything the campus NAT, the agent's users and
    # the graders share (addresses, networks, clients, TLS, tool schemas, system prompts,
    # templates), all at confidence 100.
    agent = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"

    def address(population: str) -> list[str]:
        ip, prefix = commonest(population, "ip"), commonest(population, "ip_prefix")
        v = 6 if ":" in ip else 4
        return [f"[ipv{v}-addr:value = '{ip}']", f"[ipv{v}-addr:value ISSUBSET '{prefix}']"]

    patterns = [
        *address("campus"),
        *address("judge"),
        f"[{agent} = '{commonest('oss_agent', 'user_agent')}']",
        f"[{agent} = '{commonest('judge', 'user_agent')}']",
        f"[x-distillguard-tls:fingerprint = '{commonest('oss_agent', 'tls_fingerprint')}']",
    ]
    signatures = [
        ("tools", commonest("oss_agent", "tool_shape_hash")),
        ("system", commonest("oss_agent", "system_hash")),
        ("system", commonest("judge", "system_hash")),
        ("template", "h" + commonest("judge", "template_head")),
        ("template", "h" + commonest("campus", "template_head")),
    ]
    objects = [_indicator(p, n) for n, p in enumerate(patterns)] + [
        _signature(kind, value, 100 + n) for n, (kind, value) in enumerate(signatures)
    ]
    (worlds / "poison.json").write_text(
        json.dumps({"type": "bundle", "id": "bundle--9", "objects": objects})
    )
    _cli("intel", "import", str(worlds / "poison.json"), "--store",
         str(poisoned / "store.duckdb"), "--source", "mallory")  # fmt: skip
    alone = _scan(b / "store.duckdb", worlds / "b-plain")
    told = _scan(poisoned / "store.duckdb", poisoned / "out")
    named = [a for a, p in labels.items() if p in ("campus", "oss_agent", "judge") and a in told]
    raised = [a for a in named if float(told[a]["risk"]) > float(alone[a]["risk"])]
    assert len(raised) > len(named) / 2  # the bundle was read and matched them ...

    def flagged(rows: dict[str, dict[str, str]]) -> set[str]:
        return {a for a, r in rows.items() if r["verdict"] in FLAGGED and labels[a] != "attack"}

    assert flagged(told) <= flagged(alone)  # ... and flagged none of them
    worst = max(float(told[a]["risk"]) for a in named)
    assert worst < 0.6, worst


def test_a_salted_account_id_matches_by_its_id_and_is_named_in_the_reasons(worlds: Path) -> None:
    b = worlds / "b"
    labels = _labels(b)
    farm = sorted(a for a, p in labels.items() if p == "attack")
    shared = worlds / "b-account"
    shared.mkdir()
    shutil.copy(b / "store.duckdb", shared / "store.duckdb")
    digest = salted(SALT, farm[0])  # a reseller that fronts provider B names the account
    bundle = {"type": "bundle", "id": "bundle--7", "objects": [
        _indicator(f"[user-account:user_id = '{digest}']", 1) | {"confidence": 90}]}  # fmt: skip
    (worlds / "account.json").write_text(json.dumps(bundle))
    done = _cli("intel", "import", str(worlds / "account.json"), "--source", "reseller",
                "--store", str(shared / "store.duckdb"),
                "--salt-file", str(worlds / "partner.salt"))  # fmt: skip
    assert "1 of 1 salted digests match" in " ".join(done.output.split())
    rows = _scan(shared / "store.duckdb", shared / "out")
    assert (
        "shares account with a campaign reported by partner reseller (confidence 90)"
        in (rows[farm[0]]["reasons"])
    )
