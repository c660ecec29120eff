"""Degraded reasoning replaced by a summary, through the official SDKs' parsers, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import ANSWER, THINKING, mock_app, summary_of
from distillguard.gateway.summary import StreamSummary, SummaryError

TOKEN = "admin-secret"
MSG: Any = [{"role": "user", "content": "What is 6 times 7?"}]
SUMMARY = summary_of(THINKING)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(mock_app()) as url:
        yield url


class Gw:
    def __init__(self, url: str, gateway: Gateway, log: Path) -> None:
        self.url, self.gateway, self.log = url, gateway, log
        r = httpx.put(
            f"{url}/admin/verdicts/account/acct_w",
            json={"verdict": "watch"},  # default: watch -> degrade
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200, r.text

    def openai(self, account: str = "acct_w") -> openai.OpenAI:
        headers = {"x-distillguard-account": account}
        return openai.OpenAI(
            base_url=self.url + "/v1", api_key="sk-client", max_retries=0, default_headers=headers
        )

    def anthropic(self, account: str = "acct_w") -> anthropic.Anthropic:
        headers = {"x-distillguard-account": account}
        return anthropic.Anthropic(
            base_url=self.url, api_key="sk-client", max_retries=0, default_headers=headers
        )

    def gateway_fields(self) -> list[dict[str, Any]]:
        lines = [x for p in sorted(self.log.glob("events-*.jsonl")) for x in p.open()]
        return [json.loads(x)["gateway"] for x in lines]


@pytest.fixture
def gw(upstream: str, tmp_path: Path) -> Iterator[Gw]:
    cfg = load_gateway_config()
    cfg.identity.header = "x-distillguard-account"
    cfg.degrade.reasoning = "summary"
    gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        yield Gw(url, gateway, tmp_path / "log")


def test_openai_clients_get_the_summary_in_place_of_the_reasoning(gw: Gw) -> None:
    client = gw.openai()
    chat = client.chat.completions.create(model="mock-1", messages=MSG)
    assert chat.choices[0].message.content == ANSWER
    assert chat.choices[0].message.model_extra == {"reasoning_content": SUMMARY}
    chunks = list(client.chat.completions.create(model="mock-1", messages=MSG, stream=True))
    reasoning = [(c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks]
    assert [r for r in reasoning if r] == [SUMMARY]  # one delta, before the answer
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    # The SDK's own stream parser builds the same completion.
    with client.chat.completions.stream(model="mock-1", messages=MSG) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == ANSWER
    assert final.choices[0].finish_reason == "stop"
    logged = gw.gateway_fields()
    assert [g["action"] for g in logged] == ["degrade"] * 3
    assert all(g["summary"] == "written" and g["summary_ms"] > 0 for g in logged)


def test_anthropic_clients_get_a_signed_summary_block(gw: Gw) -> None:
    client = gw.anthropic()
    msg = client.messages.create(model="mock-1", max_tokens=100, messages=MSG)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    thinking = msg.content[0]
    assert thinking.type == "thinking"
    assert (thinking.thinking, thinking.signature) == (SUMMARY, "sig")
    with client.messages.stream(model="mock-1", max_tokens=100, messages=MSG) as stream:
        final = stream.get_final_message()  # the SDK rebuilds blocks by index and delta type
        assert stream.response.status_code == 200
    assert [b.type for b in final.content] == ["thinking", "text"]
    block = final.content[0]
    assert block.type == "thinking"
    assert (block.thinking, block.signature) == (SUMMARY, "sig")
    assert final.content[1].type == "text"
    assert final.content[1].text == ANSWER


def test_other_accounts_keep_their_reasoning(gw: Gw) -> None:
    chat = gw.openai("acct_ok").chat.completions.create(model="mock-1", messages=MSG)
    assert chat.choices[0].message.model_extra == {"reasoning_content": THINKING}
    assert "summary" not in gw.gateway_fields()[0]


def test_no_summary_in_time_strips_the_reasoning(gw: Gw) -> None:
    gw.gateway.cfg.degrade.summary.model = "slow"  # the mock waits 2 s
    gw.gateway.cfg.degrade.summary.timeout_s = 0.3
    client = gw.openai()
    chat = client.chat.completions.create(model="mock-1", messages=MSG)
    assert chat.choices[0].message.content == ANSWER
    assert not chat.choices[0].message.model_extra
    with gw.anthropic().messages.stream(model="mock-1", max_tokens=100, messages=MSG) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text"]  # renumbered: block 0 is the answer
    assert final.content[0].type == "text"
    assert final.content[0].text == ANSWER
    logged = gw.gateway_fields()
    assert [g["summary"] for g in logged] == ["failed (timeout): stripped"] * 2


def test_a_configured_summariser_gets_its_own_key_not_the_clients(
    upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append((request.headers.get("authorization", ""), body))
        message = {"role": "assistant", "content": "It multiplied six by seven."}
        return JSONResponse({"choices": [{"index": 0, "message": message}]})

    monkeypatch.setenv("SUMMARY_KEY", "sk-summariser")
    cfg = load_gateway_config()
    cfg.identity.header = "x-distillguard-account"
    cfg.degrade.reasoning = "summary"
    summariser = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    with serving(summariser) as url:
        cfg.degrade.summary.url = url
        cfg.degrade.summary.model = "small-summariser"
        cfg.degrade.summary.api_key_env = "SUMMARY_KEY"
        gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
        with serving(gateway.app()) as gw_url:
            gw = Gw(gw_url, gateway, tmp_path / "log")
            msg = gw.anthropic().messages.create(model="mock-1", max_tokens=100, messages=MSG)
    assert msg.content[0].type == "thinking"
    assert msg.content[0].thinking == "It multiplied six by seven."
    [(auth, body)] = seen
    assert auth == "Bearer sk-summariser"
    assert body["model"] == "small-summariser"
    assert body["messages"][-1] == {"role": "user", "content": THINKING}
    assert "summar" in body["messages"][0]["content"].lower()


async def _rewrite(
    events: list[dict[str, Any]], asked: list[str], fail: bool = False
) -> list[dict[str, Any]]:

    async def summarise(text: str) -> str:
        asked.append(text)
        if fail:
            raise SummaryError("down")
        return "S"

    summary = StreamSummary(summarise)
    return [d for e in events for d in await summary.event(e)] + await summary.flush()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_a_trace_in_many_deltas_becomes_one_and_the_answer_is_untouched() -> None:
    events = [
        _chunk({"role": "assistant", "reasoning": "a"}),
        _chunk({"reasoning": "b"}),
        _chunk({"reasoning": "c", "content": "4"}),  # the last of it beside the answer
        _chunk({"content": "2"}),
        _chunk({}, "stop"),
    ]
    asked: list[str] = []
    out = asyncio.run(_rewrite(events, asked))
    assert asked == ["abc"]  # the whole trace, summarised once
    deltas = [c["choices"][0]["delta"] for c in out]
    assert deltas == [
        {"role": "assistant", "reasoning": "S"},
        {"content": "4"},
        {"content": "2"},
        {},
    ]
    assert out[-1]["choices"][0]["finish_reason"] == "stop"
    # Reasoning that ends the stream is still summarised, at its end.
    out = asyncio.run(_rewrite([_chunk({"reasoning_content": "x"})], asked))
    assert asked[-1] == "x"
    assert [c["choices"][0]["delta"] for c in out] == [{"reasoning_content": "S"}]


def test_redacted_thinking_is_dropped_and_the_blocks_after_it_renumbered() -> None:
    def block(i: int, kind: str, **extra: Any) -> list[dict[str, Any]]:
        start = {"type": "content_block_start", "index": i, "content_block": {"type": kind}}
        deltas = [{"type": "content_block_delta", "index": i, "delta": d} for d in extra.values()]
        return [start, *deltas, {"type": "content_block_stop", "index": i}]

    events = [
        *block(0, "redacted_thinking"),
        *block(1, "thinking", a={"type": "thinking_delta", "thinking": "long steps"}),
        *block(2, "text", b={"type": "text_delta", "text": "42"}),
    ]
    asked: list[str] = []
    out = asyncio.run(_rewrite(events, asked))
    assert asked == ["long steps"]
    assert [(e["type"], e["index"]) for e in out] == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
    ]
    assert out[1]["delta"] == {"type": "thinking_delta", "thinking": "S"}
    failed = asyncio.run(_rewrite(events, asked, fail=True))  # no summary: only the answer, at 0
    assert [(e["type"], e["index"]) for e in failed] == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
    ]
    assert failed[1]["delta"]["text"] == "42"


def test_reasoning_beside_the_answer_in_the_first_chunk_sends_the_answer_once() -> None:
    events = [
        _chunk({"role": "assistant", "reasoning_content": "a", "content": "4"}),
        _chunk({}, "stop"),
    ]
    asked: list[str] = []
    out = asyncio.run(_rewrite(events, asked))
    assert asked == ["a"]
    deltas = [c["choices"][0]["delta"] for c in out]
    assert deltas == [
        {"role": "assistant", "reasoning_content": "S"},
        {"role": "assistant", "content": "4"},
        {},
    ]
    assert "".join(d.get("content", "") for d in deltas) == "4"


def test_empty_reasoning_fields_ask_for_no_summary() -> None:
    events = [_chunk({"role": "assistant", "reasoning_content": ""}), _chunk({"content": "4"})]
    asked: list[str] = []
    out = asyncio.run(_rewrite([*events, _chunk({}, "stop")], asked))
    assert asked == []
    assert [c["choices"][0]["delta"].get("content") for c in out] == [None, "4", None]
    assert all("reasoning_content" not in c["choices"][0]["delta"] for c in out)


def test_a_keep_alive_comment_inside_the_reasoning_does_not_cut_it_in_two(tmp_path: Path) -> None:
    """A model server that sends SSE comments while it thinks: the trace is still summarised
    once, whole, and the comments pass through."""
    asked: list[str] = []

    def sse(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return b"data: " + json.dumps(_chunk(delta, finish)).encode() + b"\n\n"

    async def chat(request: Request) -> Any:
        body = await request.json()
        if body["messages"][0]["role"] == "system":  # the summariser
            asked.append(body["messages"][-1]["content"])
            return JSONResponse({"choices": [{"message": {"content": "Short."}}]})
        parts = [
            sse({"role": "assistant", "reasoning_content": "step one. "}),
            b": keep-alive\n\n",
            sse({"reasoning_content": "step two."}),
            sse({"content": "42"}),
            sse({}, "stop"),
            b"data: [DONE]\n\n",
        ]
        return StreamingResponse(iter(parts), media_type="text/event-stream")

    upstream = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    cfg = load_gateway_config()
    cfg.identity.header = "x-distillguard-account"
    cfg.degrade.reasoning = "summary"
    with serving(upstream) as up:
        gateway = Gateway(up, cfg, None, TOKEN, tmp_path / "log")
        with serving(gateway.app()) as url:
            gw = Gw(url, gateway, tmp_path / "log")
            headers = {"x-distillguard-account": "acct_w", "authorization": "Bearer sk-c"}
            body = {"model": "m", "messages": MSG, "stream": True}
            raw = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers).text
            chunks = list(gw.openai().chat.completions.create(model="m", messages=MSG, stream=True))
    assert asked == ["step one. step two."] * 2
    assert ": keep-alive" in raw
    reasoning = [(c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks]
    assert [r for r in reasoning if r] == ["Short."]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "42"
