"""Prompts, and templates that render them.

A ``Template`` is a skeleton: one phrasing chosen per segment plus the fixed parts of a client
(an app's system prompt, an agent's tool schema, a harness's format). ``render`` fills the slots
and, with probability ``paraphrase`` per segment, draws a fresh phrasing: 0 is a pipeline or a
batch job sending the same text with new data, 1 is a person writing each request anew.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from distillguard.simulate.text.fillers import GENERATORS
from distillguard.simulate.text.phrase import Text

if TYPE_CHECKING:
    from distillguard.simulate.text.bank import TextBank

EMPTY: Mapping[str, str] = {}
T = TypeVar("T")
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Prompt:
    """One request in neutral form; the engine shapes it for OpenAI or Anthropic.

    Lists and dicts inside may be shared between prompts of one template: treat as read-only.
    """

    intent: str
    capability: str
    system: str | None
    messages: list[Message]
    tools: list[dict[str, Any]] | None
    response_format: str | None
    max_tokens: int | None
    output_tokens: tuple[int, int]


class Recipe:
    """How one intent builds its prompts: what a template fixes, and how a render fills it."""

    intent = ""
    capability = "other"
    output_tokens = (50, 500)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        """The parts of a client that stay put across its requests (drawn once per template)."""
        return {}

    def render(self, ctx: Ctx) -> Prompt:
        raise NotImplementedError


class Ctx:
    """What a recipe draws from during one render (or while fixing a template)."""

    __slots__ = ("bank", "book", "choice", "fixed", "lang", "lists", "p", "recipe", "rng", "trace")

    def __init__(
        self,
        bank: TextBank,
        recipe: Recipe,
        lang: str,
        rng: random.Random,
        paraphrase: float,
        book: Mapping[str, tuple[Text, ...]],
        lists: Mapping[str, tuple[Text, ...]],
        choice: Mapping[str, int],
        fixed: Mapping[str, Any],
    ) -> None:
        self.bank, self.recipe, self.lang, self.rng = bank, recipe, lang, rng
        self.p, self.book, self.lists, self.choice, self.fixed = (
            paraphrase,
            book,
            lists,
            choice,
            fixed,
        )
        self.trace: list[tuple[str, int]] | None = None

    def say(self, segment: str, values: Mapping[str, str] = EMPTY) -> str:
        """The skeleton's phrasing of a segment (or a fresh one, with probability paraphrase).

        Slots not given in ``values`` are drawn by name (see ``draw``).
        """
        alts = self.book[segment]
        i = self.choice.get(segment, -1)
        if i < 0 or (self.p and self.rng.random() < self.p):
            i = self.rng.randrange(len(alts))
        if self.trace is not None:
            self.trace.append((segment, i))
        return self.fill(alts[i], values)

    def fill(self, t: Text, values: Mapping[str, str] = EMPTY) -> str:
        if not t.slots:
            return t.source
        return t.fill({s: values[s] if s in values else self.draw(s) for s in t.slots})

    def has(self, segment: str) -> bool:
        return segment in self.book

    def draw(self, name: str) -> str:
        """A slot filler: generated (numbers, ids, dates) or from a list of this language."""
        gen = GENERATORS.get(name)
        if gen is not None:
            return gen(self.rng)
        return self.fill(self.rng.choice(self.lists[name]))

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.rng.random() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def prompt(
        self,
        messages: list[Message],
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        response_format: str | None = None,
        max_tokens: int | None = None,
        output_tokens: tuple[int, int] | None = None,
    ) -> Prompt:
        r = self.recipe
        return Prompt(
            r.intent,
            r.capability,
            system,
            messages,
            tools,
            response_format,
            max_tokens,
            output_tokens or r.output_tokens,
        )


@dataclass(frozen=True)
class Template:
    """A fixed skeleton for one intent and language; ``render`` is cheap and deterministic."""

    intent: str
    lang: str
    recipe: Recipe = field(repr=False)
    bank: TextBank = field(repr=False)
    book: Mapping[str, tuple[Text, ...]] = field(repr=False)
    lists: Mapping[str, tuple[Text, ...]] = field(repr=False)
    choice: Mapping[str, int] = field(repr=False)
    fixed: Mapping[str, Any] = field(repr=False)

    def render(self, rng: random.Random, paraphrase: float = 0.0) -> Prompt:
        ctx = Ctx(
            self.bank,
            self.recipe,
            self.lang,
            rng,
            paraphrase,
            self.book,
            self.lists,
            self.choice,
            self.fixed,
        )
        return self.recipe.render(ctx)

    def traced(
        self, rng: random.Random, paraphrase: float = 0.0
    ) -> tuple[Prompt, list[tuple[str, int]]]:
        """Render and say which phrasing (segment, index) each part used: for tests and audits."""
        ctx = Ctx(
            self.bank,
            self.recipe,
            self.lang,
            rng,
            paraphrase,
            self.book,
            self.lists,
            self.choice,
            self.fixed,
        )
        ctx.trace = []
        return self.recipe.render(ctx), ctx.trace
