"""Reasoning replaced by a short summary of what it concluded (``degrade.reasoning: summary``).

A student learns a capability from the steps of a trace, not from its conclusion; a person on a
wrong verdict still sees why the answer is what it is. The summary is written by a configured
OpenAI-compatible server, or by the model server itself under a summarising prompt. Chat
Completions ``reasoning_content`` (or ``reasoning``) and Anthropic ``thinking`` blocks are
replaced, streamed or not. Streamed, the reasoning is held back until it ends and its summary is
sent as one delta in its place, so the stream stays well formed for the SDKs. Responses API
reasoning items are stripped. Whenever no summary comes in time, the reasoning is stripped: it
is never passed on whole.

>>> body = {"content": [{"type": "thinking", "thinking": "6 * 7: 6 * 7 = 42", "signature": "s"},
...                     {"type": "text", "text": "42"}]}
>>> reasoning_of(body)
'6 * 7: 6 * 7 = 42'
>>> with_summary(body, "It multiplied.")["content"][0]
{'type': 'thinking', 'thinking': 'It multiplied.', 'signature': 's'}
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from distillguard.gateway.config import GatewayConfig, Summary
from distillguard.gateway.degrade import StreamStripper, strip_response
from distillguard.gateway.upstream import Upstream

_encode = msgspec.json.encode
_TEXT_FIELDS = ("reasoning_content", "reasoning")  # chat messages: where the trace is a string
_CREDENTIALS = frozenset({"authorization", "x-api-key", "api-key", "anthropic-version"})


class SummaryError(Exception):
    pass


def reasoning_of(body: dict[str, Any]) -> str:
    """The reasoning of a non-streamed Chat Completions or Messages response ('' if none)."""
    parts: list[str] = []
    for block in body.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "thinking":
            parts.append(str(block.get("thinking") or ""))
    for choice in body.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            parts += [message[f] for f in _TEXT_FIELDS if isinstance(message.get(f), str)][:1]
    # Responses API reasoning items are stripped, not summarised: no summary is asked for them.
    return "\n".join(p for p in parts if p)


def with_summary(body: dict[str, Any], summary: str) -> dict[str, Any]:
    """The response with its reasoning replaced by ``summary``; what carries no summary (other
    reasoning fields, redacted thinking, log-probabilities) stripped as ``degrade`` does."""
    out = strip_response(body)
    blocks = body.get("content")
    if isinstance(blocks, list):
        first = next((b for b in blocks if _is(b, "thinking")), None)
        if first is not None:
            at = blocks.index(first)
            kept = [b for b in blocks[:at] if not _is(b, "redacted_thinking")]
            block = {"type": "thinking", "thinking": summary}
            if "signature" in first:  # opaque to the client; the model server's to check
                block["signature"] = first["signature"]
            out["content"] = [*kept, block, *out["content"][len(kept) :]]
    choices = body.get("choices")
    if isinstance(choices, list):
        for given, choice in zip(choices, out["choices"], strict=True):
            message = given.get("message") if isinstance(given, dict) else None
            if not isinstance(message, dict):
                continue
            name = next((f for f in _TEXT_FIELDS if isinstance(message.get(f), str)), None)
            if name is not None:
                choice["message"] = {**choice["message"], name: summary}
    return out


def _is(block: Any, kind: str) -> bool:
    return isinstance(block, dict) and block.get("type") == kind


class Summariser:
    """Writes summaries for the gateway: one call per degraded answer that has reasoning."""

    def __init__(self, cfg: GatewayConfig, upstream: Upstream) -> None:
        self.cfg = cfg
        self.upstream = upstream
        self._own: dict[str, Upstream] = {}  # by url: settings may change on reload

    async def summarise(
        self, reasoning: str, model: str, path: str, forward: list[tuple[str, str]]
    ) -> str:
        """The summary, or SummaryError. ``path`` and ``forward`` are the degraded request's:
        without ``summary.url`` it goes to the same model server in the same API, with the
        client's credentials, so that the summary is billed to the same account."""
        settings = self.cfg.degrade.summary
        model = settings.model or model
        anthropic = settings.url is None and path.rstrip("/").endswith("/messages")
        body = _request(settings, reasoning, model, anthropic)
        headers = [("content-type", "application/json"), ("accept-encoding", "identity")]
        if settings.url is None:
            server = self.upstream
            headers += [(k, v) for k, v in forward if k.lower() in _CREDENTIALS]
        else:
            server = self._server(settings.url)
            if settings.api_key_env and (key := os.environ.get(settings.api_key_env)):
                headers.append(("authorization", f"Bearer {key}"))
        target = "/v1/messages" if anthropic else "/v1/chat/completions"
        try:
            async with asyncio.timeout(settings.timeout_s):
                reply = await server.send("POST", target, headers, _encode(body))
                try:
                    raw = await reply.read()
                finally:
                    reply.close()  # a timed-out read gives its connection back too
        except TimeoutError:
            raise SummaryError("timeout") from None
        except Exception as exc:
            raise SummaryError(f"{type(exc).__name__}: {exc}") from None
        if reply.status != 200:
            raise SummaryError(f"status {reply.status}")
        try:
            answer = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise SummaryError("not JSON") from None
        text = _answer_text(answer).strip()
        if not text:
            raise SummaryError("empty")
        return text

    def _server(self, url: str) -> Upstream:
        if url not in self._own:
            limits = self.cfg.limits
            self._own[url] = Upstream(
                url, self.cfg.degrade.summary.timeout_s, limits.connect_timeout_s
            )
        return self._own[url]

    async def close(self) -> None:
        for server in self._own.values():
            await server.close()


