"""Langfuse observations, as its public API (``ObservationV2``) and its exports return them.

A ``GENERATION`` (or ``EMBEDDING``) observation is a model call: ``startTime``, ``model``,
``modelParameters``, ``input`` (the messages), ``output``, ``usageDetails``, ``level``, and
the trace's ``userId``. Other observation types (spans, tools, agents, events) are the work
around the calls and are skipped. A trace record (with ``observations`` inside, as
``GET /api/public/traces/{id}`` returns it) gives its ``userId`` to its generations.
Langfuse records no client address: no network links.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from distillguard.contract.errors import Reason
from distillguard.formats import routes
from distillguard.formats.base import (
    Defaults,
    Format,
    Item,
    Skip,
    Unreadable,
    drop_none,
    first,
    iso,
    json_value,
    mapping,
)

_CALLS = {"GENERATION": routes.CHAT, "EMBEDDING": routes.EMBEDDINGS}


class Langfuse(Format):
    name = "langfuse"
    summary = "Langfuse observations (API ObservationV2, exports) and traces with observations"

    def sniff(self, record: dict[str, Any]) -> bool:
        if "traceId" in record and "type" in record and "startTime" in record:
            return True
        return "observations" in record and "timestamp" in record

    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        if "observations" in record and "type" not in record:  # a trace with its observations
            observations = record.get("observations")
            if not isinstance(observations, list):
                yield Unreadable("observations", "expected a list", Reason.WRONG_TYPE)
                return
            for i, observation in enumerate(observations):
                if not isinstance(observation, dict):
                    yield Unreadable(f"observations[{i}]", "expected an object", Reason.WRONG_TYPE)
                    continue
                item = _event(observation, record, defaults)
                if isinstance(item, Unreadable):
                    item.field = f"observations[{i}].{item.field}"
                yield item
            return
        yield _event(record, {}, defaults)


def _event(obs: dict[str, Any], trace: dict[str, Any], defaults: Defaults) -> Item:
    kind = str(obs.get("type", "")).upper()
    endpoint = _CALLS.get(kind)
    if endpoint is None:
        return Skip(f"{kind or 'untyped'} observation: not a model call")
    if not isinstance(obs.get("id"), str):
        return Unreadable("id", "no observation id", Reason.MISSING_FIELD)
    model = obs.get("model") or obs.get("providedModelName")
    if not isinstance(model, str) or not model:
        return Unreadable("model", "no model", Reason.MISSING_FIELD)
    meta = mapping(obs.get("metadata"))
    # Through LiteLLM's Langfuse logger the key's owner is in the metadata and ``userId`` is
    # the end user; a customer of the provider is the key's owner when both are there.
    account = first(
        meta.get("user_api_key_user_id"),
        meta.get("user_api_key_team_id"),
        meta.get("user_api_key_hash"),
        obs.get("userId"),
        trace.get("userId"),
        defaults.account_id,
    )
    if account is None:
        return Unreadable(
            "userId", "the trace names no userId; give --account-id", Reason.MISSING_FIELD
        )
    try:
        ts = iso(obs.get("startTime"), "startTime")
        request = _request(obs, endpoint, model)
        output = json_value(obs.get("output"), "output")
    except Unreadable as problem:
        return problem
    usage = mapping(obs.get("usageDetails") or obs.get("usage"))
    latency = obs.get("latency")
    level = obs.get("level")
    return drop_none(
        {
            "ts": ts,
            "request_id": obs["id"],
            "account_id": str(account),
            "endpoint": endpoint,
            "model": model,
            "request": request,
            "api_key_id": meta.get("user_api_key_hash"),
            "org_id": meta.get("user_api_key_org_id"),
            "client": {
                "ip": meta.get("requester_ip_address"),
                "user_agent": meta.get("user_agent"),
            },
            "response": _response(output),
            "status": 500 if level == "ERROR" else 200,
            "usage": {
                "input_tokens": first(usage.get("input"), usage.get("promptTokens")),
                "output_tokens": first(usage.get("output"), usage.get("completionTokens")),
            },
            "latency_ms": latency * 1000.0 if isinstance(latency, int | float) else None,
            "langfuse": drop_none(
                {
                    "trace_id": obs.get("traceId"),
                    "user_id": first(obs.get("userId"), trace.get("userId")),
                    "session_id": first(obs.get("sessionId"), trace.get("sessionId")),
                    "name": obs.get("name"),
                    "environment": first(obs.get("environment"), trace.get("environment")),
                    "status_message": obs.get("statusMessage"),
                }
            ),
        }
    )


def _request(obs: dict[str, Any], endpoint: str, model: str) -> dict[str, Any]:
    params = obs.get("modelParameters")
    body: dict[str, Any] = {"model": model, **(params if isinstance(params, dict) else {})}
    given = json_value(obs.get("input"), "input")
    if given is None:
        return {}  # content not captured
    if endpoint == routes.EMBEDDINGS:
        body["input"] = given
    elif isinstance(given, list):
        body["messages"] = given
    elif isinstance(given, dict) and isinstance(given.get("messages"), list):
        body.update(given)  # the SDK's OpenAI wrapper logs the call's arguments
    elif isinstance(given, str):
        body["messages"] = [{"role": "user", "content": given}]
    elif isinstance(given, dict):
        body["messages"] = [{"role": "user", "content": str(given)}]
    else:
        raise Unreadable("input", f"expected messages, got {type(given).__name__}")
    return body


def _response(output: Any) -> dict[str, Any] | None:
    if output is None:
        return None
    if isinstance(output, dict) and "choices" in output:
        return output
    if isinstance(output, dict) and "role" in output:
        message = output
    else:
        message = {
            "role": "assistant",
            "content": output if isinstance(output, str) else str(output),
        }
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
