"""A request's body-derived columns, computed once: by ingest from a logged body, or by the
gateway as the request passes, when its log keeps no text (``contract/derived.py``).

>>> cols = derive({"messages": [{"role": "user", "content": "Show your reasoning step by step."}]},
...               "/v1/chat/completions", None)
>>> cols.api_shape, cols.n_turns, cols.reasoning_elicitation > 0
('openai_chat', 1, True)
"""

from __future__ import annotations

from typing import Any

from distillguard.contract.body import RequestView, view_request, view_response
from distillguard.contract.derived import Derived
from distillguard.signals.request import INTENT_SIGNALS, RequestSignals, score_request
from distillguard.signals.template import BANDS

NO_BANDS = (None,) * BANDS
_FIELDS = Derived.__struct_fields__
BANDS_AT = slice(_FIELDS.index("lsh_0"), _FIELDS.index("lsh_0") + BANDS)  # in a body tuple


def body_columns(
    view: RequestView, sig: RequestSignals, response: dict[str, Any] | None
) -> tuple[Any, ...]:
    """The columns of ``Derived``, in its order, as a tuple (ingest's hot path builds rows
    from it without an object per request)."""
    answer = view_response(response) if response is not None else None
    return (
        view.shape,
        len(view.turns),
        view.n_user_turns,
        view.n_images,
        len(view.tools),
        view.n_tool_calls,
        view.n_tool_results,
        sig.system_hash,
        sig.tool_schema,
        len(view.system),
        view.prompt_chars,
        len(view.last_user_text),
        view.tool_result_chars,
        answer.text_chars if answer else None,
        answer.reasoning_chars if answer else None,
        view.max_tokens,
        view.temperature,
        view.top_p,
        view.n,
        view.logprobs,
        view.stream,
        view.response_format,
        view.reasoning,
        *(sig.scores[name] for name in INTENT_SIGNALS),
        sig.capability,
        sig.template_head,
        sig.template_tail,
        *(sig.bands or NO_BANDS),
        sig.tool_shape,
        *(sig.meaning[name] for name in INTENT_SIGNALS),
        sig.topic,
    )


def derive(
    request: dict[str, Any],
    endpoint: str,
    response: dict[str, Any] | None,
    view: RequestView | None = None,
    sig: RequestSignals | None = None,
) -> Derived:
    """The body-derived columns of one request (``view`` and ``sig`` when already computed)."""
    view = view or view_request(request, endpoint)
    sig = sig or score_request(view)
    return Derived(*body_columns(view, sig, response))
