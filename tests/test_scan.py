"""The scan end to end on a real store: campaigns caught, hard negatives spared, evidence kept."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.ingest import IngestOptions, ingest
from distillguard.store import Store
from tests.scanned import HOSTILE, LATE, build, hostile_account

RESULT_COLUMNS = ["account_id", "risk", "verdict", "cluster_id", "campaign_id", "reasons"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, dict]]]:
    """Simulate, ingest, scan once with replay; yields the root and the labels by account."""
    root = build(tmp_path_factory.mktemp("scan"))
    with (root / "sim" / "labels.csv").open() as fh:
        labels = {r["account_id"]: r for r in csv.DictReader(fh)}
    return root, labels


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "accounts.csv").open() as fh:
        return list(csv.DictReader(fh))


def _flagged(row: dict[str, str]) -> bool:
    return row["verdict"] in ("challenge", "block")


def test_campaign_accounts_are_flagged_and_real_customers_are_not(
    scanned: tuple[Path, dict[str, dict]],
) -> None:
    root, labels = scanned
    rows = {r["account_id"]: r for r in _rows(root / "out")}
    attack = [a for a, lab in labels.items() if lab["is_attack"] == "1" and a in rows]
    legit = [a for a, lab in labels.items() if lab["is_attack"] == "0" and a in rows]
    recall = sum(_flagged(rows[a]) for a in attack) / len(attack)
    fpr = sum(_flagged(rows[a]) for a in legit) / len(legit)
    assert recall >= 0.9, recall
    assert fpr <= 0.02, fpr
    for population in ("campus", "oss_agent", "corporate", "judge"):
        members = [a for a in legit if labels[a]["population"] == population]
        assert members, population
        assert not any(_flagged(rows[a]) for a in members), population


def test_accounts_csv_follows_the_output_contract(scanned: tuple[Path, dict[str, dict]]) -> None:
    root, _ = scanned
    rows = _rows(root / "out")
    assert list(rows[0])[: len(RESULT_COLUMNS)] == RESULT_COLUMNS
    with duckdb.connect(str(root / "store.duckdb"), read_only=True) as con:
        seen = {a for (a,) in con.execute("SELECT DISTINCT account_id FROM events").fetchall()}
    assert {r["account_id"] for r in rows} == seen  # one row per account seen, no more
    risks = [float(r["risk"]) for r in rows]
    assert all(0 <= x <= 1 for x in risks)
    assert risks == sorted(risks, reverse=True)
    for r in rows:
        assert (r["verdict"] == "clear") == (r["reasons"] == ""), r
        if r["campaign_id"]:
            assert r["cluster_id"]
            assert r["campaign_id"][1:] == r["cluster_id"][1:]


def test_each_true_campaign_is_one_campaign_with_checkable_evidence(
    scanned: tuple[Path, dict[str, dict]],
) -> None:
    root, labels = scanned
    campaigns = json.loads((root / "out" / "campaigns.json").read_text())
    by_id = {c["campaign_id"]: c for c in campaigns}
    rows = {r["account_id"]: r for r in _rows(root / "out")}
    with duckdb.connect(str(root / "store.duckdb"), read_only=True) as con:
        for name in ("reasoning", "agentic"):
            ids = {
                rows[a]["campaign_id"]
                for a, lab in labels.items()
                if lab["campaign"] == name and a in rows and _flagged(rows[a])
            }
            assert len(ids) == 1, (name, ids)  # not split, and every flagged member placed
            campaign = by_id[ids.pop()]
            members = [a for a in campaign["accounts"] if a in labels]
            assert sum(labels[a]["campaign"] == name for a in members) >= 0.9 * len(members)
            assert campaign["requests"] > 0
            assert campaign["first_seen"] <= campaign["last_seen"]
            assert abs(sum(campaign["capabilities"].values()) - 1) < 0.01
            assert campaign["tactics"]
            assert campaign["indicators"]
            listed = {(k, i["value"]) for k, items in campaign["indicators"].items() for i in items}
            assert campaign["links"]  # who holds which listed indicator: the graph's edges
            assert all(a in campaign["accounts"] for a, _, _ in campaign["links"])
            assert {(k, v) for _, k, v in campaign["links"]} == listed
            evidence = campaign["evidence"]
            assert evidence
            assert all(e["signals"] for e in evidence)
            stored = con.execute(
                f"SELECT count(*) FROM events WHERE request_id IN "
                f"({', '.join('?' for _ in evidence)})",
                [e["request_id"] for e in evidence],
            ).fetchall()[0][0]
            assert stored == len(evidence)
            assert all(e["account_id"] in campaign["accounts"] for e in evidence)
    agentic = next(c for c in campaigns if c["models"].get("new-model", 0) > 0.2)
    assert any(t["factor"] == "release_pivot" for t in agentic["tactics"])


def test_replay_says_when_each_account_was_first_flagged(
    scanned: tuple[Path, dict[str, dict]],
) -> None:
    root, labels = scanned
    for r in _rows(root / "out"):
        if not _flagged(r):
            continue
        assert r["flagged_at"], r
        start = labels.get(r["account_id"], {}).get("campaign_start")
        if start:
            assert datetime.fromisoformat(r["flagged_at"]) > datetime.fromisoformat(start)
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    assert manifest["replay_step_hours"] == 12


def test_report_shows_campaigns_and_escapes_log_text(
    scanned: tuple[Path, dict[str, dict]],
) -> None:
    root, _ = scanned
    html = (root / "out" / "report.html").read_text()
    rows = {r["account_id"]: r for r in _rows(root / "out")}
    # Judged alone on its own content: degraded (watch), never refused on content alone.
    assert rows[HOSTILE]["verdict"] == "watch"
    assert "<script>" not in html
    assert "acct&lt;script&gt;alert(1)&lt;/script&gt;" in html
    campaigns = json.loads((root / "out" / "campaigns.json").read_text())
    for c in campaigns[:2]:
        assert f'id="{c["campaign_id"]}"' in html
    assert html.count("data:image/png;base64,") >= 5  # two timelines a campaign, cluster sizes


def test_until_uses_only_earlier_events(
    scanned: tuple[Path, dict[str, dict]], tmp_path: Path
) -> None:
    root, _ = scanned
    until = "2026-03-03T00:00:00Z"
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "--store",
            str(root / "store.duckdb"),
            "--out",
            str(tmp_path),
            "--until",
            until,
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "store.duckdb"), read_only=True) as con:
        (before,) = con.execute(
            "SELECT count(*) FROM events WHERE ts < ?::TIMESTAMPTZ", [until]
        ).fetchall()[0]
        early = {
            a
            for (a,) in con.execute(
                "SELECT DISTINCT account_id FROM events WHERE ts < ?::TIMESTAMPTZ", [until]
            ).fetchall()
        }
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["events"] == before
    assert manifest["until"].startswith("2026-03-03T00:00")
    assert {r["account_id"] for r in _rows(tmp_path)} == early
    for c in json.loads((tmp_path / "campaigns.json").read_text()):
        assert c["last_seen"] < "2026-03-03T00:00:00"


def test_scan_log_files_directly(tmp_path: Path) -> None:
    events, accounts = hostile_account(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["scan", str(events), "--accounts", str(accounts), "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "store.duckdb").exists()
    (row,) = _rows(out)
    assert row["account_id"] == HOSTILE
    assert row["verdict"] == "watch"  # alone, eliciting: degraded by the gateway
    assert row["reasons"].startswith("own traffic: ")
    assert "elicit reasoning" in row["reasons"]


def test_bad_arguments_get_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["scan", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "--store" in result.output
    result = runner.invoke(app, ["scan", "--store", str(tmp_path / "none.duckdb"), "--out", "o"])
    assert result.exit_code == 1
    assert "no store at" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("thresholds: {watch: high}\n")
    events, _ = hostile_account(tmp_path)
    result = runner.invoke(app, ["scan", str(events), "--out", str(tmp_path), "--config", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output
    assert "watch" in result.output
    result = runner.invoke(app, ["scan", str(events), "--out", str(tmp_path), "--replay", "soon"])
    assert result.exit_code == 2
    assert "--replay" in result.output
    result = runner.invoke(app, ["scan", str(events), "--out", str(tmp_path), "--until", "today"])
    assert result.exit_code == 2
    assert "RFC 3339" in result.output


def test_empty_store_scans_to_empty_results(tmp_path: Path) -> None:
    Store.open(tmp_path / "empty.duckdb").close()
    result = CliRunner().invoke(
        app, ["scan", "--store", str(tmp_path / "empty.duckdb"), "--out", str(tmp_path / "o"), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path / "o") == []
    assert json.loads((tmp_path / "o" / "campaigns.json").read_text()) == []


def test_without_account_records_unknown_facts_are_not_evidence(
    scanned: tuple[Path, dict[str, dict]], tmp_path: Path
) -> None:
    """Events alone: sign-up facts are unknown, so behaviour (rotation, content) must carry it."""
    root, labels = scanned
    with Store.open(tmp_path / "events-only.duckdb") as store:
        ingest(
            [root / "sim" / "events"],
            store,
            quarantine_path=tmp_path / "q.jsonl",
            options=IngestOptions(now=LATE),
        )
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "--store",
            str(tmp_path / "events-only.duckdb"),
            "--out",
            str(tmp_path / "o"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["account_id"]: r for r in _rows(tmp_path / "o")}
    rotating = [a for a, lab in labels.items() if lab["campaign"] == "agentic" and a in rows]
    assert sum(_flagged(rows[a]) for a in rotating) >= 0.9 * len(rotating)
    # Ten datacenter addresses rotated per request over fifteen accounts: each account sees
    # every address many times (few new ones), but rarely the same one twice in a row.
    pooled = [a for a, lab in labels.items() if lab["campaign"] == "reasoning" and a in rows]
    assert sum(_flagged(rows[a]) for a in pooled) >= 0.9 * len(pooled)
    assert all("one small pool" in rows[a]["reasons"] for a in pooled)
    legit = [a for a, lab in labels.items() if lab["is_attack"] == "0" and a in rows]
    assert sum(_flagged(rows[a]) for a in legit) <= 0.03 * len(legit)
    for r in rows.values():
        assert "sign-up" not in r["reasons"], r
        assert "payment" not in r["reasons"], r
    for c in json.loads((tmp_path / "o" / "campaigns.json").read_text()):
        assert {t["factor"] for t in c["tactics"]}.isdisjoint({"burst", "young", "shared_payment"})


def test_analysts_decisions_hold_in_the_next_scan_until_the_evidence_changes(
    scanned: tuple[Path, dict[str, dict]], tmp_path: Path
) -> None:
    root, _ = scanned
    rows = {r["account_id"]: r for r in _rows(root / "out")}
    flagged = [a for a, r in rows.items() if _flagged(r)]
    campaigns = json.loads((root / "out" / "campaigns.json").read_text())
    whole = campaigns[-1]  # dismissed as a campaign: every account it held
    loose = [a for a in flagged if a not in whole["accounts"]]
    dismissed, outgrown = loose[0], loose[1]
    confirmed = next(a for a, r in rows.items() if r["verdict"] == "clear")

    def label(target: str, key: str, kind: str, evidence: dict[str, float]) -> dict[str, object]:
        return {"ts": "2026-03-05T09:00:00+00:00", "who": "ana", "target": target, "id": key,
                "label": kind, "note": "", "evidence": evidence}  # fmt: skip

    risk = {a: float(r["risk"]) for a, r in rows.items()}
    held = {a: risk[a] for a in whole["accounts"]}
    entries = [
        label("account", dismissed, "dismissed", {dismissed: risk[dismissed]}),
        label("account", outgrown, "dismissed", {outgrown: risk[outgrown] - 0.3}),
        label("account", confirmed, "confirmed", {confirmed: risk[confirmed]}),
        label("campaign", whole["campaign_id"], "dismissed", held),
    ]  # fmt: skip
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(e) + "\n" for e in entries))
    args = ["scan", "--store", str(root / "store.duckdb"), "--out", str(tmp_path / "next"), "-q"]
    result = CliRunner().invoke(app, [*args, "--decisions", str(labels)])
    assert result.exit_code == 0, result.output
    after = {r["account_id"]: r for r in _rows(tmp_path / "next")}
    assert after[dismissed]["verdict"] == "clear"
    assert after[dismissed]["reasons"].startswith(
        f"dismissed by ana on 2026-03-05: evidence unchanged (risk {round(risk[dismissed], 2)}"
    )
    assert after[outgrown]["verdict"] == rows[outgrown]["verdict"]  # new evidence: look again
    assert "but its evidence has grown since" in after[outgrown]["reasons"]
    assert after[confirmed]["verdict"] == "challenge"
    assert after[confirmed]["reasons"].startswith("confirmed by ana on 2026-03-05")
    assert {after[a]["verdict"] for a in whole["accounts"]} == {"clear"}
    untouched = [a for a in rows if a not in {dismissed, outgrown, confirmed, *whole["accounts"]}]
    assert all(after[a]["verdict"] == rows[a]["verdict"] for a in untouched)
    # The risk a decision moved is kept beside it: what the evidence alone said.
    assert float(after[dismissed]["evidence_risk"]) == float(rows[dismissed]["risk"])
    assert float(after[confirmed]["evidence_risk"]) == float(rows[confirmed]["risk"])
    assert all(after[a]["evidence_risk"] == after[a]["risk"] for a in untouched)
    # Carried into the new results: the scan after needs only that file, and gives the same.
    carried = tmp_path / "next" / "labels.jsonl"
    assert [json.loads(x)["id"] for x in carried.read_text().splitlines()] == [
        e["id"] for e in entries
    ]
    again = ["scan", "--store", str(root / "store.duckdb"), "--out", str(tmp_path / "third"), "-q"]
    third = CliRunner().invoke(app, [*again, "--decisions", str(carried)])
    assert third.exit_code == 0, third.output
    assert {r["account_id"]: r["verdict"] for r in _rows(tmp_path / "third")} == {
        a: r["verdict"] for a, r in after.items()
    }
    # A torn line mid-file (a crash, then more labels) is named and skipped, never the rest.
    labels.write_text(json.dumps(entries[0]) + "\n{broken\n" + json.dumps(entries[1]) + "\n")
    torn = CliRunner().invoke(app, [*args, "--decisions", str(labels)])
    assert torn.exit_code == 0, torn.output
    assert f"{labels}:2: skipped, not a label entry" in torn.output.replace("\n", "")
    after = {r["account_id"]: r for r in _rows(tmp_path / "next")}
    assert after[dismissed]["verdict"] == "clear"
    assert "but its evidence has grown since" in after[outgrown]["reasons"]
