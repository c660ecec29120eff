"""The review queue: what to look at next, and who is looking at it.

Items are the scan's campaigns and the flagged accounts outside any campaign. Each says what
changed since the previous scan (a campaign is followed by its accounts, as alerts are), has a
state (``new``; ``in review`` once someone takes it; ``decided`` once it is confirmed or
dismissed, or an account's verdict is set by hand) and an assignee. Undecided first; among
them, what changed first; then by risk (a campaign's confidence, an account's risk), then by
impact: tokens, requests, capabilities harvested. Who took what is appended to
``RESULTS/queue.jsonl``.

>>> item = {"state": "new", "changed": True, "risk": 0.9, "tokens": 10, "requests": 5,
...         "capabilities": ["coding"]}
>>> sorted([{**item, "changed": False}, item], key=order)[0]["changed"]
True
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from distillguard.alerts.changes import same_campaign
from distillguard.console.data import Results
from distillguard.console.labels import append, entries
from distillguard.evaluate.results import FLAGGED

STATES = ("new", "in review", "decided")


def order(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item["state"] == "decided",
        not item["changed"],
        -item["risk"],
        -item["tokens"],
        -item["requests"],
        -len(item["capabilities"]),
    )


class Assignments:
    """Who took which item, latest first wins; ``assignee`` empty when released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def set(self, who: str, target: str, key: str, assignee: str) -> None:
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "who": who,
            "target": target,
            "id": key,
            "assignee": assignee,
        }
        with self._lock:
            append(self.path, entry)

    def latest(self) -> dict[tuple[str, str], str]:
        return {
            (str(e["target"]), str(e["id"])): str(e["assignee"])
            for e in entries(self.path)
            if {"target", "id", "assignee"} <= set(e)
        }


def usage(con: duckdb.DuckDBPyConnection | None, accounts: list[str]) -> dict[str, tuple[int, int]]:
    """(requests, tokens) per account, in one query over the store."""
    if con is None or not accounts:
        return {}
    rows = con.execute(
        "SELECT account_id, count(*), sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) "
        "FROM events WHERE account_id IN (SELECT unnest($ids)) GROUP BY 1",
        {"ids": accounts},
    ).fetchall()
    return {str(a): (int(n), int(t or 0)) for a, n, t in rows}


def items(
    results: Results,
    previous: Results | None,
    used: dict[str, tuple[int, int]],
    decided: set[tuple[str, str]],
    assigned: dict[tuple[str, str], str],
) -> list[dict[str, Any]]:
    """Every queue item, in the order to review them."""
    out = []
    before = previous.campaigns if previous is not None else []
    for c in results.campaigns:
        was = same_campaign(c, before) if previous is not None else None
        n = len(c["accounts"])
        if previous is None:
            change = "new (no earlier scan to compare)"
        elif was is None:
            change = "new since the last scan"
        elif n != len(was["accounts"]) or c["requests"] != was["requests"]:
            change = (
                f"was {was['campaign_id']}: {len(was['accounts'])} → {n} accounts, "
                f"{was['requests']:,} → {c['requests']:,} requests"
            )
        else:
            change = ""
        tokens = sum(used.get(a, (0, 0))[1] for a in c["accounts"])
        out.append(_item("campaign", c["campaign_id"], float(c.get("confidence") or 0), change,
                         int(c["requests"]), tokens, c.get("capabilities") or {}, n, decided,
                         assigned))  # fmt: skip
    for account, row in results.accounts.items():
        if row["verdict"] not in FLAGGED or row.get("campaign_id"):
            continue
        old = previous.accounts.get(account) if previous is not None else None
        if previous is None:
            change = "new (no earlier scan to compare)"
        elif old is None:
            change = "new since the last scan"
        elif old["verdict"] != row["verdict"]:
            change = f"verdict {old['verdict']} → {row['verdict']}"
        else:
            change = ""
        requests, tokens = used.get(account, (0, 0))
        out.append(_item("account", account, float(row.get("risk") or 0), change, requests,
                         tokens, {}, 1, decided, assigned))  # fmt: skip
    return sorted(out, key=order)


def _item(
    target: str,
    key: str,
    risk: float,
    change: str,
    requests: int,
    tokens: int,
    capabilities: dict[str, float],
    accounts: int,
    decided: set[tuple[str, str]],
    assigned: dict[tuple[str, str], str],
) -> dict[str, Any]:
    assignee = assigned.get((target, key), "")
    state = "decided" if (target, key) in decided else "in review" if assignee else "new"
    return {
        "target": target,
        "id": key,
        "risk": risk,
        "changed": bool(change),
        "change": change or "unchanged",
        "requests": requests,
        "tokens": tokens,
        "capabilities": [k for k, v in capabilities.items() if v >= 0.1 and k != "other"],
        "accounts": accounts,
        "state": state,
        "assignee": assignee,
    }
