"""Render speed of the prompt-text layer, per intent: renders/s and median microseconds.

The simulator must make 1M events in under a minute on 2 cores, so a render should cost
about 30 µs or less. Each intent renders from a few fixed templates (as a campaign or a
population does) at paraphrase 0 and 1. Record results in docs/benchmarks.md with the machine
and the date.

    uv run python bench/simulate_text.py              # 2000 renders per intent and setting
    uv run python bench/simulate_text.py --n 500 --intent coding_agent
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

from distillguard.simulate.text import INTENTS, TextBank


def measure(bank: TextBank, intent: str, n: int, paraphrase: float) -> tuple[float, float]:
    """(renders per second, median µs per render) over n renders from 4 templates."""
    rng = random.Random(1)
    templates = [bank.template(intent, rng, lang="en") for _ in range(4)]
    times = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        templates[i & 3].render(rng, paraphrase)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    return n / total, statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="renders per intent and setting")
    parser.add_argument("--intent", action="append", help="only these intents")
    args = parser.parse_args()
    t0 = time.perf_counter()
    bank = TextBank.load()
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}; TextBank.load {time.perf_counter() - t0:.2f} s"
    )
    print(
        f"{'intent':<26}{'p=0 renders/s':>15}{'median µs':>11}{'p=1 renders/s':>15}"
        f"{'median µs':>11}"
    )
    medians = []
    for intent in args.intent or sorted(INTENTS):
        rate0, med0 = measure(bank, intent, args.n, 0.0)
        rate1, med1 = measure(bank, intent, args.n, 1.0)
        medians.append(med1)
        print(f"{intent:<26}{rate0:>15,.0f}{med0:>11.1f}{rate1:>15,.0f}{med1:>11.1f}")
    print(f"median over intents (p=1): {statistics.median(medians):.1f} µs")


if __name__ == "__main__":
    main()
