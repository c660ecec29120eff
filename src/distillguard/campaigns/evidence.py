"""What a campaign's requests were, summarised where the events are: a stage either engine runs.

A campaign's page needs its requests counted by hour, capability and model, and its strongest
requests as evidence an analyst can open. Both are computed next to the events (DuckDB, or
Spark for the Spark engine) for the accounts in ``campaign_of`` only, so what the campaign
stage reads is small whatever the number of events:

- ``ev_hours(account_id, at_hour, capability, model, n, first_ts, last_ts)``;
- ``ev_top``: each account's ``TOP_PER_ACCOUNT`` requests with the strongest intent signal (a
  campaign's top requests are among its accounts' top requests).
"""

from __future__ import annotations

from distillguard.signals.request import INTENT_SIGNALS
from distillguard.store.sql import Stage, Table

TOP_PER_ACCOUNT = 10

_TOP = f"greatest({', '.join('e.' + s for s in INTENT_SIGNALS)})"


def evidence_stage() -> Stage:
    """The stage that builds ``ev_hours`` and ``ev_top`` from ``ev`` and ``campaign_of``."""
    hours = """
        SELECT e.account_id, date_trunc('hour', e.ts) AS at_hour, e.capability, e.model,
               count(*) AS n, min(e.ts) AS first_ts, max(e.ts) AS last_ts
        FROM ev e JOIN campaign_of c ON c.account_id = e.account_id
        GROUP BY e.account_id, date_trunc('hour', e.ts), e.capability, e.model
    """
    signals = ", ".join(INTENT_SIGNALS)
    top = f"""
        SELECT request_id, account_id, ts, capability, model, top_signal, {signals} FROM (
            SELECT e.request_id, e.account_id, e.ts, e.capability, e.model,
                   {_TOP} AS top_signal, {", ".join("e." + s for s in INTENT_SIGNALS)},
                   row_number() OVER (PARTITION BY e.account_id
                                      ORDER BY {_TOP} DESC NULLS LAST, e.ts, e.request_id) AS k
            FROM ev e JOIN campaign_of c ON c.account_id = e.account_id
        ) WHERE k <= {TOP_PER_ACCOUNT}
    """
    return Stage((Table("ev_hours", hours), Table("ev_top", top)))
