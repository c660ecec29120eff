"""What users run today, scored the same way: a daily request cap and an isolation forest.

Both read per-account volume and token features from the store in one SQL query, and each is
set to the false-positive rate the detector achieved, so recall is compared at equal cost to
real customers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import numpy as np
from sklearn.ensemble import IsolationForest

FEATURES = (
    "requests",
    "active_days",
    "max_per_day",
    "mean_per_day",
    "mean_input_tokens",
    "mean_output_tokens",
    "out_in_ratio",
    "ips",
)
SEED = 0


def account_features(
    con: duckdb.DuckDBPyConnection, until: datetime | None = None
) -> dict[str, list[float]]:
    """Per-account features, in ``FEATURES`` order, from events before ``until``."""
    where = f"WHERE ts < '{until.isoformat()}'::TIMESTAMPTZ" if until else ""
    rows = con.execute(f"""
        WITH daily AS (
            SELECT account_id, date_trunc('day', ts) AS day, count(*) AS n,
                   sum(coalesce(input_tokens, 0)) AS tin, sum(coalesce(output_tokens, 0)) AS tout,
                   count(DISTINCT ip) AS ips
            FROM events {where} GROUP BY ALL
        )
        SELECT account_id, sum(n), count(*), max(n), avg(n),
               sum(tin) / sum(n), sum(tout) / sum(n), sum(tout) / greatest(sum(tin), 1), max(ips)
        FROM daily GROUP BY account_id ORDER BY account_id
    """).fetchall()
    return {r[0]: [float(x) for x in r[1:]] for r in rows}


def request_counts(con: duckdb.DuckDBPyConnection, until: datetime | None = None) -> dict[str, int]:
    where = f"WHERE ts < '{until.isoformat()}'::TIMESTAMPTZ" if until else ""
    rows = con.execute(f"SELECT account_id, count(*) FROM events {where} GROUP BY 1").fetchall()
    return {a: int(n) for a, n in rows}


def baseline_scores(features: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Scores per baseline, higher = more suspicious.

    ``daily_cap`` is the account's busiest day (a cap flags it when that day exceeds the cap);
    ``isolation_forest`` is the negated sklearn score over log-scaled features.
    """
    accounts = list(features)
    if not accounts:
        return {"daily_cap": {}, "isolation_forest": {}}
    x = np.log1p(np.asarray([features[a] for a in accounts], dtype=float))
    forest = IsolationForest(n_estimators=200, random_state=SEED).fit(x)
    anomaly = -forest.score_samples(x)
    cap_col = FEATURES.index("max_per_day")
    return {
        "daily_cap": {a: features[a][cap_col] for a in accounts},
        "isolation_forest": {a: float(s) for a, s in zip(accounts, anomaly, strict=True)},
    }


def describe(name: str, threshold: float) -> dict[str, Any]:
    if name == "daily_cap":
        return {"rule": f"flag an account with more than {threshold - 1:.0f} requests in a UTC day"}
    return {"rule": f"flag an account whose isolation-forest anomaly score is >= {threshold:.4f}"}
