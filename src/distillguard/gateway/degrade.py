"""Countermeasures that lower the training value of a response without refusing it.

A degraded request is capped in length, asks for one sample and no log-probabilities, and its
response loses reasoning: Anthropic ``thinking`` blocks, OpenAI ``reasoning_content`` and
Responses ``reasoning`` items, streamed or not. The answer itself is untouched, so a legitimate
user on a wrong verdict still gets what they asked for.

>>> body = {"max_tokens": 4096, "logprobs": True, "n": 4, "messages": []}
>>> degrade_request(body, 512)
{'max_tokens': 512, 'n': 1, 'messages': []}
>>> strip_response({"content": [{"type": "thinking", "thinking": "..."},
...                             {"type": "text", "text": "42"}]})
{'content': [{'type': 'text', 'text': '42'}]}
"""

from __future__ import annotations

from typing import Any

_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
# LiteLLM adds its own spellings: thinking_blocks (Anthropic's thinking, on chat completions).
REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details", "thinking_blocks")
_LENGTH_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
DEGRADED_FIELDS = (*_LENGTH_FIELDS, "n", "logprobs", "top_logprobs", "thinking")  # all it touches


def degrade_request(
    body: dict[str, Any], max_tokens: int, path: str = "", model: str | None = None
) -> dict[str, Any]:
    out = dict(body)
    if model and "model" in out:  # served by a smaller or slower model instead
        out["model"] = model
    given = [name for name in _LENGTH_FIELDS if name in out]
    for name in given:
        if not isinstance(out[name], int) or out[name] > max_tokens:
            out[name] = max_tokens
    if not given:  # no limit asked for is no limit: set one in the field this API reads
        out["max_output_tokens" if path.rstrip("/").endswith("/responses") else "max_tokens"] = (
            max_tokens
        )
    if "n" in out:
        out["n"] = 1
    for name in ("logprobs", "top_logprobs"):
        out.pop(name, None)
    # A thinking budget must stay below max_tokens; and the thinking would be stripped anyway.
    out.pop("thinking", None)
    return out


def strip_response(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed response without its reasoning (any API shape; others untouched)."""
    out = dict(body)
    content = out.get("content")
    if isinstance(content, list):
        out["content"] = [b for b in content if not _is_thinking(b)]
    choices = out.get("choices")
    if isinstance(choices, list):
        out["choices"] = [_strip_choice(c, "message") for c in choices]
    output = out.get("output")
    if isinstance(output, list):
        out["output"] = [
            i for i in output if not (isinstance(i, dict) and i.get("type") == "reasoning")
        ]
    return out


def _is_thinking(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in _THINKING_BLOCKS


def _strip_choice(choice: Any, key: str) -> Any:
    if not isinstance(choice, dict):
        return choice
    out = dict(choice)
    if out.get("logprobs") is not None:
        out["logprobs"] = None
    message = out.get(key)
    if isinstance(message, dict):
        out[key] = {k: v for k, v in message.items() if k not in REASONING_FIELDS}
    return out


def _strip_responses_event(kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A Responses API stream event without reasoning: its own events, items and summary."""
    if kind.startswith("response.reasoning"):
        return None
    item = data.get("item")
    if isinstance(item, dict) and item.get("type") == "reasoning":
        return None
    response = data.get("response")
    if isinstance(response, dict):
        return {**data, "response": strip_response(response)}
    return data


class StreamStripper:
    """Strips reasoning from a stream of server-sent events, one event's data at a time.

    Anthropic blocks are numbered: dropping a thinking block renumbers the blocks after it, so
    the SDKs, which build the message by index, see a well-formed stream.
    """

    def __init__(self) -> None:
        self._dropped: set[int] = set()

    def drop(self, index: int) -> None:
        """Drop block ``index`` (its events so far were held back by the caller)."""
        self._dropped.add(index)

    def renumber(self, index: int) -> int:
        """Block ``index``'s number once the dropped blocks before it are gone."""
        return index - sum(1 for i in self._dropped if i < index)

    def event(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The event's data to send, or None to drop the event."""
        kind = data.get("type")
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            index = data.get("index")
            if not isinstance(index, int):
                return data
            if kind == "content_block_start" and _is_thinking(data.get("content_block")):
                self._dropped.add(index)
            if index in self._dropped:
                return None
            shift = index - self.renumber(index)
            return {**data, "index": index - shift} if shift else data
        if isinstance(kind, str) and kind.startswith("response."):
            return _strip_responses_event(kind, data)
        choices = data.get("choices")
        if isinstance(choices, list):
            return {**data, "choices": [_strip_choice(c, "delta") for c in choices]}
        return data
