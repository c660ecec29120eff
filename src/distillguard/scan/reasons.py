"""Why an account got its risk, in words, composed in SQL for every account at once.

What the account did itself comes first (``own traffic: ...``), then its group's evidence
(``group C0003 (risk 0.93): ...``), so an analyst sees which of the two a verdict rests on.
"""

from __future__ import annotations

from distillguard.verdicts.config import Config


def reasons_sql(cfg: Config) -> str:
    """An expression over ``risk r``, ``fp f``, ``members m``, ``cl``, ``partner_fp pf``."""
    watch = cfg.thresholds.watch
    own = f"""concat_ws(', ',
          CASE WHEN f.elicit_rate >= 0.1 THEN round(100 * f.elicit_rate)
               || '% of its requests elicit reasoning, hidden thinking or training data' END,
          CASE WHEN f.meaning_rate >= {cfg.cluster.meaning_base} + 0.1
               THEN round(100 * f.meaning_rate) || '% read by meaning as eliciting' END,
          CASE WHEN f.rubric_grading_rate >= 0.3 THEN round(100 * f.rubric_grading_rate)
               || '% rubric grading' END,
          CASE WHEN greatest(f.template_share, f.near_dup_rate) >= 0.5 AND f.requests >= 20
               THEN round(100 * greatest(f.template_share, f.near_dup_rate))
               || '% on one template' END,
          CASE WHEN f.hour_entropy >= {cfg.cluster.flat_entropy} AND f.requests >= 50
               THEN 'active round the clock' END,
          CASE WHEN m.is_young
               THEN 'first request ' || round(f.age_hours) || ' h after sign-up' END,
          CASE WHEN m.pays_shared
               THEN 'payment method shared with other accounts in the group' END,
          CASE WHEN m.walks
               THEN 'the same subjects as others in the group, on the same days' END,
          pf.partner_reason)"""
    return f"""
        CASE WHEN r.risk < {watch} THEN '' ELSE concat_ws('; ',
          'own traffic: ' || nullif({own}, ''),
          CASE WHEN r.member_risk >= r.solo_risk AND r.cluster_risk > 0 THEN
            'group ' || r.cluster_id || ' (risk ' || round(r.cluster_risk, 2) || '): '
            || concat_ws(', ',
                 cl.accounts || ' linked accounts',
                 CASE WHEN cl.burst >= 0.5 THEN round(100 * cl.burst) || '% signed up together' END,
                 CASE WHEN cl.young >= 0.5 THEN round(100 * cl.young)
                      || '% at full use within days of sign-up' END,
                 CASE WHEN cl.shared_payment >= 0.3 THEN 'sharing ' || cl.payment_methods
                      || ' payment methods' END,
                 CASE WHEN cl.undeclared >= 0.9 THEN 'no declared organisation' END,
                 CASE WHEN cl.appeared >= 0.5 THEN round(100 * cl.appeared)
                      || '% first seen within a day of each other' END,
                 CASE WHEN cl.rotation >= 0.3 THEN round(100 * cl.rotation)
                      || '% rotating through a pool of addresses' END,
                 CASE WHEN cl.pool >= 0.3 THEN round(100 * cl.pool)
                      || '% switching between the addresses of one small pool' END,
                 CASE WHEN cl.curriculum >= 0.3 THEN round(100 * cl.curriculum)
                      || '% walking one curriculum, subject by subject on the same days' END,
                 CASE WHEN cl.partner >= 0.3 THEN 'matching a campaign partners reported' END,
                 CASE WHEN cl.content >= 0.5 THEN 'eliciting reasoning or training data' END,
                 CASE WHEN cl.repetition >= 0.4 THEN 'repetitive templates' END,
                 CASE WHEN cl.flat >= 0.5 THEN 'round-the-clock timing' END,
                 CASE WHEN cl.release_pivot >= 0.5 THEN 'pivot to a new model on release' END)
            || CASE WHEN r.own_gate < 1 THEN ' (counted at ' || round(100 * r.own_gate)
                    || '%: its own traffic shows less of what the group is suspected of)'
               ELSE '' END
          END
        ) END
    """
