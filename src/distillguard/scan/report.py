"""``report.html``: the scan's results for a reader, with plots, as one self-contained file.

Plots are PNGs inlined as base64 so the report can be mailed or attached to a ticket. Every
value from the logs goes through jinja2's autoescaping: account ids and prompts are
attacker-controlled text.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt

TIMELINE_CAMPAIGNS = 6  # the most confident campaigns get timelines; the rest a table row
TOP_ACCOUNTS = 50

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("distillguard.scan", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _timeline(con: duckdb.DuckDBPyConnection, campaign_id: str, by: str) -> str:
    """Hourly requests of one campaign, stacked by ``capability`` or ``model``."""
    rows = con.execute(
        f"""SELECT at_hour AS t, {by} AS k, sum(n)
            FROM ev_hours JOIN campaign_of USING (account_id)
            WHERE campaign_id = ? GROUP BY ALL ORDER BY t""",
        [campaign_id],
    ).fetchall()
    hours = sorted({t for t, _, _ in rows})
    keys = sorted({k for _, k, _ in rows}, key=str)
    index = {t: i for i, t in enumerate(hours)}
    series = {k: [0] * len(hours) for k in keys}
    for t, k, n in rows:
        series[k][index[t]] = n
    fig, ax = plt.subplots(figsize=(7, 2.2))
    if hours:
        ax.stackplot(hours, *series.values(), labels=[str(k) for k in keys], step="post")
        ax.legend(fontsize=7, loc="upper left", ncols=min(4, len(keys)), frameon=False)
    ax.set_ylabel("requests / hour", fontsize=8)
    ax.set_title(f"{campaign_id} by {by}", fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    return _png(fig)


def _cluster_sizes(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        """SELECT accounts, cluster_risk >= (SELECT min(cluster_risk) FROM cl
                  WHERE cluster_id IN (SELECT 'C' || substr(campaign_id, 2) FROM campaign_of))
           FROM cl"""
    ).fetchall()
    fig, ax = plt.subplots(figsize=(7, 2.2))
    sizes = [n for n, _ in rows] or [0]
    flagged = [n for n, f in rows if f]
    bins = [2**k for k in range(0, max(2, max(sizes).bit_length() + 1))]
    ax.hist(sizes, bins=bins, label="all clusters", color="#999")
    if flagged:
        ax.hist(flagged, bins=bins, label="campaigns", color="#c33")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("accounts in cluster", fontsize=8)
    ax.set_ylabel("clusters", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    return _png(fig)


def write_report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    campaigns: list[dict[str, Any]],
    manifest: dict[str, Any],
) -> None:
    """Render the report from the scan's temp tables (ev_hours, cl, campaign_of, results)."""
    shown = [
        c
        | {
            "by_capability": _timeline(con, c["campaign_id"], "capability"),
            "by_model": _timeline(con, c["campaign_id"], "model"),
        }
        for c in campaigns[:TIMELINE_CAMPAIGNS]
    ]
    accounts = con.execute(
        f"""SELECT account_id, risk, verdict, coalesce(campaign_id, ''), reasons FROM results
            WHERE verdict <> 'clear' ORDER BY risk DESC, account_id LIMIT {TOP_ACCOUNTS}"""
    ).fetchall()
    html = _env.get_template("report.html.j2").render(
        manifest=manifest,
        campaigns=campaigns,
        shown=shown,
        accounts=accounts,
        cluster_sizes=_cluster_sizes(con),
    )
    path.write_text(html, encoding="utf-8")
