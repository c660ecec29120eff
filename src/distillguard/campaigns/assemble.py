"""From risky clusters to campaigns an analyst can check: who, what, when, how linked, proof.

Every list here comes from SQL over the scan's temp tables (``fp``, ``links``, ``members``,
``cl``, ``risk``, and the evidence stage's ``ev_hours`` and ``ev_top``: evidence.py); Python only
shapes the JSON, one campaign at a time.
"""

from __future__ import annotations

from typing import Any

import duckdb

from distillguard.campaigns.evidence import TOP_PER_ACCOUNT
from distillguard.intel.match import LINKING
from distillguard.signals.request import INTENT_SIGNALS
from distillguard.verdicts.config import Config

INDICATOR_KINDS = (
    "ip",
    "prefix",
    "asn",
    "client",
    "tls",
    "payment",
    "email",
    "tools",
    "system",
    "template",
    "sync",
    "curriculum",
)
TACTICS = {
    "burst": "accounts created in a burst",
    "young": "full use from the first day after sign-up",
    "shared_payment": "payment methods reused across accounts",
    "undeclared": "no declared organisation",
    "unverified": "unverified accounts",
    "content": "prompts elicit reasoning, grading or training data",
    "repetition": "highly repetitive prompt templates",
    "flat": "round-the-clock machine timing",
    "release_pivot": "moved to a newly released model within 24 h",
    "appeared": "accounts first seen together",
    "rotation": "requests rotated through a pool of addresses",
    "pool": "requests switched between the addresses of one small pool",
    "curriculum": "one curriculum: the same subjects across accounts on the same days",
}


def campaign_members(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Create temp table ``campaign_of(account_id, campaign_id)``: who is in which campaign."""
    watch = cfg.thresholds.watch
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE campaign_of AS
        SELECT r.account_id, 'K' || substr(r.cluster_id, 2) AS campaign_id
        FROM risk r JOIN cl USING (cluster_id)
        WHERE cl.cluster_risk >= {watch} AND r.risk >= {watch}
    """)


def assemble_campaigns(con: duckdb.DuckDBPyConnection, cfg: Config) -> list[dict[str, Any]]:
    """The campaigns, from ``campaign_of`` and the evidence stage's tables (evidence.py)."""
    watch = cfg.thresholds.watch
    rows = con.execute(f"""
        SELECT 'K' || substr(cluster_id, 2), cluster_id, cluster_risk,
               {", ".join(TACTICS)}, accounts, payment_methods
        FROM cl WHERE cluster_risk >= {watch} ORDER BY cluster_risk DESC, cluster_id
    """).fetchall()
    campaigns = []
    for row in rows:
        campaign_id, cluster_id, confidence = row[0], row[1], row[2]
        # A factor is None when nothing was known to judge it (no account records).
        factors = {
            k: v for k, v in zip(TACTICS, row[3 : 3 + len(TACTICS)], strict=True) if v is not None
        }
        accounts = [
            a
            for (a,) in con.execute(
                "SELECT account_id FROM campaign_of WHERE campaign_id = ? ORDER BY account_id",
                [campaign_id],
            ).fetchall()
        ]
        if not accounts:
            continue
        campaigns.append(_campaign(con, campaign_id, cluster_id, confidence, factors, accounts))
    return campaigns


def _campaign(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    cluster_id: str,
    confidence: float,
    factors: dict[str, float],
    accounts: list[str],
) -> dict[str, Any]:
    members = "account_id IN (SELECT account_id FROM campaign_of WHERE campaign_id = ?)"
    q = f"FROM ev_hours WHERE {members}"
    (requests, first, last) = con.execute(
        f"SELECT coalesce(sum(n), 0)::BIGINT, min(first_ts), max(last_ts) {q}", [campaign_id]
    ).fetchall()[0]
    caps = con.execute(
        f"SELECT capability, sum(n) {q} GROUP BY 1 ORDER BY 2 DESC, 1", [campaign_id]
    ).fetchall()
    models = con.execute(
        f"SELECT model, sum(n) {q} GROUP BY 1 ORDER BY 2 DESC, 1", [campaign_id]
    ).fetchall()
    indicators: dict[str, list[dict[str, Any]]] = {}
    for kind, value, shared, degree in con.execute(
        """
        SELECT kind, value, count(*) AS shared, any_value(degree)
        FROM links WHERE account_id IN (SELECT account_id FROM campaign_of WHERE campaign_id = ?)
        GROUP BY kind, value HAVING count(*) >= 2
        ORDER BY kind, shared DESC, value
    """,
        [campaign_id],
    ).fetchall():
        items = indicators.setdefault(kind, [])
        if len(items) < 20:
            items.append({"value": value, "campaign_accounts": shared, "all_accounts": degree})
    listed = {(k, i["value"]) for k in INDICATOR_KINDS for i in indicators.get(k, [])}
    holders = con.execute(
        """
        SELECT account_id, kind, value FROM links
        WHERE account_id IN (SELECT account_id FROM campaign_of WHERE campaign_id = ?)
        ORDER BY kind, value, account_id
    """,
        [campaign_id],
    ).fetchall()
    evidence = con.execute(
        f"""
        SELECT request_id, account_id, ts, capability, model, top_signal,
               {", ".join(INTENT_SIGNALS)}
        FROM ev_top WHERE {members}
        ORDER BY top_signal DESC NULLS LAST, ts, request_id LIMIT {TOP_PER_ACCOUNT}
    """,
        [campaign_id],
    ).fetchall()
    names = INTENT_SIGNALS
    # Partners' campaigns its accounts match (intel/match.py), for the analyst and the export.
    linking = ", ".join(f"'{k}'" for k in sorted(LINKING))
    partners = con.execute(
        f"""
        SELECT source, campaign, ref, count(DISTINCT account_id) AS accounts FROM partner_hits
        WHERE account_id IN (SELECT account_id FROM campaign_of WHERE campaign_id = ?)
          AND kind IN ({linking}) AND confidence > 0
        GROUP BY ALL ORDER BY accounts DESC, source, campaign, ref
    """,
        [campaign_id],
    ).fetchall()
    return {
        "campaign_id": campaign_id,
        "cluster_id": cluster_id,
        "confidence": round(confidence, 3),
        "accounts": accounts,
        "requests": requests,
        "first_seen": first.isoformat() if first else None,
        "last_seen": last.isoformat() if last else None,
        "capabilities": {c: round(n / requests, 3) for c, n in caps} if requests else {},
        "models": {m: round(n / requests, 3) for m, n in models} if requests else {},
        "tactics": [
            {"tactic": TACTICS[k], "factor": k, "strength": round(v, 3)}
            for k, v in sorted(factors.items(), key=lambda kv: -kv[1])
            if v >= 0.5
        ],
        "indicators": {k: indicators[k] for k in INDICATOR_KINDS if k in indicators},
        # Which account holds which listed indicator: the edges of the console's graph.
        "links": [[a, k, v] for a, k, v in holders if (k, v) in listed],
        "partners": [
            {"source": s, "campaign": c, "id": ref, "accounts": n} for s, c, ref, n in partners
        ],
        "evidence": [
            {
                "request_id": rid,
                "account_id": acct,
                "ts": ts.isoformat(),
                "capability": cap,
                "model": model,
                "signals": {
                    n: round(float(s), 2)
                    for n, s in zip(names, scores, strict=True)
                    if s and s >= 0.25
                },
            }
            for rid, acct, ts, cap, model, _, *scores in evidence
        ],
    }
