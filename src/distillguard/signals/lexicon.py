"""Phrase lists from the rule files, matched in one pass with an Aho-Corasick automaton.

One automaton holds every phrase of every concept and capability, so a request's text is read
once whatever the number of rules: the cost is linear in the text, not in the rules. Each
phrase carries a bit mask of the sets that own it, so rules test sets with integer operations
and phrases are only spelled out when a reason is written.

>>> lex = Lexicon.default()
>>> hits = lex.find("Please think STEP BY STEP. The answer is 42.")
>>> "step_by_step" in hits, "rubric" in hits
(True, False)
>>> sorted(hits["step_by_step"]), sorted(hits["given_answer"])
(['step by step'], ['the answer is'])
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import ahocorasick_rs
import yaml

from distillguard.signals.memo import Memo

RULES = resources.files("distillguard.signals") / "rules"


def load_rules(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((RULES / name).read_text(encoding="utf-8"))
    return data


class Hits:
    """The phrases found in one text: ``mask`` has the bit of every set with a phrase present."""

    __slots__ = ("found", "lexicon", "mask")

    def __init__(self, lexicon: Lexicon, found: frozenset[int], mask: int) -> None:
        self.lexicon = lexicon
        self.found = found  # indexes of the distinct phrases present
        self.mask = mask

    def __contains__(self, name: object) -> bool:
        return bool(self.mask & self.lexicon.bits.get(str(name), 0))

    def __getitem__(self, name: str) -> set[str]:
        """The phrases of set ``name`` present in the text."""
        bit, lex = self.lexicon.bits[name], self.lexicon
        return {lex.phrases[i] for i in self.found if lex.masks[i] & bit}


class Lexicon:
    """Named phrase sets; ``find`` returns the :class:`Hits` of a text."""

    def __init__(self, sets: dict[str, list[str]]) -> None:
        self.names = tuple(sets)
        self.bits = {name: 1 << i for i, name in enumerate(self.names)}
        owners: dict[str, int] = {}
        for name, phrases in sets.items():
            for phrase in phrases:
                key = str(phrase).lower()
                if key:
                    owners[key] = owners.get(key, 0) | self.bits[name]
        self.phrases = tuple(owners)
        self.masks = tuple(owners.values())
        # A DFA over UTF-8 bytes: more memory (a few MB for these lists), and the fastest search
        # here; bytes spare turning each match's offsets into character offsets, never used.
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            [p.encode() for p in self.phrases],
            matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.DFA,
        )
        self._part = Memo(self._read)
        self._none = Hits(self, frozenset(), 0)

    @staticmethod
    @cache
    def default() -> Lexicon:
        intent, capability = load_rules("intent.yaml"), load_rules("capability.yaml")
        sets = {**intent["concepts"]}
        sets.update({f"cap:{k}": v for k, v in capability["capabilities"].items()})
        return Lexicon(sets)

    def mask(self, names: Iterable[str]) -> int:
        out = 0
        for name in names:
            out |= self.bits[name]
        return out

    def find(self, text: str) -> Hits:
        """Phrases found in ``text``, case-insensitive, overlapping ones included."""
        return self._read(text)

    def find_parts(self, parts: list[str]) -> Hits:
        """Phrases found in any of ``parts`` (a system prompt, turns), each part read once.

        A phrase is not looked for across the joint of two parts. Parts seen recently are not
        read again (see :mod:`distillguard.signals.memo`).

        >>> Lexicon.default().find_parts(["Be brief.", "Think step by step."]).mask != 0
        True
        """
        if len(parts) == 1:
            return self._part(parts[0])
        hits = [self._part(p) for p in parts]
        found = [h.found for h in hits if h.mask]
        if not found:
            return self._none
        if len(found) == 1:
            return next(h for h in hits if h.mask)
        mask = 0
        for h in hits:
            mask |= h.mask
        return Hits(self, frozenset().union(*found), mask)

    def _read(self, text: str) -> Hits:
        matches = self._automaton.find_matches_as_indexes(text.lower().encode(), overlapping=True)
        if not matches:
            return self._none
        found = frozenset(m[0] for m in matches)
        mask = 0
        for i in found:
            mask |= self.masks[i]
        return Hits(self, found, mask)
