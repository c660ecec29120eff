"""Per-account behaviour, one SQL pass over the store: the table ``fp`` (one row per account).

Every feature is a column with a meaning an analyst can read (``FEATURES``). The scan reads only
events before ``until``, through the view ``ev`` that ``scan`` creates.
"""

from __future__ import annotations

import duckdb

from distillguard.signals.request import INTENT_SIGNALS as INTENTS
from distillguard.signals.template import BANDS
from distillguard.store.sql import Stage, Table

FEATURES: dict[str, str] = {
    "requests": "requests in the window",
    "active_days": "distinct UTC days with a request",
    "per_day": "requests per active day",
    "input_tokens": "billed input tokens",
    "output_tokens": "billed output tokens",
    "out_in_ratio": "output tokens per input token",
    "elicit_rate": "share of requests where a distillation intent signal scored >= 0.5",
    **{f"{s}_rate": f"share of requests with {s} >= 0.5" for s in INTENTS},
    "meaning_rate": "share of requests that a model by meaning reads as eliciting reasoning, "
    "hidden thinking or training data (meaning_* >= 0.5 for reasoning elicitation, hidden "
    "reasoning, synthetic data or sensitive rewrite)",
    "top_capability": "most requested capability",
    "capability_share": "share of requests on the top capability",
    "template_share": "share of requests on the account's most used template head or tail",
    "near_dup_rate": "share of requests with a near-duplicate (MinHash band) in the same account",
    "single_turn_share": "share of requests with one user turn and no history",
    "mean_turns": "mean conversation length",
    "hour_entropy": "flatness over the day: entropy of the hour-of-day histogram, 0..1",
    "release_share": "in the 24 h after a model first appears, the share of requests on it "
    "(empty when the account was idle then)",
    "age_hours": "hours from sign-up to first request",
    "tier": "account tier",
    "verified": "identity or organisation verified",
    "has_org": "the account declares an organisation",
    "has_record": "an account record was ingested (else sign-up facts are unknown)",
    "ips": "distinct client addresses",
    "ip_switch_rate": "share of requests from another address than the account's previous one "
    "(a proxy pool rotating per request; people keep an address for a session)",
}


