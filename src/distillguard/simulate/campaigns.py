"""Distillation campaigns as the public record describes them, each tactic a knob.

One emitter drives a whole campaign: a pipeline with a daily budget of requests spread over
an account farm by a load balancer, which is what makes its accounts move in lockstep. See
``Campaign`` in ``scenario.py`` for the knobs and ``docs/simulator.md`` for what each models.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from distillguard.simulate.actor import Actor, Address, Label, Models, Request, Style, Work, pick
from distillguard.simulate.clock import day_times, poisson
from distillguard.simulate.infra import ClientStack, Networks, client_stack, custom_stack
from distillguard.simulate.plan import DAY, Planner, utc_offset
from distillguard.simulate.populations import EVERYDAY
from distillguard.simulate.scenario import Campaign
from distillguard.simulate.tactics.lifecycle import replace_on_ban, signup
from distillguard.simulate.text import Prompt, TextBank, rename_tools

# Fixed instructions a pipeline injects into every request (the operator's "house prompt").
BOILERPLATE = (
    "Answer completely and precisely. Do not omit intermediate steps.",
    "You are an expert assistant. Provide a thorough, self-contained answer.",
    "Respond in the same language as the question. Be rigorous and explicit.",
    "Think carefully and make sure every part of the task is addressed.",
    "Your answer will be reviewed by domain experts; be exhaustive and accurate.",
)


@dataclass
class CampaignEmitter:
    spec: Campaign
    actors: list[Actor]
    works: list[Work]
    start: float
    end: float
    boilerplate: str | None
    pivot_at: float | None
    pivot_model: str | None
    languages: dict[str, float]
    rate: float
    bank: TextBank = field(repr=False)

    @property
    def key(self) -> str:
        return f"campaign:{self.spec.name}"

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]:
        lo, hi = max(start, self.start), min(start + DAY, self.end)
        if hi <= lo:
            return []
        spec = self.spec
        n = poisson(rng, self.rate * (hi - lo) / DAY)
        times = [start + t for t in day_times(spec.timing, n, rng, utc_offset("CN"))]
        out = []
        turn = day * 7919  # per day, so the output does not depend on how days map to workers
        live: list[Actor] = []
        changes = -1.0  # the farm changes only at creations and bans: recompute then
        sent: dict[str, int] = {}
        cap = spec.per_account_cap
        for ts in times:
            if not lo <= ts < hi:
                continue
            if ts >= changes:
                live = [a for a in self.actors if a.live(ts)]
                changes = min(
                    (t for a in self.actors for t in (a.active_from, a.active_to) if t > ts),
                    default=float("inf"),
                )
            if not live:
                continue
            if spec.load_balancing == "round_robin":
                turn += 1
                actor = live[turn % len(live)]
            else:
                actor = rng.choice(live)
            if cap is not None:
                # Slow and low: the operator keeps every account under a daily limit.
                if sent.get(actor.account_id, 0) >= cap:
                    continue
                sent[actor.account_id] = sent.get(actor.account_id, 0) + 1
            model = self._model(actor, ts, rng)
            out.append(Request(ts, actor, model, partial(self._prompt, actor), rng.getrandbits(63)))
        return out

    def _prompt(self, actor: Actor, rng: random.Random) -> Prompt:
        x = rng.random()
        if x < self.spec.mixing + self.spec.camouflage:
            # Unrelated customers behind a reseller, or camouflage: ordinary, diverse requests.
            intent = pick(rng, EVERYDAY)
            lang = pick(rng, self.languages if x >= self.spec.mixing else {"en": 2, "zh": 1})
            return self.bank.template(intent, rng, lang=lang).render(rng, paraphrase=1.0)
        work = rng.choices(self.works, [w.weight for w in self.works])[0]
        return self._finish(actor, work.render_with(self.bank, rng))

    def _finish(self, actor: Actor, prompt: Prompt) -> Prompt:
        """What the pipeline does to every harvesting prompt: renamed tools, its boilerplate."""
        if actor.renames_tools and prompt.tools:
            prompt = _renamed(prompt, actor.account_id)
        if self.boilerplate:
            system = f"{prompt.system}\n\n{self.boilerplate}" if prompt.system else self.boilerplate
            prompt = replace(prompt, system=system)
        return prompt

    def _model(self, actor: Actor, ts: float, rng: random.Random) -> str:
        share = self.spec.pivot.share if self.spec.pivot else 0.0
        past = self.pivot_at is not None and ts >= self.pivot_at
        if past and self.pivot_model and rng.random() < share:
            return self.pivot_model
        return actor.home_model


def _renamed(prompt: Prompt, account_id: str) -> Prompt:
    """The account's renaming applied to the tools and to earlier calls of them."""
    old = prompt.tools or []
    # One seed per account: the same tool gets the same new name in every request.
    new = _rename_cached(account_id, old)
    names = {str(o["name"]): (n, _param_map(o, n)) for o, n in zip(old, new, strict=True)}
    messages = []
    for m in prompt.messages:
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                tool, params = names.get(c["name"], (None, {}))
                args = c.get("arguments")
                if isinstance(args, dict):
                    args = {params.get(k, k): v for k, v in args.items()}
                calls.append({**c, "name": tool["name"] if tool else c["name"], "arguments": args})
            m = {**m, "tool_calls": calls}
        messages.append(m)
    return replace(prompt, tools=new, messages=messages)


