"""End-to-end scans from JSONL with both engines, beside a bare decode of the same files.

Simulates the ``incident`` scenario at ``--scale`` (6 gives about a million events), then runs,
each as a new process as a user would, and each timed with the peak RSS of its process tree:

- a bare decode: every line of every file through ``msgspec.json.decode`` (the ceiling);
- ``distillguard scan EVENTS --accounts ACCOUNTS --out DIR`` (the embedded engine: ingest with
  the per-request signals, then the scan);
- the same with ``--engine spark`` (local Spark, every core), unless ``--engines duckdb``.

Then it compares the two results: the share of accounts with the same verdict, and whether the
campaigns are the same. One JSON line per run goes to stdout; record them in
docs/benchmarks.md with the machine and the date.

    uv run python bench/engines.py --scale 6             # ~1M events, both engines
    uv run python bench/engines.py --scale 100 --engines duckdb   # ~16M events
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rss import PeakRSS

from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario

OUT = Path(__file__).parent / "out" / "engines"
CLI = [sys.executable, "-m", "distillguard"]


def _decode(events: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS and lines for a bare decode of every line, in a fresh process."""
    code = (
        "import msgspec, pathlib, sys\n"
        "n = 0\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.jsonl')):\n"
        "    with open(p, 'rb') as f:\n"
        "        for line in f:\n"
        "            msgspec.json.decode(line); n += 1\n"
        "print(n)\n"
    )
    began = time.perf_counter()
    with PeakRSS() as peak:
        done = subprocess.run(
            [sys.executable, "-c", code, str(events)], check=True, capture_output=True, text=True
        )
    return time.perf_counter() - began, peak.bytes, int(done.stdout)


def _scan(sim: Path, engine: str) -> tuple[float, int, Path]:
    out = OUT / engine
    shutil.rmtree(out, ignore_errors=True)
    args = [*CLI, "scan", str(sim / "events"), "--accounts", str(sim / "accounts.jsonl")]
    args += ["--out", str(out), "--engine", engine, "-q"]
    began = time.perf_counter()
    with PeakRSS() as peak:
        subprocess.run(args, check=True)
    return time.perf_counter() - began, peak.bytes, out


def _verdicts(out: Path) -> dict[str, str]:
    with open(out / "accounts.csv", newline="") as f:
        return {row["account_id"]: row["verdict"] for row in csv.DictReader(f)}


def _campaigns(out: Path) -> list[tuple[str, ...]]:
    return sorted(
        tuple(sorted(c["accounts"])) for c in json.loads((out / "campaigns.json").read_text())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=6.0)
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the simulated logs and earlier results there"
    )
    args = parser.parse_args()
    sim = OUT / "sim"
    if not (args.reuse and (sim / "manifest.json").exists()):
        shutil.rmtree(OUT, ignore_errors=True)
        simulate(load_scenario("incident"), sim, scale=args.scale)
    size = sum(p.stat().st_size for p in (sim / "events").glob("*.jsonl"))
    decode_s, decode_rss, events = _decode(sim / "events")
    base = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "scenario": "incident",
        "scale": args.scale,
        "events": events,
        "jsonl_mb": round(size / 2**20),
    }
    print(
        json.dumps(
            base
            | {
                "run": "bare decode",
                "seconds": round(decode_s, 1),
                "events_per_s": round(events / decode_s),
                "peak_rss_mb": decode_rss // 2**20,
            }
        ),
        flush=True,
    )
    outs = {e: OUT / e for e in ("duckdb", "spark") if (OUT / e / "accounts.csv").exists()}
    for engine in args.engines.split(","):
        seconds, rss, outs[engine] = _scan(sim, engine)
        print(
            json.dumps(
                base
                | {
                    "run": f"scan --engine {engine}",
                    "seconds": round(seconds, 1),
                    "events_per_s": round(events / seconds),
                    "of_decode": round(decode_s / seconds, 3),
                    "peak_rss_mb": rss // 2**20,
                }
            ),
            flush=True,
        )
    if {"duckdb", "spark"} <= outs.keys():
        duck, spark = _verdicts(outs["duckdb"]), _verdicts(outs["spark"])
        same = sum(duck.get(a) == v for a, v in spark.items()) / max(
            len(duck.keys() | spark.keys()), 1
        )
        print(
            json.dumps(
                base
                | {
                    "run": "parity",
                    "accounts": len(duck),
                    "same_verdict": round(same, 5),
                    "same_campaigns": _campaigns(outs["duckdb"]) == _campaigns(outs["spark"]),
                }
            )
        )


if __name__ == "__main__":
    main()
