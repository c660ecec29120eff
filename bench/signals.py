"""Per-request signal speed on one core, on simulated traffic, with a cost per part.

Simulates a scenario once (kept under bench/out/signals), reads the request bodies into views,
then times ``score_request`` (all per-request signals: the one implementation the scan and the
gateway share) in this one process, request by request as the gateway calls it and a chunk at a
time as ingest does (``score_requests``), and each of its parts alone. Record results in
docs/benchmarks.md with the machine and the date. Target (issue #4): 20,000 requests/s per core.

    uv run python bench/signals.py                    # 50,000 requests of the default week
    uv run python bench/signals.py --scenario hard --requests 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from distillguard.contract.body import RequestView, view_request
from distillguard.contract.digest import system_digest
from distillguard.ingest.sources import DEFAULT_CHUNK
from distillguard.signals import score_request
from distillguard.signals.capability import capability_scores
from distillguard.signals.intent import IntentRules
from distillguard.signals.lexicon import Lexicon
from distillguard.signals.meaning import Meaning
from distillguard.signals.memo import forget_all
from distillguard.signals.request import client_text, score_requests
from distillguard.signals.template import skeleton
from distillguard.signals.toolshape import tool_signatures
from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario

OUT = Path(__file__).parent / "out" / "signals"


def requests(scenario: str, n: int) -> list[tuple[dict[str, Any], str]]:
    """n request bodies (with their endpoints) in time order from the middle of the scenario.

    In order, as the gateway and ingest see them: conversations and agent loops resend text, and
    the signals remember what they read recently (signals/memo.py); ``--cold`` measures without.
    """
    sim = OUT / scenario
    if not (sim / "manifest.json").exists():
        simulate(load_scenario(scenario), sim, scale=0.3)
    lines = [line for path in sorted((sim / "events").iterdir()) for line in _lines(path)]
    start = max(0, (len(lines) - n) // 2)
    out: list[tuple[dict[str, Any], str]] = []
    for line in lines[start : start + n]:
        event = msgspec.json.decode(line)
        out.append((event["request"], event.get("endpoint", "")))
    return out


def _lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        yield from f


def per_second(fn: Callable[[Any], object], items: list[Any], repeat: int = 5) -> float:
    """Best of ``repeat`` passes, as items per second of CPU time (this machine is noisy)."""
    best = float("inf")
    for _ in range(repeat):
        forget_all()  # each pass starts with nothing remembered
        began = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - began)
    return len(items) / best


def _cold(view: RequestView) -> object:
    forget_all()
    return score_request(view)


def _signatures(view: RequestView) -> object:
    return system_digest(view.system), tool_signatures(view.tools)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument(
        "--cold", action="store_true", help="forget every text before each request (worst case)"
    )
    args = parser.parse_args()
    bodies = requests(args.scenario, args.requests)
    views: list[RequestView] = [view_request(body, endpoint) for body, endpoint in bodies]
    lexicon, rules = Lexicon.default(), IntentRules.default()
    texts = [client_text(v) for v in views]
    hits = [lexicon.find(t) for t in texts]
    pairs = list(zip(views, hits, strict=True))
    meaning = Meaning.default()  # loaded once, as ingest workers and the gateway do
    asked = [("\n".join(t.text for t in v.turns if t.role == "user"), h) for v, h in pairs]
    signals: Callable[[RequestView], object] = score_request
    if args.cold:
        signals = _cold
    step = DEFAULT_CHUNK  # as ingest reads a file
    chunks = [views[i : i + step] for i in range(0, len(views), step)]
    batched = per_second(score_requests, chunks) * len(views) / max(1, len(chunks))
    parts: dict[str, float] = {
        "signals (score_request)": per_second(signals, views),
        f"signals, chunks of {step:,} (ingest)": batched,
        "request view (not a signal)": per_second(lambda b: view_request(*b), bodies),
        "client text": per_second(client_text, views),
        "phrases (lexicon)": per_second(lexicon.find, texts),
        "intent rules": per_second(rules.fire_all, hits),
        "capability": per_second(lambda vh: capability_scores(*vh), pairs),
        "template (skeleton, minhash)": per_second(lambda v: skeleton(v.last_user_text), views),
        "signatures (system, tools)": per_second(_signatures, views),
        "meaning (embedding, models)": per_second(lambda th: meaning.score(*th), asked),
    }
    for name, rate in parts.items():
        print(f"{name:32} {rate:>10,.0f} req/s  {1e6 / rate:7.1f} µs")
    print(
        json.dumps(
            {
                "bench": "signals",
                "scenario": args.scenario,
                "requests": len(views),
                "cold": args.cold,
                "signals_per_s_one_core": round(parts["signals (score_request)"]),
                "signals_batched_per_s_one_core": round(batched),
                "view_per_s_one_core": round(parts["request view (not a signal)"]),
                "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d"),
            }
        )
    )


if __name__ == "__main__":
    main()
