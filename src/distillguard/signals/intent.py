"""Intent signals: rules over concepts, read from ``rules/intent.yaml``.

A rule fires when all its concepts are present and none of its ``unless`` concepts are; a signal
scores the highest rule that fires and gives that rule's reason with the phrases that matched, so
an analyst sees why.

>>> rules = IntentRules.default()
>>> from distillguard.signals.lexicon import Lexicon
>>> hits = Lexicon.default().find("The answer is 12. Reconstruct the full reasoning step by step.")
>>> score, reason = rules.score("reasoning_elicitation", hits)
>>> score, reason.split(":")[0]
(0.9, 'asks to reconstruct the reasoning behind an answer it already has')
>>> rules.score("reasoning_elicitation", Lexicon.default().find("Hello there"))
(0.0, '')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from distillguard.signals.lexicon import load_rules


@dataclass(frozen=True)
class Rule:
    when: tuple[str, ...]
    score: float
    reason: str
    unless: tuple[str, ...] = ()


class IntentRules:
    def __init__(self, signals: dict[str, list[Rule]]) -> None:
        # Highest score first: the first rule that fires is the answer.
        self.signals = {k: sorted(v, key=lambda r: -r.score) for k, v in signals.items()}
        self.names = tuple(self.signals)

    @staticmethod
    @cache
    def default() -> IntentRules:
        data = load_rules("intent.yaml")
        concepts = set(data["concepts"])
        signals: dict[str, list[Rule]] = {}
        for name, rules in data["signals"].items():
            for r in rules:
                unknown = (set(r["when"]) | set(r.get("unless", ()))) - concepts
                if unknown:
                    raise ValueError(f"intent.yaml: signal {name}: unknown concepts {unknown}")
                signals.setdefault(name, []).append(
                    Rule(
                        tuple(r["when"]),
                        float(r["score"]),
                        str(r["reason"]),
                        tuple(r.get("unless", ())),
                    )
                )
        return IntentRules(signals)

    def score(self, name: str, hits: dict[str, set[str]]) -> tuple[float, str]:
        for rule in self.signals[name]:
            if all(c in hits for c in rule.when) and not any(c in hits for c in rule.unless):
                phrases = sorted({p for c in rule.when for p in hits[c]})[:4]
                return rule.score, f"{rule.reason}: " + ", ".join(f"'{p}'" for p in phrases)
        return 0.0, ""
