"""Multi-turn chats as API clients send them: every request resends the conversation so far.

A conversation is drawn whole from its own seed, so request ``j`` of it (turns ``0..j``, the
earlier assistant replies included) renders the same in whichever order requests are built.
A harvesting chat hides an elicitation in a later turn among ordinary ones.

>>> import random
>>> turns = conversation(random.Random(1), 5, harvest_after=None)
>>> m = upto(turns, 2)
>>> [x["role"] for x in m], len(turns)
(['user', 'assistant', 'user', 'assistant', 'user'], 5)
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from distillguard.simulate.tactics.fresh import Elicitor, read_data
from distillguard.simulate.tactics.problems import any_problem

_SLOT = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass(frozen=True)
class Turn:
    user: str
    reply: str
    harvest: bool = False


@cache
def _book() -> dict[str, Any]:
    return dict(read_data("chat.yaml"))


def _fill(text: str, rng: random.Random) -> str:
    fill = _book()["fill"]
    return _SLOT.sub(lambda m: str(rng.choice(fill[m.group(1)])), text)


def opener(rng: random.Random) -> str:
    """A first message of an ordinary chat (camouflage uses these alone)."""
    topic = _book()["topics"][rng.choice(sorted(_book()["topics"]))]
    return _fill(rng.choice(topic["openers"]), rng)


def conversation(
    rng: random.Random,
    turns: int,
    harvest_after: int | None,
    lang: str = "en",
    curious: float = 0.15,
) -> list[Turn]:
    """An ordinary chat of ``turns`` turns; with ``harvest_after``, elicitation hides later on.

    Ordinary users sometimes slip in a small puzzle and ask how the answer was reached
    (``curious``): the legitimate face of a reasoning request.
    """
    book = _book()
    topic = book["topics"][rng.choice(sorted(book["topics"]))]
    first = rng.randrange(len(topic["openers"]))
    reply = topic["replies"][first % len(topic["replies"])]
    out = [Turn(_fill(topic["openers"][first], rng), _fill(reply, rng))]
    follow = list(topic["follow_ups"])
    rng.shuffle(follow)
    when = -1
    if harvest_after is not None:
        when = rng.randint(min(harvest_after, turns - 1), turns - 1)
    while len(out) < turns:
        if len(out) == when:
            out += _harvest(rng, lang)
            continue
        if harvest_after is None and rng.random() < curious / max(turns, 1):
            text, answer = any_problem(rng)
            solved = rng.choice(book["solved"]).replace("{{answer}}", answer)
            out += [Turn(f"Unrelated, but: {text}", solved), Turn(rng.choice(book["curious"]), "")]
            continue
        ask = _fill(follow.pop(), rng) if follow else rng.choice(book["curious"][3:])
        out.append(Turn(ask, _fill(rng.choice(topic["replies"]), rng)))
    return out[:turns]


def _harvest(rng: random.Random, lang: str) -> list[Turn]:
    intent = rng.choice(("hidden_reasoning", "hidden_reasoning", "reasoning_reconstruction"))
    prompt = Elicitor.load().prompt(intent, rng, lang)
    msgs = prompt.messages
    lead = rng.choice(("", "Different topic: ", "Also, ", "One more thing. ", "Side question — "))
    turns = [
        Turn(str(msgs[i]["content"]), str(msgs[i + 1]["content"]))
        for i in range(0, len(msgs) - 1, 2)
    ]
    last = str(msgs[-1]["content"])
    reply = rng.choice(_book()["worked"])
    turns.append(Turn(lead + last if not turns else last, reply, harvest=True))
    if turns[0].user and len(turns) > 1:
        turns[0] = Turn(lead + turns[0].user, turns[0].reply)
    return turns


def upto(turns: list[Turn], j: int) -> list[dict[str, Any]]:
    """The messages of request ``j``: earlier turns with their replies, then turn ``j``."""
    out: list[dict[str, Any]] = []
    for t in turns[:j]:
        out.append({"role": "user", "content": t.user})
        out.append({"role": "assistant", "content": t.reply or "Sure, here is how it goes."})
    out.append({"role": "user", "content": turns[j].user})
    return out
