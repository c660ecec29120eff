"""Server-sent events, read as they pass: split into events, and recorded for the log.

>>> split = EventSplitter()
>>> split.feed(b"data: {\\"a\\": 1}\\n\\nda"), split.feed(b"ta: [DONE]\\n\\n")
([b'data: {"a": 1}'], [b'data: [DONE]'])
"""

from __future__ import annotations

from typing import Any

import msgspec

_decode = msgspec.json.decode


def usage_counts(usage: Any) -> dict[str, int]:
    """Token counts of either API's usage object, in the contract's names.

    >>> usage_counts({"prompt_tokens": 3, "completion_tokens": 5})
    {'input_tokens': 3, 'output_tokens': 5}
    """
    out: dict[str, int] = {}
    if isinstance(usage, dict):
        for ours, theirs in (
            ("input_tokens", "prompt_tokens"),
            ("output_tokens", "completion_tokens"),
        ):
            for name in (ours, theirs):
                if isinstance(usage.get(name), int):
                    out[ours] = usage[name]
    return out


class EventSplitter:
    """Cuts a byte stream into SSE events (the text between blank lines)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        *events, self._buffer = data.split(b"\n\n")
        return [e for e in events if e]

    def rest(self) -> bytes:
        return self._buffer


def event_data(event: bytes) -> bytes | None:
    """The ``data:`` payload of one event (several data lines joined), or None."""
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def decode_data(payload: bytes) -> dict[str, Any] | None:
    if payload == b"[DONE]":
        return None
    try:
        value = _decode(payload)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


class StreamRecord:
    """What a streamed response said, as a non-streamed response body for the log."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.id: str | None = None
        self.model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.anthropic = False

    def add(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "message_start":
            self.anthropic = True
            message = data.get("message")
            if isinstance(message, dict):
                self.id, self.model = message.get("id"), message.get("model")
                self._usage(message.get("usage"))
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                self.text.append(str(delta.get("text", "")))
        elif kind == "message_delta":
            self._usage(data.get("usage"))
        elif isinstance(data.get("choices"), list):
            self.id, self.model = data.get("id", self.id), data.get("model", self.model)
            for choice in data["choices"]:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                    self.text.append(delta["content"])
            self._usage(data.get("usage"))

    def _usage(self, usage: Any) -> None:
        for name, count in usage_counts(usage).items():
            setattr(self, name, count)

    def response(self) -> dict[str, Any]:
        text = "".join(self.text)
        if self.anthropic:
            body: dict[str, Any] = {"type": "message", "content": [{"type": "text", "text": text}]}
        else:
            body = {
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            }
        body.update({"id": self.id, "model": self.model, "streamed": True})
        usage = {
            k: v for k in ("input_tokens", "output_tokens") if (v := getattr(self, k)) is not None
        }
        if usage:
            body["usage"] = usage
        return body
