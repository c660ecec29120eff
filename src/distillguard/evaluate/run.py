"""One evaluation: results + ground truth (+ the store, for baselines) → metrics.json.

Accounts are those that have a label and appear in ``accounts.csv`` (an account with no events
in the window can be neither caught nor wrongly flagged); labelled accounts absent from the
results are counted as ``unseen``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from distillguard.evaluate.baselines import (
    account_features,
    baseline_scores,
    describe,
    request_counts,
)
from distillguard.evaluate.metrics import (
    curves,
    per_campaign,
    per_population,
    rates,
    threshold_at_fpr,
)
from distillguard.evaluate.results import (
    read_analyst_labels,
    read_labels,
    read_manifest,
    read_verdicts,
)


def evaluate(results: Path, labels_path: Path, store: Path | None = None) -> dict[str, Any]:
    """Every metric of docs/evaluation.md, as a JSON-ready dict (curves under ``_curves``)."""
    verdicts = read_verdicts(results)
    if labels_path.suffix == ".jsonl":  # the console's decisions, not a simulator's truth
        labels = read_analyst_labels(labels_path, results)
    else:
        labels = read_labels(labels_path)
    manifest = read_manifest(results)
    seen = sorted(a for a in labels if a in verdicts)
    truth = [labels[a].is_attack for a in seen]
    risk = [verdicts[a].risk for a in seen]
    overall = rates(truth, [verdicts[a].flagged for a in seen])
    real = [verdicts[a] for a, t in zip(seen, truth, strict=True) if not t]
    overall["acted_on_rate"] = round(sum(v.acted_on for v in real) / len(real), 4) if real else None
    detector_curves = curves(truth, risk)
    store_path = store or (Path(manifest["store"]) if manifest.get("store") else None)
    until = datetime.fromisoformat(manifest["until"]) if manifest.get("until") else None
    requests: dict[str, int] | None = None
    baselines: dict[str, Any] | None = None
    all_curves = {"detector": detector_curves}
    warnings: list[str] = []
    if store_path is not None and store_path.exists():
        with duckdb.connect(str(store_path), read_only=True) as con:
            requests = request_counts(con, until)
            features = account_features(con, until)
        baselines = {}
        scores = baseline_scores(features)
        target = overall["fpr"] or 0.0
        for name, by_account in scores.items():
            s = [by_account.get(a, 0.0) for a in seen]
            legit = [x for x, t in zip(s, truth, strict=True) if not t]
            attack = [x for x, t in zip(s, truth, strict=True) if t]
            threshold = threshold_at_fpr(legit, attack, target)
            baselines[name] = {
                **describe(name, threshold),
                "threshold": threshold,
                **rates(truth, [x >= threshold for x in s]),
            }
            all_curves[name] = curves(truth, s)
            baselines[name]["roc_auc"] = all_curves[name]["roc_auc"]
            baselines[name]["average_precision"] = all_curves[name]["average_precision"]
    else:
        warnings.append(
            "no store found (give --store, or keep the one named in manifest.json): "
            "baselines and request shares skipped"
        )
    flagged_requests = attack_requests = 0
    if requests is not None:
        for a in seen:
            if labels[a].is_attack:
                attack_requests += requests.get(a, 0)
                flagged_requests += requests.get(a, 0) if verdicts[a].flagged else 0
    unlabelled = len(set(verdicts) - set(labels))
    if unlabelled:
        warnings.append(f"{unlabelled} account(s) in accounts.csv have no label: left out")
    return {
        "results": str(results),
        "labels": str(labels_path),
        "store": str(store_path) if store_path else None,
        "until": manifest.get("until"),
        "accounts": len(seen),
        "attack_accounts": sum(truth),
        "unseen": len(labels) - len(seen),
        "unlabelled": unlabelled,
        "overall": {
            **overall,
            "roc_auc": detector_curves["roc_auc"],
            "average_precision": detector_curves["average_precision"],
            "attack_request_share": (
                round(flagged_requests / attack_requests, 4) if attack_requests else None
            ),
        },
        "campaigns": per_campaign(labels, verdicts, requests),
        "populations": per_population(labels, verdicts),
        "baselines": baselines,
        "warnings": warnings,
        "_curves": all_curves,
    }
