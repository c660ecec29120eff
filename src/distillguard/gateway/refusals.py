"""Refusals in the error shape of the API that was called, so the official SDKs raise them.

>>> refusal("/v1/messages", 403, "account_blocked", "blocked")["error"]["type"]
'permission_error'
>>> refusal("/v1/chat/completions", 429, "rate_limited", "slow down")["error"]["code"]
'rate_limited'
"""

from __future__ import annotations

from typing import Any

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    403: "permission_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}


def refusal(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    if path.rstrip("/").endswith("/messages"):
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": f"{message} ({code})"}}
    return {"error": {"message": message, "type": code, "param": None, "code": code}}
