"""Analysts' decisions in the next scan: a dismissed account stays clear while its evidence
is unchanged, a confirmed one stays flagged; both say so in the account's reasons.

The decisions are the console's labels (``RESULTS/labels.jsonl``, one file or several): the
latest per target, a campaign's reaching the accounts it held when it was labelled. The scan
carries them into its own ``OUT/labels.jsonl``, so that they hold scan after scan. Each
records the risk from the evidence each account had then (``evidence_risk``); a dismissal
holds while that risk has not risen by more than ``MARGIN`` since, and lapses, saying so,
when it has: new evidence is looked at again. A confirmation keeps the account at least at
``challenge``. Never silent: the reason names who decided and when.

>>> rows = latest([
...     {"ts": "2026-03-01T10:00:00+00:00", "who": "ana", "target": "account", "id": "a1",
...      "label": "confirmed", "evidence": {"a1": 0.5}},
...     {"ts": "2026-03-02T10:00:00+00:00", "who": "bo", "target": "account", "id": "a1",
...      "label": "dismissed", "evidence": {"a1": 0.7}}])
>>> rows
[('a1', 'dismissed', 'bo', '2026-03-02', 0.7)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from distillguard.verdicts.config import Config, ConfigError

MARGIN = 0.05  # risk that may move with the window before a dismissal counts as outdated


def read(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """The label entries of the labels files, oldest first, and a problem per line skipped
    (file, line, why): one torn or hand-broken line never drops the rest. ConfigError when a
    file cannot be read at all."""
    out, problems = [], []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"{path}: cannot read the decisions ({why})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry["label"] not in ("confirmed", "dismissed") or not entry["id"]:
                    raise ValueError(f"label {entry['label']!r}")
                entry["ts"] = str(entry["ts"])
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path}:{number}: skipped, not a label entry ({exc})")
                continue
            out.append(entry)
    out.sort(key=lambda e: e["ts"])  # several files: the latest decision is the one in force
    return out, problems


def carry(entries: list[dict[str, Any]], out: Path) -> int:
    """Append to ``OUT/labels.jsonl`` the entries it lacks, so that the console on the new
    results shows them and the scan after reads them from there; how many were added."""
    path = out / "labels.jsonl"
    have: set[str] = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                have.add(json.dumps(json.loads(line), sort_keys=True))
            except ValueError:
                continue
    fresh = []
    for entry in entries:
        line = json.dumps(entry, sort_keys=True)
        if line not in have:
            have.add(line)
            fresh.append(line)
    if fresh:
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in fresh))
    return len(fresh)


def latest(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, str, float | None]]:
    """(account, label, who, day, risk then) for each account, from its latest decision: its
    own, or the latest on a campaign that held it."""
    by_target: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        by_target[(str(e.get("target")), str(e["id"]))] = e
    # An account's own label wins over its campaign's; among campaigns, the latest.
    ranked = sorted(by_target.values(), key=lambda e: (e.get("target") == "account", e["ts"]))
    out: dict[str, tuple[str, str, str, str, float | None]] = {}
    for e in ranked:
        evidence = e.get("evidence") or {}
        accounts = [e["id"]] if e.get("target") == "account" else list(evidence)
        for account in accounts:
            then = evidence.get(account)
            risk = float(then) if isinstance(then, int | float) else None
            out[account] = (account, e["label"], str(e.get("who", "")), str(e["ts"])[:10], risk)
    return sorted(out.values())


def apply(con: duckdb.DuckDBPyConnection, cfg: Config, decisions: list[tuple[Any, ...]]) -> None:
    """Adjust the ``risk`` temp table by the decisions; adds its ``decision`` column (why)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE decided (account_id VARCHAR, label VARCHAR, "
        "who VARCHAR, day VARCHAR, risk_then DOUBLE)"
    )
    if decisions:
        con.executemany("INSERT INTO decided VALUES (?, ?, ?, ?, ?)", decisions)
    t = cfg.thresholds
    below = t.watch - 1e-4
    holds = f"(d.risk_then IS NULL OR r.risk <= d.risk_then + {MARGIN})"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE risk AS
        SELECT r.* REPLACE (
                   CASE WHEN d.label = 'dismissed' AND {holds} THEN least(r.risk, {below})
                        WHEN d.label = 'confirmed' THEN greatest(r.risk, {t.challenge})
                        ELSE r.risk END AS risk),
               CASE WHEN d.label = 'dismissed' AND {holds}
                        THEN 'dismissed by ' || d.who || ' on ' || d.day || ': evidence '
                             || 'unchanged (risk ' || coalesce(round(d.risk_then, 2)::VARCHAR,
                             'not recorded') || ' then, ' || round(r.risk, 2) || ' now)'
                    WHEN d.label = 'dismissed'
                        THEN 'dismissed by ' || d.who || ' on ' || d.day || ', but its evidence '
                             || 'has grown since (risk ' || round(d.risk_then, 2) || ' then, '
                             || round(r.risk, 2) || ' now): look again'
                    WHEN d.label = 'confirmed'
                        THEN 'confirmed by ' || d.who || ' on ' || d.day
                             || ' (risk ' || round(r.risk, 2) || ' from the evidence alone)'
                    ELSE '' END AS decision,
               r.risk AS evidence_risk
        FROM risk r LEFT JOIN decided d USING (account_id)
    """)
