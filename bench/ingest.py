"""Ingest throughput and peak memory on a generated log (default: 1M events).

Runs the real CLI (`distillguard ingest`) in a subprocess, samples the RSS of it
and its worker processes every 50 ms, and prints events/s and peak RSS (the
whole process tree, and the largest single process). Record results in
docs/benchmarks.md with the machine and the date.

    uv run python bench/ingest.py                  # 1M events, default workers
    uv run python bench/ingest.py --events 200000 --workers 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import psutil

from distillguard.contract.examples import example_event

OUT = Path(__file__).parent / "out"


def generate(n: int, gz: bool) -> Path:
    """Write n example events once; later runs reuse the file."""
    path = OUT / f"events-{n}.jsonl{'.gz' if gz else ''}"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    tmp = path.with_suffix(".tmp")
    opener = gzip.open if gz else open
    with opener(tmp, "wb") as f:
        for i in range(n):
            f.write(encoder.encode(example_event(i, accounts=5000)) + b"\n")
    tmp.rename(path)
    return path


def run(path: Path, workers: int | None, store: Path) -> dict[str, float]:
    store.unlink(missing_ok=True)
    store.with_name(store.name + ".wal").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "distillguard", "ingest", str(path), "--store", str(store), "-q"]
    if workers:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    parent = psutil.Process(proc.pid)
    peak_tree = peak_single = 0
    while proc.poll() is None:
        try:
            rss = [parent.memory_info().rss] + [
                c.memory_info().rss for c in parent.children(recursive=True)
            ]
        except psutil.Error:
            rss = []
        if rss:
            peak_tree = max(peak_tree, sum(rss))
            peak_single = max(peak_single, max(rss))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:  # 3 = some records quarantined: the figures would not be comparable
        raise SystemExit(f"ingest exited {proc.returncode}; see {store.stem}.quarantine.jsonl")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_tree_mb": round(peak_tree / 2**20),
        "peak_rss_single_mb": round(peak_single / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=[0],
        help="worker counts to compare; 0 means the CLI's default",
    )
    parser.add_argument("--gzip", action="store_true", help="compress the generated log")
    args = parser.parse_args()

    t0 = time.perf_counter()
    path = generate(args.events, args.gzip)
    print(
        f"log: {path} ({path.stat().st_size / 2**20:.0f} MiB, made in "
        f"{time.perf_counter() - t0:.0f} s)",
        file=sys.stderr,
    )
    for workers in args.workers:
        result = run(path, workers or None, OUT / "bench.duckdb")
        rate = args.events / result["seconds"]
        print(
            json.dumps(
                {
                    "bench": "ingest",
                    "events": args.events,
                    "gzip": args.gzip,
                    "workers": workers or "default",
                    "events_per_s": round(rate),
                    **result,
                    "bytes_per_event": round(path.stat().st_size / args.events),
                    "cpus": psutil.cpu_count(),
                    "python": platform.python_version(),
                    "date": time.strftime("%Y-%m-%d"),
                }
            )
        )


if __name__ == "__main__":
    main()
