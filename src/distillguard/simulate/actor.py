"""An actor is one simulated account: who it is, where it connects from, what it sends.

Populations and campaigns build actors; emitters decide when they send; ``emit`` turns each
(actor, time, prompt) into a contract event.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from distillguard.simulate.infra import ClientStack
from distillguard.simulate.text import Prompt, Template, TextBank


@dataclass(frozen=True)
class Label:
    """Ground truth for one account: written to labels.csv, never into the events."""

    population: str
    campaign: str = ""
    is_attack: bool = False
    campaign_start: datetime | None = None


@dataclass(frozen=True)
class Address:
    ip: str
    asn: int
    country: str


@dataclass(frozen=True)
class Style:
    """Request parameters a client habitually sends."""

    temperature: float | None = 0.7
    max_tokens: int | None = None
    stream_share: float = 0.3
    logprobs_share: float = 0.0


@dataclass
class Work:
    """One kind of request an actor sends: a fixed skeleton, or a fresh one each time."""

    intent: str
    weight: float
    languages: dict[str, float]
    paraphrase: float = 1.0
    skeletons: list[Template] = field(default_factory=list)

    def render_with(self, bank: TextBank, rng: random.Random) -> Prompt:
        if self.skeletons:
            template = rng.choice(self.skeletons)
        else:
            template = bank.template(self.intent, rng, lang=pick(rng, self.languages))
        return template.render(rng, paraphrase=self.paraphrase)


@dataclass
class Actor:
    index: int
    account: dict[str, Any]
    label: Label
    addresses: list[Address]
    stack: ClientStack
    shape: str = "openai"
    home_model: str = ""
    style: Style = field(default_factory=Style)
    org_id: str | None = None
    sticky: bool = True
    """Sticky actors keep their first address most of the time; others rotate per request."""
    utc_offset: float = 0.0
    active_from: float = 0.0
    active_to: float = float("inf")
    adoption: float = 0.15
    adoption_ramp_hours: float = 72.0
    renames_tools: bool = False
    """Renames tools and their parameters in its own style (attackers dodging schema matching)."""

    @property
    def account_id(self) -> str:
        return str(self.account["account_id"])

    def address(self, rng: random.Random) -> Address:
        if self.sticky and (len(self.addresses) == 1 or rng.random() < 0.9):
            return self.addresses[0]
        return rng.choice(self.addresses)

    def live(self, t: float) -> bool:
        return self.active_from <= t < self.active_to


@dataclass(frozen=True)
class Request:
    """What an emitter decided: this actor sends to this model at this time.

    The prompt is rendered later, from its own seed, once the day's requests are sorted: a day
    of a large scenario holds millions of these, and only one rendered prompt at a time.
    """

    ts: float
    actor: Actor
    model: str
    prompt: Callable[[random.Random], Prompt]
    seed: int


class Emitter(Protocol):
    """Decides the requests of one day for the actors it drives."""

    @property
    def key(self) -> str: ...

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]: ...


class Models:
    """Which model a request goes to: the established ones, and adoption of new releases."""

    def __init__(self, models: list[tuple[str, datetime]], start: datetime) -> None:
        ordered = sorted(models, key=lambda m: m[1])
        self.established = [name for name, at in ordered if at <= start] or [ordered[0][0]]
        self.releases = [(name, at.timestamp()) for name, at in ordered if at > start]

    def newest_at(self, t: float) -> tuple[str, float] | None:
        out = None
        for name, at in self.releases:
            if at <= t:
                out = (name, at)
        return out

    def home(self, rng: random.Random) -> str:
        # Most traffic sits on the newest established model; some on older or smaller ones.
        if len(self.established) == 1 or rng.random() < 0.7:
            return self.established[-1]
        return rng.choice(self.established[:-1])

    def choose(self, actor: Actor, t: float, rng: random.Random, home: str) -> str:
        release = self.newest_at(t)
        if release is None:
            return home
        hours = (t - release[1]) / 3600.0
        share = actor.adoption * min(1.0, hours / max(actor.adoption_ramp_hours, 0.01))
        return release[0] if rng.random() < share else home


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """One key, drawn by weight."""
    total = sum(weights.values())
    x = rng.random() * total
    for key, w in weights.items():
        x -= w
        if x < 0:
            return key
    return next(reversed(weights))


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
