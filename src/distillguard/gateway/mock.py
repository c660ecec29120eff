"""A small OpenAI- and Anthropic-compatible model server for tests, the demo and benchmarks.

It answers ``/v1/chat/completions``, ``/v1/completions``, ``/v1/messages`` and ``/v1/models``,
streamed or not, with a short reasoning block and an answer, so that what the gateway strips
can be seen. The model name steers failures: ``error-500`` (and any ``error-NNN``) returns that
status, ``slow`` waits two seconds, ``disconnect`` drops the connection half way through a
stream. A request whose system prompt asks for a summary gets the first sentence of its last
message (``summary_of``) and no reasoning, as the gateway's summariser would from a real model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ANSWER = "The answer is 42."
THINKING = "First, consider the question. Then compute."
_encode = msgspec.json.encode


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + (data if isinstance(data, bytes) else _encode(data)) + b"\n\n"


def summary_of(text: str) -> str:
    """What the mock answers when asked to summarise ``text``."""
    return "In short: " + text.split(". ")[0].rstrip(".") + "."


def _summary_asked(body: dict[str, Any]) -> str | None:
    """The text to summarise, when the request asks for a summary (in either API)."""
    messages = body.get("messages") or []
    system = body.get("system") or next(
        (m.get("content") for m in messages if m.get("role") == "system"), ""
    )
    if "summar" not in str(system).lower() or not messages:
        return None
    return str(messages[-1].get("content", ""))


async def _failure(model: str) -> Response | None:
    if model.startswith("error-"):
        status = int(model.removeprefix("error-") or 500)
        return JSONResponse({"error": {"message": "upstream failed", "type": "mock"}}, status)
    if model == "slow":
        await asyncio.sleep(2.0)
    return None


async def chat(request: Request) -> Response:
    body = await request.json()
    model = str(body.get("model", "mock"))
    if failed := await _failure(model):
        return failed
    usage = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
    if (asked := _summary_asked(body)) is not None:
        said = {"role": "assistant", "content": summary_of(asked)}
        return JSONResponse(
            {
                "id": "chatcmpl-sum",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": said, "finish_reason": "stop"}],
                "usage": usage,
            }
        )
    if not body.get("stream"):
        message = {"role": "assistant", "content": ANSWER, "reasoning_content": THINKING}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [{"token": "42", "logprob": -0.1, "top_logprobs": []}]}
        return JSONResponse(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
        )

    async def chunks() -> AsyncIterator[bytes]:
        base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0}
        deltas: list[dict[str, Any]] = [
            {"role": "assistant", "reasoning_content": THINKING},
            {"content": "The answer "},
            {"content": "is 42."},
        ]
        for i, delta in enumerate(deltas):
            if model == "disconnect" and i == 2:
                raise ConnectionResetError("mock upstream dropped the stream")
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            yield _sse(None, {**base, "model": model, "choices": [choice]})
        end = {"index": 0, "delta": {}, "finish_reason": "stop"}
        yield _sse(None, {**base, "model": model, "choices": [end], "usage": usage})
        yield _sse(None, b"[DONE]")

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def messages(request: Request) -> Response:
    body = await request.json()
    model = str(body.get("model", "mock"))
    if failed := await _failure(model):
        return failed
    usage = {"input_tokens": 12, "output_tokens": 9}
    if (asked := _summary_asked(body)) is not None:
        text = [{"type": "text", "text": summary_of(asked)}]
        return JSONResponse(
            {
                "id": "msg_sum",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": text,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
        )
    blocks = [
        {"type": "thinking", "thinking": THINKING, "signature": "sig"},
        {"type": "text", "text": ANSWER},
    ]
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": "msg_mock",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
        )

    async def events() -> AsyncIterator[bytes]:
        start: dict[str, Any] = {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        }
        yield _sse("message_start", {"type": "message_start", "message": start})
        thinking = {"type": "thinking", "thinking": "", "signature": ""}
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": thinking},
        )
        yield _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": THINKING},
            },
        )
        yield _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
        )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        if model == "disconnect":
            raise ConnectionResetError("mock upstream dropped the stream")
        text = {"type": "text", "text": ""}
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": text},
        )
        for piece in ("The answer ", "is 42."):
            yield _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 1})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})

    return StreamingResponse(events(), media_type="text/event-stream")


async def completions(request: Request) -> Response:
    body = await request.json()
    model = str(body.get("model", "mock"))
    if failed := await _failure(model):
        return failed
    choice = {"index": 0, "text": ANSWER, "finish_reason": "stop", "logprobs": None}
    return JSONResponse(
        {
            "id": "cmpl-mock",
            "object": "text_completion",
            "created": 0,
            "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
        }
    )


async def models(request: Request) -> Response:
    data = [{"id": "mock-1", "object": "model", "created": 0, "owned_by": "mock"}]
    return JSONResponse({"object": "list", "data": data})


def mock_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )
