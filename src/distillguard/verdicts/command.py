"""`distillguard learn`: a calibrated model from analysts' decisions on a scan's evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import numpy as np
import typer

from distillguard.terminal import err, fail, out
from distillguard.verdicts.config import ConfigError
from distillguard.verdicts.decisions import latest, read
from distillguard.verdicts.learned import matrix, train


def learn_command(
    results: Annotated[
        Path,
        typer.Option(
            "--results",
            help="The scan the analysts decided on: its features.parquet is the evidence "
            "they saw, its labels.jsonl (the console's) what they decided.",
        ),
    ],
    model_dir: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            "--labels",
            help="Labels files to learn from (default: RESULTS/labels.jsonl); may be given "
            "more than once. The latest decision per account counts.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the trees.")] = 0,
) -> None:
    """Learn from analysts' decisions: confirmed and dismissed accounts, on the evidence the
    scan computed for them, fit gradient-boosted trees calibrated as a probability.

    The next `distillguard scan --model DIR` uses it as one more factor: the risk of an account
    at watch or above moves by at most learned.weight (0.2 by default) and its reasons say by
    how much and why. Needs at least 5 confirmed and 5 dismissed accounts. Prints the
    cross-validated AUC and Brier score on those decisions (docs/learning.md).

    Examples:

      distillguard learn --results results/ --out model/

      distillguard scan --store dg.duckdb --out results-next/ --model model/
    """
    features = results / "features.parquet"
    if not features.exists():
        raise fail(
            f"{features}: no such file (scans before `learn` existed lack it: scan again)", 2
        )
    paths = labels or [results / "labels.jsonl"]
    try:
        entries, problems = read(paths)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    for problem in problems:
        err.print(f"[yellow]{problem}[/yellow]", soft_wrap=True)
    decided = {account: label == "confirmed" for account, label, *_ in latest(entries)}
    with duckdb.connect() as con:
        quoted = features.as_posix().replace("'", "''")
        try:
            ids, x = matrix(con, f"read_parquet('{quoted}')")
        except duckdb.Error as exc:
            raise fail(f"{features}: cannot be read ({exc})", 2) from exc
    rows = [i for i, a in enumerate(ids) if a in decided]
    missing = len(decided) - len(rows)
    y = np.array([decided[ids[i]] for i in rows], dtype=int)
    try:
        learned = train(x[rows], y, source=str(results), seed=seed)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    learned.save(model_dir)
    cv = learned.meta["cross_validated"]
    counts = learned.meta["labels"]
    out.print(
        f"learned from {counts['confirmed']} confirmed and {counts['dismissed']} dismissed "
        f"accounts: cross-validated AUC {cv['auc']:.3f}, Brier {cv['brier']:.3f} "
        f"({cv['folds']} folds) -> {model_dir}/model.joblib"
    )
    if missing:
        err.print(f"[yellow]{missing} labelled account(s) not in {features}: left out[/yellow]")
