"""Neutral prompts to request bodies as the OpenAI and Anthropic SDKs send them.

>>> from distillguard.simulate.text import Prompt
>>> p = Prompt(intent="general", capability="other", system="Be brief.",
...            messages=[{"role": "user", "content": "Hi"}], tools=None,
...            response_format=None, max_tokens=None, output_tokens=(5, 20))
>>> openai_body(p, "m", {})["messages"][0]
{'role': 'system', 'content': 'Be brief.'}
>>> anthropic_body(p, "m", {})["system"]
'Be brief.'
"""

from __future__ import annotations

from typing import Any

import msgspec

from distillguard.simulate.text import Prompt

_json = msgspec.json.Encoder()


def _openai_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image":
        url = f"data:{part['media_type']};base64,{part['data']}"
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "text", "text": part.get("text", "")}


def _anthropic_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image":
        source = {"type": "base64", "media_type": part["media_type"], "data": part["data"]}
        return {"type": "image", "source": source}
    return {"type": "text", "text": part.get("text", "")}


def openai_body(prompt: Prompt, model: str, params: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    for m in prompt.messages:
        role, content = m["role"], m.get("content")
        if role == "tool":
            messages.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": content})
            continue
        out: dict[str, Any] = {"role": role, "content": content}
        if isinstance(content, list):
            out["content"] = [_openai_part(p) for p in content]
        if m.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": _json.encode(c["arguments"]).decode(),
                    },
                }
                for c in m["tool_calls"]
            ]
        messages.append(out)
    body: dict[str, Any] = {"model": model, "messages": messages}
    if prompt.tools:
        body["tools"] = [{"type": "function", "function": t} for t in prompt.tools]
    if prompt.response_format:
        body["response_format"] = {"type": prompt.response_format}
    body.update(params)
    return body


def anthropic_body(prompt: Prompt, model: str, params: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # The Messages API wants roles to alternate: merge consecutive turns of one role.
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for m in prompt.messages:
        role, content = m["role"], m.get("content")
        if role == "tool":
            add(
                "user",
                [{"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": content}],
            )
            continue
        blocks: list[dict[str, Any]] = []
        if isinstance(content, list):
            blocks = [_anthropic_part(p) for p in content]
        elif content:
            blocks = [{"type": "text", "text": content}]
        for c in m.get("tool_calls") or ():
            blocks.append(
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
            )
        add(role, blocks)
    body: dict[str, Any] = {"model": model, "max_tokens": params.pop("max_tokens", None) or 4096}
    if prompt.system:
        body["system"] = prompt.system
    body["messages"] = messages
    if prompt.tools:
        body["tools"] = [
            {
                "name": t["name"],
                "description": t.get("description", ""),
                "input_schema": t.get("parameters") or {"type": "object", "properties": {}},
            }
            for t in prompt.tools
        ]
    params.pop("logprobs", None)
    body.update(params)
    return body


def prompt_chars(prompt: Prompt) -> int:
    """Characters the client wrote: a cheap stand-in for input tokens (about 4 per token)."""
    total = len(prompt.system or "")
    for m in prompt.messages:
        content = m.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(
                len(p.get("text", "")) + (800 if p.get("type") == "image" else 0) for p in content
            )
    for t in prompt.tools or ():
        total += len(_json.encode(t))
    return total
