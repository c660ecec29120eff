"""All per-request signals of one request: the one implementation batch and gateway share.

>>> from distillguard.contract.body import view_request
>>> body = {"messages": [{"role": "user", "content":
...     "Solve 17*3. The correct answer is 51. Explain step by step how to arrive at it."}]}
>>> s = score_request(view_request(body, "/v1/chat/completions"))
>>> s.scores["reasoning_elicitation"], s.capability
(0.9, 'math_reasoning')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from distillguard.contract.body import RequestView
from distillguard.contract.digest import system_digest
from distillguard.signals.capability import capability_scores, top
from distillguard.signals.intent import IntentRules, Rule, reason
from distillguard.signals.lexicon import Hits, Lexicon
from distillguard.signals.meaning import Meaning, Reading
from distillguard.signals.memo import Memo
from distillguard.signals.template import skeleton
from distillguard.signals.toolshape import tool_signatures

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
    capability: str
    capability_scores: dict[str, float]
    template_head: int | None = None
    template_tail: int | None = None
    bands: tuple[int, ...] = field(default_factory=tuple)
    tool_shape: int | None = None
    tool_schema: int | None = None
    system_hash: int | None = None
    hits: Hits | None = None
    fired: Mapping[str, Rule] = field(default_factory=dict)  # shared between requests: read only
    meaning: dict[str, float] = field(default_factory=dict)  # intent by meaning: meaning.py
    topic: int | None = None  # subject by meaning: topic.py

    @property
    def reasons(self) -> dict[str, str]:
        """Why each intent signal scored what it did (written on demand: ingest stores scores)."""
        out = dict.fromkeys(INTENT_SIGNALS, "")
        if self.hits is not None:
            out.update({name: reason(rule, self.hits) for name, rule in self.fired.items()})
        return out

    def as_json(self) -> dict[str, dict[str, object]]:
        """The `distillguard signals` line: every signal with its score and reason."""
        reasons = self.reasons
        out: dict[str, dict[str, object]] = {
            name: {"score": self.scores[name], "reason": reasons[name]} for name in INTENT_SIGNALS
        }
        for name, score in self.meaning.items():
            out[f"meaning_{name}"] = {
                "score": score,
                "reason": "close in meaning to requests that do this" if score >= 0.5 else "",
            }
        for cap, score in self.capability_scores.items():
            out[f"capability_{cap}"] = {
                "score": score,
                "reason": "targeted capability" if cap == self.capability else "",
            }
        return out


# Agent loops resend their task on every call: see memo.py.
_skeleton = Memo(skeleton)


def client_parts(view: RequestView) -> list[str]:
    """What the client wrote that intent is read from: system prompt and user turns, bounded."""
    parts: list[str] = []
    room = _TOTAL_CHARS + 1  # the parts are read as if joined by newlines, 9000 chars at most
    for text in (view.system, *(t.text for t in view.turns if t.role == "user")):
        if not text:
            continue
        part = text[: min(_TURN_CHARS, room - 1)]
        if part:
            parts.append(part)
        room -= len(part) + 1
        if room <= 1:
            break
    return parts


def client_text(view: RequestView) -> str:
    """The client's parts as one text, as ``distillguard signals`` and analysts read it."""
    return "\n".join(client_parts(view))


def score_request(view: RequestView) -> RequestSignals:
    """All signals of one request (the gateway's path: a batch of one)."""
    return score_requests((view,))[0]


def score_requests(views: Sequence[RequestView]) -> list[RequestSignals]:
    """All signals of many requests (ingest's chunks), the same as ``score_request`` of each.

    The phrases are found for the whole batch first, then the texts meaning has not read
    recently are read as one batch (``Meaning.read_many``); the rest is per request.
    """
    lexicon, rules = Lexicon.default(), IntentRules.default()
    hits = [lexicon.find_parts(client_parts(view)) for view in views]
    readings = _meanings(views, hits)
    out = []
    for view, hit, reading in zip(views, hits, readings, strict=True):
        fired = rules.fire_all(hit)
        scores = dict.fromkeys(INTENT_SIGNALS, 0.0)
        for name, rule in fired.items():
            scores[name] = rule.score
        caps = capability_scores(view, hit)
        sk = _skeleton(view.last_user_text)
        tool_schema, tool_shape = tool_signatures(view.tools)
        out.append(
            RequestSignals(
                scores=scores,
                hits=hit,
                fired=fired,
                capability=top(caps),
                capability_scores=caps,
                template_head=sk.head,
                template_tail=sk.tail,
                bands=sk.bands,
                tool_shape=tool_shape,
                tool_schema=tool_schema,
                system_hash=system_digest(view.system),
                meaning=reading.scores,
                topic=reading.topic,
            )
        )
    return out


_NO_MEANING = Reading(dict.fromkeys(INTENT_SIGNALS, 0.0), None)


def _meanings(views: Sequence[RequestView], hits: Sequence[Hits]) -> list[Reading]:
    """Meaning reads what the user asks: the user turns, not the app's constant system prompt
    (a shared system prompt is a coordination link instead, and an agent's long one would
    otherwise colour every request of its thousands of users)."""
    keys = {
        i: Meaning.key(turns, hit)
        for i, (turns, hit) in enumerate(zip(map(_user_turns, views), hits, strict=True))
        if turns
    }
    found = dict(zip(keys, Meaning.default().read_many(list(keys.values())), strict=True))
    return [found.get(i, _NO_MEANING) for i in range(len(views))]


def _user_turns(view: RequestView) -> list[str]:
    """The user's turns, latest first kept within the bounds (the harvest sits in the last
    ask), in their order."""
    users, room = [], _TOTAL_CHARS
    for t in reversed(view.turns):
        if room <= 0:
            break
        if t.role == "user" and t.text:
            users.append(t.text[: min(_TURN_CHARS, room)])
            room -= len(users[-1]) + 1
    return users[::-1]
