"""From a scenario to actors and emitters: who exists, and who decides when they send.

Planning is deterministic for a seed and cheap (thousands of accounts), so worker processes
share one plan and split the days between them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from distillguard.simulate.actor import (
    Actor,
    Address,
    Emitter,
    Label,
    Models,
    Request,
    Style,
    Work,
    iso,
)
from distillguard.simulate.clock import WEEKEND_FACTOR, day_times, poisson
from distillguard.simulate.infra import ClientStack, Networks, client_stack
from distillguard.simulate.scenario import Scenario
from distillguard.simulate.text import TextBank

DAY = 86400.0


@dataclass
class ActorEmitter:
    """One actor sending on its own rhythm: people, apps, batch jobs, agent users."""

    actor: Actor
    works: list[Work]
    rate: float
    profile: str = "diurnal"
    session_gap: float = 60.0
    active_share: float = 0.8
    release_boost: float = 1.0
    """Rate multiplier on the day a model is released (early adopters)."""
    bank: TextBank = field(default_factory=TextBank.load, repr=False)

    @property
    def key(self) -> str:
        return self.actor.account_id

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]:
        if rng.random() > self.active_share or start + DAY <= self.actor.active_from:
            return []
        weekday = int((start // DAY + 3) % 7)  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
        mean = self.rate * (WEEKEND_FACTOR[self.profile] if weekday >= 5 else 1.0)
        if any(start <= at < start + DAY for _, at in models.releases):
            mean *= self.release_boost
        times = day_times(
            self.profile, poisson(rng, mean), rng, self.actor.utc_offset, self.session_gap
        )
        weights = [w.weight for w in self.works]
        out = []
        for t in times:
            ts = start + t
            if not self.actor.live(ts):
                continue
            work = rng.choices(self.works, weights)[0]
            model = models.choose(self.actor, ts, rng, self.actor.home_model)
            render = partial(work.render_with, self.bank)
            out.append(Request(ts, self.actor, model, render, rng.getrandbits(63)))
        return out


class Planner:
    """Builds the actors and emitters of a scenario at a scale."""

    def __init__(self, scenario: Scenario, scale: float = 1.0, seed: int | None = None) -> None:
        self.scenario = scenario
        self.scale = scale
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(f"plan:{self.seed}")
        self.bank = TextBank.load()
        self.net = Networks(self.seed)
        self.models = Models([(m.name, m.released) for m in scenario.models], scenario.start)
        self.start = scenario.start.timestamp()
        self.actors: list[Actor] = []
        self.emitters: list[Emitter] = []
        self.pools: dict[str, list[Address]] = {}
        """Each campaign's proxy exits, for the customers who live behind them."""

    def scaled(self, n: float) -> int:
        return max(1, round(n * self.scale))

    def opaque(self, prefix: str) -> str:
        # Ids carry no hint of population or campaign: the detector must not learn from names.
        return f"{prefix}_{self.rng.getrandbits(48):012x}"

    def created_before(self, days_min: float, days_max: float) -> datetime:
        back = self.rng.uniform(days_min, days_max)
        return self.scenario.start - timedelta(days=back)

    def new_actor(
        self,
        label: Label,
        *,
        addresses: list[Address],
        stack: ClientStack,
        created_at: datetime,
        tier: str,
        email_domain: str,
        payment: str,
        verified: bool,
        org_id: str | None = None,
        anthropic_share: float = 0.4,
        style: Style | None = None,
        **kwargs: Any,
    ) -> Actor:
        rng = self.rng
        account: dict[str, Any] = {
            "account_id": self.opaque("acct"),
            "created_at": iso(created_at.timestamp()),
            "tier": tier,
            "email_domain": email_domain,
            "payment_fingerprint": payment,
            "country": addresses[0].country,
            "verified": verified,
        }
        if org_id:
            account["org_id"] = org_id
        shape = "anthropic" if rng.random() < anthropic_share else "openai"
        other = "OpenAI" if shape == "anthropic" else "Anthropic"
        if stack.user_agent.startswith((other, f"Async{other}")):
            # An SDK speaks its own API: an Anthropic shape comes from the Anthropic SDK.
            stack = client_stack(rng, prefer=shape)
        actor = Actor(
            index=len(self.actors),
            account=account,
            label=label,
            addresses=addresses,
            stack=stack,
            shape=shape,
            style=style or self.style(),
            org_id=org_id,
            home_model=self.models.home(rng),
            active_from=max(created_at.timestamp(), 0.0),
            **kwargs,
        )
        self.actors.append(actor)
        return actor

    def style(self) -> Style:
        rng = self.rng
        return Style(
            temperature=rng.choice((None, None, 0.0, 0.2, 0.7, 0.7, 1.0)),
            max_tokens=rng.choice((None, 1024, 2048, 4096)),
            stream_share=rng.choice((0.0, 0.2, 0.8, 1.0)),
        )

    def addresses(self, kind: str, n: int, country: str | None = None) -> list[Address]:
        net = self.net.pick(kind, self.rng, country)
        v6 = 0.3 if kind == "residential" else 0.0
        return [
            Address(self.net.address(self.rng, net, v6), net.asn, net.country) for _ in range(n)
        ]

    def payment(self) -> str:
        return self.opaque("pm")


OFFSETS = {
    "US": -6.0,
    "CA": -5.0,
    "BR": -3.0,
    "GB": 0.0,
    "FR": 1.0,
    "DE": 1.0,
    "NL": 1.0,
    "ES": 1.0,
    "PL": 1.0,
    "SE": 1.0,
    "TR": 3.0,
    "IN": 5.5,
    "SG": 8.0,
    "HK": 8.0,
    "CN": 8.0,
    "TW": 8.0,
    "KR": 9.0,
    "JP": 9.0,
    "AU": 10.0,
}


def utc_offset(country: str) -> float:
    return OFFSETS.get(country, 0.0)
