"""Decisions that teach, measured: what a model learned from one scenario's decisions changes
in recall and false-positive rate on other scenarios and on the next week of the same one.

The analyst is simulated the way a review team works: every account the rules put at ``watch``
or above (the queue) and a random sample of the accounts they cleared (spot checks) are
labelled from the ground truth (confirmed when it is a campaign's, dismissed when not).
``distillguard learn`` fits on those decisions and the scan's features; each evaluation world
is then scanned with and without ``--model``. A world is simulated, ingested and scanned by
the real commands; worlds already built under ``--out`` are reused. The red-team scenarios
were written by a helper that had not read the detection code (docs/redteam.md). Record
results in docs/benchmarks.md with machine and date.

    uv run python bench/learning.py                      # train on hard, evaluate on the rest
    uv run python bench/learning.py --train content --worlds default,hard
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

DG = [sys.executable, "-m", "distillguard"]
WORLDS = [
    "hard@2",  # the same scenario, another seed: the next week
    "default",
    "content",
    "redteam/paraphrase",
    "redteam/reseller-majority",
    "redteam/curriculum",
    "redteam/chat-hidden",
    "redteam/ban-replace",
    "redteam/multilingual",
    "redteam/paraphrase~norecords",  # without sign-up records: where the rules' FPs are
    "redteam/reseller-majority~norecords",
    "hard~norecords",
]


def _run(*args: str) -> None:
    done = subprocess.run([*DG, *args], capture_output=True, text=True)
    if done.returncode not in (0, 3):  # 3: some records quarantined, the rest ingested
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}")


def world(name: str, root: Path) -> Path:
    """Simulate, ingest and scan ``name`` under ``root``, once: ``scenario[@seed][~norecords]``
    (``~norecords``: the events ingested without the account records, as a provider without
    sign-up data has them)."""
    spec, _, variant = name.partition("~")
    scenario, _, seed = spec.partition("@")
    where = root / name.replace("/", "-")
    if (where / "base" / "accounts.csv").exists():
        return where
    sim = where / "sim"
    began = time.perf_counter()
    _run("simulate", "--scenario", scenario, "--out", str(sim), *(["--seed", seed] if seed else []))
    store = where / "store.duckdb"
    store.unlink(missing_ok=True)
    records = ["--accounts", str(sim / "accounts.jsonl")] if variant != "norecords" else []
    _run("ingest", str(sim / "events"), *records, "--store", str(store), "-q")
    _run("scan", "--store", str(store), "--out", str(where / "base"), "-q")
    print(f"  {name}: built in {time.perf_counter() - began:.0f} s", flush=True)
    return where


def truth(where: Path) -> dict[str, bool]:
    with open(where / "sim" / "labels.csv", newline="") as f:
        return {r["account_id"]: r["is_attack"] == "1" for r in csv.DictReader(f)}


def rows(results: Path) -> dict[str, dict[str, str]]:
    with open(results / "accounts.csv", newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


def analyst(where: Path, spot_checks: int, seed: int = 7) -> tuple[int, int]:
    """Label the queue (watch and above) and ``spot_checks`` accounts drawn at random from
    those the rules cleared (the sample a review team checks of what was let through), each
    from the truth, into base/labels.jsonl. (confirmed, dismissed)."""
    real, got = truth(where), rows(where / "base")
    cleared = sorted(a for a, r in got.items() if r["verdict"] == "clear")
    sample = set(random.Random(seed).sample(cleared, min(spot_checks, len(cleared))))
    counts = [0, 0]
    with open(where / "base" / "labels.jsonl", "w") as f:
        for a, r in got.items():
            if r["verdict"] == "clear" and a not in sample:
                continue
            counts[real.get(a, False)] += 1
            entry = {"ts": "2026-03-09T10:00:00+00:00", "who": "bench", "target": "account",
                     "id": a, "label": "confirmed" if real.get(a) else "dismissed", "note": "",
                     "evidence": {a: float(r["evidence_risk"] or r["risk"])}}  # fmt: skip
            f.write(json.dumps(entry) + "\n")
    return counts[1], counts[0]


def score(where: Path, results: Path) -> dict[str, float]:
    real, got = truth(where), rows(results)
    flagged = {a for a, r in got.items() if r["verdict"] in ("challenge", "block")}
    attack = {a for a, is_attack in real.items() if is_attack}
    legit = {a for a, is_attack in real.items() if not is_attack}
    return {
        "recall": len(flagged & attack) / max(1, len(attack)),
        "fpr": len(flagged & legit) / max(1, len(legit)),
        "attack": len(attack),
        "legit": len(legit),
        "fp": len(flagged & legit),
        "tp": len(flagged & attack),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", default="hard", help="the world whose decisions are learned")
    parser.add_argument("--worlds", default=",".join(WORLDS), help="worlds to evaluate on")
    parser.add_argument("--out", type=Path, default=Path("bench/out/learning"))
    parser.add_argument("--spot-checks", type=int, default=100,
                        help="cleared accounts the analyst samples and labels too")  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {platform.python_version()}")
    trained = world(args.train, args.out)
    confirmed, dismissed = analyst(trained, args.spot_checks)
    print(f"train on {args.train}: {confirmed} confirmed, {dismissed} dismissed "
          f"(the queue and {args.spot_checks} spot checks of cleared accounts)")  # fmt: skip
    model = args.out / f"model-{args.train.replace('/', '-')}"
    done = subprocess.run([*DG, "learn", "--results", str(trained / "base"), "--out", str(model)],
                          capture_output=True, text=True)  # fmt: skip
    print("  " + (done.stdout or done.stderr).strip().replace("\n", " "))
    if done.returncode != 0:
        print("no model: nothing to compare (the case where the decisions cannot teach)")
        return
    table = []
    for name in [args.train, *args.worlds.split(",")]:
        where = world(name, args.out)
        learned = where / f"with-{model.name}"
        if not (learned / "accounts.csv").exists():
            _run("scan", "--store", str(where / "store.duckdb"), "--out", str(learned),
                 "--model", str(model), "-q")  # fmt: skip
        base, new = score(where, where / "base"), score(where, learned)
        table.append((name, base, new))
    print("\n| world | campaign accounts | legitimate | recall rules → +model | "
          "FPR rules → +model | false positives |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, base, new in table:
        mark = " (trained on)" if name == args.train else ""
        print(f"| {name}{mark} | {base['attack']:,} | {base['legit']:,} | "
              f"{base['recall']:.1%} → {new['recall']:.1%} | "
              f"{base['fpr']:.2%} → {new['fpr']:.2%} | {base['fp']} → {new['fp']} |")  # fmt: skip
    (args.out / f"results-{model.name}.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
