"""The evaluation's files: metrics.json, pr.png, roc.png and a self-contained evaluation.html."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("distillguard.evaluate", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _plot(path: Path, curves: dict[str, dict[str, Any]], kind: str) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for name, c in curves.items():
        if kind not in c:
            continue
        x, y = c[kind]
        area = c["roc_auc"] if kind == "roc" else c["average_precision"]
        ax.plot(x, y, label=f"{name} ({area})", drawstyle="steps-post" if kind == "pr" else None)
    if kind == "roc":
        ax.set(xlabel="false-positive rate", ylabel="recall", xscale="symlog", title="ROC")
        ax.set_xscale("symlog", linthresh=0.001)
    else:
        ax.set(xlabel="recall", ylabel="precision", title="precision–recall")
    ax.legend(fontsize=8, frameon=False)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def write_evaluation(out: Path, metrics: dict[str, Any]) -> Path:
    """Write every file; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    curves = metrics.pop("_curves")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    images = {}
    for kind in ("pr", "roc"):
        _plot(out / f"{kind}.png", curves, kind)
        images[kind] = base64.b64encode((out / f"{kind}.png").read_bytes()).decode()
    html = out / "evaluation.html"
    html.write_text(
        _env.get_template("evaluation.html.j2").render(m=metrics, images=images),
        encoding="utf-8",
    )
    return html
