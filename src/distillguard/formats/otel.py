"""OpenTelemetry GenAI spans and events, in OTLP JSON as a collector's file exporter writes.

One line is one ``ExportTraceServiceRequest`` (``resourceSpans``) or
``ExportLogsServiceRequest`` (``resourceLogs``), so a line holds many spans. A span is a
model call when it carries the GenAI semantic conventions' ``gen_ai.*`` attributes (the
``gen_ai.client.inference.operation.details`` event, as a log record, carries the same);
other spans (HTTP, database, the agent and tool spans around a call) are counted as skipped.

The body is rebuilt in the Chat Completions shape from ``gen_ai.system_instructions``,
``gen_ai.input.messages`` and ``gen_ai.tool.definitions`` (structured parts: ``text``,
``tool_call``, ``tool_call_response``), present only when the instrumentation captures
content. The account is ``user.id`` (or the older ``enduser.id``), on the span or its resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

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
)

_OPERATIONS = {
    "chat": routes.CHAT,
    "generate_content": routes.CHAT,
    "text_completion": routes.CHAT,  # rebuilt as messages, so read in the chat shape
    "embeddings": routes.EMBEDDINGS,
}
_ERROR = (2, "STATUS_CODE_ERROR")
_REQUEST_PARAMS = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.seed": "seed",
    "gen_ai.request.stop_sequences": "stop",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty",
    "gen_ai.request.choice.count": "n",
    "gen_ai.request.stream": "stream",
}


def value(any_value: Any) -> Any:
    """An OTLP JSON ``AnyValue`` as a Python value (int64 comes as decimal text).

    >>> value({"intValue": "42"}), value({"arrayValue": {"values": [{"stringValue": "a"}]}})
    (42, ['a'])
    """
    if not isinstance(any_value, dict) or not any_value:
        return None
    kind, raw = next(iter(any_value.items()))
    if kind == "intValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "arrayValue":
        return [value(v) for v in (raw or {}).get("values", [])]
    if kind == "kvlistValue":
        return attributes((raw or {}).get("values", []))
    return raw  # stringValue, boolValue, bytesValue (base64 text)


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list as a dict."""
    if not isinstance(pairs, list):
        return {}
    return {p["key"]: value(p.get("value")) for p in pairs if isinstance(p, dict) and "key" in p}


class OTel(Format):
    name = "otel"
    summary = "OpenTelemetry GenAI spans and events in OTLP JSON (a collector's file exporter)"

    def sniff(self, record: dict[str, Any]) -> bool:
        return "resourceSpans" in record or "resourceLogs" in record

    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        for r, (where, resource, scoped, key) in enumerate(_groups(record)):
            for s, scope in enumerate(scoped if isinstance(scoped, list) else []):
                items = scope.get(key, []) if isinstance(scope, dict) else []
                for i, item in enumerate(items if isinstance(items, list) else []):
                    path = f"{where}[{r}].{_SCOPES[key]}[{s}].{key}[{i}]"
                    try:
                        yield _event(item, resource, path, key == "spans", defaults)
                    except Unreadable as problem:
                        problem.field = f"{path}.{problem.field}" if problem.field else path
                        yield problem
                    except (ValueError, TypeError, AttributeError, msgspec.DecodeError) as exc:
                        yield Unreadable(path, f"cannot be read: {exc!r}")


_SCOPES = {"spans": "scopeSpans", "logRecords": "scopeLogs"}


def _groups(record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any, str]]:
    for where, scopes, key in (
        ("resourceSpans", "scopeSpans", "spans"),
        ("resourceLogs", "scopeLogs", "logRecords"),
    ):
        groups = record.get(where)
        for group in groups if isinstance(groups, list) else []:
            if isinstance(group, dict):
                resource = attributes((group.get("resource") or {}).get("attributes"))
                yield where, resource, group.get(scopes), key