_RENAMES: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}


def _rename_cached(account_id: str, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # rename_tools maps a name the same way for one seed whatever list it is in: cache by names.
    key = (account_id, tuple(str(t["name"]) for t in old))
    if key not in _RENAMES:
        if len(_RENAMES) > 50_000:
            _RENAMES.clear()
        _RENAMES[key] = rename_tools(old, random.Random(f"rename:{account_id}"))
    return _RENAMES[key]


def _param_map(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    before = list((old.get("parameters") or {}).get("properties") or {})
    after = list((new.get("parameters") or {}).get("properties") or {})
    return dict(zip(before, after, strict=False))


def plan_campaign(p: Planner, spec: Campaign) -> None:
    rng = p.rng
    start = p.start + spec.start_day * DAY
    end = p.start + (spec.end_day if spec.end_day is not None else p.scenario.days) * DAY
    farm_at = datetime.fromtimestamp(start, UTC) - timedelta(days=spec.creation.days_before_start)
    label = Label("attack", spec.name, True, datetime.fromtimestamp(start, UTC))
    # An operator's infrastructure and pipeline are its own, whichever provider it points them
    # at: with `operator` set they come from the operator's seed, not the scenario's.
    infra, net = p.rng, p.net
    if spec.operator:
        infra = random.Random(f"operator:{spec.operator}")
        net = Networks(int.from_bytes(spec.operator.encode()[:8].ljust(8, b"\0"), "big"))
    pool = _proxy_pool(p, spec, infra, net)
    p.pools[spec.name] = pool
    stacks = _stacks(spec, infra)
    payments = [f"pm_{infra.getrandbits(48):012x}" for _ in range(p.scaled(spec.payment_methods))]
    domains = _domains(p, spec, infra)
    style = Style(
        temperature=infra.choice((0.0, 0.6, 1.0)),
        max_tokens=infra.choice((4096, 8192)),
        stream_share=infra.choice((0.0, 1.0)),
        logprobs_share=0.0,
    )

    def account(created: datetime, k: int, fresh: bool = False) -> Actor:
        sticky = spec.proxy.rotation == "sticky"
        addrs = [pool[k % len(pool)]] if sticky else pool
        # A replacement with fresh cards pays, and signs up, with what was never seen before.
        payment = f"pm_{rng.getrandbits(48):012x}" if fresh else payments[k % len(payments)]
        a = p.new_actor(
            label,
            addresses=addrs,
            stack=stacks[k % len(stacks)],
            created_at=created,
            tier=pick(rng, spec.tiers),
            email_domain=_domains(p, spec, rng)[0] if fresh else domains[k % len(domains)],
            payment=payment,
            verified=rng.random() < spec.verified_share,
            anthropic_share=spec.anthropic_share,
            style=style,
            sticky=sticky,
        )
        a.renames_tools = spec.rename_tools
        return a

    n = p.scaled(spec.accounts)
    actors = []
    for k in range(n):
        actors.append(account(signup(p, spec, k, farm_at), k))
    _bans(p, spec, actors, start, end, account)
    replace_on_ban(p, spec, actors, start, end, account)
    works = []
    for intent, weight in spec.workload.items():
        skeletons = [
            p.bank.template(intent, infra, lang=pick(infra, spec.languages))
            for _ in range(max(1, spec.templates))
        ]
        works.append(Work(intent, weight, spec.languages, spec.paraphrase, skeletons))
    pivot_at, pivot_model = _pivot(p, spec)
    boiler = infra.choice(BOILERPLATE) if spec.boilerplate else None
    emitter = _emitter_class(spec)(
        spec,
        actors,
        works,
        start,
        end,
        boiler,
        pivot_at,
        pivot_model,
        spec.languages,
        spec.requests_per_day * p.scale,
        p.bank,
    )
    if spec.curriculum:
        emitter.syllabus = _syllabus(infra)  # type: ignore[attr-defined]
    p.emitters.append(emitter)


def _emitter_class(spec: Campaign) -> type[CampaignEmitter]:
    from distillguard.simulate.tactics.farm import TacticEmitter, uses_tactics

    return TacticEmitter if uses_tactics(spec) else CampaignEmitter


def _syllabus(rng: random.Random) -> tuple[str, ...]:
    # The operator's curriculum starts somewhere in the syllabus and walks it in order.
    from distillguard.simulate.tactics.problems import SYLLABUS

    at = rng.randrange(len(SYLLABUS))
    return SYLLABUS[at:] + SYLLABUS[:at]


def _bans(
    p: Planner,
    spec: Campaign,
    actors: list[Actor],
    start: float,
    end: float,
    make: Callable[[datetime, int], Actor],
) -> None:
    """Banned accounts stop mid-day and fresh ones, created that day, take their place."""
    if spec.ban_share_per_day <= 0:
        return
    day = start + DAY
    k = len(actors)
    while day < end:
        live = [a for a in actors if a.active_to == float("inf")]
        for a in p.rng.sample(live, min(len(live), round(len(live) * spec.ban_share_per_day))):
            a.active_to = day + p.rng.uniform(0, DAY)
            created = datetime.fromtimestamp(a.active_to - p.rng.uniform(600, 7200), UTC)
            actors.append(make(created, k))
            k += 1
        day += DAY


def _proxy_pool(p: Planner, spec: Campaign, rng: random.Random, net: Networks) -> list[Address]:
    kinds = {
        "datacenter": ["datacenter"],
        "residential": ["residential"],
        "mixed": ["datacenter", "residential"],
    }[spec.proxy.kind]
    nets = [net.pick(rng.choice(kinds), rng) for _ in range(max(1, spec.proxy.asns))]
    ips = max(1, p.scaled(spec.proxy.ips))
    pool = []
    for _ in range(ips):
        where = rng.choice(nets)
        pool.append(Address(net.address(rng, where, 0.2), where.asn, where.country))
    return pool


def _stacks(spec: Campaign, rng: random.Random) -> list[ClientStack]:
    if spec.user_agents == "single":
        return [custom_stack(rng) if rng.random() < 0.5 else client_stack(rng)]
    if spec.user_agents == "few":
        return [client_stack(rng) for _ in range(3)]
    return [client_stack(rng) for _ in range(64)]


def _domains(p: Planner, spec: Campaign, rng: random.Random) -> list[str]:
    out = []
    for _ in range(p.scaled(spec.email_domains)):
        tier = max(spec.tiers, key=lambda t: spec.tiers[t])
        stem = f"{rng.getrandbits(48):012x}"[:7]
        out.append(
            f"{stem}.edu"
            if tier in ("edu", "research")
            else rng.choice(
                (f"{stem}-mail.com", "gmail.com", "outlook.com", "163.com", "proton.me")
            )
        )
    return out


def _pivot(p: Planner, spec: Campaign) -> tuple[float | None, str | None]:
    if spec.pivot is None or not p.models.releases:
        return None, None
    name = spec.pivot.model or p.models.releases[-1][0]
    at = dict(p.models.releases)[name]
    return at + spec.pivot.within_hours * 3600 * p.rng.uniform(0.5, 1.0), name


def plan_campaigns(p: Planner) -> None:
    for spec in p.scenario.campaigns:
        plan_campaign(p, spec)
