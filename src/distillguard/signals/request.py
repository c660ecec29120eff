"""All per-request signals of one request: the one implementation batch and gateway share.

>>> from distillguard.contract.body import view_request
>>> body = {"messages": [{"role": "user", "content":
...     "Solve 17*3. The correct answer is 51. Explain step by step how to arrive at it."}]}
>>> s = score_request(view_request(body, "/v1/chat/completions"))
>>> s.scores["reasoning_elicitation"], s.capability
(0.9, 'math_reasoning')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from distillguard.contract.body import RequestView
from distillguard.signals.capability import capability_scores, top
from distillguard.signals.intent import IntentRules
from distillguard.signals.lexicon import Lexicon
from distillguard.signals.template import BANDS, skeleton
from distillguard.signals.toolshape import tool_shape_digest

INTENT_SIGNALS = (
    "reasoning_elicitation",
    "hidden_reasoning_request",
    "rubric_grading",
    "synthetic_data",
    "sensitive_rewrite",
    "format_harvest",
)
_TURN_CHARS, _TOTAL_CHARS = 3000, 9000


@dataclass(slots=True)
class RequestSignals:
    scores: dict[str, float]
    reasons: dict[str, str]
    capability: str
    capability_scores: dict[str, float]
    template_head: int | None = None
    template_tail: int | None = None
    bands: tuple[int, ...] = field(default_factory=tuple)
    tool_shape: int | None = None

    def as_json(self) -> dict[str, dict[str, object]]:
        """The `distillguard signals` line: every signal with its score and reason."""
        out: dict[str, dict[str, object]] = {
            name: {"score": self.scores[name], "reason": self.reasons[name]}
            for name in INTENT_SIGNALS
        }
        for cap, score in self.capability_scores.items():
            out[f"capability_{cap}"] = {
                "score": score,
                "reason": "targeted capability" if cap == self.capability else "",
            }
        return out


def client_text(view: RequestView) -> str:
    """What the client wrote that intent is read from: system prompt and user turns, bounded."""
    parts = [view.system[:_TURN_CHARS]]
    parts += [t.text[:_TURN_CHARS] for t in view.turns if t.role == "user"]
    text = "\n".join(p for p in parts if p)
    return text if len(text) <= _TOTAL_CHARS else text[:_TOTAL_CHARS]


def score_request(view: RequestView) -> RequestSignals:
    hits = Lexicon.default().find(client_text(view))
    rules = IntentRules.default()
    scores, reasons = {}, {}
    for name in INTENT_SIGNALS:
        scores[name], reasons[name] = rules.score(name, hits)
    caps = capability_scores(view, hits)
    sk = skeleton(view.last_user_text)
    bands = sk.bands if len(sk.bands) == BANDS else ()
    return RequestSignals(
        scores=scores,
        reasons=reasons,
        capability=top(caps),
        capability_scores=caps,
        template_head=sk.head,
        template_tail=sk.tail,
        bands=bands,
        tool_shape=tool_shape_digest(view.tools),
    )
