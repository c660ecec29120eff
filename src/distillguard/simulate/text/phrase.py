"""Phrasings: text with ``{{slot}}`` holes, split once at load so that filling is a join.

Double braces keep JSON examples, code and LaTeX (``\\boxed{}``) in phrasings literal.

>>> t = Text("Solve {{problem}} and put the answer in \\\\boxed{}.")
>>> t.slots
('problem',)
>>> t.fill({"problem": "2+2"})
'Solve 2+2 and put the answer in \\\\boxed{}.'
>>> t.literal
'Solve  and put the answer in \\\\boxed{}.'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SLOT = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


class Text:
    """One phrasing alternative, pre-split into literals and slot names."""

    __slots__ = ("literal", "lits", "slots", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts = _SLOT.split(source)
        self.lits: tuple[str, ...] = tuple(parts[0::2])
        self.slots: tuple[str, ...] = tuple(parts[1::2])
        self.literal = "".join(self.lits)

    def fill(self, values: Mapping[str, str]) -> str:
        if not self.slots:
            return self.source
        lits = self.lits
        out = [lits[0]]
        for i, name in enumerate(self.slots):
            out.append(values[name])
            out.append(lits[i + 1])
        return "".join(out)

    def __repr__(self) -> str:
        return f"Text({self.source!r})"


def compile_all(raw: Mapping[str, object]) -> dict[str, tuple[Text, ...]]:
    """Segment name -> its alternatives; a bare string is a single alternative."""
    out: dict[str, tuple[Text, ...]] = {}
    for name, alts in raw.items():
        items = [alts] if isinstance(alts, str) else list(alts)  # type: ignore[call-overload]
        if not items:
            raise ValueError(f"segment {name!r} has no phrasings")
        out[str(name)] = tuple(Text(str(a)) for a in items)
    return out
