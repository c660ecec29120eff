"""Search the store by what identifies traffic: account, key, address, network, ASN, payment
method, e-mail domain, client, template or system-prompt signature, model, and a time range.

Each filter is one parameterised condition on the events (the sign-up ones through the
accounts table); all given must hold. The answer counts the matching requests and accounts, and
lists the accounts with most matching requests and the latest matching requests, each leading
to its page.

>>> where, params = conditions({"prefix": "203.0.113.0/24", "asn": "64500"})
>>> where
'ip_prefix = $prefix AND asn = $asn'
>>> params
{'prefix': '203.0.113.0/24', 'asn': 64500}
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

import duckdb

# name: (label, SQL condition over events, how the value is read)
FILTERS: dict[str, tuple[str, str, str]] = {
    "account": ("account", "account_id = $account", "text"),
    "key": ("API key id", "api_key_id = $key", "text"),
    "ip": ("address", "ip = $ip", "ip"),
    "prefix": ("/24 or /48", "ip_prefix = $prefix", "prefix"),
    "asn": ("ASN", "asn = $asn", "int"),
    "payment": (
        "payment fingerprint",
        "account_id IN (SELECT account_id FROM accounts WHERE payment_fingerprint = $payment)",
        "text",
    ),
    "email_domain": (
        "e-mail domain",
        "account_id IN (SELECT account_id FROM accounts WHERE email_domain = $email_domain)",
        "lower",
    ),
    "client": ("client (user agent contains)", "contains(user_agent, $client)", "text"),
    "template": ("template signature", "template_head = $template", "digest"),
    "system": ("system-prompt signature", "system_hash = $system", "digest"),
    "model": ("model", "model = $model", "text"),
    "since": ("from", "ts >= $since", "time"),
    "until": ("until", "ts < $until", "time"),
}


class BadFilter(ValueError):
    pass


def _value(name: str, kind: str, raw: str) -> Any:
    raw = raw.strip()
    try:
        if kind == "int":
            return int(raw.upper().removeprefix("AS"))
        if kind == "digest":  # as the pages show them: decimal, or hex with 0x
            return int(raw, 16) if raw.lower().startswith("0x") else int(raw)
        if kind == "ip":
            return str(ipaddress.ip_address(raw))
        if kind == "prefix":
            return str(ipaddress.ip_network(raw, strict=False))
        if kind == "time":
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(f"{FILTERS[name][0]}: {raw[:80]!r} is not a valid {kind}") from None
    return raw.lower() if kind == "lower" else raw


def conditions(given: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and parameters for the filters given (empty values ignored)."""
    parts, params = [], {}
    for name, (_, sql, kind) in FILTERS.items():
        raw = given.get(name, "")
        if raw and raw.strip():
            params[name] = _value(name, kind, raw)
            parts.append(sql)
    return " AND ".join(parts), params


def search(
    con: duckdb.DuckDBPyConnection, given: dict[str, str], limit: int = 100
) -> dict[str, Any] | None:
    """Counts, top accounts and latest requests for the filters; None when none is given."""
    where, params = conditions(given)
    if not where:
        return None
    totals = con.execute(
        f"SELECT count(*), count(DISTINCT account_id), min(ts), max(ts) FROM events WHERE {where}",
        params,
    ).fetchone()
    assert totals is not None
    accounts = con.execute(
        f"SELECT account_id, count(*) AS n, min(ts), max(ts), count(DISTINCT ip), "
        f"count(DISTINCT model) FROM events WHERE {where} "
        f"GROUP BY account_id ORDER BY n DESC, account_id LIMIT {int(limit)}",
        params,
    ).fetchall()
    requests = con.execute(
        f"SELECT request_id, ts, account_id, model, ip, user_agent FROM events WHERE {where} "
        f"ORDER BY ts DESC LIMIT {int(limit)}",
        params,
    ).fetchall()
    return {
        "events": totals[0],
        "accounts": totals[1],
        "first": totals[2],
        "last": totals[3],
        "top": [
            dict(zip(("account_id", "n", "first", "last", "ips", "models"), r, strict=True))
            for r in accounts
        ],
        "requests": [
            dict(zip(("request_id", "ts", "account_id", "model", "ip", "ua"), r, strict=True))
            for r in requests
        ],
    }
