"""Legitimate populations, each a real customer type that looks like an attack on some signal.

A kind is a function that adds actors and emitters to a planner. What makes each one hard:

- ``hobbyist``: diverse, low volume; the background every rate is compared with.
- ``app_backend``: one fixed system prompt, cloud IPs (the clouds proxies rent), high volume.
- ``enterprise_batch``: one template, huge volume, flat or nightly timing, short outputs.
- ``campus``: many accounts behind few NAT addresses, signed up together, benchmark harnesses
  that say "think step by step", bursty runs.
- ``oss_agent``: thousands of users with the same system prompt, tool schema, user agent and
  TLS stack, long tool loops.
- ``judge``: rubric grading at volume from a few accounts.
- ``corporate``: many accounts, one egress IP, one payment method, created the same day.
- ``early_adopter``: moves to a new model within hours of its release, busier that day.
- ``reseller_customers``: an aggregator's real customers: datacenter IPs rotating per request,
  one payment method, very mixed traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from distillguard.simulate.actor import Label, Style, Work
from distillguard.simulate.infra import agent_stack, client_stack
from distillguard.simulate.plan import ActorEmitter, Planner, utc_offset
from distillguard.simulate.scenario import Population
from distillguard.simulate.tactics.lifecycle import exits

EVERYDAY = {
    "general": 0.28,
    "writing": 0.2,
    "coding_help": 0.18,
    "math_help": 0.07,
    "translation": 0.06,
    "data_analysis": 0.07,
    "synthetic_test_data": 0.03,
    "vision_describe": 0.04,
    "tool_use_assistant": 0.04,
    "support_chat": 0.03,
}
AGENTS = (("opencode", "0.14.2"), ("aider", "0.86.1"), ("openhands", "0.59.0"), ("cline", "3.31"))


def _works(mix: dict[str, float], languages: dict[str, float]) -> list[Work]:
    return [Work(intent, w, languages) for intent, w in mix.items()]


def _split(total: int, groups: int) -> list[int]:
    base, extra = divmod(total, groups)
    return [base + (1 if i < extra else 0) for i in range(groups)]


def _multiplier(p: Planner) -> float:
    # Heavy-tailed per-account volume: a few customers send most of the traffic.
    return min(p.rng.lognormvariate(0.0, 0.8), 12.0)


def hobbyist(p: Planner, spec: Population) -> None:
    for _ in range(p.scaled(spec.accounts)):
        addrs = p.addresses("residential", p.rng.choice((1, 1, 2, 3)))
        a = p.new_actor(
            Label(spec.name or spec.kind),
            addresses=addrs,
            stack=client_stack(p.rng),
            created_at=p.created_before(1, 700),
            tier=p.rng.choice(("free", "free", "free", "pro")),
            email_domain=p.rng.choice(
                ("gmail.com", "outlook.com", "proton.me", "qq.com", "yahoo.co.jp", "gmx.de")
            ),
            payment=p.payment(),
            verified=p.rng.random() < 0.6,
            anthropic_share=spec.anthropic_share,
            utc_offset=utc_offset(addrs[0].country),
            adoption=spec.adoption * p.rng.uniform(0.5, 1.5),
        )
        p.emitters.append(
            ActorEmitter(
                a,
                _works(EVERYDAY, spec.languages),
                spec.requests_per_day * _multiplier(p),
                "sessions",
                active_share=spec.active_share,
                bank=p.bank,
            )
        )


def app_backend(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        org, pay = p.opaque("org"), p.payment()
        country = p.rng.choice(("US", "US", "DE", "GB", "JP", "SG", "FR"))
        addrs = p.addresses("datacenter", p.rng.randint(2, 6))
        lang = {"en": 1.0} if country in ("US", "GB", "SG") else {**spec.languages}
        intent = p.rng.choice(
            ("support_chat", "support_chat", "support_chat", "tool_use_assistant")
        )
        skeleton = p.bank.template(intent, p.rng, lang=next(iter(lang)))
        stack, style = client_stack(p.rng), p.style()
        created = p.created_before(30, 500)
        rate = spec.requests_per_day * _multiplier(p)
        for _ in range(size):
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=addrs,
                stack=stack,
                created_at=created,
                tier=p.rng.choice(("pro", "enterprise", "startup")),
                email_domain=f"{org[4:10]}.io",
                payment=pay,
                verified=True,
                org_id=org,
                anthropic_share=spec.anthropic_share,
                style=style,
                sticky=False,
                utc_offset=utc_offset(country),
                adoption=0.0,
            )
            work = Work(intent, 1.0, lang, paraphrase=0.0, skeletons=[skeleton])
            p.emitters.append(
                ActorEmitter(a, [work], rate, "diurnal", active_share=0.98, bank=p.bank)
            )


def enterprise_batch(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        org, pay = p.opaque("org"), p.payment()
        addrs = p.addresses("datacenter", p.rng.randint(1, 2))
        intent = p.rng.choice(("batch_classify", "batch_extract"))
        skeleton = p.bank.template(intent, p.rng, lang="en")
        profile = p.rng.choice(("nightly", "flat", "business"))
        stack = client_stack(p.rng, prefer=p.rng.choice(("requests", "httpx", "OpenAI/Python")))
        style = Style(temperature=0.0, max_tokens=p.rng.choice((16, 64, 256)), stream_share=0.0)
        for _ in range(size):
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=addrs,
                stack=stack,
                created_at=p.created_before(20, 400),
                tier="enterprise",
                email_domain=f"{org[4:10]}.com",
                payment=pay,
                verified=True,
                org_id=org,
                anthropic_share=spec.anthropic_share,
                style=style,
                sticky=False,
                adoption=0.0,
            )
            work = Work(intent, 1.0, {"en": 1.0}, paraphrase=0.0, skeletons=[skeleton])
            p.emitters.append(
                ActorEmitter(
                    a,
                    [work],
                    spec.requests_per_day * _multiplier(p),
                    profile,
                    active_share=0.95,
                    bank=p.bank,
                )
            )


def campus(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        nat = p.addresses("education", p.rng.randint(1, 4))
        domain = f"{p.opaque('u')[2:8]}.edu"
        term = p.created_before(10, 60)  # a class signs up in the same week
        harnesses = [
            (i, p.bank.template(i, p.rng, lang=next(iter(spec.languages))))
            for i in ("benchmark_math", "benchmark_math", "benchmark_code")
        ]
        for k in range(size):
            researcher = k % 3 == 0
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=nat,
                stack=client_stack(p.rng),
                created_at=term + timedelta(days=p.rng.uniform(0, 5)),
                tier=p.rng.choice(("edu", "edu", "research", "free")),
                email_domain=domain,
                payment=p.payment(),
                verified=p.rng.random() < 0.5,
                anthropic_share=spec.anthropic_share,
                sticky=False,
                utc_offset=utc_offset(nat[0].country),
                adoption=spec.adoption,
            )
            if researcher:
                # A group's eval harness: one fixed prompt format, run in bursts.
                intent, harness = p.rng.choice(harnesses)
                works = [Work(intent, 1.0, spec.languages, 0.0, [harness])]
                emitter = ActorEmitter(
                    a,
                    works,
                    spec.requests_per_day * 12 * _multiplier(p),
                    "sessions",
                    session_gap=4.0,
                    active_share=0.25,
                    bank=p.bank,
                )
            else:
                mix = {"math_help": 0.35, "coding_help": 0.3, "writing": 0.2, "general": 0.15}
                emitter = ActorEmitter(
                    a,
                    _works(mix, spec.languages),
                    spec.requests_per_day * _multiplier(p),
                    "sessions",
                    active_share=spec.active_share,
                    bank=p.bank,
                )
            p.emitters.append(emitter)


def oss_agent(p: Planner, spec: Population) -> None:
    for g, size in enumerate(_split(p.scaled(spec.accounts), p.scaled(spec.groups))):
        name, version = AGENTS[g % len(AGENTS)]
        stack = agent_stack(name, version)
        skeleton = p.bank.template("coding_agent", p.rng, lang="en")
        for _ in range(size):
            addrs = p.addresses("residential", p.rng.choice((1, 2)))
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=addrs,
                stack=stack,
                created_at=p.created_before(1, 400),
                tier=p.rng.choice(("pro", "pro", "free")),
                email_domain=p.rng.choice(("gmail.com", "outlook.com", "icloud.com", "proton.me")),
                payment=p.payment(),
                verified=p.rng.random() < 0.7,
                anthropic_share=spec.anthropic_share,
                style=Style(temperature=0.0, max_tokens=8192, stream_share=1.0),
                utc_offset=utc_offset(addrs[0].country),
                adoption=spec.adoption,
            )
            work = Work("coding_agent", 1.0, {"en": 1.0}, paraphrase=0.3, skeletons=[skeleton])
            p.emitters.append(
                ActorEmitter(
                    a,
                    [work],
                    spec.requests_per_day * _multiplier(p),
                    "sessions",
                    session_gap=6.0,
                    active_share=spec.active_share,
                    bank=p.bank,
                )
            )


def judge(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        org, pay = p.opaque("org"), p.payment()
        addrs = p.addresses("datacenter", p.rng.randint(1, 3))
        rubrics = [p.bank.template("judge_rubric", p.rng, lang="en") for _ in range(3)]
        stack = client_stack(p.rng)
        for _ in range(size):
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=addrs,
                stack=stack,
                created_at=p.created_before(30, 300),
                tier=p.rng.choice(("enterprise", "startup")),
                email_domain=f"{org[4:10]}.ai",
                payment=pay,
                verified=True,
                org_id=org,
                anthropic_share=spec.anthropic_share,
                style=Style(temperature=0.0, max_tokens=512, stream_share=0.0),
                sticky=False,
                adoption=spec.adoption,
            )
            work = Work("judge_rubric", 1.0, {"en": 1.0}, paraphrase=0.05, skeletons=rubrics)
            p.emitters.append(
                ActorEmitter(
                    a,
                    [work],
                    spec.requests_per_day * _multiplier(p),
                    p.rng.choice(("flat", "business")),
                    active_share=0.9,
                    bank=p.bank,
                )
            )


def corporate(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        org, pay = p.opaque("org"), p.payment()
        egress = p.addresses("corporate", 1)
        onboarded = p.created_before(5, 200)
        mix = {
            "writing": 0.3,
            "coding_help": 0.25,
            "data_analysis": 0.2,
            "general": 0.15,
            "translation": 0.1,
        }
        for _ in range(size):
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=egress,
                stack=client_stack(p.rng),
                created_at=onboarded,
                tier=p.rng.choice(("enterprise", "pro")),
                email_domain=f"{org[4:10]}.com",
                payment=pay,
                verified=True,
                org_id=org,
                anthropic_share=spec.anthropic_share,
                utc_offset=utc_offset(egress[0].country),
                adoption=spec.adoption,
            )
            p.emitters.append(
                ActorEmitter(
                    a,
                    _works(mix, spec.languages),
                    spec.requests_per_day * _multiplier(p),
                    "business",
                    active_share=spec.active_share,
                    bank=p.bank,
                )
            )


def early_adopter(p: Planner, spec: Population) -> None:
    mix = {**EVERYDAY, "coding_help": 0.3, "math_help": 0.15, "hidden_reasoning": 0.01}
    for _ in range(p.scaled(spec.accounts)):
        addrs = p.addresses("residential", 1)
        a = p.new_actor(
            Label(spec.name or spec.kind),
            addresses=addrs,
            stack=client_stack(p.rng),
            created_at=p.created_before(1, 600),
            tier="pro",
            email_domain="gmail.com",
            payment=p.payment(),
            verified=True,
            anthropic_share=spec.anthropic_share,
            utc_offset=utc_offset(addrs[0].country),
            adoption=max(spec.adoption, 0.7),
            adoption_ramp_hours=2.0,
        )
        p.emitters.append(
            ActorEmitter(
                a,
                _works(mix, spec.languages),
                spec.requests_per_day * _multiplier(p),
                "sessions",
                active_share=spec.active_share,
                release_boost=4.0,
                bank=p.bank,
            )
        )


def reseller_customers(p: Planner, spec: Population) -> None:
    for size in _split(p.scaled(spec.accounts), p.scaled(spec.groups)):
        org, pay = p.opaque("org"), p.payment()
        pool = exits(p, spec, 24) or p.addresses("datacenter", p.rng.randint(8, 30))
        for _ in range(size):
            a = p.new_actor(
                Label(spec.name or spec.kind),
                addresses=pool,
                stack=client_stack(p.rng),
                created_at=p.created_before(2, 300),
                tier="enterprise",
                email_domain=f"{org[4:10]}.net",
                payment=pay,
                verified=True,
                org_id=org,
                anthropic_share=spec.anthropic_share,
                sticky=False,
                adoption=spec.adoption,
            )
            p.emitters.append(
                ActorEmitter(
                    a,
                    _works(EVERYDAY, spec.languages),
                    spec.requests_per_day * _multiplier(p),
                    "diurnal",
                    active_share=0.95,
                    bank=p.bank,
                )
            )


KINDS: dict[str, Callable[[Planner, Population], None]] = {
    f.__name__: f
    for f in (
        hobbyist,
        app_backend,
        enterprise_batch,
        campus,
        oss_agent,
        judge,
        corporate,
        early_adopter,
        reseller_customers,
    )
}
