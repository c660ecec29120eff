"""Risk from evidence, in SQL: group evidence for clusters, own evidence for each account.

A cluster is risky when its accounts are coordinated in ways real customers are not (signed up
together, from day one at full use, sharing payment methods without declaring an organisation,
unverified, or matching what a partner reported of a campaign: ``intel/match.py``) *and* its use
looks like harvesting (eliciting reasoning, rubric grading at volume, repetition,
round-the-clock timing, a pivot to a new model). Risk is the geometric mean of the two, so
neither a campus NAT (coordinated, ordinary use) nor a judge company (harvest-like use, an
honest organisation) is enough on its own. A member's risk is scaled by how much of that
group evidence it carries itself, so an innocent account swept into a community stays below the
line. Accounts judged alone score on their own content, capped below `block`.
"""

from __future__ import annotations

import duckdb

from distillguard.coordination.curriculum import MIN_DAYS
from distillguard.verdicts.config import Config

# Coordination facts from sign-up records, and one from behaviour (appearing together).
CLUSTER_FACTORS = ("burst", "young", "shared_payment", "undeclared", "unverified", "appeared")
USE_FACTORS = ("content", "repetition", "flat", "release_pivot")
OWN_FACTORS = ("content", "repetition", "flat")  # what a member's gate reads of its own (own_*)
_MEMBER_FACTS = (
    "in_burst",
    "is_young",
    "pays_shared",
    "is_undeclared",
    "is_unverified",
    "appeared_together",
)


def _share(fact: str) -> str:
    """Weighted share of members for whom ``fact`` holds, among those for whom it is known."""
    return f"sum(w * {fact}::INT) / sum(CASE WHEN {fact} IS NOT NULL THEN w END)"