def _request(settings: Summary, reasoning: str, model: str, anthropic: bool) -> dict[str, Any]:
    user = {"role": "user", "content": reasoning}
    if anthropic:
        return {
            "model": model,
            "system": settings.prompt,
            "messages": [user],
            "max_tokens": settings.max_tokens,
        }
    system = {"role": "system", "content": settings.prompt}
    return {"model": model, "messages": [system, user], "max_tokens": settings.max_tokens}


def _answer_text(answer: Any) -> str:
    if not isinstance(answer, dict):
        return ""
    for choice in answer.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return str(message["content"])
    blocks = answer.get("content")
    if isinstance(blocks, list):
        return "".join(str(b.get("text", "")) for b in blocks if _is(b, "text"))
    return ""


Summarise = Callable[[str], Awaitable[str]]


class StreamSummary:
    """Rewrites a degraded stream, one event's data at a time: its reasoning held back and
    replaced by one summary delta when the reasoning ends. ``notes`` says what happened, for
    the event log."""

    def __init__(self, summarise: Summarise) -> None:
        self._summarise = summarise
        self._strip = StreamStripper()  # Responses events, and what carries no summary
        self._chunk: dict[str, Any] | None = None  # the first chat chunk held back
        self._text: list[str] = []
        self._field = "reasoning_content"
        self._block: dict[str, Any] | None = None  # the Anthropic thinking block held back
        self._signature: Any = None
        self.notes: dict[str, Any] = {}

    async def event(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The events' data to send in place of this one (none, while reasoning is held)."""
        kind = data.get("type")
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            return await self._anthropic(str(kind), data)
        choices = data.get("choices")
        if isinstance(choices, list) and not isinstance(kind, str):
            return await self._chat(data, choices)
        kept = self._strip.event(data)
        return [kept] if kept is not None else []

    async def flush(self) -> list[dict[str, Any]]:
        """What is still held back, summarised: call before the stream's end or ``[DONE]``."""
        if self._chunk is None:
            return []
        chunk, self._chunk = self._chunk, None
        summary = await self._summary()
        if summary is None:
            return []
        # Built from the held chunk's identity only: its content or tool calls, if it had any,
        # go out in the chunk that follows, not twice.
        first = chunk["choices"][0] if isinstance(chunk["choices"][0], dict) else {}
        given = first.get("delta")
        delta = {"role": given["role"]} if isinstance(given, dict) and "role" in given else {}
        choice = {"index": first.get("index", 0), "delta": {**delta, self._field: summary},
                  "finish_reason": None}  # fmt: skip
        head = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        return [{**head, "choices": [choice]}]

    async def _chat(self, data: dict[str, Any], choices: list[Any]) -> list[dict[str, Any]]:
        text = []
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                for name in _TEXT_FIELDS:
                    if isinstance(delta.get(name), str) and delta[name]:  # "" is no reasoning
                        self._field = name
                        text.append(delta[name])
        stripped = self._strip.event(data) or data
        if text:
            self._text += text
            if self._chunk is None:
                self._chunk = data
            if _empty(stripped):  # nothing but reasoning: held back whole
                return []
        out = await self.flush()
        return [*out, stripped]

    async def _anthropic(self, kind: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block")
        if kind == "content_block_start" and _is(block, "thinking"):
            self._block = {**data, "content_block": {**(block or {}), "thinking": ""}}
            self._text, self._signature = [], None
            return []
        if self._block is None or data.get("index") != self._block.get("index"):
            kept = self._strip.event(data)  # redacted thinking: dropped, the rest renumbered
            return [kept] if kept is not None else []
        delta = data.get("delta")
        if kind == "content_block_delta" and isinstance(delta, dict):
            if delta.get("type") == "thinking_delta":
                self._text.append(str(delta.get("thinking", "")))
            elif delta.get("type") == "signature_delta":
                self._signature = delta.get("signature")
            return []
        start, self._block = self._block, None  # content_block_stop: the reasoning has ended
        held = int(start["index"])
        summary = await self._summary()
        if summary is None:
            self._strip.drop(held)
            return []
        index = self._strip.renumber(held)
        thinking = {"type": "thinking_delta", "thinking": summary}
        out = [
            {**start, "index": index},
            {"type": "content_block_delta", "index": index, "delta": thinking},
        ]
        if self._signature is not None:
            signed = {"type": "signature_delta", "signature": self._signature}
            out.append({"type": "content_block_delta", "index": index, "delta": signed})
        return [*out, {**data, "index": index}]

    async def _summary(self) -> str | None:
        reasoning, self._text = "".join(self._text), []
        started = time.perf_counter()
        try:
            summary: str | None = await self._summarise(reasoning)
            self.notes["summary"] = "written"
        except SummaryError as exc:
            summary = None
            self.notes["summary"] = f"failed ({exc}): stripped"
        self.notes["summary_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return summary


def _empty(chunk: dict[str, Any]) -> bool:
    """A chat chunk that says nothing once its reasoning is gone (a role alone is nothing)."""
    if chunk.get("usage"):
        return False
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("finish_reason"):
            return False
        delta = choice.get("delta") or {}
        if any(v not in (None, "", []) for k, v in delta.items() if k != "role"):
            return False
    return True
