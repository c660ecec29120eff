"""Partners' indicators matched against this provider's traffic, in SQL: a scan stage.

An account *hits* a partner indicator when one of its requests comes from the address, prefix,
network or client stack a partner named, carries the template, system-prompt or tool-schema
signature the partner saw, or when its own payment method, e-mail domain or id has the salted
digest the partner sent (resolved at import, ``partners.resolve_salted``).

What a hit is worth depends on what it is: a partner's account or payment digest names the
actor; an address or a template names its pipeline; a user agent, TLS stack or network is
shared by thousands of real customers and says almost nothing. Kinds that repeat each other
(an address and its /24, a template and its timing) form a family in which the best hit counts;
families combine as independent evidence (noisy-OR), each scaled by the partner's confidence,
and without the actor's own payment method or account the total is capped. The result,
``partner`` in [0, 1], is evidence of *coordination* only: the verdict stage still asks for
harvest-like use (``verdicts/score.py``), so a partner's mistake, or a poisoned bundle naming a
campus NAT, cannot block real customers on its own.
"""

from __future__ import annotations

import duckdb

# What a hit of each kind is worth before the partner's confidence.
HIT_WEIGHTS: dict[str, float] = {
    "account": 1.0,
    "payment": 0.9,
    "ip": 0.6,
    "template": 0.6,
    "system": 0.6,
    "sync": 0.6,
    "tools": 0.4,
    "prefix": 0.3,
    "email": 0.3,
    "client": 0.1,
    "tls": 0.1,
    "asn": 0.05,
}
# Kinds that say the same thing twice (an address and its /24, a template and its timing) are
# one family: within a family only the best hit counts, families combine as independent.
FAMILIES: dict[str, str] = {
    "account": "identity",
    "payment": "identity",
    "email": "identity",
    "ip": "network",
    "prefix": "network",
    "asn": "network",
    "client": "client",
    "tls": "client",
    "template": "pipeline",
    "system": "pipeline",
    "tools": "pipeline",
    "sync": "pipeline",
}
# Without the actor's own payment method or account, a partner's report says only that an
# account uses a campaign's network, client or pipeline, as campus NATs and popular agents'
# users do: such evidence is capped.
CAP_WITHOUT_IDENTITY = 0.5
# Kinds specific enough to put an account in a partner's campaign for clustering.
LINKING = {k for k, w in HIT_WEIGHTS.items() if w >= 0.3}

# (kind, the event expression it is matched on): one equi-join each, so each is a hash join.
_EVENT_KEYS = [
    ("ip", "ip"),
    ("prefix", "ip_prefix"),
    ("asn", "asn::VARCHAR"),
    ("client", "user_agent"),
    ("tls", "tls_fingerprint"),
    ("template", "'h' || template_head::VARCHAR"),
    ("template", "'t' || template_tail::VARCHAR"),
    ("system", "system_hash::VARCHAR"),
    ("tools", "tool_shape_hash::VARCHAR"),
    ("sync", "'s' || template_head::VARCHAR"),
]
# (kind, account_id and the value v it is matched on); ids from the events too, since a store
# may have no account records.
_ACCOUNT_KEYS = [
    ("payment", "SELECT account_id, payment_fingerprint AS v FROM accounts"),
    ("email", "SELECT account_id, email_domain AS v FROM accounts"),
    ("account", "SELECT DISTINCT account_id, account_id AS v FROM ev"),
]
_NAMES = {  # singular, plural
    "ip": ("address", "addresses"),
    "prefix": ("network", "networks"),
    "asn": ("AS", "ASes"),
    "client": ("client", "clients"),
    "tls": ("TLS stack", "TLS stacks"),
    "template": ("template", "templates"),
    "system": ("system prompt", "system prompts"),
    "tools": ("tool schema", "tool schemas"),
    "sync": ("synchronised template", "synchronised templates"),
    "payment": ("payment method", "payment methods"),
    "email": ("e-mail domain", "e-mail domains"),
    "account": ("account", "accounts"),
}


