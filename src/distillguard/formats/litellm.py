"""LiteLLM's logs: the standard logging payload its callbacks receive, and its spend logs.

Two shapes, one format (``--format litellm``), as LiteLLM 1.x defines them:

- ``StandardLoggingPayload`` (``litellm/types/utils.py``): what a custom callback, the
  generic API logger or an S3/GCS bucket logger writes. Times are Unix seconds; identity is
  in ``metadata`` (``user_api_key_hash``, ``user_api_key_user_id``, ``..._team_id``,
  ``..._org_id``); the body is ``messages`` plus ``model_parameters``.
- a ``LiteLLM_SpendLogs`` row (``litellm/proxy/schema.prisma``) exported as JSON: times
  are ISO text, identity is ``api_key`` (hashed), ``user``, ``team_id``,
  ``organization_id``; ``proxy_server_request`` holds the body exactly as sent when the proxy
  stores prompts.

The account is LiteLLM's user, else its team, else its key: whoever holds the key is the
provider's customer. The end user (a customer's own customer) stays in ``litellm.end_user``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from distillguard.contract.errors import Reason
from distillguard.formats import routes
from distillguard.formats.base import Defaults, Format, Item, Unreadable, drop_none, first, iso
from distillguard.formats.base import json_value as _json

# LiteLLM's CallTypes (sync and async spellings) → the endpoint whose body shape they carry.
_CALL_TYPES = {
    "completion": routes.CHAT,
    "text_completion": routes.COMPLETIONS,
    "responses": routes.RESPONSES,
    "anthropic_messages": routes.MESSAGES,
    "embedding": routes.EMBEDDINGS,
}
_INTERNAL = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]
_REDACTED = "redacted-by-litellm"  # what LiteLLM writes when message logging is off


def account_of(user: Any, team: Any, key_hash: Any) -> str | None:
    """Whom a LiteLLM call counts against: its user, else its team, else its key. The plugin
    (``gateway/litellm_guard.py``) enforces on the same account these logs are read into.

    >>> account_of(None, "team-a", "88dc28d0f030c55e")
    'team-a'
    """
    for value in (user, team, key_hash):
        if isinstance(value, str) and value:
            return value
    return None


def endpoint_of(call_type: str | None, route: str | None) -> str:
    found = routes.from_route(route)
    if found:
        return found
    name = (call_type or "").removeprefix("a").removeprefix("_a")
    return _CALL_TYPES.get(name) or _CALL_TYPES.get(call_type or "") or f"litellm:{call_type}"


class LiteLLM(Format):
    name = "litellm"
    summary = "LiteLLM's StandardLoggingPayload (callbacks, bucket loggers) and SpendLogs rows"

    def sniff(self, record: dict[str, Any]) -> bool:
        """A record with LiteLLM's call type and start time, in either shape."""
        if "call_type" not in record or "startTime" not in record:
            return False
        return "model_parameters" in record or "request_id" in record or "api_key" in record

    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        spend_log = "request_id" in record and "model_parameters" not in record
        meta = _json(record.get("metadata"), "metadata")
        meta = meta if isinstance(meta, dict) else {}
        request_id = first(record.get("request_id"), record.get("id"))
        if not isinstance(request_id, str):
            yield Unreadable("request_id" if spend_log else "id", "no request id")
            return
        account = account_of(
            first(meta.get("user_api_key_user_id"), record.get("user")),
            first(meta.get("user_api_key_team_id"), record.get("team_id")),
            first(meta.get("user_api_key_hash"), record.get("api_key")),
        )
        account = account or defaults.account_id
        if account is None:
            yield Unreadable(
                "metadata.user_api_key_user_id",
                "no user, team or key to count the call against; give --account-id",
                Reason.MISSING_FIELD,
            )
            return
        call_type = record.get("call_type")
        proxied = _json(record.get("proxy_server_request"), "proxy_server_request")
        proxied = proxied if isinstance(proxied, dict) else {}
        endpoint = endpoint_of(
            call_type,
            first(meta.get("user_api_key_request_route"), proxied.get("url")),
        )
        model = first(record.get("model_group"), record.get("model"))
        if not isinstance(model, str):
            yield Unreadable("model", "no model", Reason.MISSING_FIELD)
            return
        headers = proxied.get("headers")
        headers = headers if isinstance(headers, dict) else {}
        try:
            ts = iso(record.get("startTime"), "startTime")
            latency = _latency(record)
            request = _request(record, proxied, endpoint, model)
            response = _json(record.get("response"), "response")
        except Unreadable as problem:
            yield problem
            return
        yield drop_none(
            {
                "ts": ts,
                "request_id": request_id,
                "account_id": str(account),
                "api_key_id": first(meta.get("user_api_key_hash"), record.get("api_key")),
                "org_id": first(meta.get("user_api_key_org_id"), record.get("organization_id")),
                "endpoint": endpoint,
                "model": model,
                "client": {
                    "ip": client_address(
                        first(record.get("requester_ip_address"), meta.get("requester_ip_address"))
                    ),
                    "user_agent": first(
                        record.get("user_agent"),
                        meta.get("user_agent"),
                        headers.get("user-agent"),
                    ),
                },
                "request": request,
                "response": response if isinstance(response, dict) and response else None,
                "status": _status(record),
                "usage": {
                    "input_tokens": _count(record.get("prompt_tokens")),
                    "output_tokens": _count(record.get("completion_tokens")),
                },
                "latency_ms": latency,
                "litellm": drop_none(
                    {
                        "call_type": call_type,
                        "team_id": first(meta.get("user_api_key_team_id"), record.get("team_id")),
                        "end_user": first(
                            record.get("end_user"), meta.get("user_api_key_end_user_id")
                        ),
                        "session_id": first(record.get("session_id")),
                        "deployment": record.get("model"),
                        "provider": first(record.get("custom_llm_provider")),
                    }
                ),
            }
        )


