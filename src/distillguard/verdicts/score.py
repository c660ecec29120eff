"""Risk from evidence, in SQL: group evidence for clusters, own evidence for each account.

A cluster is risky when its accounts are coordinated in ways real customers are not (signed up
together, from day one at full use, sharing payment methods without declaring an organisation,
unverified) *and* its use looks like harvesting (eliciting reasoning, rubric grading at volume,
repetition, round-the-clock timing, a pivot to a new model). Risk is the geometric mean of the
two, so neither a campus NAT (coordinated, ordinary use) nor a judge company (harvest-like use,
an honest organisation) is enough on its own. A member's risk is scaled by how much of that
group evidence it carries itself, so an innocent account swept into a community stays below the
line. Accounts judged alone score on their own content, capped below `block`.
"""

from __future__ import annotations

import duckdb

from distillguard.verdicts.config import Config

CLUSTER_FACTORS = ("burst", "young", "shared_payment", "undeclared", "unverified")
USE_FACTORS = ("content", "repetition", "flat", "release_pivot")


def score(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Create temp tables ``cl`` (one row per cluster) and ``risk`` (one row per account)."""
    c, a = cfg.cluster, cfg.account
    content = f"(elicit_rate + {c.rubric_weight} * rubric_grading_rate)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE members AS
        WITH m AS (SELECT m.cluster_id, m.density, f.*
                   FROM membership m JOIN fp f USING (account_id)),
        med AS (SELECT cluster_id, median(epoch(created_at)) AS med FROM m GROUP BY cluster_id),
        pay AS (SELECT cluster_id, payment_fingerprint, count(*) AS k FROM m
                WHERE payment_fingerprint IS NOT NULL GROUP BY ALL)
        SELECT m.*,
               coalesce(abs(epoch(m.created_at) - med.med) <= {c.burst_hours} * 3600, false)
                   AS in_burst,
               coalesce(m.age_hours <= {c.young_hours}, false) AS is_young,
               coalesce(pay.k > 1, false) AS pays_shared,
               NOT coalesce(m.verified, false) AS is_unverified,
               (in_burst::INT + is_young::INT + pays_shared::INT + (NOT m.has_org)::INT
                + is_unverified::INT) / 5.0 AS fit,
               -- Weight of a member in its group's evidence: accounts that carry the group's
               -- coordination count most, bystanders swept in by a shared address count little.
               0.05 + fit * fit AS w
        FROM m JOIN med USING (cluster_id)
        LEFT JOIN pay USING (cluster_id, payment_fingerprint)
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cl AS
        WITH pop AS (SELECT avg(release_share) AS rs FROM fp),
        agg AS (
            SELECT cluster_id, count(*) AS accounts, any_value(density) AS density,
                   sum(requests) AS requests,
                   sum(w * in_burst::INT) / sum(w) AS burst,
                   sum(w * is_young::INT) / sum(w) AS young,
                   CASE WHEN count(payment_fingerprint) < 2 THEN 0 ELSE
                       1 - (count(DISTINCT payment_fingerprint) - 1)
                           / (count(payment_fingerprint) - 1) END AS shared_payment,
                   1 - sum(w * has_org::INT) / sum(w) AS undeclared,
                   sum(w * is_unverified::INT) / sum(w) AS unverified,
                   least(1, sum(w * {content}) / sum(w) / {c.content_full}) AS content,
                   {c.repetition_weight} * sum(w * greatest(template_share, near_dup_rate))
                       / sum(w) AS repetition,
                   least(1, greatest(0, (sum(w * hour_entropy) / sum(w) - {c.flat_entropy})
                       / (1 - {c.flat_entropy}))) AS flat,
                   coalesce(least(1, greatest(0, (sum(w * release_share)
                       / sum(CASE WHEN release_share IS NOT NULL THEN w END)
                       - any_value(pop.rs)) / {c.pivot_full})), 0) AS release_pivot,
                   count(DISTINCT payment_fingerprint) AS payment_methods,
                   min(created_at) AS first_created, max(created_at) AS last_created
            FROM members, pop GROUP BY cluster_id
        )
        SELECT *,
               ({" + ".join(CLUSTER_FACTORS)}) / {len(CLUSTER_FACTORS)} AS coordination,
               greatest({", ".join(USE_FACTORS)}) AS harvest,
               CASE WHEN accounts >= {c.min_accounts}
                    THEN sqrt(coordination * harvest) ELSE 0 END AS cluster_risk
        FROM agg
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE risk AS
        WITH own AS (SELECT account_id, cluster_id, fit FROM members)
        SELECT f.account_id, own.cluster_id, coalesce(cl.cluster_risk, 0) AS cluster_risk,
               coalesce(own.fit, 0) AS fit,
               coalesce(cl.cluster_risk, 0) * ({a.member_floor} + {1 - a.member_floor}
                   * coalesce(own.fit, 0)) AS member_risk,
               {a.solo_cap} * least(1, {content} / {a.content_full})
                   * (0.5 + 0.5 * coalesce(f.age_hours <= {c.young_hours}, false)::INT)
                   AS solo_risk,
               greatest(member_risk, solo_risk) AS risk
        FROM fp f LEFT JOIN own USING (account_id) LEFT JOIN cl USING (cluster_id)
    """)
