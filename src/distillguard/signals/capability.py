"""Which capability a request targets, from phrases and from the request's structure.

>>> from distillguard.contract.body import view_request
>>> from distillguard.signals.lexicon import Lexicon
>>> text = "Fix this Python bug:\\n```def f(): return 1```"
>>> view = view_request({"messages": [{"role": "user", "content": text}]})
>>> top(capability_scores(view, Lexicon.default().find(view.last_user_text)))
'coding'
"""

from __future__ import annotations

from functools import cache
from operator import attrgetter

from distillguard.contract.body import RequestView
from distillguard.signals.lexicon import Hits, Lexicon
from distillguard.signals.memo import Memo

CAPABILITIES = (
    "coding",
    "agentic",
    "math_reasoning",
    "data_analysis",
    "computer_use",
    "writing",
    "translation",
    "other",
)
_BY_PHRASES = (0.0, 0.4, 0.6, 0.8)
_DESKTOP_TOOLS = frozenset({"computer", "mouse", "keyboard", "screenshot"})


_name = attrgetter("name")
_SCORED = CAPABILITIES[:-1]  # `other` is what is left when none scores


@cache
def _owners(lexicon: Lexicon) -> tuple[tuple[int, ...], ...]:
    """For each phrase of the lexicon, the capabilities (by position) it is a phrase of."""
    bits = [lexicon.bits.get(f"cap:{c}", 0) for c in _SCORED]
    return tuple(tuple(i for i, b in enumerate(bits) if m & b) for m in lexicon.masks)


def _by_phrases(found: frozenset[int], lexicon: Lexicon) -> dict[str, float]:
    counts = [0] * len(_SCORED)
    owners = _owners(lexicon)
    for phrase in found:
        for i in owners[phrase]:
            counts[i] += 1
    return dict(zip(_SCORED, [_BY_PHRASES[min(n, 3)] for n in counts], strict=True))


# The same phrases give the same scores: remembered for the default lexicon (see memo.py).
_by_default_phrases: Memo[frozenset[int], dict[str, float]] = Memo(
    lambda found: _by_phrases(found, Lexicon.default())
)


def capability_scores(view: RequestView, hits: Hits) -> dict[str, float]:
    if hits.lexicon is Lexicon.default():
        scores = dict(_by_default_phrases(hits.found))
    else:
        scores = _by_phrases(hits.found, hits.lexicon)
    # Structure says more than words: tools and tool loops are agentic, screenshots are vision.
    if view.tools or view.n_tool_results:
        scores["agentic"] = max(scores["agentic"], 0.9 if view.n_tool_results else 0.6)
    if view.n_images:
        scores["computer_use"] = min(max(scores["computer_use"], 0.5) + 0.2, 1.0)
    if view.tools and not _DESKTOP_TOOLS.isdisjoint(map(str.lower, map(_name, view.tools))):
        scores["computer_use"] = 1.0
    return scores


def top(scores: dict[str, float]) -> str:
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= 0.3 else "other"
