"""The prompt-text layer of the traffic simulator: what each kind of client writes.

``TextBank.load()`` parses the phrasings, slot lists and real sources (HumanEval, CHAMP,
BFCL) once. ``bank.template(intent, rng, lang)`` fixes a skeleton for one client;
``template.render(rng, paraphrase)`` makes a ``Prompt`` in neutral form.

>>> import random
>>> bank = TextBank.load()
>>> t = bank.template("batch_classify", random.Random(0))
>>> a, b = t.render(random.Random(1)), t.render(random.Random(2))
>>> a.capability, a.output_tokens, a.messages[-1]["role"]
('other', (3, 20), 'user')
>>> sorted(set(INTENTS.values()))[:3]
['agentic', 'coding', 'computer_use']
"""

from __future__ import annotations

from distillguard.simulate.text.bank import TextBank
from distillguard.simulate.text.recipes import ATTACK, LEGITIMATE, RECIPES
from distillguard.simulate.text.rename import rename_tools
from distillguard.simulate.text.template import Prompt, Template

LANGUAGES = ("en", "zh", "es", "de", "fr", "ja", "ru", "pt")
INTENTS: dict[str, str] = {intent: r.capability for intent, r in RECIPES.items()}
"""Intent -> capability (coding, agentic, math_reasoning, data_analysis, computer_use,
writing, translation, other)."""
ATTACK_INTENTS = frozenset(cls.intent for cls in ATTACK)
LEGITIMATE_INTENTS = frozenset(cls.intent for cls in LEGITIMATE)

__all__ = [
    "ATTACK_INTENTS",
    "INTENTS",
    "LANGUAGES",
    "LEGITIMATE_INTENTS",
    "Prompt",
    "Template",
    "TextBank",
    "rename_tools",
]
