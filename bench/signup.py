"""Risk at sign-up, replayed: how many of a farm's later accounts the check stops, and how many
customers it troubles.

Simulates a scenario (``hard`` by default) with its account records, ingests it, and scans the
events before a cut-off (``--cuts``, days after the start) as a provider would have then. Then
every account created after the cut-off signs up again, in time order, through the sign-up check
(``signup/``: the scan's campaigns and the bursts of sign-ups so far), and the answers are
counted by label: per campaign, the share sent to verify or refuse. Customers all signed up
before the week, so each also signs up again, in time order, against the same campaigns: the
share it would trouble. Labels are read only to count. Record results in docs/benchmarks.md
with machine and date.

    uv run python bench/signup.py                    # hard, cut-offs at days 2 and 4
    uv run python bench/signup.py --scenario default --cuts 1
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from distillguard.ingest import IngestOptions, ingest
from distillguard.scan.run import scan
from distillguard.signup.check import SignupCheck
from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario
from distillguard.store import Retention, Store
from distillguard.verdicts.config import load_config

OUT = Path(__file__).parent / "out" / "signup"


def _labels(sim: Path) -> dict[str, str]:
    """Account id to its campaign's name, or "" for a customer."""
    with open(sim / "labels.csv", newline="") as f:
        return {
            r["account_id"]: r["campaign"] if r["is_attack"] == "1" else ""
            for r in csv.DictReader(f)
        }


def replay(sim: Path, results: Path, cut: datetime) -> dict[str, Any]:
    labels = _labels(sim)
    rows = [json.loads(x) for x in (sim / "accounts.jsonl").open()]
    later = sorted(
        (r for r in rows if r.get("created_at") and _when(r["created_at"]) >= cut),
        key=lambda r: r["created_at"],
    )
    check = SignupCheck(results, OUT / f"signups-{cut:%Y%m%d}.jsonl")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for record in later:
        found = check.assess(record, _when(record["created_at"]))
        counts[labels.get(record["account_id"], "") or "customers"][found.action] += 1
    # Customers all signed up before the week: each signs up again, in time order, against the
    # same campaigns (a second check, so their bursts are theirs alone): whom would it trouble?
    again = SignupCheck(results, OUT / f"customers-{cut:%Y%m%d}.jsonl")
    customers = sorted((r for r in rows if not labels.get(r["account_id"])), key=_order)
    for record in customers:
        created = _when(record["created_at"]) if record.get("created_at") else None
        counts["customers, signing up again"][again.assess(record, created).action] += 1
    out: dict[str, Any] = {}
    for who, c in sorted(counts.items()):
        n = sum(c.values())
        stopped = c["verify"] + c["refuse"]
        out[who] = {"signups": n, **c, "stopped_share": round(stopped / n, 4) if n else None}
    return out


def _order(record: dict[str, Any]) -> str:
    return str(record.get("created_at") or "")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="hard")
    parser.add_argument("--cuts", default="2,4", help="days after the start, comma-separated")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    spec = load_scenario(args.scenario)
    began = time.perf_counter()
    simulate(spec, OUT / "sim")
    with Store.open(OUT / "store.duckdb", retention=Retention.DERIVED) as store:
        ingest(
            [OUT / "sim" / "events"],
            store,
            accounts=[OUT / "sim" / "accounts.jsonl"],
            quarantine_path=OUT / "q.jsonl",
            options=IngestOptions(workers=psutil.cpu_count() or 1, now=datetime.now(UTC)),
        )
    results: dict[str, Any] = {"scenario": args.scenario, "cuts": {}}
    for day in (float(d) for d in args.cuts.split(",")):
        cut = spec.start + timedelta(days=day)
        out = OUT / f"results-day{day:g}"
        with Store.open(OUT / "store.duckdb") as store:
            scan(store.con, out, load_config(), until=cut)
        results["cuts"][f"day {day:g}"] = replay(OUT / "sim", out, cut)
        print(f"day {day:g}", json.dumps(results["cuts"][f"day {day:g}"]))
    results.update(
        seconds=round(time.perf_counter() - began),
        python=platform.python_version(),
        cpus=psutil.cpu_count(),
        date=time.strftime("%Y-%m-%d"),
    )
    (OUT / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
