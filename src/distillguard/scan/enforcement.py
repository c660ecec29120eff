"""What the gateway did to each account, read back by the next scan from its own events.

Every event the gateway or the LiteLLM plugin writes carries ``gateway: {action, verdict,
why}`` (kept by ingest in ``extra``): the log is the counter, written by every worker of every
host, and no second store has to agree with it. The scan counts it per account and action
(``enforcement.csv``): did the block hold, how much did a throttled hydra still get, which
accounts kept coming after a refusal.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute('''CREATE TABLE ev AS SELECT * FROM (VALUES
...   ('a', TIMESTAMPTZ '2026-03-01 00:00:00+00', 3, 4, '{"gateway": {"action": "throttle"}}'),
...   ('a', TIMESTAMPTZ '2026-03-01 01:00:00+00', 1, 1, '{"gateway": {"action": "throttle"}}'),
...   ('b', TIMESTAMPTZ '2026-03-01 00:00:00+00', 9, 9, NULL))
...   t(account_id, ts, input_tokens, output_tokens, extra)''')
>>> enforcement_stage().run(con)
>>> con.execute("SELECT account_id, action, requests, tokens FROM enforced").fetchall()
[('a', 'throttle', 2, 9)]
"""

from __future__ import annotations

from distillguard.store.sql import Stage, Table

_ACTION = "json_extract_string(extra, '$.gateway.action')"
_VERDICT = "json_extract_string(extra, '$.gateway.verdict')"


def enforcement_stage() -> Stage:
    """The stage that builds ``enforced`` (account, action, the verdict it was taken on,
    requests, tokens, first, last) from ``ev``."""
    sql = f"""
        SELECT account_id, {_ACTION} AS action, {_VERDICT} AS verdict, count(*) AS requests,
               sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) AS tokens,
               min(ts) AS first_ts, max(ts) AS last_ts
        FROM ev
        WHERE extra LIKE '%"gateway"%' AND {_ACTION} IS NOT NULL
        GROUP BY account_id, {_ACTION}, {_VERDICT}
        ORDER BY account_id, action, verdict
    """
    return Stage((Table("enforced", sql),))
