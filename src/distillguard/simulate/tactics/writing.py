"""Legitimate text for the red team's look-alikes: writing requests, essays to mark, homework.

Writing requests come from a WritingBench excerpt (``writingbench.json``, see
``writingbench_excerpt.py``); essays, learners' asks and chats are the red team's own.

>>> import random
>>> p = teacher_prompt(random.Random(1), "remote_work", 0)
>>> p.intent, "(0-" in p.messages[0]["content"]
('judge_rubric', True)
"""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources
from typing import Any

from distillguard.simulate.actor import pick
from distillguard.simulate.tactics.chat import opener
from distillguard.simulate.tactics.fresh import read_data
from distillguard.simulate.tactics.problems import SYLLABUS, problem
from distillguard.simulate.text import INTENTS, Prompt, TextBank

EVERYDAY = {
    "general": 0.35,
    "writing": 0.25,
    "coding_help": 0.2,
    "translation": 0.1,
    "math_help": 0.1,
}


@cache
def writingbench() -> dict[str, Any]:
    path = resources.files("distillguard.simulate.text") / "data" / "redteam" / "writingbench.json"
    return dict(json.loads(path.read_text("utf-8")))


@cache
def _essays() -> dict[str, Any]:
    return dict(read_data("essays.yaml"))


@cache
def _learners() -> dict[str, Any]:
    return dict(read_data("learners.yaml"))


def simple(
    intent: str, text: str, system: str | None = None, tokens: tuple[int, int] = (80, 900)
) -> Prompt:
    return Prompt(
        intent,
        INTENTS[intent],
        system,
        [{"role": "user", "content": text}],
        None,
        None,
        None,
        tokens,
    )


def writing_request(rng: random.Random) -> Prompt:
    q = rng.choice(writingbench()["queries"])["q"]
    return simple("writing", q, tokens=(300, 1800))


def essay(rng: random.Random, assignment: str) -> str:
    """One student's essay: sentences of the assignment in their own words, slips and all."""
    book = _essays()
    sentences = list(book["assignments"][assignment]["sentences"])
    keep = sorted(rng.sample(range(len(sentences)), rng.randint(4, min(8, len(sentences)))))
    parts = [sentences[i] for i in keep]
    for _ in range(rng.choice((0, 1, 1, 2))):
        story = rng.choice(book["anecdote"])
        for slot in ("who", "did", "place"):
            story = story.replace("{{" + slot + "}}", rng.choice(book[slot]))
        story = story.replace("{{n}}", str(rng.randint(4, 27)))
        parts.insert(rng.randrange(1, len(parts) + 1), story)
    words = " ".join(parts).split(" ")
    swaps = book["swaps"]
    words = [rng.choice(swaps[w]) if w in swaps else w for w in words]
    for _ in range(rng.choice((0, 0, 1, 2))):  # a student's slips
        words.insert(rng.randrange(len(words)), rng.choice(book["slips"]))
    return " ".join(words)


def assignments() -> tuple[str, ...]:
    return tuple(sorted(_essays()["assignments"]))


def teacher_prompt(rng: random.Random, assignment: str, rubric: int) -> Prompt:
    """One essay of a class assignment, marked against the teacher's own rubric for it."""
    book = _essays()
    own = random.Random(f"rubric:{rubric}")  # the teacher's habits: rubric, scale, wording
    top = own.choice((4, 5, 6, 8, 10))
    lines, bullet = [], own.choice(("- ", "* ", "", "• "))
    for names in own.sample(book["criteria"], own.randint(3, 6)):
        desc = own.choice(book["describe"])
        lines.append(f"{bullet}{own.choice(names)} (0-{top}){': ' + desc if desc else ''}")
    asks = book["asks"]
    ask = " ".join(
        (
            own.choice(asks["lead"]).replace("{{year}}", own.choice(book["year"])),
            own.choice(asks["want"]),
            own.choice(asks["then"]),
        )
    )
    title = book["assignments"][assignment]["title"]
    title = own.choice((title, title.split(" (")[0], f"{title.split(' (')[0]}?".replace("??", "?")))
    head = own.choice(("Rubric:", "Marking criteria:", "Mark scheme:", "Rubric"))
    task = own.choice(("Assignment", "Task", "Essay question", "Title", "Homework"))
    text = f"{ask}\n\n{task}: {title}\n\n{head}\n" + "\n".join(lines)
    text += f"\n\n{own.choice(('Essay:', 'Student work:', 'Text:'))}\n{essay(rng, assignment)}"
    return simple("judge_rubric", text, tokens=(120, 500))


def learner_prompt(rng: random.Random, kind: str, topic: str | None = None) -> Prompt:
    """A student's or a power user's own ask about a problem of a topic."""
    topic = topic or rng.choice(SYLLABUS)
    text, answer = problem(topic, rng)
    ask = rng.choice(_learners()[kind])
    guess = answer if rng.random() < 0.5 else str(rng.randint(2, 999))
    body = ask.replace("{{problem}}", text).replace("{{guess}}", guess)
    body = body.replace("{{topic}}", topic.replace("_", " "))
    intent = "math_help"
    if rng.random() < 0.2:
        reply = "Here is one way to see it: set up the quantities, relate them, then solve."
        follow = rng.choice(_learners()["followups"])
        msgs = [
            {"role": "user", "content": body},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": follow},
        ]
        return Prompt(intent, INTENTS[intent], None, msgs, None, None, None, (150, 1200))
    return simple(intent, body, tokens=(150, 1200))


def ordinary_prompt(bank: TextBank, rng: random.Random, lang: str = "en") -> Prompt:
    """Everyday traffic: the text bank's, a chat opener, or a real writing request."""
    x = rng.random()
    if x < 0.6:
        return bank.template(pick(rng, EVERYDAY), rng, lang=lang).render(rng, paraphrase=1.0)
    if x < 0.9:
        return simple("general", opener(rng), tokens=(80, 700))
    return writing_request(rng)
