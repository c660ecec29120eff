"""Which capability a request targets, from phrases and from the request's structure.

>>> from distillguard.contract.body import view_request
>>> from distillguard.signals.lexicon import Lexicon
>>> text = "Fix this Python bug:\\n```def f(): return 1```"
>>> view = view_request({"messages": [{"role": "user", "content": text}]})
>>> top(capability_scores(view, Lexicon.default().find(view.last_user_text)))
'coding'
"""

from __future__ import annotations

from distillguard.contract.body import RequestView

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


def capability_scores(view: RequestView, hits: dict[str, set[str]]) -> dict[str, float]:
    scores = {c: _BY_PHRASES[min(len(hits.get(f"cap:{c}", ())), 3)] for c in CAPABILITIES[:-1]}
    # Structure says more than words: tools and tool loops are agentic, screenshots are vision.
    if view.tools or view.n_tool_results:
        scores["agentic"] = max(scores["agentic"], 0.6 + 0.3 * (view.n_tool_results > 0))
    if view.n_images:
        scores["computer_use"] = max(scores["computer_use"], 0.5) + 0.2
    if any(t.name.lower() in ("computer", "mouse", "keyboard", "screenshot") for t in view.tools):
        scores["computer_use"] = 1.0
    return {k: min(v, 1.0) for k, v in scores.items()}


def top(scores: dict[str, float]) -> str:
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= 0.3 else "other"