def _request(
    record: dict[str, Any], proxied: dict[str, Any], endpoint: str, model: str
) -> dict[str, Any]:
    """The body as sent where the proxy kept it, else rebuilt from the logged messages."""
    body = proxied.get("body")  # as the proxy hands it to callbacks: url, headers, body
    if isinstance(body, dict) and body:
        return body
    if any(k in proxied for k in ("messages", "input", "prompt")):
        return proxied  # as spend logs store it: the body itself
    messages = _json(record.get("messages"), "messages")
    if messages in (None, {}, [], "", _REDACTED):
        return {}  # content logging off: the body signals have nothing to read
    params = _json(record.get("model_parameters"), "model_parameters")
    body = {"model": model, **(params if isinstance(params, dict) else {})}
    if endpoint == routes.COMPLETIONS:
        body["prompt"] = messages if isinstance(messages, str) else _text_of(messages)
    elif endpoint in (routes.RESPONSES, routes.EMBEDDINGS):
        body["input"] = messages
    elif isinstance(messages, str):
        body["messages"] = [{"role": "user", "content": messages}]
    elif isinstance(messages, list):
        body["messages"] = messages
    else:
        raise Unreadable("messages", f"expected a list of messages, got {type(messages).__name__}")
    return body


def _text_of(messages: Any) -> str:
    if isinstance(messages, list):
        return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    return str(messages)


def _latency(record: dict[str, Any]) -> float | None:
    duration = record.get("request_duration_ms")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration)
    start, end = record.get("startTime"), record.get("endTime")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return (float(end) - float(start)) * 1000.0
    if isinstance(start, str) and isinstance(end, str):
        a = datetime.fromisoformat(iso(start, "startTime"))
        b = datetime.fromisoformat(iso(end, "endTime"))
        return max((b - a).total_seconds() * 1000.0, 0.0)
    return None


def _status(record: dict[str, Any]) -> int | None:
    status = record.get("status")
    if status == "success":
        return 200
    if status != "failure":
        return None
    info = record.get("error_information")
    code = info.get("error_code") if isinstance(info, dict) else None
    try:
        number = int(str(code))
    except ValueError:
        return 500
    return number if 100 <= number <= 599 else 500


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def client_address(value: Any) -> str | None:
    """LiteLLM logs the X-Forwarded-For value when the proxy trusts it: the client is the
    first address in it outside the private, shared and loopback ranges (a load balancer's
    own hop), else the first address.

    >>> client_address("10.40.2.17, 198.51.100.23")
    '198.51.100.23'
    """
    if not isinstance(value, str) or not value.strip():
        return None
    found = []
    for part in value.split(","):
        try:
            found.append(ipaddress.ip_address(part.strip()))
        except ValueError:
            continue
    if not found:
        return value.strip()  # the validator names it as not an address
    outside = [
        a for a in found if not any(a in net for net in _INTERNAL if a.version == net.version)
    ]
    return str((outside or found)[0])
