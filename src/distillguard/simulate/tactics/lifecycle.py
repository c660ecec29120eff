"""When farm accounts are born and die: aged accounts, waves of sign-ups, short-lived
accounts replaced with fresh cards, and the homes behind residential proxy exits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from distillguard.simulate.actor import Actor, Address
from distillguard.simulate.plan import DAY, Planner
from distillguard.simulate.scenario import Campaign, Population


def signup(p: Planner, spec: Campaign, k: int, farm_at: datetime) -> datetime:
    """Creation time of the farm's ``k``-th account (a burst unless a knob says otherwise)."""
    c = spec.creation
    if c.aged_days:
        return farm_at - timedelta(days=p.rng.uniform(*c.aged_days))
    wave = k % max(1, c.waves)
    return farm_at + timedelta(days=wave * c.wave_every_days, hours=p.rng.uniform(0, c.burst_hours))


def replace_on_ban(
    p: Planner,
    spec: Campaign,
    actors: list[Actor],
    start: float,
    end: float,
    make: Callable[[datetime, int, bool], Actor],
) -> None:
    """Every account lives ``lifetime_days``; an hour or so after its ban a fresh one signs up."""
    r = spec.replacement
    if r is None:
        return
    queue, k = list(actors), len(actors)
    while queue:
        a = queue.pop(0)
        a.active_to = max(a.active_from, start) + p.rng.uniform(*r.lifetime_days) * DAY
        if a.active_to >= end:
            continue
        created = datetime.fromtimestamp(a.active_to + p.rng.uniform(1800, 4 * 3600), UTC)
        fresh = make(created, k, r.fresh_cards)
        k += 1
        actors.append(fresh)
        queue.append(fresh)


def exits(p: Planner, spec: Population, n: int) -> list[Address] | None:
    """``n`` of a campaign's proxy exits as a customer's own addresses (``shares_exits_of``)."""
    if not spec.shares_exits_of:
        return None
    pool = p.pools[spec.shares_exits_of]
    return [p.rng.choice(pool) for _ in range(n)]
