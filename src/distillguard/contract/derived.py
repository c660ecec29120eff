"""What detection needs from a request's bodies, without their text.

An event whose log keeps no text (the gateway's ``log.retention: derived``) carries these
instead of its bodies: the store's body-derived columns, computed where the text was seen, by
the code ingest runs (``signals/derived.py``). Ingest stores them as they are. Field names are
the store's column names (``store/columns.py``, ``docs/store.md``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Count = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Digest = Annotated[int, Meta(ge=0)]  # below 2**64: checked by ingest (msgspec bounds are int64)
Score = Annotated[float, Meta(ge=0.0, le=1.0)]


class Derived(msgspec.Struct):
    """A request's body-derived columns: shape, sizes, sampling settings and signals, in the
    store's column order. Every field is present, ``null`` where the column allows it, except
    the ``meaning_*`` scores and ``topic``, which logs from before them lack."""

    api_shape: str
    n_turns: Count
    n_user_turns: Count
    n_images: Count
    n_tools: Count
    n_tool_calls: Count
    n_tool_results: Count
    system_hash: Digest | None
    tool_schema_hash: Digest | None
    system_chars: Count
    prompt_chars: Count
    last_user_chars: Count
    tool_result_chars: Count
    response_chars: Count | None
    response_reasoning_chars: Count | None
    max_tokens: Annotated[int, Meta(ge=0, le=2**63 - 1)] | None
    temperature: float | None
    top_p: float | None
    n: Count | None
    logprobs: bool | None
    stream: bool | None
    response_format: str | None
    reasoning: bool | None
    reasoning_elicitation: Score
    hidden_reasoning_request: Score
    rubric_grading: Score
    synthetic_data: Score
    sensitive_rewrite: Score
    format_harvest: Score
    capability: str
    template_head: Digest | None
    template_tail: Digest | None
    lsh_0: Digest | None
    lsh_1: Digest | None
    lsh_2: Digest | None
    lsh_3: Digest | None
    tool_shape_hash: Digest | None
    # Intent by meaning (signals/meaning.py); logs written before these existed lack them.
    meaning_reasoning_elicitation: Score | None = None
    meaning_hidden_reasoning_request: Score | None = None
    meaning_rubric_grading: Score | None = None
    meaning_synthetic_data: Score | None = None
    meaning_sensitive_rewrite: Score | None = None
    meaning_format_harvest: Score | None = None
    topic: Annotated[int, Meta(ge=0, le=32767)] | None = None


DIGESTS = tuple(
    name
    for name in Derived.__struct_fields__
    if name.endswith("_hash") or name.startswith(("template_", "lsh_"))
)
