"""Account-level metrics against ground truth: pure functions over labels and decisions.

>>> rates([True, True, False, False], [True, False, True, False])
{'tp': 1, 'fp': 1, 'fn': 1, 'tn': 1, 'precision': 0.5, 'recall': 0.5, 'fpr': 0.5}
>>> threshold_at_fpr([0.1, 0.2, 0.3, 0.9], [0.1, 0.5, 0.7, 0.8], 0.25)
0.5
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from statistics import median
from typing import Any

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from distillguard.evaluate.results import Label, Verdict


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def rates(truth: Sequence[bool], flagged: Sequence[bool]) -> dict[str, Any]:
    tp = sum(t and f for t, f in zip(truth, flagged, strict=True))
    fp = sum(f and not t for t, f in zip(truth, flagged, strict=True))
    fn = sum(t and not f for t, f in zip(truth, flagged, strict=True))
    tn = len(truth) - tp - fp - fn
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "fpr": _ratio(fp, fp + tn),
    }


def threshold_at_fpr(legit: Sequence[float], attack: Sequence[float], fpr: float) -> float:
    """The lowest threshold (flag when score >= it) whose false-positive rate is <= ``fpr``.

    Thresholds are taken among the observed scores, so ties never push the FPR over.
    """
    scores = sorted({*legit, *attack, float("inf")})
    n = len(legit) or 1
    legit_arr = np.asarray(legit, dtype=float)
    for t in scores:
        if (legit_arr >= t).sum() / n <= fpr:
            return float(t)
    return float("inf")


def curves(truth: Sequence[bool], score: Sequence[float]) -> dict[str, Any]:
    """ROC and PR curves with their areas (None when one class is absent)."""
    if len(set(truth)) < 2:
        return {"roc_auc": None, "average_precision": None}
    fpr, tpr, _ = roc_curve(truth, score)
    precision, recall, _ = precision_recall_curve(truth, score)
    return {
        "roc_auc": round(float(auc(fpr, tpr)), 4),
        "average_precision": round(float(average_precision_score(truth, score)), 4),
        "roc": (fpr.tolist(), tpr.tolist()),
        "pr": (recall.tolist(), precision.tolist()),
    }


def _hours(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds() / 3600, 2)


def per_campaign(
    labels: dict[str, Label],
    verdicts: dict[str, Verdict],
    requests: dict[str, int] | None,
) -> dict[str, dict[str, Any]]:
    """Recall, splits, attack-request share and time to detect for each true campaign."""
    members: dict[str, list[Label]] = defaultdict(list)
    for label in labels.values():
        if label.is_attack and label.account_id in verdicts:
            members[label.campaign or "(unnamed)"].append(label)
    out: dict[str, dict[str, Any]] = {}
    for name, group in sorted(members.items()):
        decided = [verdicts[m.account_id] for m in group]
        flagged = [v for v in decided if v.flagged]
        start = min((m.campaign_start for m in group if m.campaign_start), default=None)
        times = sorted(v.flagged_at for v in flagged if v.flagged_at)
        half = times[(len(group) + 1) // 2 - 1] if len(times) >= (len(group) + 1) // 2 else None
        total = sum(requests.get(m.account_id, 0) for m in group) if requests else 0
        caught = sum(requests.get(v.account_id, 0) for v in flagged) if requests else 0
        enforced = sum(v.acted_on for v in decided)
        out[name] = {
            "accounts": len(group),
            "flagged": len(flagged),
            "recall": _ratio(len(flagged), len(group)),
            "enforced": enforced,
            "recall_enforced": _ratio(enforced, len(group)),
            "campaign_ids": len({v.campaign_id for v in flagged if v.campaign_id}),
            "flagged_outside_campaigns": sum(not v.campaign_id for v in flagged),
            "request_share": _ratio(caught, total) if requests else None,
            "start": start.isoformat() if start else None,
            "hours_to_first": _hours(times[0] if times else None, start),
            "hours_to_half": _hours(half, start),
        }
    return out


def per_population(
    labels: dict[str, Label], verdicts: dict[str, Verdict]
) -> dict[str, dict[str, Any]]:
    """False positives for each legitimate population."""
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for label in labels.values():
        if not label.is_attack and label.account_id in verdicts:
            groups[label.population].append(verdicts[label.account_id])
    return {
        name: {
            "accounts": len(group),
            "flagged": sum(v.flagged for v in group),
            "watch": sum(v.verdict == "watch" for v in group),
            "fpr": _ratio(sum(v.flagged for v in group), len(group)),
            "acted_on": _ratio(sum(v.acted_on for v in group), len(group)),
            "median_risk": round(median(v.risk for v in group), 4),
        }
        for name, group in sorted(groups.items())
    }
