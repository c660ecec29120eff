"""Partner matching: what the scan's partners stage costs as partners share more indicators.

Times importing a bundle of N indicators into a fresh store (judging every object). Then
opens a store read-only (default: the demo's), puts N partner indicators in a temporary
``partner_indicators`` table that hides the store's own (half are values the store's traffic
holds: addresses, /24s, clients, templates, system prompts, tool schemas; half match nothing),
and times the scan's detection stages. Record results in docs/benchmarks.md with machine and
date.

    make demo && uv run python bench/partners.py                 # 1k, 10k, 100k indicators
    uv run python bench/partners.py --store other.duckdb --sizes 1000,200000
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from distillguard.intel.partners import keep, read_bundle
from distillguard.scan.run import detect
from distillguard.store import Store
from distillguard.store.database import PARTNER_TABLE
from distillguard.verdicts.config import load_config

_COLUMNS = ["source", "stix_id", "kind", "value", "salted", "confidence", "campaign", "expires",
            "imported_at", "local_value", "campaign_ref"]  # fmt: skip
# (kind, expression over events): where the matching half of the indicators comes from.
SOURCES = [
    ("ip", "ip"),
    ("prefix", "ip_prefix"),
    ("client", "user_agent"),
    ("template", "'h' || template_head::VARCHAR"),
    ("system", "system_hash::VARCHAR"),
    ("tools", "tool_shape_hash::VARCHAR"),
]


def _indicators(
    con: duckdb.DuckDBPyConnection, n: int, rng: random.Random
) -> list[tuple[object, ...]]:
    """N rows for partner_indicators: half real values of the store, half values that miss."""
    real: list[tuple[str, str]] = []
    for kind, expr in SOURCES:
        rows = con.execute(
            f"SELECT DISTINCT {expr} FROM events WHERE {expr} IS NOT NULL LIMIT {n}"
        ).fetchall()
        real += [(kind, str(v)) for (v,) in rows]
    rng.shuffle(real)
    chosen = real[: n // 2]
    misses = n - len(chosen)  # benchmark-range addresses (RFC 2544) no traffic here uses
    chosen += [("ip", f"198.18.{rng.randrange(256)}.{rng.randrange(256)}") for _ in range(misses)]
    expires = datetime.now(UTC) + timedelta(days=30)
    now = datetime.now(UTC)
    return [
        ("bench-partner", f"indicator--{k}", kind, value, False, 80, f"campaign {k % 50}",
         expires, now, None, f"campaign--{k % 50}")
        for k, (kind, value) in enumerate(chosen)
    ]  # fmt: skip


def _time_import(n: int) -> float:
    """Seconds to judge a bundle of n address indicators and store them in a fresh store."""
    objects = [
        {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{k:08d}",
         "pattern_type": "stix", "confidence": 70, "modified": "2026-11-29T00:00:00Z",
         "pattern": f"[ipv4-addr:value = '10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}']"}
        for k in range(n)
    ]  # fmt: skip
    folder = Path(__file__).parent / "out"
    folder.mkdir(exist_ok=True)
    path, store = folder / "partners-bundle.json", folder / "partners.duckdb"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--bench", "objects": objects}))
    store.unlink(missing_ok=True)
    began = time.perf_counter()
    report = read_bundle(path, "bench", 90)
    with Store.open(store) as db:
        keep(db, report, None)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path(".demo/store.duckdb"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    if not args.store.exists():
        raise SystemExit(f"{args.store}: no store; run `make demo` first or pass --store")
    sizes = [int(x) for x in args.sizes.split(",")]
    imports = {n: round(_time_import(n), 2) for n in sizes}
    for n, took in imports.items():
        print(f"{n:>7} indicators: import (judge each object, store) {took:.2f} s")
    con = duckdb.connect(str(args.store), read_only=True)
    # The store's own table layout, as a temporary table that hides whatever the store holds.
    table = PARTNER_TABLE.replace("CREATE TABLE IF NOT EXISTS", "CREATE OR REPLACE TEMP TABLE")
    (events,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
    cfg = load_config(None)
    rng = random.Random(7)
    results = []
    for n in [0, *sizes]:
        con.execute(table)
        if n:
            rows = _indicators(con, n, rng)
            names = [c.split()[0] for c in _COLUMNS]
            con.register("_rows", pa.table({k: [r[i] for r in rows] for i, k in enumerate(names)}))
            con.execute(f"INSERT INTO partner_indicators ({', '.join(names)}) SELECT * FROM _rows")
            con.unregister("_rows")
        seconds = detect(con, cfg)
        (hit,) = con.execute("SELECT count(*) FROM partner_fp").fetchall()[0]
        row = {"indicators": n, "accounts_hit": hit, **seconds}
        results.append(row)
        print(
            f"{n:>7} indicators: partners stage {seconds['partners']:.2f} s, "
            f"detection {sum(seconds.values()):.2f} s, {hit} accounts hit"
        )
    out = Path(__file__).parent / "out" / "partners.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "store": str(args.store),
                "events": events,
                "machine": platform.platform(),
                "date": datetime.now(UTC).date().isoformat(),
                "import_seconds": imports,
                "results": results,
            },
            indent=1,
        )
    )
    print(f"{events:,} events; results in {out}")


if __name__ == "__main__":
    main()
