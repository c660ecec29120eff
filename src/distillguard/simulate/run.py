"""Run a scenario: plan it, write events day by day (in parallel), accounts and ground truth.

Output directory::

    events/day-001.jsonl ...   contract events, sorted by time within each day
    accounts.jsonl             contract accounts
    labels.csv                 ground truth: account_id,population,campaign,is_attack,campaign_start
    manifest.json              scenario, seed, scale, counts by population and campaign
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec

from distillguard.simulate.campaigns import plan_campaigns
from distillguard.simulate.emit import emit_day
from distillguard.simulate.lookalikes import ALL_KINDS
from distillguard.simulate.plan import Planner
from distillguard.simulate.scenario import Scenario

LABEL_COLUMNS = ("account_id", "population", "campaign", "is_attack", "campaign_start")
_PLAN: Planner | None = None  # inherited by forked workers, so the plan is built once


@dataclass
class SimulationReport:
    out: Path
    events: int
    accounts: int
    attack_accounts: int
    by_label: dict[str, int]
    files: list[str]


def plan(scenario: Scenario, scale: float = 1.0, seed: int | None = None) -> Planner:
    """Actors and emitters for a scenario; deterministic for a seed."""
    planner = Planner(scenario, scale, seed)
    for spec in scenario.populations:
        if not spec.shares_exits_of:
            ALL_KINDS[spec.kind](planner, spec)
    plan_campaigns(planner)
    for spec in scenario.populations:
        if spec.shares_exits_of:  # they live behind a campaign's exits: plan it first
            ALL_KINDS[spec.kind](planner, spec)
    return planner


def _emit(day: int, out_dir: str, compress: bool) -> tuple[str, dict[str, int]]:
    assert _PLAN is not None
    name, counts = emit_day(_PLAN, day, Path(out_dir), compress)
    return name, dict(counts)


def simulate(
    scenario: Scenario,
    out: Path,
    *,
    scale: float = 1.0,
    seed: int | None = None,
    days: int | None = None,
    workers: int | None = None,
    compress: bool = False,
    on_day: Callable[[str, int], None] | None = None,
) -> SimulationReport:
    """Write a scenario's traffic and ground truth under ``out``."""
    global _PLAN
    if days is not None:
        scenario = msgspec.structs.replace(scenario, days=days)
    planner = plan(scenario, scale, seed)
    events_dir = out / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for stale in events_dir.glob("day-*.jsonl*"):
        stale.unlink()
    _write_accounts(planner, out)
    workers = max(1, min(workers or (os.cpu_count() or 1), scenario.days))
    totals: Counter[str] = Counter()
    files = []
    _PLAN = planner
    try:
        if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
            results = (_emit(d, str(events_dir), compress) for d in range(scenario.days))
            for name, counts in results:
                files.append(name)
                totals.update(counts)
                if on_day:
                    on_day(name, sum(counts.values()))
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                futures = [
                    pool.submit(_emit, d, str(events_dir), compress) for d in range(scenario.days)
                ]
                for future in futures:
                    name, counts = future.result()
                    files.append(name)
                    totals.update(counts)
                    if on_day:
                        on_day(name, sum(counts.values()))
    finally:
        _PLAN = None
    report = SimulationReport(
        out=out,
        events=sum(totals.values()),
        accounts=len(planner.actors),
        attack_accounts=sum(a.label.is_attack for a in planner.actors),
        by_label=dict(sorted(totals.items())),
        files=[f"events/{f}" for f in files],
    )
    manifest = {
        "scenario": scenario.name,
        "seed": planner.seed,
        "scale": scale,
        "days": scenario.days,
        "start": scenario.start.isoformat(),
        "models": [{"name": m.name, "released": m.released.isoformat()} for m in scenario.models],
        "events": report.events,
        "accounts": report.accounts,
        "attack_accounts": report.attack_accounts,
        "events_by_label": report.by_label,
        "files": report.files,
    }
    (out / "manifest.json").write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
    return report


def _write_accounts(planner: Planner, out: Path) -> None:
    encode = msgspec.json.Encoder().encode
    with (out / "accounts.jsonl").open("wb") as fh:
        for a in planner.actors:
            fh.write(encode(a.account) + b"\n")
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(LABEL_COLUMNS)
        for a in planner.actors:
            lab = a.label
            start = (
                lab.campaign_start.isoformat().replace("+00:00", "Z") if lab.campaign_start else ""
            )
            writer.writerow((a.account_id, lab.population, lab.campaign, int(lab.is_attack), start))
