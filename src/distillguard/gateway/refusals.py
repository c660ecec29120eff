"""Refusals in the error shape of the API that was called, so the official SDKs raise them.

>>> refusal("/v1/messages", 403, "account_blocked", "blocked")["error"]["type"]
'permission_error'
>>> refusal("/v1/chat/completions", 429, "rate_limited", "slow down")["error"]["code"]
'rate_limited'

Every enforcement point (the gateway, the LiteLLM plugin) refuses an action the same way:

>>> refused_by("throttle", 12)
(429, 'rate_limited', 'too many requests; retry after 12 s')
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


_BY_ACTION = {
    "throttle": (429, "rate_limited", "too many requests; retry after {wait} s"),
    "challenge": (
        403,
        "verification_required",
        "this account must complete verification before further use; contact support",
    ),
    "block": (403, "account_blocked", "this account is blocked for violating the usage policy"),
}
REFUSING = frozenset(_BY_ACTION)  # the actions that answer instead of the model


def refused_by(action: str, retry_after: int = 0) -> tuple[int, str, str]:
    """Status, error code and message for a refusing action (throttle, challenge, block)."""
    status, code, message = _BY_ACTION[action]
    return status, code, message.format(wait=retry_after)


def refusal(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    if path.rstrip("/").endswith("/messages"):
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": f"{message} ({code})"}}
    return {"error": {"message": message, "type": code, "param": None, "code": code}}
