"""A campaign emitter for the red team's tactics: fresh phrasing, per-account languages,
human-paced accounts, a shared curriculum and harvest hidden in chats.

With ``pacing`` each account keeps its own day (its own quota, its own local hours, days
off) instead of taking a load balancer's share; everything else is ``CampaignEmitter``'s.
Per-account habits come from seeds of the account id, so replacements need no planning.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import partial

from distillguard.simulate.actor import Actor, Models, Request, pick
from distillguard.simulate.campaigns import CampaignEmitter
from distillguard.simulate.clock import day_times, poisson
from distillguard.simulate.plan import DAY, utc_offset
from distillguard.simulate.scenario import Campaign
from distillguard.simulate.tactics.chat import conversation, upto
from distillguard.simulate.tactics.fresh import FRESH_INTENTS, Elicitor
from distillguard.simulate.tactics.problems import SYLLABUS
from distillguard.simulate.tactics.writing import ordinary_prompt
from distillguard.simulate.text import Prompt

# The operator's tutor persona, sent by the share of accounts set by curriculum.system_share.
SHARED_SYSTEM = (
    "You are a meticulous tutor preparing worked solutions. Reason everything through "
    "explicitly and never skip a stage, even when it seems obvious."
)


def uses_tactics(spec: Campaign) -> bool:
    return bool(
        spec.phrasing != "bank"
        or spec.account_languages
        or spec.pacing
        or spec.curriculum
        or spec.conversation
    )


@dataclass
class TacticEmitter(CampaignEmitter):
    syllabus: tuple[str, ...] = SYLLABUS

    def day(self, day: int, start: float, rng: random.Random, models: Models) -> list[Request]:
        pacing = self.spec.pacing
        if pacing is None:
            return super().day(day, start, rng, models)
        lo, hi = max(start, self.start), min(start + DAY, self.end)
        if hi <= lo:
            return []
        out: list[Request] = []
        for actor in self.actors:
            if actor.active_to <= lo or actor.active_from >= hi or rng.random() > 0.85:
                continue  # banned, not yet signed up, or a day off like a person's
            mean = random.Random(f"pace:{actor.account_id}").uniform(*pacing.per_day)
            n = min(poisson(rng, mean * (hi - lo) / DAY), int(pacing.per_day[1]))
            offset = utc_offset(actor.addresses[0].country)
            if self.spec.conversation:
                out += self._chats(actor, n, start, lo, hi, rng, offset)
                continue
            for t in day_times("sessions", n, rng, offset, pacing.session_gap):
                ts = start + t
                if lo <= ts < hi and actor.live(ts):
                    model = self._model(actor, ts, rng)
                    prompt = partial(self._paced, actor, ts)
                    out.append(Request(ts, actor, model, prompt, rng.getrandbits(63)))
        return out

    def _chats(
        self,
        actor: Actor,
        n: int,
        start: float,
        lo: float,
        hi: float,
        rng: random.Random,
        offset: float,
    ) -> list[Request]:
        conv = self.spec.conversation
        assert conv is not None
        out: list[Request] = []
        mean_turns = sum(conv.turns) / 2
        for t in day_times("diurnal", max(1, round(n / mean_turns)), rng, offset):
            turns, seed = rng.randint(*conv.turns), rng.getrandbits(63)
            harvest = rng.random() >= self.spec.camouflage
            ts = start + t
            model = self._model(actor, ts, rng)
            for j in range(turns):
                if not (lo <= ts < hi and actor.live(ts)):
                    break
                prompt = partial(self._turn, actor, seed, turns, j, harvest)
                out.append(Request(ts, actor, model, prompt, rng.getrandbits(63)))
                ts += rng.expovariate(1 / conv.turn_gap) + 8.0
        return out

    def _turn(
        self, actor: Actor, seed: int, turns: int, j: int, harvest: bool, rng: random.Random
    ) -> Prompt:
        conv = self.spec.conversation
        assert conv is not None
        crng = random.Random(seed)
        lang = self._lang(actor, crng)
        chat = conversation(crng, turns, conv.harvest_after if harvest else None, lang)
        intent = "hidden_reasoning" if chat[j].harvest else "general"
        tokens = (300, 1800) if chat[j].harvest else (60, 600)
        return Prompt(intent, "other", self._system(actor), upto(chat, j), None, None, None, tokens)

    def _paced(self, actor: Actor, ts: float, rng: random.Random) -> Prompt:
        return self._prompt(actor, rng, ts)

    def _prompt(self, actor: Actor, rng: random.Random, ts: float | None = None) -> Prompt:
        spec = self.spec
        x = rng.random()
        if x < spec.mixing + spec.camouflage:
            # Real customers of a reseller, or camouflage: ordinary, varied requests.
            return ordinary_prompt(self.bank, rng, "en")
        work = rng.choices(self.works, [w.weight for w in self.works])[0]
        system = self._system(actor)
        if spec.phrasing == "fresh" and work.intent in FRESH_INTENTS:
            topic = self._topic(ts)
            prompt = Elicitor.load().prompt(work.intent, rng, self._lang(actor, rng), topic, system)
        else:
            prompt = work.render_with(self.bank, rng)
            if system:
                prompt = replace(prompt, system=system)
        return self._finish(actor, prompt)

    def _lang(self, actor: Actor, rng: random.Random) -> str:
        """The account's own languages (``account_languages`` of the campaign's), or the mix."""
        k = self.spec.account_languages
        if not k:
            return pick(rng, self.languages)
        own = random.Random(f"lang:{actor.account_id}")
        keys = sorted(self.languages)
        chosen = own.sample(keys, min(k, len(keys)))
        return pick(rng, {key: own.uniform(0.3, 1.0) for key in chosen})

    def _system(self, actor: Actor) -> str | None:
        c = self.spec.curriculum
        if c and random.Random(f"system:{actor.account_id}").random() < c.system_share:
            return SHARED_SYSTEM
        return None

    def _topic(self, ts: float | None) -> str | None:
        """Today's topic of the shared curriculum: the whole farm moves on the same day."""
        c = self.spec.curriculum
        if c is None or ts is None:
            return None
        first = self.start - self.start % DAY  # topics change at midnight UTC, like a class's
        step = int((ts - first) // (c.days_per_topic * DAY))
        return self.syllabus[min(step, c.topics - 1) % len(self.syllabus)]
