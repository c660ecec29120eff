"""Pictures for the console, drawn on the server as inline SVG (no script, nothing to fetch).

Text is drawn as paths (``svg.fonttype: path``), so a label taken from a log (an account id, a
model name) can never become markup in the page.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

_PALETTE = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5"]


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Labels come from logs: no math text ($...$ would be parsed, and can fail to parse).
    plt.rcParams.update({"svg.fonttype": "path", "font.size": 8, "axes.spines.top": False,
                         "axes.spines.right": False, "text.parse_math": False})  # fmt: skip
    return plt.subplots(figsize=(width, height), dpi=100)


def _svg(fig: Any, left: float = 0.06) -> str:
    import matplotlib.pyplot as plt

    out = io.StringIO()
    fig.subplots_adjust(left=left, right=0.99, top=0.86, bottom=0.14)  # tight_layout: 4x slower
    fig.savefig(out, format="svg")
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]


def timeline(rows: Sequence[tuple[Any, ...]], title: str, top: int = 6) -> str:
    """Requests per hour, stacked by the second column when there is one (capability, model):
    a campaign's pivot to a new model shows as one band giving way to another."""
    fig, ax = _figure(10, 2.4)
    if rows and len(rows[0]) == 3:
        totals: dict[str, int] = defaultdict(int)
        for _, key, n in rows:
            totals[str(key)] += n
        keep = sorted(totals, key=lambda k: -totals[k])[:top]
        hours = sorted({r[0] for r in rows})
        index = {h: i for i, h in enumerate(hours)}
        series = {k: [0] * len(hours) for k in [*keep, "other"]}
        for hour, key, n in rows:
            series[str(key) if str(key) in keep else "other"][index[hour]] += n
        if not any(series["other"]):
            del series["other"]
        names = [f" {k}" if k.startswith("_") else k for k in series]  # "_x" would be hidden
        ax.stackplot(hours, *series.values(), labels=names, colors=_PALETTE, alpha=0.9)
        ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=min(4, len(series)))
    elif rows:
        ax.fill_between([r[0] for r in rows], [r[1] for r in rows], color=_PALETTE[0], alpha=0.8)
    ax.set_title(title, loc="left")
    ax.set_ylabel("requests / hour")
    return _svg(fig)


def against_population(values: Sequence[float], mine: float, title: str, unit: str = "") -> str:
    """Where one account stands in the population: a histogram and a line."""
    import numpy as np

    fig, ax = _figure(3.4, 1.8)
    counts, edges = np.histogram(values, bins=40)
    ax.stairs(counts, edges, fill=True, color="#b8c4d9")
    ax.axvline(mine, color="#d62728", linewidth=2)
    ax.set_title(f"{title}: {mine:.3g}{unit}", loc="left")
    ax.set_yticks([])
    return _svg(fig, left=0.04)


def warm() -> None:
    """Import matplotlib and igraph now (seconds, cold), not on an analyst's first page."""
    import igraph  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
