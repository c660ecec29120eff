"""evaluate on hand-made results with known answers, on a real store for the baselines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.console.labels import Labels
from distillguard.evaluate import EvaluationError, evaluate
from distillguard.ingest import IngestOptions, ingest
from distillguard.store import Store

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HEADER = "account_id,risk,verdict,cluster_id,campaign_id,reasons,flagged_at\n"

# Ten accounts: campaign red (a1..a4, start T0), campaign blue (b1, b2, start T0 + 10 h),
# legitimate l1..l4 in two populations. Flagged: a1 a2 a3 (two campaign ids), b1, and l1.
RESULTS = [
    ("a1", 0.95, "block", "C1", "K1", "2026-03-02T06:00:00+00:00"),
    ("a2", 0.90, "block", "C1", "K1", "2026-03-02T12:00:00+00:00"),
    ("a3", 0.70, "challenge", "C2", "K2", "2026-03-03T00:00:00+00:00"),
    ("a4", 0.30, "clear", "", "", ""),
    ("b1", 0.65, "challenge", "C3", "K3", "2026-03-02T16:00:00+00:00"),
    ("b2", 0.45, "watch", "C3", "", ""),
    ("l1", 0.62, "challenge", "", "", "2026-03-02T18:00:00+00:00"),
    ("l2", 0.50, "watch", "", "", ""),
    ("l3", 0.10, "clear", "", "", ""),
    ("<script>x</script>", 0.05, "clear", "", "", ""),
]
LABELS = [
    ("a1", "farm", "red", 1, T0),
    ("a2", "farm", "red", 1, T0),
    ("a3", "farm", "red", 1, T0),
    ("a4", "farm", "red", 1, T0),
    ("b1", "farm", "blue", 1, T0 + timedelta(hours=10)),
    ("b2", "farm", "blue", 1, T0 + timedelta(hours=10)),
    ("l1", "campus", "", 0, None),
    ("l2", "campus", "", 0, None),
    ("l3", "hobbyist", "", 0, None),
    ("<script>x</script>", "hobbyist", "", 0, None),
    ("never", "hobbyist", "", 0, None),
]


def _write(root: Path, store: Path | None = None) -> tuple[Path, Path]:
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{a},{r},{v},{c},{k},,{f}\n" for a, r, v, c, k, f in RESULTS)
    (results / "accounts.csv").write_text(HEADER + rows)
    (results / "campaigns.json").write_text("[]")
    (results / "manifest.json").write_text(json.dumps({"store": str(store) if store else ""}))
    labels = root / "labels.csv"
    labels.write_text(
        "account_id,population,campaign,is_attack,campaign_start\n"
        + "".join(f"{a},{p},{c},{t},{s.isoformat() if s else ''}\n" for a, p, c, t, s in LABELS)
    )
    return results, labels


def _store(root: Path) -> Path:
    """Requests: every attack account 10 a day for 2 days, the legitimate ones 2 a day."""
    events = []
    for account, *_ in RESULTS:
        per_day = 10 if account[0] in "ab" else 2
        for day in range(2):
            for k in range(per_day):
                events.append(
                    {
                        "ts": (T0 + timedelta(days=day, minutes=5 * k)).isoformat(),
                        "request_id": f"{account}-{day}-{k}",
                        "account_id": account,
                        "endpoint": "/v1/chat/completions",
                        "model": "m",
                        "client": {"ip": "192.0.2.1"},
                        "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                        "usage": {"input_tokens": 10, "output_tokens": 40 if per_day == 10 else 5},
                    }
                )
    path = root / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    with Store.open(root / "store.duckdb") as store:
        report = ingest(
            [path],
            store,
            quarantine_path=root / "q.jsonl",
            options=IngestOptions(now=datetime(2026, 11, 1, tzinfo=UTC)),
        )
        assert report.clean
    return root / "store.duckdb"


def test_known_metrics_from_hand_made_results(tmp_path: Path) -> None:
    results, labels = _write(tmp_path, _store(tmp_path))
    m = evaluate(results, labels)
    assert (m["accounts"], m["attack_accounts"], m["unseen"]) == (10, 6, 1)
    o = m["overall"]
    assert (o["tp"], o["fp"], o["fn"], o["tn"]) == (4, 1, 2, 3)
    assert (o["precision"], o["recall"], o["fpr"]) == (0.8, round(4 / 6, 4), 0.25)
    assert o["attack_request_share"] == round(80 / 120, 4)  # 4 of 6 attack accounts, 20 each
    red, blue = m["campaigns"]["red"], m["campaigns"]["blue"]
    assert (red["flagged"], red["recall"], red["campaign_ids"]) == (3, 0.75, 2)
    assert (red["hours_to_first"], red["hours_to_half"]) == (6.0, 12.0)
    assert (blue["recall"], blue["campaign_ids"], blue["hours_to_first"]) == (0.5, 1, 6.0)
    assert blue["hours_to_half"] == 6.0
    # Counting every verdict the gateway enforces, b2's watch counts too.
    assert (blue["enforced"], blue["recall_enforced"], red["recall_enforced"]) == (2, 1.0, 0.75)
    assert m["populations"]["campus"] == {
        "accounts": 2,
        "flagged": 1,
        "watch": 1,
        "fpr": 0.5,
        "acted_on": 1.0,
        "median_risk": 0.56,
    }
    assert m["populations"]["hobbyist"]["fpr"] == 0.0
    assert o["acted_on_rate"] == 0.5  # l1 challenged and l2 watched, of four legitimate


def test_baselines_run_on_the_store_at_the_detectors_fpr(tmp_path: Path) -> None:
    results, labels = _write(tmp_path, _store(tmp_path))
    m = evaluate(results, labels)
    cap = m["baselines"]["daily_cap"]
    # Attack accounts make 10 requests a day, the rest 2: a cap catches all of them at FPR 0.
    assert (cap["recall"], cap["fpr"], cap["threshold"]) == (1.0, 0.0, 10.0)
    forest = m["baselines"]["isolation_forest"]
    assert forest["fpr"] <= m["overall"]["fpr"]
    assert "isolation-forest" in forest["rule"]


def test_cli_writes_metrics_curves_and_escaped_html(tmp_path: Path) -> None:
    results, labels = _write(tmp_path, _store(tmp_path))
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--results",
            str(results),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "ev"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["overall"]["recall"] == round(4 / 6, 4)
    assert "_curves" not in metrics
    for name in ("pr.png", "roc.png"):
        assert (tmp_path / "ev" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "ev" / "evaluation.html").read_text()
    assert "red" in html
    assert "daily_cap" in html
    assert "<script>x" not in html


def test_without_a_store_baselines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    results, labels = _write(tmp_path)
    m = evaluate(results, labels)
    assert m["baselines"] is None
    assert m["overall"]["attack_request_share"] is None
    assert any("no store" in w for w in m["warnings"])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a1,high,block,C1,K1,,\n", "line 2: field risk"),
        ("a1,0.9,ban,C1,K1,,\n", "line 2: field verdict"),
        ("a1,0.9,block,C1,K1,,yesterday\n", "line 2: field flagged_at"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    results, labels = _write(tmp_path)
    (results / "accounts.csv").write_text(HEADER + line)
    with pytest.raises(EvaluationError, match=expected) as info:
        evaluate(results, labels)
    assert "accounts.csv" in str(info.value)


def test_missing_column_is_a_clear_cli_error(tmp_path: Path) -> None:
    results, labels = _write(tmp_path)
    (results / "accounts.csv").write_text("account_id,verdict\na1,block\n")
    result = CliRunner().invoke(
        app, ["evaluate", "--results", str(results), "--labels", str(labels)]
    )
    assert result.exit_code == 2
    assert "accounts.csv" in result.output
    assert "missing column" in result.output


def test_analyst_decisions_from_the_console_are_ground_truth(tmp_path: Path) -> None:
    results, _ = _write(tmp_path)
    (results / "campaigns.json").write_text(
        json.dumps([{"campaign_id": "K3", "accounts": ["b1", "b2"]}])
    )
    book = Labels(results / "labels.jsonl")
    book.add("ana", "account", "a1", "confirmed")
    book.add("ana", "account", "a3", "dismissed")
    book.add("bo", "account", "a3", "confirmed", "changed my mind: same template")  # latest wins
    book.add("ana", "account", "l1", "dismissed", "campus NAT")
    book.add("ana", "campaign", "K3", "confirmed")  # b1 and b2 through their campaign
    m = evaluate(results, results / "labels.jsonl")
    assert m["accounts"] == 5  # only what analysts decided
    o = m["overall"]
    assert (o["tp"], o["fp"], o["fn"], o["tn"]) == (3, 1, 1, 0)  # l1 flagged but dismissed
    assert m["campaigns"]["K3"]["recall"] == 0.5  # b2 only watched
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(EvaluationError, match="no analyst labels"):
        evaluate(results, tmp_path / "empty.jsonl")
