"""Message builders shared by the recipes: neutral roles, tool calls and their results.

>>> import random
>>> call = tool_call(random.Random(1), "read_file", {"path": "a.py"})
>>> call["id"].startswith("call_"), call["name"]
(True, 'read_file')
"""

from __future__ import annotations

import random
from typing import Any

Message = dict[str, Any]


def user(content: str | list[dict[str, Any]]) -> Message:
    return {"role": "user", "content": content}


def assistant(content: str | None, calls: list[dict[str, Any]] | None = None) -> Message:
    if calls:
        return {"role": "assistant", "content": content, "tool_calls": calls}
    return {"role": "assistant", "content": content}


def tool_call(rng: random.Random, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    # Ids look like the providers' (call_..., toolu_...); the engine passes them through.
    return {"id": f"call_{rng.getrandbits(96):024x}", "name": name, "arguments": arguments}


def tool_result(call: dict[str, Any], content: str) -> Message:
    return {"role": "tool", "tool_call_id": call["id"], "content": content}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(data: str) -> dict[str, Any]:
    return {"type": "image", "media_type": "image/png", "data": data}
