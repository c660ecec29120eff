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

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from distillguard.signals.lexicon import Hits, Lexicon, load_rules
from distillguard.signals.memo import Memo


@dataclass(frozen=True)
class Rule:
    when: tuple[str, ...]
    score: float
    reason: str
    unless: tuple[str, ...] = ()


class IntentRules:
    def __init__(self, signals: dict[str, list[Rule]], lexicon: Lexicon | None = None) -> None:
        # Highest score first: the first rule that fires is the answer.
        self.signals = {k: sorted(v, key=lambda r: -r.score) for k, v in signals.items()}
        self.names = tuple(self.signals)
        lex = lexicon or Lexicon.default()
        # Each rule as (all of, none of) bit masks: firing is two integer tests.
        self._masks = {
            k: [(lex.mask(r.when), lex.mask(r.unless), r) for r in v]
            for k, v in self.signals.items()
        }
        self._by_mask = Memo(self._fire_all)

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

    def fire_all(self, hits: Hits) -> Mapping[str, Rule]:
        """Every signal's firing rule; the same concepts present give the same answer (shared)."""
        return self._by_mask(hits.mask)

    def _fire_all(self, mask: int) -> Mapping[str, Rule]:
        out = {}
        for name, rules in self._masks.items():
            for when, unless, rule in rules:
                if mask & when == when and not mask & unless:
                    out[name] = rule
                    break
        return MappingProxyType(out)

    def score(self, name: str, hits: Hits) -> tuple[float, str]:
        rule = self.fire_all(hits).get(name)
        return (rule.score, reason(rule, hits)) if rule else (0.0, "")


def reason(rule: Rule, hits: Hits) -> str:
    """The rule's reason with up to four of the phrases that made it fire."""
    phrases = sorted({p for c in rule.when for p in hits[c]})[:4]
    return f"{rule.reason}: " + ", ".join(f"'{p}'" for p in phrases)
