"""How fast the console's pages render on a scanned store, and a screenshot of a campaign page.

Serves the console on 127.0.0.1 over a scan's results (default: what `make demo` wrote), logs
in, and times each page type over HTTP: the first load (pictures drawn, population figures
computed) and a second (from the console's cache). Record results in docs/benchmarks.md with
the machine and the date. Target (issue #6): every page under a second on the default scenario.

It then times the search page (issue #22: under a second on 1M events) on each filter, on the
store as it is and, with ``--search-events N``, on a copy whose events are repeated under new
request ids until it holds N (the same traffic, more of it: what a search scans grows, what it
finds grows with it).

    uv run python bench/console.py                          # after make demo
    uv run python bench/console.py --search-events 1000000
    uv run python bench/console.py --screenshot docs/img/console-campaign.png
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import httpx

from distillguard.console.app import Console
from distillguard.console.data import Results
from distillguard.gateway.local import serving

TOKEN = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path(".demo/results"))
    parser.add_argument("--accounts", type=int, default=20, help="account pages to time")
    parser.add_argument("--screenshot", type=Path, help="save a campaign page here (chromium)")
    parser.add_argument("--search-events", type=int, default=0, help="search a copy this big")
    args = parser.parse_args()
    results = Results.open(args.results)
    scratch = Path(tempfile.mkdtemp())
    if args.search_events:
        results = Results.open(args.results, grown(results, args.search_events, scratch))
    console = Console(results, TOKEN, scratch / "verdicts.json")
    campaigns = sorted(results.campaigns, key=lambda c: (-c["confidence"], -c["requests"]))
    flagged = results.flagged()[: args.accounts]
    timings: dict[str, list[float]] = {}
    slowest: dict[str, tuple[float, str]] = {}
    with serving(console.app()) as url, httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("/login").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        logged = http.post("/login", data={"name": "bench", "token": TOKEN, "csrf": token})
        assert logged.status_code == 303, logged.text

        def timed(kind: str, path: str) -> None:
            began = time.perf_counter()
            response = http.get(path)
            assert response.status_code == 200, (path, response.status_code)
            took = (time.perf_counter() - began) * 1000
            timings.setdefault(kind, []).append(took)
            slowest[kind] = max(slowest.get(kind, (0.0, "")), (took, path))

        for label in ("first", "again"):
            timed(f"overview ({label})", "/")
            for c in campaigns[:5]:
                timed(f"campaign ({label})", f"/campaign/{c['campaign_id']}")
            for a in flagged:
                timed(f"account ({label})", f"/account/{a}")
        assert results.store is not None
        for name, value in searches(results.store, campaigns).items():
            for _ in range(3):
                timed(f"search by {name}", "/search?" + urlencode({name: value}))
        if args.screenshot:
            shoot(url, f"/campaign/{campaigns[0]['campaign_id']}", args.screenshot)
    out = {
        kind: {
            "median_ms": round(statistics.median(v)),
            "max_ms": round(max(v)),
            "slowest": slowest[kind][1],
            "n": len(v),
        }
        for kind, v in timings.items()
    }
    with duckdb.connect(str(results.store), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    print(json.dumps({"bench": "console", "results": str(args.results), "pages": out,
                      "events": row[0] if row else 0,
                      "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")},
                     indent=1))  # fmt: skip


def grown(results: Results, events: int, scratch: Path) -> Path:
    """A copy of the results' store with its events repeated under new ids up to ``events``."""
    assert results.store is not None
    copy = scratch / "grown.duckdb"
    shutil.copy(results.store, copy)
    with duckdb.connect(str(copy)) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
        have = int(row[0]) if row else 0
        for k in range(1, -(-events // max(have, 1))):
            take = min(have, events - have * k)
            if take <= 0:
                break
            con.execute(
                "INSERT INTO events SELECT * REPLACE (request_id || $tag AS request_id) "
                "FROM events WHERE NOT contains(request_id, '~') LIMIT $n",
                {"tag": f"~{k}", "n": take},
            )
    return copy


def searches(store: Path, campaigns: list[dict[str, object]]) -> dict[str, str]:
    """One real value per filter, from the store: what an analyst would paste in."""
    with duckdb.connect(str(store), read_only=True) as con:

        def top(column: str, table: str = "events") -> str:
            row = con.execute(
                f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL "
                f"GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
            return str(row[0]) if row else ""

        found = {
            "ip": top("ip"),
            "prefix": top("ip_prefix"),
            "asn": top("asn"),
            "payment": top("payment_fingerprint", "accounts"),
            "email_domain": top("email_domain", "accounts"),
            "template": top("template_head"),
            "model": top("model"),
            "account": str((campaigns[0]["accounts"] or [""])[0]) if campaigns else "",  # type: ignore[index]
        }
    return {k: v for k, v in found.items() if v}


def shoot(url: str, path: str, to: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1750})
        page.goto(url + "/login")
        page.fill("input[name=name]", "analyst")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.goto(url + path)
        to.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(to))
        browser.close()


if __name__ == "__main__":
    main()
