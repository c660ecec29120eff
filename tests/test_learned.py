"""Decisions that teach: `distillguard learn` on a scan's features and an analyst's labels, and
`scan --model` moving risk by an explained, bounded factor. A real scan of the mini world."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.verdicts.features import FEATURES
from tests.scanned import build


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bool]]:
    """The mini world scanned, and an analyst's labels on it from the ground truth: every
    account the rules put at watch or above, and as many of the riskiest others as needed."""
    root = build(tmp_path_factory.mktemp("learned"))
    with open(root / "sim" / "labels.csv", newline="") as f:
        truth = {r["account_id"]: r["is_attack"] == "1" for r in csv.DictReader(f)}
    rows = _rows(root / "out")
    ranked = sorted(rows.values(), key=lambda r: -float(r["risk"]))
    chosen = [r for r in ranked if r["verdict"] != "clear"]
    legit = [r for r in ranked if r["verdict"] == "clear" and not truth.get(r["account_id"])]
    chosen += legit[:20]  # spot checks of near-misses: what the queue's tail shows
    with open(root / "out" / "labels.jsonl", "w") as f:
        for r in chosen:
            a = r["account_id"]
            entry = {"ts": "2026-03-05T09:00:00+00:00", "who": "ana", "target": "account",
                     "id": a, "label": "confirmed" if truth.get(a) else "dismissed",
                     "note": "", "evidence": {a: float(r["evidence_risk"])}}  # fmt: skip
            f.write(json.dumps(entry) + "\n")
    return root, truth


def test_the_scan_writes_the_evidence_as_numbers_for_every_account(
    world: tuple[Path, dict[str, bool]],
) -> None:
    root, _ = world
    table = duckdb.sql(f"SELECT * FROM read_parquet('{root / 'out' / 'features.parquet'}')")
    assert tuple(table.columns) == ("account_id", *FEATURES)
    ids = [a for (a,) in table.select("account_id").fetchall()]
    assert sorted(ids) == sorted(_rows(root / "out"))
    risk = dict(table.select("account_id, risk").fetchall())
    rows = _rows(root / "out")
    assert all(abs(risk[a] - float(r["risk"])) < 1e-3 for a, r in rows.items())


def test_a_learned_model_is_one_bounded_explained_factor(
    world: tuple[Path, dict[str, bool]], tmp_path: Path
) -> None:
    root, truth = world
    made = CliRunner().invoke(
        app, ["learn", "--results", str(root / "out"), "--out", str(tmp_path / "m")]
    )
    assert made.exit_code == 0, made.output
    assert "cross-validated AUC" in made.output
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["labels"]["confirmed"] >= 5
    assert meta["labels"]["dismissed"] >= 5
    assert meta["cross_validated"]["auc"] > 0.8  # the labels are learnable on this world
    args = ["scan", "--store", str(root / "store.duckdb"), "--out", str(tmp_path / "r"), "-q"]
    result = CliRunner().invoke(app, [*args, "--model", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    before, after = _rows(root / "out"), _rows(tmp_path / "r")
    assert (
        json.loads((tmp_path / "r" / "manifest.json").read_text())["model"]["sha256"]
        == (meta["sha256"])
    )
    moved = {a: float(after[a]["risk"]) - float(r["risk"]) for a, r in before.items()}
    for a, r in before.items():
        if float(r["risk"]) < 0.4:  # below watch: the model never touches it
            assert moved[a] == 0, (a, r, after[a])
            assert "learned from" not in after[a]["reasons"]
        else:
            assert abs(moved[a]) <= 0.2 + 1e-3
    explained = [a for a in before if abs(moved[a]) >= 0.01]
    assert explained
    for a in explained:
        reason = after[a]["reasons"]
        assert f"learned from {sum(meta['labels'].values())} analysts' decisions" in reason
        assert f"risk {moved[a]:+.2f}" in reason
    # It learned what the analyst said: confirmed accounts go up, dismissed ones down.
    flagged = [a for a in before if float(before[a]["risk"]) >= 0.4]
    up = [moved[a] for a in flagged if truth.get(a)]
    down = [moved[a] for a in flagged if not truth.get(a)]
    assert up
    assert min(up) > 0
    assert all(m < 0 for m in down)


def test_a_model_that_was_changed_or_too_few_labels_are_refused_with_why(
    world: tuple[Path, dict[str, bool]], tmp_path: Path
) -> None:
    root, _ = world
    few = tmp_path / "few.jsonl"
    lines = (root / "out" / "labels.jsonl").read_text().splitlines()
    few.write_text("\n".join(x for x in lines if '"confirmed"' in x) + "\n")
    args = ["learn", "--results", str(root / "out"), "--out", str(tmp_path / "m")]
    refused = CliRunner().invoke(app, [*args, "--labels", str(few)])
    assert refused.exit_code == 2
    assert "need at least 5 confirmed and 5 dismissed" in refused.output.replace("\n", " ")
    assert CliRunner().invoke(app, args).exit_code == 0
    (tmp_path / "m" / "model.joblib").write_bytes(b"not the model that was made")
    scan = ["scan", "--store", str(root / "store.duckdb"), "--out", str(tmp_path / "r"), "-q"]
    tampered = CliRunner().invoke(app, [*scan, "--model", str(tmp_path / "m")])
    assert tampered.exit_code == 2
    assert "not the file model.json describes" in tampered.output.replace("\n", "")
    missing = CliRunner().invoke(
        app, ["learn", "--results", str(tmp_path), "--out", str(tmp_path / "x")]
    )
    assert missing.exit_code == 2
    assert "features.parquet: no such file" in missing.output.replace("\n", "")


def test_a_model_is_set_aside_where_the_evidence_is_unlike_what_it_learned_from(
    world: tuple[Path, dict[str, bool]], tmp_path: Path
) -> None:
    """Learned with sign-up records, asked to judge a scan without them: it judges no one,
    and says so in the manifest and on the terminal, -q or not."""
    root, _ = world
    learn = ["learn", "--results", str(root / "out"), "--out", str(tmp_path / "m")]
    assert CliRunner().invoke(app, learn).exit_code == 0
    store = tmp_path / "bare.duckdb"
    events = str(root / "sim" / "events")
    ingested = CliRunner().invoke(app, ["ingest", events, "--store", str(store), "-q"])
    assert ingested.exit_code == 0, ingested.output
    args = ["scan", "--store", str(store), "--out", str(tmp_path / "r"), "-q"]
    result = CliRunner().invoke(app, [*args, "--model", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "learned model set aside" in result.output
    said = json.loads((tmp_path / "r" / "manifest.json").read_text())["model"]
    assert said["applied"] is False
    assert "of the accounts it learned from and for" in said["set_aside"]
    assert not any("learned from" in r["reasons"] for r in _rows(tmp_path / "r").values())
