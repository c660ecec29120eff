"""Phrase lists from the rule files, matched in one pass with an Aho-Corasick automaton.

One automaton holds every phrase of every concept and capability, so a request's text is read
once whatever the number of rules: the cost is linear in the text, not in the rules.

>>> lex = Lexicon.default()
>>> hits = lex.find("Please think STEP BY STEP. The answer is 42.")
>>> sorted(hits["step_by_step"]), sorted(hits["given_answer"])
(['step by step'], ['the answer is'])
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import ahocorasick
import yaml

RULES = resources.files("distillguard.signals") / "rules"


def load_rules(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((RULES / name).read_text(encoding="utf-8"))
    return data


class Lexicon:
    """Named phrase sets; ``find`` returns, per name, the phrases present in a text."""

    def __init__(self, sets: dict[str, list[str]]) -> None:
        self.names = tuple(sets)
        owners: dict[str, list[str]] = {}
        for name, phrases in sets.items():
            for phrase in phrases:
                key = str(phrase).lower()
                if key:
                    owners.setdefault(key, []).append(name)
        self._automaton = ahocorasick.Automaton()
        for key, names in owners.items():
            self._automaton.add_word(key, (key, tuple(names)))
        self._automaton.make_automaton()

    @staticmethod
    @cache
    def default() -> Lexicon:
        intent, capability = load_rules("intent.yaml"), load_rules("capability.yaml")
        sets = {**intent["concepts"]}
        sets.update({f"cap:{k}": v for k, v in capability["capabilities"].items()})
        return Lexicon(sets)

    def find(self, text: str) -> dict[str, set[str]]:
        """Phrases found in ``text`` (case-insensitive), grouped by the sets that own them."""
        hits: dict[str, set[str]] = {}
        for _, (phrase, names) in self._automaton.iter(text.lower()):
            for name in names:
                hits.setdefault(name, set()).add(phrase)
        return hits
