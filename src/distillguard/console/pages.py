"""The pages: overview, campaign, account, request, search, actions. Each returns its template
and values."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from distillguard.console import data, graph, plots
from distillguard.console import queue as review
from distillguard.console.search import FILTERS, BadFilter
from distillguard.console.search import search as find

if TYPE_CHECKING:
    from distillguard.console.app import Console

Page = tuple[str | None, dict[str, Any]]


def overview(console: Console, request: Request) -> Page:
    results = console.results
    campaigns = sorted(results.campaigns, key=lambda c: (-c["confidence"], -c["requests"]))
    labels = console.labels.latest()
    values: dict[str, Any] = {
        "campaigns": campaigns,
        "alerts": results.alerts,
        "labels": labels,
        "verdicts": results.verdict_counts(),
        "flagged": len(results.flagged()),
        "recent": list(reversed(console.labels.history()))[:10],
        "manual": console.book.manual["account"],
        "totals": None,
        "traffic": "",
    }
    with results.db() as con:
        if con is not None:
            values["totals"] = data.totals(con)
            values["traffic"] = console.cached(
                ("traffic",),
                lambda: plots.timeline(
                    data.hourly_flagged(con, results.flagged()), "requests per hour"
                ),
            )
    return "overview.html.j2", values


def campaign(console: Console, request: Request) -> Page:
    key = request.path_params["key"]
    found = console.results.campaign(key)
    if found is None:
        return None, {"what": "campaign", "key": key}
    accounts = console.results.campaign_accounts(found)
    ids = [a["account_id"] for a in accounts]
    values: dict[str, Any] = {
        "c": found,
        "accounts": accounts,
        "labels": console.labels.latest(),
        "evidence": [],
        "by_capability": "",
        "by_model": "",
        "retention": "full",
        "can_export": console.salt is not None,
        "graph": console.cached(
            (key, "graph"),
            partial(graph.draw, found, {a["account_id"]: a.get("verdict", "") for a in accounts}),
        ),
    }
    with console.results.db() as con:
        if con is not None:
            values["retention"] = data.retention(con)
            stored = data.evidence(con, [e["request_id"] for e in found.get("evidence", [])])
            values["evidence"] = [
                {**e, **stored.get(e["request_id"], {"prompt": None})}
                for e in found.get("evidence", [])
            ]
            for by in ("capability", "model"):
                rows = console.cached((key, by, "rows"), partial(data.hourly, con, ids, by))
                title = f"requests per hour, by {by}"
                values[f"by_{by}"] = console.cached((key, by), partial(plots.timeline, rows, title))
    return "campaign.html.j2", values


def account(console: Console, request: Request) -> Page:
    key = request.path_params["key"]
    row = console.results.accounts.get(key)
    values: dict[str, Any] = {
        "a": row or data.unknown_account(key),
        "known": row is not None,
        "campaign": None,
        "record": {},
        "requests": [],
        "links": [],
        "figures": [],
        "label": console.labels.latest().get(("account", key)),
        "manual": console.book.manual["account"].get(key),
        "retention": "full",
    }
    if row and row.get("campaign_id"):
        values["campaign"] = console.results.campaign(row["campaign_id"])
    with console.results.db() as con:
        if con is None:
            return "account.html.j2", values
        values["retention"] = data.retention(con)
        values["record"] = data.account_record(con, key)
        values["requests"] = [
            {
                "request_id": r[0],
                "ts": r[1],
                "model": r[2],
                "capability": r[3],
                "ip": r[4],
                "user_agent": r[5],
                "prompt": data.prompt_text(r[7], r[6], limit=600),
                "signals": {
                    n: round(float(s), 2) for n, s in zip(data.SIGNALS, r[8:], strict=True) if s
                },
            }
            for r in data.account_requests(con, key)
        ]
        values["links"] = data.linked(con, key)
        everyone = console.cached(("population",), lambda: data.population(con))
        mine = everyone.get(key)
        if mine:
            for name, title, unit in (
                ("requests", "requests in the window", ""),
                ("eliciting", "share of requests a signal fires on", ""),
                ("templates", "distinct templates per 100 requests", ""),
                ("active_hours", "share of hours active", ""),
            ):
                spread = [f[name] for f in everyone.values()]
                draw = partial(plots.against_population, spread, mine[name], title, unit)
                values["figures"].append(console.cached((key, name), draw))
    return "account.html.j2", values


def actions(console: Console, request: Request) -> Page:
    history = console.actions.history()
    return "actions.html.j2", {
        "actions": list(reversed(history))[:500],
        "undone": console.actions.undone(history),
        "total": len(history),
    }


def search(console: Console, request: Request) -> Page:
    given = {k: request.query_params.get(k, "")[:200] for k in FILTERS}
    values: dict[str, Any] = {"filters": FILTERS, "given": given, "found": None, "error": ""}
    with console.results.db() as con:
        if con is None:
            values["error"] = "no store behind these results: start the console with --store"
            return "search.html.j2", values
        try:
            values["found"] = find(con, given)
        except BadFilter as exc:
            values["error"] = str(exc)
    if values["found"]:
        for row in values["found"]["top"]:
            row["verdict"] = console.results.accounts.get(row["account_id"], {}).get("verdict", "")
            row["campaign"] = console.results.accounts.get(row["account_id"], {}).get(
                "campaign_id", ""
            )
    return "search.html.j2", values


def stored_request(console: Console, request: Request) -> Page:
    key = request.path_params["key"]
    with console.results.db() as con:
        found = data.request(con, key) if con is not None else None
    if found is None:
        return None, {"what": "request", "key": key}
    account = found["fields"]["account_id"]
    row = console.results.accounts.get(account) or data.unknown_account(account)
    return "request.html.j2", {"r": found, "a": row}


def queue(console: Console, request: Request) -> Page:
    results = console.results
    decided = set(console.labels.latest())
    decided |= {("account", a) for a in console.book.manual["account"]}
    decided |= {("campaign", c) for c in console.actions.decided_campaigns()}
    queued = [a for c in results.campaigns for a in c["accounts"]] + results.flagged()
    with results.db() as con:
        used = console.cached(("usage",), partial(review.usage, con, sorted(set(queued))))
    found = review.items(results, console.previous, used, decided, console.assignments.latest())
    mine = str(request.session.get("user", ""))
    return "queue.html.j2", {
        "items": found,
        "previous": console.previous.directory if console.previous is not None else None,
        "counts": {s: sum(1 for i in found if i["state"] == s) for s in review.STATES},
        "mine": sum(1 for i in found if i["assignee"] == mine and i["state"] != "decided"),
        "people": sorted(console.users.entries) if console.users is not None else [],
    }
