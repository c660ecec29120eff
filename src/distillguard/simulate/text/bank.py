"""The text bank: phrasings and slot lists per intent and language, real sources, images.

Phrasings live in ``data/intents/<intent>.yaml`` (``phrases: {lang: {segment: [..]}}`` and
``lists: {lang|any: {name: [..]}}``); lists every intent may use live in ``data/lists/``.
Everything is parsed once per process by ``TextBank.load``.

>>> import random
>>> bank = TextBank.load()
>>> t = bank.template("benchmark_math", random.Random(1), lang="zh")
>>> p = t.render(random.Random(2))
>>> p.capability, p.messages[-1]["role"]
('math_reasoning', 'user')
>>> bank.template("coding_agent", random.Random(1), lang="ja").lang  # no Japanese agent: en
'en'
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from distillguard.simulate.text.images import image_pool
from distillguard.simulate.text.phrase import Text, compile_all
from distillguard.simulate.text.recipes import RECIPES
from distillguard.simulate.text.sources import Sources, load_sources
from distillguard.simulate.text.template import Ctx, Template

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Lists = dict[str, tuple[Text, ...]]


def _read(name: str) -> Any:
    return yaml.load((resources.files(__package__) / "data" / name).read_text("utf-8"), _Loader)


def _lists(raw: Mapping[str, Any] | None) -> dict[str, Lists]:
    """{lang or 'any': {name: tuple of fillers}}."""
    out: dict[str, Lists] = {}
    for lang, names in (raw or {}).items():
        out[lang] = {n: tuple(Text(str(v).rstrip("\n")) for v in vals) for n, vals in names.items()}
    return out


class TextBank:
    """All phrasings and fillers; ``template`` fixes a skeleton for one client."""

    def __init__(
        self,
        phrases: dict[str, dict[str, dict[str, tuple[Text, ...]]]],
        lists: dict[str, dict[str, Lists]],
        shared: dict[str, Lists],
        sources: Sources,
        images: tuple[str, ...],
    ) -> None:
        self.phrases, self.intent_lists, self.shared = phrases, lists, shared
        self.sources, self.images = sources, images
        self._merged: dict[tuple[str, str], tuple[dict[str, tuple[Text, ...]], Lists]] = {}

    @classmethod
    @cache
    def load(cls) -> TextBank:
        """The process-wide bank (parsed once; forked workers share it)."""
        phrases: dict[str, dict[str, dict[str, tuple[Text, ...]]]] = {}
        lists: dict[str, dict[str, Lists]] = {}
        for intent in RECIPES:
            raw = _read(f"intents/{intent}.yaml") or {}
            phrases[intent] = {lang: compile_all(segs) for lang, segs in raw["phrases"].items()}
            lists[intent] = _lists(raw.get("lists"))
        shared: dict[str, Lists] = {}
        for entry in sorted(
            (resources.files(__package__) / "data" / "lists").iterdir(), key=lambda e: e.name
        ):
            if entry.name.endswith(".yaml"):
                for lang, names in _lists(_read(f"lists/{entry.name}")).items():
                    shared.setdefault(lang, {}).update(names)
        return cls(phrases, lists, shared, load_sources(), image_pool())

    def languages(self, intent: str) -> tuple[str, ...]:
        """Languages this intent is written in (others fall back to English)."""
        return tuple(self.phrases[intent])

    def _resolve(self, intent: str, lang: str) -> tuple[dict[str, tuple[Text, ...]], Lists]:
        key = (intent, lang)
        if key not in self._merged:
            book = {**self.phrases[intent]["en"], **self.phrases[intent][lang]}
            own, shared = self.intent_lists[intent], self.shared
            merged: Lists = {}
            for layer in ("en", "any", lang):
                merged.update(shared.get(layer, {}))
                merged.update(own.get(layer, {}))
            self._merged[key] = (book, merged)
        return self._merged[key]

    def template(self, intent: str, rng: random.Random, lang: str = "en") -> Template:
        """Fix a skeleton: one phrasing per segment, and the client's fixed parts."""
        recipe = RECIPES[intent]
        if lang not in self.phrases[intent]:
            lang = "en"
        book, lists = self._resolve(intent, lang)
        choice = {seg: rng.randrange(len(alts)) for seg, alts in book.items()}
        ctx = Ctx(self, recipe, lang, rng, 0.0, book, lists, choice, {})
        fixed = recipe.fix(ctx)
        return Template(intent, lang, recipe, self, book, lists, choice, fixed)