def match_partners(con: duckdb.DuckDBPyConnection) -> int:
    """Create temp tables ``partner_hits`` and ``partner_fp``; returns accounts hit.

    ``partner_hits(account_id, source, campaign, ref, kind, value, confidence, events)``: a row per
    account and indicator it matches (events: how many of its requests did, NULL for sign-up
    facts). ``partner_fp(account_id, partner, partner_links, partner_reason)``: the evidence per
    account, the partner campaigns that link it, and why, in words that name the partner.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE partner_live AS
        -- A campaign is its STIX id (K0003 names another campaign in a partner's next scan);
        -- its name is for people.
        SELECT source, coalesce(nullif(campaign, ''), 'a campaign') AS campaign,
               coalesce(campaign_ref, '') AS ref, kind,
               coalesce(local_value, value) AS value, max(confidence) AS confidence
        FROM partner_indicators
        WHERE expires > now() AND (NOT salted OR local_value IS NOT NULL)
        GROUP BY ALL
    """)
    live = {k for (k,) in con.execute("SELECT DISTINCT kind FROM partner_live").fetchall()}
    # Only the kinds partners sent: each join reads the window's events once.
    parts = [
        f"""SELECT account_id, p.source, p.campaign, p.ref, p.kind, p.value, p.confidence,
                   count(*) AS events
            FROM ev JOIN partner_live p ON p.kind = '{kind}' AND {key} = p.value GROUP BY ALL"""
        for kind, key in _EVENT_KEYS
        if kind in live
    ] + [
        f"""SELECT a.account_id, p.source, p.campaign, p.ref, p.kind, p.value, p.confidence,
                   NULL::BIGINT AS events
            FROM ({values}) a JOIN partner_live p ON p.kind = '{kind}' AND a.v = p.value
            WHERE a.account_id IN (SELECT account_id FROM ev)"""
        for kind, values in _ACCOUNT_KEYS
        if kind in live
    ]
    if parts:
        con.execute("CREATE OR REPLACE TEMP TABLE partner_hits AS " + " UNION ALL ".join(parts))
    else:  # nothing shared, or all expired: skip the joins over the events
        con.execute("""
            CREATE OR REPLACE TEMP TABLE partner_hits (account_id VARCHAR, source VARCHAR,
                campaign VARCHAR, ref VARCHAR, kind VARCHAR, value VARCHAR, confidence INTEGER,
                events BIGINT)
        """)
    weights = ", ".join(
        f"('{k}', {w}, '{FAMILIES[k]}', '{_NAMES[k][0]}', '{_NAMES[k][1]}')"
        for k, w in HIT_WEIGHTS.items()
    )
    linking = ", ".join(f"'{k}'" for k in sorted(LINKING))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE partner_fp AS
        WITH hit AS (
            SELECT h.*, k.w, k.family, k.w * h.confidence / 100 AS strength, k.name, k.names
            FROM partner_hits h
            JOIN (VALUES {weights}) k(kind, w, family, name, names) USING (kind)
            WHERE h.confidence > 0
        ),
        per_family AS (SELECT account_id, family, max(strength) AS s FROM hit GROUP BY ALL),
        evidence AS (
            SELECT account_id, 1 - exp(sum(ln(1 - least(s, 0.999)))) AS combined,
                   coalesce(max(s) FILTER (WHERE family = 'identity'), 0) AS identity
            FROM per_family GROUP BY account_id
        ),
        said AS (  -- one phrase per partner campaign
            SELECT account_id, source, campaign, ref,
                   max(confidence) AS confidence,
                   bool_or(kind IN ({linking})) AS links,
                   string_agg(CASE WHEN n = 1 THEN name ELSE n || ' ' || names END, ', '
                              ORDER BY w DESC, kind) AS what
            FROM (SELECT account_id, source, campaign, ref, kind, name, names, w,
                         max(confidence) AS confidence,
                         count(DISTINCT value) AS n FROM hit GROUP BY ALL)
            GROUP BY ALL
        ),
        says AS (
            SELECT account_id,
                   -- chr(31) never occurs in names (partners.clean_name strips it)
                   list(source || chr(31) || campaign || chr(31) || ref
                        ORDER BY source, campaign, ref)
                       FILTER (WHERE links) AS partner_links,
                   string_agg('shares ' || what || ' with ' || campaign || ' reported by partner '
                              || source || ' (confidence ' || confidence || ')', '; '
                              ORDER BY source, campaign) AS partner_reason
            FROM said GROUP BY account_id
        )
        SELECT account_id,
               CASE WHEN identity >= 0.5 THEN combined
                    ELSE least(combined, {CAP_WITHOUT_IDENTITY}) END AS partner,
               partner_links, partner_reason
        FROM evidence JOIN says USING (account_id)
    """)
    (hit,) = con.execute("SELECT count(*) FROM partner_fp").fetchall()[0]
    return int(hit)