def score(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Create temp tables ``members``, ``cl`` (one row per cluster) and ``risk`` (per account).

    A fact that is unknown (no account record, no payment data) is neither evidence for nor
    against: shares are taken over the members for whom it is known.
    """
    c, a = cfg.cluster, cfg.account
    # Elicitation by phrase, or by meaning beyond what ordinary traffic shows of it: the models
    # by meaning fire on some legitimate requests too (docs/signals.md), so only the excess
    # over `meaning_base` counts, and only with a group's coordination or as a member's own
    # evidence, never alone (solo risk stays on the phrase rules' evidence).
    meaning = f"greatest(0, (meaning_rate - {c.meaning_base}) / (1 - {c.meaning_base}))"
    content = f"(greatest(elicit_rate, {meaning}) + {c.rubric_weight} * rubric_grading_rate)"
    flat = f"least(1, greatest(0, (hour_entropy - {c.flat_entropy}) / (1 - {c.flat_entropy})))"
    # A handful of requests repeat a greeting or fall in odd hours by chance: patterns count in
    # full only with volume behind them.
    pattern = f"least(1, requests / {a.pattern_volume})"
    # The share of the group's harvest evidence a member's own traffic reaches (OWN_FACTORS).
    reached = " + ".join(f"least(own.own_{f}, cl.{f})" for f in OWN_FACTORS)
    coverage = f"({reached}) / nullif({' + '.join(f'cl.{f}' for f in USE_FACTORS)}, 0)"
    known = " + ".join(f"({f} IS NOT NULL)::INT" for f in _MEMBER_FACTS)
    held = " + ".join(f"coalesce({f}::INT, 0)" for f in _MEMBER_FACTS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE members AS
        WITH cur AS (  -- curriculum days shared within the cluster (coordination/curriculum.py)
            SELECT account_id, count(*) FILTER (WHERE n >= {c.min_accounts}) AS days FROM (
                SELECT l.account_id, count(*) OVER (PARTITION BY m.cluster_id, l.value) AS n
                FROM links l JOIN membership m USING (account_id) WHERE l.kind = 'curriculum'
            ) GROUP BY account_id
        ),
        m AS (SELECT m.cluster_id, m.density, f.*, coalesce(pf.partner, 0) AS partner,
                     coalesce(cur.days, 0) >= {MIN_DAYS} AS walks
              FROM membership m JOIN fp f USING (account_id)
              LEFT JOIN partner_fp pf USING (account_id) LEFT JOIN cur USING (account_id)),
        win AS (SELECT min(first_ts) AS opened, avg(release_share) AS rs FROM fp),
        med AS (SELECT cluster_id, median(epoch(created_at)) AS med,
                       median(epoch(first_ts)) AS med_first FROM m GROUP BY cluster_id),
        pay AS (SELECT cluster_id, payment_fingerprint, count(*) AS k FROM m
                WHERE payment_fingerprint IS NOT NULL GROUP BY ALL),
        facts AS (
            SELECT m.*,
                   CASE WHEN m.created_at IS NOT NULL THEN
                       abs(epoch(m.created_at) - med.med) <= {c.burst_hours} * 3600 END AS in_burst,
                   CASE WHEN m.age_hours IS NOT NULL THEN m.age_hours <= {c.young_hours} END
                       AS is_young,
                   CASE WHEN m.payment_fingerprint IS NOT NULL THEN coalesce(pay.k > 1, false) END
                       AS pays_shared,
                   CASE WHEN m.has_record THEN NOT m.has_org END AS is_undeclared,
                   CASE WHEN m.verified IS NOT NULL THEN NOT m.verified END AS is_unverified,
                   -- Appearing together means something only for a group that was not already
                   -- active when the window opened, and for a member first seen after that:
                   -- one seen in the window's first hours may have been active before it.
                   CASE WHEN med.med_first > epoch(win.opened) + {c.burst_hours} * 3600
                             AND epoch(m.first_ts) > epoch(win.opened) + {c.burst_hours} * 3600
                        THEN abs(epoch(m.first_ts) - med.med_first) <= {c.burst_hours} * 3600 END
                       AS appeared_together,
                   m.ips >= {c.rotation_ips} AND m.ips >= {c.rotation_share} * m.requests
                       AS rotates,
                   -- A small pool switched per request: every address recurs, rarely twice in
                   -- a row. A reseller's or a company's load-balanced egress does this too.
                   m.ips >= {c.rotation_ips} AND m.ip_switch_rate >= {c.rotation_switch}
                       AND NOT rotates AS pooled,
                   -- Partner evidence is part of the group's when it is material across it:
                   -- then a member without any carries less of the group's evidence.
                   avg(m.partner) OVER (PARTITION BY m.cluster_id) >= 0.3 AS partner_material,
                   -- What the gate reads: harvest in the account's own requests. A pivot to
                   -- a new model is what early adopters do: it counts in fit (own_use) only.
                   least(1, {content} / {c.content_full}) AS own_content,
                   {pattern} * {c.repetition_weight} * greatest(template_share, near_dup_rate)
                       AS own_repetition,
                   {pattern} * {flat} AS own_flat,
                   greatest(own_content, own_repetition, own_flat) AS own_harvest,
                   greatest(own_harvest,
                            least(1, greatest(0, coalesce(release_share, 0) - win.rs)
                                     / {c.pivot_full})) AS own_use
            FROM m JOIN med USING (cluster_id) CROSS JOIN win
            LEFT JOIN pay USING (cluster_id, payment_fingerprint)
        )
        SELECT *,
               -- How much of its group's evidence an account carries itself: the facts known
               -- about it and its own use; proxy rotation and a partner's report count when
               -- present, never against it; lacking a report the group has counts against.
               -- (A small pool and walking the group's curriculum count the same way.)
               rotates::INT + pooled::INT + walks::INT AS present,
               ({held} + own_use + present) / ({known} + 1 + present) AS base_fit,
               CASE WHEN partner > 0
                    THEN greatest(base_fit, ({held} + own_use + present + partner)
                                            / ({known} + 2 + present))
                    WHEN partner_material
                    THEN ({held} + own_use + present) / ({known} + 2 + present)
                    ELSE base_fit END AS fit,
               -- Accounts that carry the group's evidence weigh most in it; bystanders swept in
               -- by a shared address weigh little.
               0.05 + fit * fit AS w
        FROM facts
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cl AS
        WITH pop AS (SELECT avg(release_share) AS rs FROM fp),
        agg AS (
            SELECT cluster_id, count(*) AS accounts, any_value(density) AS density,
                   sum(requests) AS requests,
                   {_share("in_burst")} AS burst,
                   {_share("is_young")} AS young,
                   CASE WHEN count(payment_fingerprint) >= 2 THEN
                       1 - (count(DISTINCT payment_fingerprint) - 1)
                           / (count(payment_fingerprint) - 1) END AS shared_payment,
                   {_share("is_undeclared")} AS undeclared,
                   {_share("is_unverified")} AS unverified,
                   {_share("appeared_together")} AS appeared,
                   {_share("rotates")} AS rotation,
                   sum(w * walks::INT) / sum(w) AS curriculum,
                   {_share("pooled")} AS pool,
                   sum(w * partner) / sum(w) AS partner,
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
               -- Unknown facts are left out of the mean; proxy rotation alone is enough.
               greatest(coalesce(list_avg([{", ".join(CLUSTER_FACTORS)}]), 0), rotation)
                   AS own_coordination,
               -- A shared curriculum goes part of the way, and only towards content: a class
               -- walks its syllabus too, and asks the same homework the same way. A small
               -- pool of addresses goes all the way, towards content only: resellers' and
               -- companies' egress pools carry round-the-clock, repetitive traffic too.
               1 - (1 - own_coordination) * (1 - {c.curriculum_weight} * curriculum)
                   * (1 - pool) AS content_coordination,
               -- A partner's report adds to either (noisy-OR), never takes away.
               1 - (1 - own_coordination) * (1 - partner) AS coordination,
               1 - (1 - content_coordination) * (1 - partner) AS reported_content_coordination,
               greatest({", ".join(USE_FACTORS)}) AS harvest,
               -- Risk that rests on a curriculum or a pool and content, not on other facts.
               sqrt(reported_content_coordination * content) > sqrt(coordination * harvest)
                   AS by_content,
               CASE WHEN accounts >= {c.min_accounts}
                    THEN greatest(sqrt(coordination * harvest),
                                  sqrt(reported_content_coordination * content))
                    ELSE 0 END AS cluster_risk,
               CASE WHEN accounts >= {c.min_accounts}
                    THEN greatest(sqrt(own_coordination * harvest),
                                  sqrt(content_coordination * content))
                    ELSE 0 END AS unreported_risk
        FROM agg
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE risk AS
        WITH own AS (SELECT account_id, cluster_id, fit, partner, own_harvest,
                            {", ".join(f"own_{f}" for f in OWN_FACTORS)} FROM members)
        SELECT f.account_id, own.cluster_id, coalesce(cl.cluster_risk, 0) AS cluster_risk,
               coalesce(own.fit, 0) AS fit,
               -- What partners reported lifts a member as far as it carries that evidence
               -- itself: a bystander in a reported group is judged on the group's own facts.
               coalesce(cl.unreported_risk + (cl.cluster_risk - cl.unreported_risk)
                   * least(1, own.partner / nullif(cl.partner, 0)), cl.cluster_risk, 0)
                   AS own_cluster_risk,
               -- Own evidence before group evidence: the group's risk reaches a member only
               -- as far as its own traffic looks like harvest, so an account swept in by a
               -- shared residential address, NAT or proxy exit is judged on what it did.
               -- A group suspected on what it asks is carried as far as the member asks it.
               -- Otherwise as far as its own traffic looks like harvest and, as well, shows
               -- the group's kind of harvest: the share of the group's evidence, factor by
               -- factor, that it reaches (a pivot, which early adopters make, is never
               -- reached). A benchmark harness's repetition is not the round-the-clock timing
               -- a farm is suspected of.
               least(1, coalesce(CASE WHEN cl.by_content THEN own.own_content
                                      ELSE least(own.own_harvest, {coverage}) END, 0)
                        / {a.own_full}) AS own_gate,
               own_cluster_risk * ({a.member_floor} + {1 - a.member_floor}
                   * coalesce(own.fit, 0)) * own_gate AS member_risk,
               -- Judged alone: its own elicitation, as strong as its volume of evidence allows,
               -- capped below challenge (degraded, never refused, on content alone).
               {a.solo_cap} * least(1, f.elicit_rate / {a.content_full})
                   * least(1, f.elicit_rate * f.requests / {a.min_evidence}) AS solo_risk,
               greatest(member_risk, solo_risk) AS risk
        FROM fp f LEFT JOIN own USING (account_id) LEFT JOIN cl USING (cluster_id)
    """)