def build_fingerprints(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp table ``fp`` from the view ``ev`` (events in the window) and accounts."""
    fingerprint_stage().run(con)


def fingerprint_stage() -> Stage:
    """The stage that builds ``fp``: one SELECT over ``ev`` and ``accounts``."""
    rates = ",\n".join(f"avg(({s} >= 0.5)::INT) AS {s}_rate" for s in INTENTS)
    elicit = " OR ".join(f"{s} >= 0.5" for s in INTENTS if s != "rubric_grading")
    # Format harvest by meaning also reads apps' "output JSON" requests: its column is kept,
    # but it does not count here (docs/signals.md).
    meaning = " OR ".join(
        f"meaning_{s} >= 0.5" for s in INTENTS if s not in ("rubric_grading", "format_harvest")
    )
    # One row per (request, band): a band value seen twice in an account is a near-duplicate.
    bands = "\n                UNION ALL ".join(
        f"SELECT account_id, request_id, {b} AS band, lsh_{b} AS value FROM ev "
        f"WHERE lsh_{b} IS NOT NULL"
        for b in range(BANDS)
    )
    return Stage(
        (
            Table(
                "fp",
                f"""
        WITH fresh AS (
            -- Models first seen a day or more into the window: releases, not old models.
            SELECT model, min(ts) AS released FROM ev GROUP BY model
            HAVING min(ts) > (SELECT min(ts) FROM ev) + INTERVAL 24 HOUR
        ),
        launch AS (
            SELECT account_id, avg(on_new) AS release_share FROM (
                SELECT e.account_id, max((e.model = f.model)::INT) AS on_new
                FROM ev e JOIN fresh f
                  ON e.ts >= f.released AND e.ts < f.released + INTERVAL 24 HOUR
                GROUP BY e.request_id, e.account_id)
            GROUP BY account_id
        ),
        base AS (
            SELECT account_id,
                   count(*) AS requests,
                   count(DISTINCT date_trunc('day', ts)) AS active_days,
                   min(ts) AS first_ts, max(ts) AS last_ts,
                   count(DISTINCT ip) AS ips,
                   sum(coalesce(input_tokens, 0)) AS input_tokens,
                   sum(coalesce(output_tokens, 0)) AS output_tokens,
                   avg(({elicit})::INT) AS elicit_rate,
                   coalesce(avg(({meaning})::INT), 0) AS meaning_rate,
                   {rates},
                   avg((n_user_turns <= 1 AND n_tool_results = 0)::INT) AS single_turn_share,
                   avg(n_turns) AS mean_turns
            FROM ev GROUP BY account_id
        ),
        caps AS (
            SELECT account_id, arg_max(capability, n) AS top_capability,
                   max(n) / sum(n) AS capability_share
            FROM (SELECT account_id, capability, count(*) n FROM ev GROUP BY ALL)
            GROUP BY account_id
        ),
        heads AS (
            SELECT account_id, max(n) AS top FROM (
                SELECT account_id, template_head, count(*) n FROM ev
                WHERE template_head IS NOT NULL GROUP BY ALL) GROUP BY account_id
        ),
        tails AS (
            SELECT account_id, max(n) AS top FROM (
                SELECT account_id, template_tail, count(*) n FROM ev
                WHERE template_tail IS NOT NULL GROUP BY ALL) GROUP BY account_id
        ),
        dups AS (
            SELECT account_id, count(DISTINCT request_id) AS dup FROM (
                SELECT account_id, request_id,
                       count(*) OVER (PARTITION BY account_id, band, value) AS c
                FROM ({bands}))
            WHERE c > 1 GROUP BY account_id
        ),
        switches AS (  -- request_id breaks ties in time, so the rate does not vary by run
            SELECT account_id, avg((ip IS DISTINCT FROM prev)::INT) AS ip_switch_rate FROM (
                SELECT account_id, ip, lag(ip) OVER w AS prev, row_number() OVER w AS k FROM ev
                WINDOW w AS (PARTITION BY account_id ORDER BY ts, request_id))
            WHERE k > 1 GROUP BY account_id
        ),
        hours AS (
            SELECT account_id,
                   -sum(p * ln(p)) / ln(24) AS hour_entropy
            FROM (SELECT account_id, count(*) / sum(count(*)) OVER (PARTITION BY account_id) p
                  FROM ev GROUP BY account_id, hour(ts))
            GROUP BY account_id
        )
        SELECT b.account_id, b.requests, b.active_days,
               b.requests / b.active_days AS per_day,
               b.input_tokens, b.output_tokens,
               b.output_tokens / greatest(b.input_tokens, 1) AS out_in_ratio,
               b.elicit_rate, b.meaning_rate, {", ".join(f"b.{s}_rate" for s in INTENTS)},
               c.top_capability, c.capability_share,
               greatest(coalesce(h.top, 0), coalesce(t.top, 0)) / b.requests AS template_share,
               coalesce(d.dup, 0) / b.requests AS near_dup_rate,
               b.single_turn_share, b.mean_turns,
               coalesce(hr.hour_entropy, 0) AS hour_entropy,
               l.release_share,
               -- whole minutes on both sides: engines count partial minutes differently
               date_diff('minute', date_trunc('minute', a.created_at),
                         date_trunc('minute', b.first_ts))::DOUBLE / 60 AS age_hours,
               a.created_at, a.tier, a.verified, a.payment_fingerprint, a.email_domain,
               a.org_id IS NOT NULL AS has_org, a.org_id,
               a.account_id IS NOT NULL AS has_record,
               b.first_ts, b.last_ts, b.ips, coalesce(sw.ip_switch_rate, 0) AS ip_switch_rate
        FROM base b
        LEFT JOIN caps c USING (account_id)
        LEFT JOIN heads h USING (account_id)
        LEFT JOIN tails t USING (account_id)
        LEFT JOIN dups d USING (account_id)
        LEFT JOIN hours hr USING (account_id)
        LEFT JOIN switches sw USING (account_id)
        LEFT JOIN launch l USING (account_id)
        LEFT JOIN accounts a USING (account_id)
    """,
            ),
        )
    )
