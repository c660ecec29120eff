"""Well-formed example records of every API shape, for docs, tests and benchmarks.

These are contract examples, not traffic: realistic populations and campaigns
belong to the simulator. Deterministic for a given index.

>>> events = [example_event(i) for i in range(4)]
>>> sorted({e["endpoint"] for e in events})
['/v1/chat/completions', '/v1/messages', '/v1/responses']
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 3, 2, tzinfo=UTC)

_QUESTIONS = (
    "Summarise the attached meeting notes in three bullet points.",
    "Write a Python function that merges two sorted lists.",
    "Why does my SQL query return duplicate rows after a LEFT JOIN?",
    "Translate 'the invoice is overdue' into German and French.",
    "Explain the difference between TCP and UDP for a beginner.",
    "Draft a polite reply declining the meeting on Friday.",
)
_WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _openai_chat(i: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant for Acme support."},
            {"role": "user", "content": _QUESTIONS[i % len(_QUESTIONS)]},
        ],
        "temperature": 0.7,
    }
    if i % 3 == 0:
        body["tools"] = [{"type": "function", "function": _WEATHER_TOOL}]
        body["messages"] += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": f"call_{i}", "content": '{"temp_c": 4}'},
        ]
    return body


def _anthropic(i: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": _QUESTIONS[(i + 2) % len(_QUESTIONS)]}
    ]
    if i % 5 == 1:
        content.append(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
            }
        )
    body: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a careful coding assistant."}],
        "messages": [
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hi, how can I help?"}]},
            {"role": "user", "content": content},
        ],
    }
    if i % 4 == 1:
        body["tools"] = [
            {
                "name": "get_weather",
                "description": _WEATHER_TOOL["description"],
                "input_schema": _WEATHER_TOOL["parameters"],
            }
        ]
    return body


def example_event(i: int, *, accounts: int = 50) -> dict[str, Any]:
    """The i-th example event: OpenAI Chat, Anthropic Messages or OpenAI Responses in turn."""
    kind = i % 4
    if kind in (0, 2):
        endpoint, body = "/v1/chat/completions", _openai_chat(i)
        response: dict[str, Any] = {
            "choices": [{"message": {"role": "assistant", "content": "Here you go."}}]
        }
    elif kind == 1:
        endpoint, body = "/v1/messages", _anthropic(i)
        response = {"content": [{"type": "text", "text": "Sure, here is the answer."}]}
    else:
        endpoint = "/v1/responses"
        body = {
            "model": "gpt-x",
            "instructions": "Answer briefly.",
            "input": _QUESTIONS[i % len(_QUESTIONS)],
        }
        response = {"output_text": "Done."}
    account = i % accounts
    return {
        "ts": (START + timedelta(milliseconds=600 * i)).isoformat().replace("+00:00", "Z"),
        "request_id": f"req_{i:09d}",
        "account_id": f"acct_{account:05d}",
        "api_key_id": f"key_{account:05d}",
        "endpoint": endpoint,
        "model": body["model"],
        "client": {
            "ip": f"198.51.{account % 200}.{(i * 7) % 250 + 1}",
            "user_agent": "OpenAI/Python 1.99.0" if kind != 1 else "Anthropic/Python 0.60.0",
            "asn": 64496 + account % 10,
            "country": "NO",
        },
        "request": body,
        "response": response,
        "status": 200,
        "usage": {"input_tokens": 40 + i % 300, "output_tokens": 12 + i % 500},
        "latency_ms": 300.0 + i % 900,
    }


def example_account(i: int) -> dict[str, Any]:
    """The i-th example account, matching ``example_event``'s account ids."""
    tiers = ("free", "pro", "edu", "research", "startup", "enterprise")
    return {
        "account_id": f"acct_{i:05d}",
        "created_at": (START - timedelta(days=30 + i)).isoformat().replace("+00:00", "Z"),
        "tier": tiers[i % len(tiers)],
        "email_domain": f"example{i % 7}.com",
        "payment_fingerprint": f"pm_{i % 13:04d}",
        "country": "NO",
        "verified": i % 2 == 0,
    }
