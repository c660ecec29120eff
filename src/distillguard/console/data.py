"""What the console shows, read from a scan's results and the store it scanned.

The results (``accounts.csv``, ``campaigns.json``, ``manifest.json``; docs/output-contract.md)
are read again when they change. The store is opened read-only for each page and closed after
it (while ingest writes, DuckDB refuses: the page says the store is busy).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from distillguard.contract.body import view_request
from distillguard.evaluate.results import FLAGGED
from distillguard.signals.request import INTENT_SIGNALS

SIGNALS = INTENT_SIGNALS


@dataclass
class Results:
    """One scan's results, and the store behind them."""

    directory: Path
    store: Path | None
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # `distillguard alert`'s
    alerts_previous: str | None = None  # the scan those alerts compared this one with
    _stamp: tuple[float, ...] = ()

    @classmethod
    def open(cls, directory: Path, store: Path | None = None) -> Results:
        if not (directory / "accounts.csv").exists():
            raise FileNotFoundError(f"{directory}: no accounts.csv here; run `distillguard scan`")
        manifest = _json(directory / "manifest.json") or {}
        if store is None and manifest.get("store"):
            candidate = Path(manifest["store"])
            store = candidate if candidate.exists() else None
        results = cls(directory, store)
        results.refresh()
        return results

    def refresh(self) -> None:
        """Read the files again if a scan rewrote them."""
        names = ("accounts.csv", "campaigns.json", "manifest.json", "alerts.json")
        stamp = tuple(_mtime(self.directory / n) for n in names)
        if stamp == self._stamp:
            return
        with (self.directory / "accounts.csv").open(newline="", encoding="utf-8") as f:
            self.accounts = {row["account_id"]: row for row in csv.DictReader(f)}
        self.campaigns = _json(self.directory / "campaigns.json") or []
        self.manifest = _json(self.directory / "manifest.json") or {}
        alerts = _json(self.directory / "alerts.json")
        self.alerts = (alerts.get("alerts") or []) if isinstance(alerts, dict) else []
        self.alerts_previous = alerts.get("previous") if isinstance(alerts, dict) else None
        self._stamp = stamp

    @property
    def stamp(self) -> tuple[float, ...]:
        return self._stamp

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return next((c for c in self.campaigns if c["campaign_id"] == campaign_id), None)

    def campaign_accounts(self, campaign: dict[str, Any]) -> list[dict[str, str]]:
        rows = [self.accounts.get(a) or unknown_account(a) for a in campaign["accounts"]]
        return sorted(rows, key=lambda r: -float(r.get("risk") or 0))

    def verdict_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("clear", "watch", "challenge", "block"), 0)
        for row in self.accounts.values():
            counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
        return counts

    def flagged(self) -> list[str]:
        return [a for a, row in self.accounts.items() if row["verdict"] in FLAGGED]

    @contextmanager
    def db(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A read-only connection to the store, or None without one."""
        if self.store is None:
            yield None
            return
        con = duckdb.connect(str(self.store), read_only=True)
        try:
            yield con
        finally:
            con.close()


def unknown_account(account: str) -> dict[str, str]:
    """The row of an account the scan's accounts.csv does not hold."""
    row = dict.fromkeys(("risk", "reasons", "cluster_id", "campaign_id", "flagged_at"), "")
    return {**row, "account_id": account, "verdict": "clear"}


def retention(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT value FROM meta WHERE key = 'retention'").fetchone()
    return str(row[0]) if row else "full"


def hourly(
    con: duckdb.DuckDBPyConnection, accounts: list[str] | None, by: str | None = None
) -> list[tuple[Any, ...]]:
    """Requests per hour (and per ``by``: capability or model), all or for some accounts."""
    assert by in (None, "capability", "model")
    group = f", {by}" if by else ""
    where = "WHERE account_id IN (SELECT unnest($ids))" if accounts is not None else ""
    sql = (
        f"SELECT date_trunc('hour', ts) AS hour{group}, count(*) FROM events {where} "
        f"GROUP BY ALL ORDER BY 1"
    )
    return con.execute(sql, {"ids": accounts} if accounts is not None else {}).fetchall()


def evidence(con: duckdb.DuckDBPyConnection, request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored requests behind a campaign's evidence: prompt (if kept) and signals."""
    if not request_ids:
        return {}
    cols = ", ".join(SIGNALS)
    rows = con.execute(
        f"SELECT request_id, request_json, endpoint, capability, model, {cols} FROM events "
        f"WHERE request_id IN (SELECT unnest($ids))",
        {"ids": request_ids},
    ).fetchall()
    out = {}
    for request_id, request_json, endpoint, capability, model, *scores in rows:
        fired = {n: round(float(s), 2) for n, s in zip(SIGNALS, scores, strict=True) if s}
        out[request_id] = {
            "prompt": prompt_text(request_json, endpoint),
            "capability": capability,
            "model": model,
            "signals": fired,
        }
    return out


def prompt_text(request_json: str | None, endpoint: str, limit: int = 2000) -> str | None:
    """The last user message of a stored request, shortened; None when text is not kept."""
    if request_json is None:
        return None
    text = view_request(json.loads(request_json), endpoint).last_user_text
    return text if len(text) <= limit else text[:limit] + " …"


def account_requests(con: duckdb.DuckDBPyConnection, account: str, limit: int = 20) -> list[Any]:
    cols = ", ".join(SIGNALS)
    return con.execute(
        f"SELECT request_id, ts, model, capability, ip, user_agent, endpoint, request_json, "
        f"{cols} "
        f"FROM events WHERE account_id = ? ORDER BY ts DESC LIMIT ?",
        [account, limit],
    ).fetchall()


REQUEST_FIELDS = (
    "request_id", "ts", "account_id", "api_key_id", "org_id", "endpoint", "model", "api_shape",
    "ip", "ip_prefix", "asn", "country", "user_agent", "tls_fingerprint", "status",
    "input_tokens", "output_tokens", "capability", "topic", "template_head", "system_hash",
    "tool_schema_hash", "source_file", "source_line",
)  # fmt: skip


def request(con: duckdb.DuckDBPyConnection, request_id: str) -> dict[str, Any] | None:
    """One stored request: its fields, the signals that fired, and its prompt if kept."""
    cols = ", ".join((*REQUEST_FIELDS, "request_json", *SIGNALS))
    row = con.execute(f"SELECT {cols} FROM events WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        return None
    n = len(REQUEST_FIELDS)
    fields = dict(zip(REQUEST_FIELDS, row[:n], strict=True))
    scores = row[n + 1 :]
    return {
        "fields": fields,
        "prompt": prompt_text(row[n], str(fields["endpoint"] or ""), limit=20_000),
        "signals": {k: round(float(v), 2) for k, v in zip(SIGNALS, scores, strict=True) if v},
    }


def account_record(con: duckdb.DuckDBPyConnection, account: str) -> dict[str, Any]:
    cur = con.execute("SELECT * FROM accounts WHERE account_id = ?", [account])
    row = cur.fetchone()
    if row is None:
        return {}
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return 0.0


def hourly_flagged(con: duckdb.DuckDBPyConnection, flagged: list[str]) -> list[tuple[Any, ...]]:
    """Requests per hour from flagged accounts and from everyone else."""
    return con.execute(
        "SELECT date_trunc('hour', ts) AS hour, CASE WHEN account_id IN (SELECT unnest($ids)) "
        "THEN 'flagged accounts' ELSE 'everyone else' END AS who, count(*) FROM events "
        "GROUP BY ALL ORDER BY 1",
        {"ids": flagged},
    ).fetchall()


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    n, first, last, accounts = con.execute(
        "SELECT count(*), min(ts), max(ts), count(DISTINCT account_id) FROM events"
    ).fetchone() or (0, None, None, 0)
    return {"events": n, "first": first, "last": last, "accounts": accounts}


# Indicators an analyst can check, and the column that holds each.
_LINKS = {
    "IP prefix": "ip_prefix",
    "prompt template": "CAST(template_head AS VARCHAR)",
    "tool schema": "CAST(tool_schema_hash AS VARCHAR)",
    "TLS fingerprint": "tls_fingerprint",
}


def linked(con: duckdb.DuckDBPyConnection, account: str, limit: int = 25) -> list[dict[str, Any]]:
    """Accounts sharing an indicator with this one, most shared first, with what they share
    and how many accounts share each value (a value everyone has is weak evidence)."""
    parts = [
        f"SELECT DISTINCT '{kind}' AS kind, {col} AS value, account_id FROM events "
        f"WHERE {col} IN (SELECT {col} FROM events WHERE account_id = $a)"
        for kind, col in _LINKS.items()
    ]
    parts.append(
        "SELECT DISTINCT 'payment method', payment_fingerprint, account_id FROM accounts "
        "WHERE payment_fingerprint IN "
        "(SELECT payment_fingerprint FROM accounts WHERE account_id = $a)"
    )
    rows = con.execute(
        f"WITH shared AS ({' UNION ALL '.join(parts)}), "
        "spread AS (SELECT kind, value, count(*) AS n FROM shared GROUP BY ALL) "
        "SELECT s.account_id, list(DISTINCT s.kind ORDER BY s.kind), count(*), min(p.n) "
        "FROM shared s JOIN spread p USING (kind, value) "
        "WHERE s.account_id <> $a GROUP BY s.account_id "
        "ORDER BY count(*) DESC, min(p.n), s.account_id LIMIT $limit",
        {"a": account, "limit": limit},
    ).fetchall()
    return [
        {"account_id": a, "kinds": kinds, "shared": n, "rarest": rarest}
        for a, kinds, n, rarest in rows
    ]


def population(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Per-account figures the account page sets against everyone's."""
    rows = con.execute(
        "SELECT account_id, count(*) AS requests, "
        "avg(CASE WHEN greatest(" + ", ".join(SIGNALS) + ") >= 0.6 THEN 1 ELSE 0 END), "
        "count(DISTINCT template_head) * 100.0 / count(*), "
        "count(DISTINCT date_trunc('hour', ts)) * 1.0 / "
        "greatest(1, date_diff('hour', min(ts), max(ts)) + 1) "
        "FROM events GROUP BY account_id"
    ).fetchall()
    return {
        a: {"requests": n, "eliciting": e, "templates": t, "active_hours": h}
        for a, n, e, t, h in rows
    }
