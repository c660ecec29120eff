"""Simulator throughput: seconds to write about 1M contract events (target: under a minute).

Runs the library call as `distillguard simulate` does, on a scenario and scale chosen to give
about a million events, and prints events/s and peak RSS of the process tree. Record results in
docs/benchmarks.md with the machine and the date.

    uv run python bench/simulate.py                      # default scenario, ~1M events
    uv run python bench/simulate.py --scale 1 --workers 1
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import psutil
from rss import PeakRSS

from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario

OUT = Path(__file__).parent / "out" / "simulate"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--scale", type=float, default=2.5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    with PeakRSS() as peak:
        began = time.perf_counter()
        report = simulate(
            load_scenario(args.scenario),
            OUT,
            scale=args.scale,
            workers=args.workers,
            compress=args.gzip,
        )
        seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in (OUT / "events").iterdir())
    print(
        json.dumps(
            {
                "scenario": args.scenario,
                "scale": args.scale,
                "workers": args.workers or psutil.cpu_count(),
                "events": report.events,
                "accounts": report.accounts,
                "seconds": round(seconds, 1),
                "events_per_s": round(report.events / seconds),
                "bytes_per_event": round(size / max(report.events, 1)),
                "peak_rss_tree_mb": peak.mb,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