def _event(
    item: dict[str, Any], resource: dict[str, Any], path: str, is_span: bool, defaults: Defaults
) -> Item:
    attrs = attributes(item.get("attributes"))
    events: dict[str, Any] = {}  # the older conventions' content events, their attributes merged
    for event in item.get("events") or [] if is_span else []:
        if isinstance(event, dict) and str(event.get("name", "")).startswith("gen_ai.content."):
            events.update(attributes(event.get("attributes")))
    if not is_span and item.get("eventName") != "gen_ai.client.inference.operation.details":
        return Skip("log record that is not a GenAI operation")
    if not any(
        k in attrs for k in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system")
    ):
        return Skip("span without gen_ai attributes")
    operation = attrs.get("gen_ai.operation.name", "chat")
    endpoint = _OPERATIONS.get(operation)
    if endpoint is None:
        return Skip(f"GenAI {operation} span: not a model call")
    model = first(attrs.get("gen_ai.request.model"), attrs.get("gen_ai.response.model"))
    if model is None:
        raise Unreadable("attributes.gen_ai.request.model", "no model", Reason.MISSING_FIELD)
    account = first(
        attrs.get("user.id"), attrs.get("enduser.id"), resource.get("user.id"), defaults.account_id
    )
    if account is None:
        where = "span" if is_span else "event (its span, in the traces, names the account)"
        raise Unreadable(
            "attributes.user.id",
            f"no user.id or enduser.id on the {where} or its resource; give --account-id",
            Reason.MISSING_FIELD,
        )
    start = item.get("startTimeUnixNano") if is_span else item.get("timeUnixNano")
    start = first(start, item.get("observedTimeUnixNano"))
    if start is None:
        raise Unreadable("startTimeUnixNano", "no start time", Reason.BAD_TIMESTAMP)
    trace, span = item.get("traceId"), item.get("spanId")
    ids = [x for x in (trace, span) if x]
    if not ids and not attrs.get("gen_ai.response.id"):
        raise Unreadable("spanId", "no span id or response id", Reason.MISSING_FIELD)
    end = item.get("endTimeUnixNano")
    latency = (int(end) - int(start)) / 1e6 if is_span and end and int(end) >= int(start) else None
    status = attrs.get("http.response.status_code")
    code = (item.get("status") or {}).get("code")
    if status is None:
        status = 500 if code in _ERROR or attrs.get("error.type") else 200
    return drop_none(
        {
            "ts": iso(int(start) / 1e9, "startTimeUnixNano"),
            "request_id": "-".join(ids) or str(attrs["gen_ai.response.id"]),
            "account_id": str(account),
            "endpoint": endpoint,
            "model": str(model),
            "client": {
                "ip": attrs.get("client.address"),
                "user_agent": attrs.get("user_agent.original"),
            },
            "request": _request(attrs, events, str(model)),
            "response": _response(attrs, events),
            "status": int(status),
            "usage": {
                "input_tokens": first(
                    attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.prompt_tokens")
                ),
                "output_tokens": first(
                    attrs.get("gen_ai.usage.output_tokens"),
                    attrs.get("gen_ai.usage.completion_tokens"),
                ),
            },
            "latency_ms": latency,
            "otel": drop_none(
                {
                    "service": resource.get("service.name"),
                    "provider": first(
                        attrs.get("gen_ai.provider.name"), attrs.get("gen_ai.system")
                    ),
                    "operation": operation,
                    "route": first(attrs.get("http.route"), attrs.get("url.path")),
                    "conversation": attrs.get("gen_ai.conversation.id"),
                    "response_id": attrs.get("gen_ai.response.id"),
                    "error": attrs.get("error.type"),
                }
            ),
        }
    )


def _json(attrs: dict[str, Any], key: str) -> Any:
    raw = attrs.get(key)
    if isinstance(raw, str):
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise Unreadable(
                f"attributes.{key}", f"not valid JSON text: {exc}", Reason.BAD_JSON
            ) from exc
    return raw


def _request(attrs: dict[str, Any], events: dict[str, Any], model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model}
    for key, name in _REQUEST_PARAMS.items():
        if attrs.get(key) is not None:
            body[name] = attrs[key]
    messages = []
    system = _json(attrs, "gen_ai.system_instructions")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    inputs = _json(attrs, "gen_ai.input.messages")
    if inputs is not None and not isinstance(inputs, list):
        raise Unreadable("attributes.gen_ai.input.messages", "expected a list of messages")
    for message in inputs or []:
        messages.extend(_chat_messages(message))
    if inputs is None:  # older conventions: the prompt as chat messages in a span event
        older = _json(events, "gen_ai.prompt")
        if isinstance(older, list):
            messages.extend(m for m in older if isinstance(m, dict))
        elif isinstance(older, str) and older:
            messages.append({"role": "user", "content": older})
    if messages:
        body["messages"] = messages
    tools = _json(attrs, "gen_ai.tool.definitions")
    if isinstance(tools, list) and tools:
        body["tools"] = [_tool(t) for t in tools if isinstance(t, dict)]
    return body


def _text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, dict):
        parts = [parts]
    texts = [str(p.get("content", "")) for p in parts or [] if isinstance(p, dict)]
    return "\n".join(t for t in texts if t)


def _chat_messages(message: Any) -> list[dict[str, Any]]:
    """One semconv message (role + parts) as Chat Completions messages: a tool result is a
    message of its own there."""
    if not isinstance(message, dict):
        return []
    role = message.get("role", "user")
    parts = message.get("parts") or []
    text, calls, out = [], [], []
    for part in parts if isinstance(parts, list) else []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text.append(str(part.get("content", "")))
        elif kind == "tool_call":
            arguments = part.get("arguments")
            calls.append(
                {
                    "id": part.get("id"),
                    "type": "function",
                    "function": {
                        "name": part.get("name"),
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else msgspec.json.encode(arguments).decode(),
                    },
                }
            )
        elif kind == "tool_call_response":
            response = part.get("response", part.get("result"))
            content = (
                response if isinstance(response, str) else msgspec.json.encode(response).decode()
            )
            out.append({"role": "tool", "tool_call_id": part.get("id"), "content": content})
    if text or calls or not out:
        chat: dict[str, Any] = {"role": "tool" if role == "tool" and not out else role}
        chat["content"] = "\n".join(text) if text else None
        if calls:
            chat["tool_calls"] = calls
        if role != "tool" or not out:
            out.insert(0, chat)
    return out


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if "function" in tool:
        return tool
    function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
    return {"type": tool.get("type", "function"), "function": function}


def _response(attrs: dict[str, Any], events: dict[str, Any]) -> dict[str, Any] | None:
    outputs = _json(attrs, "gen_ai.output.messages")
    if outputs is None:  # older conventions: the completion in a span event
        older = _json(events, "gen_ai.completion")
        if isinstance(older, list) and older and isinstance(older[0], dict):
            return {"object": "chat.completion", "choices": [{"index": 0, "message": older[0]}]}
        if isinstance(older, str) and older:
            message = {"role": "assistant", "content": older}
            return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    if not isinstance(outputs, list) or not outputs:
        return None
    choices = []
    for i, message in enumerate(outputs):
        chat = _chat_messages(message)
        if chat:
            finish = message.get("finish_reason") if isinstance(message, dict) else None
            choices.append({"index": i, "message": chat[0], "finish_reason": finish})
    return {"object": "chat.completion", "choices": choices} if choices else None
