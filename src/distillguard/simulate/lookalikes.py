"""The red team's legitimate look-alikes: real customers who resemble its tactics.

- ``power_user``: asks for step-by-step explanations and reasoning every day, at volume.
- ``student``: classes that walk one syllabus topic by topic on the same days (a curriculum
  farm's twin), in many languages, from home and from campus.
- ``teacher``: marks a class's essays against a rubric, in evening bursts.
- ``chat_user``: long multi-turn chats that resend their history, some trying the service for
  a day or two; with ``shares_exits_of`` they are the homes behind a residential proxy pool.

``ALL_KINDS`` is every population kind the simulator knows (``populations.KINDS`` and these).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from distillguard.simulate.actor import Actor, Address, Label, Models, Request, Work, pick
from distillguard.simulate.clock import day_times, poisson
from distillguard.simulate.infra import client_stack
from distillguard.simulate.plan import DAY, ActorEmitter, Planner, utc_offset
from distillguard.simulate.populations import KINDS
from distillguard.simulate.scenario import Population
from distillguard.simulate.tactics.chat import conversation, upto
from distillguard.simulate.tactics.fresh import Elicitor, multi_dress, multi_problem
from distillguard.simulate.tactics.lifecycle import exits
from distillguard.simulate.tactics.problems import SYLLABUS
from distillguard.simulate.tactics.writing import (
    assignments,
    learner_prompt,
    ordinary_prompt,
    simple,
    teacher_prompt,
)
from distillguard.simulate.text import Prompt, TextBank

Make = Callable[[TextBank, random.Random], Prompt]
DOMAINS = ("gmail.com", "outlook.com", "icloud.com", "proton.me", "yahoo.com", "naver.com")


@dataclass
class Task(Work):
    """A kind of request made by a function rather than a text-bank skeleton."""

    make: Make | None = None

    def render_with(self, bank: TextBank, rng: random.Random) -> Prompt:
        assert self.make is not None
        return self.make(bank, rng)


@dataclass
class ChatEmitter(ActorEmitter):
    """A chat user: conversations of several turns, each request resending the ones before."""

    turns: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 12)

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]:
        a = self.actor
        if rng.random() > self.active_share or not (
            a.active_from < start + DAY <= a.active_to + DAY
        ):
            return []
        out = []
        for t in day_times("diurnal", poisson(rng, self.rate / 5), rng, a.utc_offset):
            n, seed, ts = rng.choice(self.turns), rng.getrandbits(63), start + t
            model = models.choose(a, ts, rng, a.home_model)
            for j in range(n):
                if ts >= start + DAY or not a.live(ts):
                    break
                out.append(Request(ts, a, model, partial(_chat, seed, n, j), rng.getrandbits(63)))
                ts += rng.expovariate(1 / 80) + 10.0
        return out


def _chat(seed: int, turns: int, j: int, rng: random.Random) -> Prompt:
    chat = conversation(random.Random(seed), turns, None)
    return Prompt("general", "other", None, upto(chat, j), None, None, None, (60, 600))


def _person(
    p: Planner,
    spec: Population,
    addrs: list[Address],
    tier: str = "free",
    created_at: datetime | None = None,
) -> Actor:
    return p.new_actor(
        Label(spec.name or spec.kind),
        addresses=addrs,
        stack=client_stack(p.rng),
        created_at=created_at or p.created_before(5, 900),
        tier=tier,
        email_domain=p.rng.choice(DOMAINS),
        payment=p.payment(),
        verified=p.rng.random() < 0.6,
        anthropic_share=spec.anthropic_share,
        utc_offset=utc_offset(addrs[0].country),
        adoption=spec.adoption * p.rng.uniform(0.5, 1.5),
    )


def _rate(p: Planner, spec: Population) -> float:
    return spec.requests_per_day * min(p.rng.lognormvariate(0.0, 0.6), 6.0)


def power_user(p: Planner, spec: Population) -> None:
    works: list[Work] = [
        Task("math_help", 0.6, spec.languages, make=lambda b, r: learner_prompt(r, "power")),
        Task("general", 0.4, spec.languages, make=ordinary_prompt),
    ]
    for _ in range(p.scaled(spec.accounts)):
        addrs = exits(p, spec, 1) or p.addresses("residential", p.rng.choice((1, 2)))
        a = _person(p, spec, addrs, tier=p.rng.choice(("pro", "pro", "free")))
        emitter = ActorEmitter(a, works, _rate(p, spec), "sessions", active_share=0.9, bank=p.bank)
        p.emitters.append(emitter)


@dataclass
class StudentEmitter(ActorEmitter):
    """A student of a class: most questions are on the class's topic of the day."""

    syllabus: tuple[str, ...] = SYLLABUS
    term_start: float = 0.0
    days_per_topic: float = 1.0

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]:
        out = super().day(day, start, rng, models)
        return [Request(r.ts, r.actor, r.model, partial(self._ask, r.ts), r.seed) for r in out]

    def _ask(self, ts: float, rng: random.Random) -> Prompt:
        step = int((ts - self.term_start) // (self.days_per_topic * DAY))
        topic = self.syllabus[step % len(self.syllabus)] if rng.random() < 0.75 else None
        lang = pick(rng, self.works[0].languages)
        book = Elicitor.load().multi.get(lang)
        if rng.random() < 0.2:
            return ordinary_prompt(self.bank, rng)
        if book is None:
            return learner_prompt(rng, "student", topic)
        text, _ = multi_problem(book, rng)
        return simple("math_help", multi_dress(book, rng.choice(book["student"]), text, rng))


def student(p: Planner, spec: Population) -> None:
    groups = p.scaled(spec.groups)
    for size in (len(range(i, p.scaled(spec.accounts), groups)) for i in range(groups)):
        campus = p.addresses("education", 1)
        offset = p.rng.randrange(len(SYLLABUS))
        syllabus = SYLLABUS[offset:] + SYLLABUS[:offset]
        term = p.created_before(20, 60)
        for _ in range(size):
            home = exits(p, spec, 1) or p.addresses("residential", 1, campus[0].country)
            a = _person(
                p,
                spec,
                home + campus,
                tier=p.rng.choice(("edu", "free", "free")),
                created_at=term + timedelta(days=p.rng.uniform(0, 6)),
            )
            p.emitters.append(
                StudentEmitter(
                    a,
                    [Work("math_help", 1.0, spec.languages)],
                    _rate(p, spec),
                    "sessions",
                    active_share=spec.active_share,
                    bank=p.bank,
                    syllabus=syllabus,
                    term_start=p.start,
                    days_per_topic=p.rng.choice((1.0, 1.0, 2.0)),
                )
            )


def teacher(p: Planner, spec: Population) -> None:
    names = assignments()
    for _ in range(p.scaled(spec.accounts)):
        school = p.addresses("education", 1)
        home = exits(p, spec, 1) or p.addresses("residential", 1, school[0].country)
        a = _person(p, spec, home + school, tier=p.rng.choice(("edu", "pro")))
        rubric, jobs = p.rng.randrange(1000), p.rng.sample(names, 2)

        def mark(
            b: TextBank, r: random.Random, rubric: int = rubric, jobs: list[str] = jobs
        ) -> Prompt:
            return teacher_prompt(r, r.choice(jobs), rubric)

        works: list[Work] = [
            Task("judge_rubric", 0.85, spec.languages, make=mark),
            Task("general", 0.15, spec.languages, make=ordinary_prompt),
        ]
        # Marking evenings: a class set in one sitting, a request every minute or so.
        p.emitters.append(
            ActorEmitter(
                a,
                works,
                _rate(p, spec),
                "sessions",
                session_gap=50.0,
                active_share=spec.active_share,
                bank=p.bank,
            )
        )


def chat_user(p: Planner, spec: Population) -> None:
    for _ in range(p.scaled(spec.accounts)):
        addrs = exits(p, spec, 1) or p.addresses("residential", p.rng.choice((1, 1, 2)))
        trial = p.rng.random() < 0.2  # signs up this week, tries it for a few days, leaves
        created = (
            p.scenario.start + timedelta(days=p.rng.uniform(0, p.scenario.days - 1))
            if trial
            else None
        )
        a = _person(p, spec, addrs, created_at=created)
        if trial:
            a.active_to = a.active_from + p.rng.uniform(1.0, 3.0) * DAY
        p.emitters.append(
            ChatEmitter(
                a, [], _rate(p, spec), "diurnal", active_share=spec.active_share, bank=p.bank
            )
        )


LOOKALIKES: dict[str, Callable[[Planner, Population], None]] = {
    f.__name__: f for f in (power_user, student, teacher, chat_user)
}
ALL_KINDS: dict[str, Callable[[Planner, Population], None]] = {**KINDS, **LOOKALIKES}
