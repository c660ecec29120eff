"""Account–indicator links, in SQL: what each account shares with others, and how rare it is.

An indicator is a value an account uses (an address, a /24, a network (ASN), a client stack, a
TLS fingerprint, a payment method, a sign-up window, a template, a system prompt, a tool-set
shape) or a thing it does (the same template as other accounts in the same minutes: ``sync``;
the same subjects as other accounts on the same days: ``curriculum``, curriculum.py), or a
campaign a partner reported that the account matches (``partner``, intel/match.py).
Indicators used by a single account link nothing and are dropped. Each link's weight is its
kind's prior strength divided by the log of how many accounts share the value (Fraudar's column
weighting): a campus NAT or a popular agent's tool schema shared by thousands is weak evidence,
a card shared by five is not.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from distillguard.coordination.curriculum import curriculum_stage
from distillguard.store.sql import Stage, Table

# Prior strength of each kind of shared indicator.
LINK_WEIGHTS: dict[str, float] = {
    "payment": 3.0,
    "partner": 2.0,  # the same campaign at a partner (intel/match.py), named by what matched
    "ip": 1.5,
    "created": 1.0,
    "template": 1.0,
    "system": 1.0,
    "tools": 1.0,
    "sync": 1.0,
    "curriculum": 1.0,  # the same subjects on the same days (curriculum.py)
    "prefix": 0.6,
    "email": 0.6,
    "client": 0.4,
    "tls": 0.3,
    "asn": 0.3,
}
MIN_SHARE = 0.05  # a template, system prompt or tool set counts when it is 5% of the account's use
TOP_PER_ACCOUNT = 20  # addresses, prefixes and networks per account, by use
# A pipeline load-balanced over a farm sends one template from several accounts in the same
# minute, again and again; a shared template in one coincident minute is not that.
SYNC_MINUTES = 3


def build_links(con: duckdb.DuckDBPyConnection, weights: dict[str, float] | None = None) -> None:
    """Create temp table ``links(account_id, kind, value, degree, weight)`` from ``ev``."""
    partners = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'partner_fp' AND temporary"
    ).fetchall()[0][0]
    link_stage(weights, partners=bool(partners)).run(con)


def link_stage(weights: dict[str, float] | None = None, *, partners: bool = False) -> Stage:
    """The stage that builds ``curriculum``, ``raw_links`` and ``links``.

    ``partners``: link through ``partner_fp`` (the partners stage, intel/match.py) too.
    """
    w = weights or LINK_WEIGHTS
    kinds = pa.table({"kind": list(w), "w": [float(v) for v in w.values()]})
    # Accounts that match one partner campaign are linked through it, whatever values they hit.
    partner = ""
    if partners:
        partner = """
        UNION ALL
        SELECT account_id, 'partner', unnest(partner_links) FROM partner_fp
        WHERE partner_links IS NOT NULL AND account_id IN (SELECT account_id FROM use)"""
    raw = f"""
        WITH use AS (SELECT account_id, count(*) AS n FROM ev GROUP BY account_id),
        minute AS (
            SELECT DISTINCT account_id, template_head AS h, date_trunc('minute', ts) AS m FROM ev
            WHERE template_head IS NOT NULL
        ),
        together AS (SELECT h, m FROM minute GROUP BY ALL HAVING count(*) >= 2),
        sync AS (
            SELECT account_id, 'sync' AS kind, 's' || h::VARCHAR AS value, count(*) AS cnt
            FROM minute JOIN together USING (h, m) GROUP BY ALL
            HAVING count(*) >= {SYNC_MINUTES}
        ),
        ranked AS (
            SELECT account_id, kind, value, cnt,
                   row_number() OVER (PARTITION BY account_id, kind ORDER BY cnt DESC, value) AS rk
            FROM (
                SELECT account_id, 'ip' AS kind, ip AS value, count(*) cnt FROM ev
                WHERE ip IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'prefix', ip_prefix, count(*) FROM ev
                WHERE ip_prefix IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'asn', asn::VARCHAR, count(*) FROM ev
                WHERE asn IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'tls', tls_fingerprint, count(*) FROM ev
                WHERE tls_fingerprint IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'client', coalesce(user_agent, '') || '|'
                       || coalesce(tls_fingerprint, ''), count(*) FROM ev
                WHERE user_agent IS NOT NULL OR tls_fingerprint IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'template', 'h' || template_head::VARCHAR, count(*) FROM ev
                WHERE template_head IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'template', 't' || template_tail::VARCHAR, count(*) FROM ev
                WHERE template_tail IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'system', system_hash::VARCHAR, count(*) FROM ev
                WHERE system_hash IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT account_id, 'tools', tool_shape_hash::VARCHAR, count(*) FROM ev
                WHERE tool_shape_hash IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT * FROM sync
            )
        )
        SELECT r.account_id, r.kind, r.value FROM ranked r JOIN use u USING (account_id)
        WHERE r.rk <= {TOP_PER_ACCOUNT}
          AND (r.kind IN ('ip', 'prefix', 'asn', 'client', 'tls', 'sync')
               OR r.cnt >= {MIN_SHARE} * u.n)
        UNION ALL
        SELECT a.account_id, 'payment', a.payment_fingerprint FROM accounts a
        WHERE a.payment_fingerprint IS NOT NULL AND a.account_id IN (SELECT account_id FROM use)
        UNION ALL
        SELECT a.account_id, 'email', a.email_domain FROM accounts a
        WHERE a.email_domain IS NOT NULL AND a.account_id IN (SELECT account_id FROM use)
        UNION ALL
        -- Sign-up windows: two 12-hour grids offset by 6 hours, so a burst across a boundary
        -- still lands in one window. (floor: DuckDB's // on a DOUBLE is plain division.)
        SELECT a.account_id, 'created',
               g || ':' || floor((epoch(a.created_at) + g * 21600) / 43200)::BIGINT::VARCHAR
        FROM accounts a, (VALUES (0), (1)) t(g)
        WHERE a.created_at IS NOT NULL AND a.account_id IN (SELECT account_id FROM use)
        UNION ALL
        SELECT * FROM curriculum
        {partner}
    """
    links = """
        WITH deg AS (
            SELECT kind, value, count(DISTINCT account_id) AS degree FROM raw_links GROUP BY ALL
        )
        SELECT DISTINCT l.account_id, l.kind, l.value, d.degree,
               k.w / ln(2.718281828 + d.degree) AS weight
        FROM raw_links l JOIN deg d USING (kind, value)
        JOIN link_kinds k ON k.kind = l.kind
        WHERE d.degree >= 2
    """
    curriculum = curriculum_stage()
    return Stage(
        (*curriculum.tables, Table("raw_links", raw), Table("links", links)),
        {**curriculum.inputs, "link_kinds": kinds},
    )
