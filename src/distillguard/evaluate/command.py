"""``distillguard evaluate``: how a scan did against ground truth, and against two baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from distillguard.evaluate.results import EvaluationError
from distillguard.terminal import err, fail, out


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def evaluate_command(
    results: Annotated[
        Path, typer.Option("--results", help="A scan's results directory (accounts.csv, ...).")
    ],
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            help="Ground truth: labels.csv as `simulate` writes it, or the console's analyst "
            "decisions (RESULTS/labels.jsonl: only the accounts decided count).",
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write metrics.json, pr.png, roc.png, evaluation.html "
            "(default: RESULTS/evaluation).",
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Store for baselines and request shares "
            "(default: the one named in RESULTS/manifest.json).",
        ),
    ] = None,
) -> None:
    """Score a scan against ground truth: precision, recall and FPR overall, per campaign and
    per legitimate population; campaign splits; attack requests caught; time to detect (from a
    scan run with --replay); PR and ROC curves; and the same figures for a daily request cap and
    an isolation forest set to the detector's false-positive rate (docs/evaluation.md).

    Example:

      distillguard evaluate --results results/ --labels sim/labels.csv
    """
    # scikit-learn and matplotlib take seconds to import: only for this command, not for all.
    from distillguard.evaluate.report import write_evaluation
    from distillguard.evaluate.run import evaluate

    try:
        metrics = evaluate(results, labels, store)
    except EvaluationError as exc:
        raise fail(str(exc), 2) from exc
    for warning in metrics["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    html = write_evaluation(out_dir or results / "evaluation", metrics)
    table = Table(title="evaluation", title_justify="left")
    for col in ("", "precision", "recall", "FPR", "ROC AUC"):
        table.add_column(col, justify="right" if col else "left")
    o = metrics["overall"]
    table.add_row("detector", *(_fmt(o[k]) for k in ("precision", "recall", "fpr", "roc_auc")))
    for name, b in (metrics["baselines"] or {}).items():
        table.add_row(
            f"{name} (same FPR)", *(_fmt(b[k]) for k in ("precision", "recall", "fpr", "roc_auc"))
        )
    out.print(table)
    # Compact headers and a name column that never wraps: it must fit an 80-column terminal.
    camp = Table(title="campaigns (hours: to first account flagged, to half)", title_justify="left")
    camp.add_column("campaign", no_wrap=True)
    for col in ("accounts", "recall", "ids", "req. caught", "h first", "h half"):
        camp.add_column(col, justify="right", no_wrap=True)
    for name, c in metrics["campaigns"].items():
        camp.add_row(
            name,
            str(c["accounts"]),
            *(_fmt(c[k]) for k in ("recall", "campaign_ids", "request_share")),
            *(_hours(c[k]) for k in ("hours_to_first", "hours_to_half")),
        )
    out.print(camp)
    out.print(
        f"Legitimate accounts acted on (any verdict but clear): {_fmt(o['acted_on_rate'])}",
        soft_wrap=True,
    )
    worst = sorted(metrics["populations"].items(), key=lambda kv: -(kv[1]["fpr"] or 0))[:3]
    out.print(
        "Highest false-positive rates: "
        + ", ".join(f"{name} {p['flagged']}/{p['accounts']}" for name, p in worst),
        soft_wrap=True,
    )
    out.print(f"Report: {html}", soft_wrap=True)
