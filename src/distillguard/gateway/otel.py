"""The gateway's requests as OpenTelemetry spans over OTLP/HTTP, for the tools operations watch.

Off by default (``otel.enabled`` in the gateway settings). One span per request, built from the
contract event the gateway logs, so the span says what the log says: GenAI semantic-convention
attributes (``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.response.id``, token
usage), the HTTP status, the client, ``user.id`` (the account) and distillguard's decision
(``distillguard.action``, ``.verdict``, ``.why``). No prompt or answer text is exported: the
log keeps that where it is configured to. Spans go out in batches from a background thread
(the SDK's ``BatchSpanProcessor``), so a slow collector never holds a response; when its queue
is full, spans are dropped and the log still has every request.

``ingest --format otel`` reads these spans back (from a collector's file exporter), so a scan
can start from the collector when the log is not at hand; without content, the signals that
read text have nothing to read (docs/log-formats.md).
"""

from __future__ import annotations

import time
from typing import Any

from distillguard.gateway.config import OtelSettings

_OPERATIONS = {  # the contract's endpoints → gen_ai.operation.name
    "/chat/completions": "chat",
    "/messages": "chat",
    "/responses": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
}


def operation_of(endpoint: str) -> str:
    """The GenAI operation name for an endpoint.

    >>> operation_of("/v1/chat/completions"), operation_of("/v1/embeddings")
    ('chat', 'embeddings')
    """
    path = endpoint.rstrip("/")
    for suffix, name in _OPERATIONS.items():
        if path.endswith(suffix):
            return name
    return "chat"


def attributes_of(
    event: dict[str, Any], request: dict[str, Any] | None = None, response: Any = None
) -> dict[str, Any]:
    """A contract event's span attributes (only those with a value). ``request`` and
    ``response`` are the bodies, for a log that keeps only derived columns.

    >>> attributes_of({"endpoint": "/v1/chat/completions", "model": "m", "account_id": "a",
    ...                "status": 200, "request": {"max_tokens": 5}})["gen_ai.request.max_tokens"]
    5
    """
    request = request or event.get("request") or {}
    response = response or event.get("response") or {}
    usage = event.get("usage") or {}
    client = event.get("client") or {}
    decision = event.get("gateway") or {}
    attrs = {
        "gen_ai.operation.name": operation_of(str(event.get("endpoint", ""))),
        # The API the client spoke; the model server behind the gateway may be anyone's.
        "gen_ai.provider.name": "anthropic"
        if str(event.get("endpoint", "")).endswith("/messages")
        else "openai",
        "gen_ai.request.model": event.get("model"),
        "gen_ai.request.max_tokens": request.get("max_tokens")
        or request.get("max_completion_tokens")
        or request.get("max_output_tokens"),
        "gen_ai.request.temperature": request.get("temperature"),
        "gen_ai.request.stream": request.get("stream"),
        "gen_ai.response.id": response.get("id"),
        "gen_ai.response.model": response.get("model"),
        "gen_ai.usage.input_tokens": usage.get("input_tokens"),
        "gen_ai.usage.output_tokens": usage.get("output_tokens"),
        "url.path": event.get("endpoint"),
        "http.response.status_code": event.get("status"),
        "client.address": client.get("ip"),
        "user_agent.original": client.get("user_agent"),
        "user.id": event.get("account_id"),
        "distillguard.request_id": event.get("request_id"),
        "distillguard.api_key_id": event.get("api_key_id"),
        "distillguard.action": decision.get("action"),
        "distillguard.verdict": decision.get("verdict"),
        "distillguard.why": decision.get("why"),
    }
    return {k: v for k, v in attrs.items() if isinstance(v, (str, bool, int, float)) and v != ""}


class SpanExport:
    """Spans of contract events, batched out over OTLP/HTTP (protobuf) to a collector."""

    def __init__(self, settings: OtelSettings) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.trace import SpanKind, Status, StatusCode
        except ImportError as exc:
            raise RuntimeError(
                "otel.enabled needs the OpenTelemetry SDK: pip install 'distillguard[otel]'"
            ) from exc
        self._kind, self._status, self._error = SpanKind.SERVER, Status, StatusCode.ERROR
        resource = Resource.create({"service.name": settings.service_name})
        # Its own provider, not the process-wide one: the gateway's spans go where its
        # settings say, whatever else in the process uses OpenTelemetry.
        self.provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(
            endpoint=settings.endpoint, headers=dict(settings.headers), timeout=settings.timeout_s
        )
        queue = max(1, settings.max_queue)
        self.provider.add_span_processor(
            BatchSpanProcessor(
                exporter, max_queue_size=queue, max_export_batch_size=min(512, queue)
            )
        )
        self.tracer = self.provider.get_tracer("distillguard.gateway")

    def export(
        self, event: dict[str, Any], request: dict[str, Any] | None = None, response: Any = None
    ) -> None:
        """Queue a span for an event just logged: it ended now, and began its latency ago."""
        end = time.time_ns()
        start = end - int(float(event.get("latency_ms") or 0.0) * 1e6)
        attrs = attributes_of(event, request, response if isinstance(response, dict) else None)
        name = f"{attrs['gen_ai.operation.name']} {event.get('model') or ''}".rstrip()
        span = self.tracer.start_span(name, kind=self._kind, attributes=attrs, start_time=start)
        status = event.get("status")
        if isinstance(status, int) and status >= 400:
            span.set_status(self._status(self._error, f"HTTP {status}"))
            span.set_attribute("error.type", str(status))
        span.end(end_time=end)

    def flush(self, timeout_s: float = 10.0) -> bool:
        return bool(self.provider.force_flush(int(timeout_s * 1000)))

    def close(self) -> None:
        self.provider.shutdown()
