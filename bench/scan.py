"""Scan throughput: seconds per stage and peak RSS scanning a simulated store.

Simulates a scenario, ingests it into a fresh store with derived retention (timed, with its
peak RSS: ingest computes the per-request signals), then times `scan` (fingerprints, links,
clusters, verdicts, campaigns, report) and, with --replay, the replay that gives time to
detect. Record results in docs/benchmarks.md with machine and date.

    uv run python bench/scan.py                         # default scenario, scale 1 (~380k events)
    uv run python bench/scan.py --scale 2.6 --replay 6h # ~1M events, with time to detect
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rss import PeakRSS

from distillguard.ingest import IngestOptions, ingest
from distillguard.scan.command import parse_step
from distillguard.scan.run import scan
from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario
from distillguard.store import Retention, Store
from distillguard.verdicts.config import load_config

OUT = Path(__file__).parent / "out" / "scan"


def _simulate_and_ingest(scenario: str, scale: float) -> tuple[int, float, int]:
    shutil.rmtree(OUT, ignore_errors=True)
    sim = simulate(load_scenario(scenario), OUT / "sim", scale=scale)
    began = time.perf_counter()
    with PeakRSS() as peak, Store.open(OUT / "store.duckdb", retention=Retention.DERIVED) as store:
        ingest(
            [OUT / "sim" / "events"],
            store,
            accounts=[OUT / "sim" / "accounts.jsonl"],
            quarantine_path=OUT / "q.jsonl",
            options=IngestOptions(workers=psutil.cpu_count() or 1, now=datetime.now(UTC)),
        )
    return sim.events, time.perf_counter() - began, peak.mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--replay", default=None, help="e.g. 6h: also time the replay")
    parser.add_argument(
        "--reuse", action="store_true", help="scan the store of the last run again (no ingest)"
    )
    args = parser.parse_args()
    if args.reuse:
        manifest = json.loads((OUT / "sim" / "manifest.json").read_text())
        events, args.scale, args.scenario = (
            manifest["events"],
            manifest["scale"],
            manifest["scenario"],
        )
        ingest_s, ingest_peak_mb = float("nan"), 0
    else:
        events, ingest_s, ingest_peak_mb = _simulate_and_ingest(args.scenario, args.scale)
    shutil.rmtree(OUT / "results", ignore_errors=True)
    with PeakRSS() as peak, Store.open(OUT / "store.duckdb") as store:
        began = time.perf_counter()
        result = scan(store.con, OUT / "results", load_config(), replay=parse_step(args.replay))
        seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "scenario": args.scenario,
                "scale": args.scale,
                "events": events,
                "accounts": result.accounts,
                "ingest_s": None if args.reuse else round(ingest_s, 1),
                "ingest_events_per_s": None if args.reuse else round(events / ingest_s),
                "ingest_peak_rss_mb": ingest_peak_mb or None,
                "scan_s": round(seconds, 2),
                "stages_s": result.seconds,
                "replay": args.replay,
                "events_per_s": round(events / seconds),
                "from_logs_events_per_s": None
                if args.reuse
                else round(events / (ingest_s + seconds)),
                "peak_rss_mb": peak.mb,
                "machine": f"{platform.processor() or platform.machine()}, "
                f"{psutil.cpu_count()} CPU, Python {platform.python_version()}",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
