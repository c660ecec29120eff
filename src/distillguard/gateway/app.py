"""The inline gateway: a reverse proxy that enforces verdicts in front of any model server.

Per request: read the body (413 past the limit), name the account, compute the per-request
signals (the code the batch scan uses), decide an action from the account's verdict, then
refuse (429, 403) or forward, stripping reasoning when degraded. Streams pass through chunk by
chunk. Every request, refused or forwarded, is appended to the event log before its response
completes (see eventlog.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from distillguard.contract.body import view_request
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.degrade import StreamStripper, degrade_request, strip_response
from distillguard.gateway.eventlog import EventLog
from distillguard.gateway.identity import Identity
from distillguard.gateway.policy import Decision, Policy
from distillguard.gateway.refusals import refusal
from distillguard.gateway.stream import (
    EventSplitter,
    StreamRecord,
    decode_data,
    event_data,
    usage_counts,
)
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signals.request import score_request

_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "content-encoding",
    }
)
_encode = msgspec.json.encode


class _BodyTooLarge(Exception):
    pass


@dataclass(slots=True)
class _Call:
    """One request as it goes through the gateway: what the log's event is made of."""

    started: float
    request_id: str
    account: str
    path: str
    body: dict[str, Any]
    client: dict[str, Any]
    key_id: str | None
    decision: Decision | None = None


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "distillguard_gateway_requests",
            "Requests by action",
            ["action"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "distillguard_gateway_upstream_errors",
            "Upstream failures by kind",
            ["kind"],
            registry=self.registry,
        )
        self.overhead = Histogram(
            "distillguard_gateway_overhead_seconds",
            "Time the gateway adds before forwarding a request (decision and body handling)",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
            registry=self.registry,
        )
        self.duration = Histogram(
            "distillguard_gateway_request_seconds",
            "Whole request, upstream included",
            registry=self.registry,
        )


class Gateway:
    def __init__(
        self,
        upstream: str,
        cfg: GatewayConfig,
        results: Path | None = None,
        admin_token: str | None = None,
        log_dir: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        self.log_dir = log_dir or Path(cfg.log.directory)
        self.log = EventLog(self.log_dir, cfg.log.segment_mb << 20, cfg.log.fsync)
        self.book = VerdictBook(results, self.log_dir / "manual-verdicts.json")
        self.policy = Policy(cfg, self.book)
        self.identity = Identity.from_config(cfg.identity.header, cfg.identity.keys)
        self.admin_token = admin_token
        self.metrics = _Metrics()
        timeout = httpx.Timeout(cfg.limits.upstream_timeout_s, connect=cfg.limits.connect_timeout_s)
        self.client = httpx.AsyncClient(
            base_url=upstream.rstrip("/"),
            timeout=timeout,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            transport=transport,
        )

    def app(self) -> Starlette:
        from distillguard.gateway.admin import admin_routes

        routes = [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            *admin_routes(self),
            # The gateway's own paths, any other method or sub-path: answered here, not forwarded.
            Route("/healthz", _not_here, methods=_ALL_METHODS),
            Route("/metrics", _not_here, methods=_ALL_METHODS),
            Route("/admin/{rest:path}", _not_here, methods=_ALL_METHODS),
            Route(
                "/{path:path}",
                self.proxy,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            ),
        ]

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            await self.close()

        return Starlette(routes=routes, lifespan=lifespan)

    async def close(self) -> None:
        await self.client.aclose()
        self.log.close()

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "log": str(self.log.path)})

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def authorised(self, request: Request) -> bool:
        if not self.admin_token:
            return False
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.admin_token.encode())

    # -- the proxy ---------------------------------------------------------------------------

    async def proxy(self, request: Request) -> Response:
        started = time.perf_counter()
        raw_path = request.scope.get("raw_path")  # as sent: %2F stays %2F
        path = raw_path.decode("latin-1") if raw_path else "/" + request.path_params["path"]
        headers = request.headers
        call = _Call(
            started,
            "gw_" + uuid.uuid4().hex,
            self.identity.account(headers),
            path,
            {},
            _client(request),
            self.identity.key_id(headers),
        )
        try:
            raw = await self._read_body(request)
        except _BodyTooLarge:
            limit = self.cfg.limits.max_body_bytes
            return self._refuse(
                call, 413, "request_too_large", f"request body over {limit} bytes", "allow"
            )
        except ClientDisconnect:
            self._record(call, 499, None)  # the attempt is still a fact
            return Response(status_code=499)
        call.body = _json_object(raw)
        decision = self._decide(call)
        if decision is None:
            return self._refuse(
                call,
                503,
                "detector_unavailable",
                "the request could not be checked; try again",
                "error",
            )
        call.decision = decision
        if decision.action in ("throttle", "challenge", "block"):
            return self._refuse_by(call, decision)
        degrade = decision.action == "degrade"
        content = raw
        if degrade and call.body:
            content = _encode(degrade_request(call.body, self.cfg.degrade.max_tokens, path))
        forward = {k: v for k, v in headers.items() if k not in _HOP}
        if self.identity.header:
            forward.pop(self.identity.header, None)
        forward["accept-encoding"] = "identity"
        query = request.url.query  # as sent: not parsed and re-encoded
        target = f"{path}?{query}" if query else path
        upstream = self.client.build_request(
            request.method, target, headers=forward, content=content
        )
        self.metrics.overhead.observe(time.perf_counter() - started)
        try:
            reply = await self.client.send(upstream, stream=True)
        except httpx.TimeoutException:
            self.metrics.upstream_errors.labels("timeout").inc()
            return self._refuse(
                call,
                504,
                "upstream_timeout",
                "the model server did not answer in time",
                decision.action,
            )
        except httpx.HTTPError as exc:
            self.metrics.upstream_errors.labels("connect").inc()
            return self._refuse(
                call,
                502,
                "upstream_unreachable",
                f"the model server could not be reached ({type(exc).__name__})",
                decision.action,
            )
        self.metrics.requests.labels(decision.action).inc()
        out_headers = {k: v for k, v in reply.headers.items() if k not in _HOP}
        out_headers["x-request-id"] = call.request_id
        if reply.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(
                self._relay(call, reply, degrade), reply.status_code, out_headers
            )
        try:
            body = await reply.aread()
        except httpx.HTTPError:
            self.metrics.upstream_errors.labels("read").inc()
            return self._refuse(
                call,
                502,
                "upstream_broken",
                "the model server broke off its answer",
                decision.action,
            )
        finally:
            await reply.aclose()
        answer = _json_object(body)
        if degrade and answer and reply.status_code < 400:
            answer = strip_response(answer)
            body = _encode(answer)
        if reply.status_code >= 500:
            self.metrics.upstream_errors.labels(str(reply.status_code)).inc()
        self._record(call, reply.status_code, answer or None)
        return Response(body, reply.status_code, out_headers)

    async def _read_body(self, request: Request) -> bytes:
        limit = self.cfg.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _decide(self, call: _Call) -> Decision | None:
        try:
            signals = score_request(view_request(call.body, call.path)) if call.body else None
            return self.policy.decide(call.account, signals)
        except Exception as exc:  # the detector must never be why a request is lost
            if self.cfg.on_detector_error == "closed":
                return None
            return Decision("allow", "clear", f"detector error ({type(exc).__name__}): let through")

    async def _relay(
        self, call: _Call, reply: httpx.Response, degrade: bool
    ) -> AsyncIterator[bytes]:
        split, record = EventSplitter(), StreamRecord()
        stripper = StreamStripper() if degrade else None
        status = reply.status_code
        try:
            async for chunk in reply.aiter_bytes():
                events = split.feed(chunk)
                datas = [decode_data(p) if (p := event_data(e)) else None for e in events]
                for data in datas:
                    if data is not None:
                        record.add(data)
                if stripper is None:
                    yield chunk  # untouched: no buffering
                    continue
                out = [_restrip(e, d, stripper) for e, d in zip(events, datas, strict=True)]
                kept = b"".join(e for e in out if e)
                if kept:
                    yield kept
            if stripper is not None and split.rest():
                yield split.rest()
        except (asyncio.CancelledError, GeneratorExit):
            status = 499  # the client went away mid-stream: not a complete answer
            raise
        except httpx.HTTPError:
            # Ending the response cleanly would pass a cut answer for a whole one: the client
            # must see a broken connection, as it would without the gateway.
            self.metrics.upstream_errors.labels("stream_broken").inc()
            status = 502
            raise
        finally:
            await reply.aclose()
            self._record(call, status, record.response())

    # -- refusals and the log ----------------------------------------------------------------

    def _refuse_by(self, call: _Call, decision: Decision) -> Response:
        self.metrics.requests.labels(decision.action).inc()
        if decision.action == "throttle":
            response = self._refuse(
                call,
                429,
                "rate_limited",
                f"too many requests; retry after {decision.retry_after} s",
                decision.action,
            )
            response.headers["retry-after"] = str(decision.retry_after)
            return response
        if decision.action == "challenge":
            return self._refuse(
                call,
                403,
                "verification_required",
                "this account must complete verification before further use; contact support",
                decision.action,
            )
        return self._refuse(
            call,
            403,
            "account_blocked",
            "this account is blocked for violating the usage policy",
            decision.action,
        )

    def _refuse(self, call: _Call, status: int, code: str, message: str, action: str) -> Response:
        if call.decision is None:
            call.decision = Decision(action, "clear", "")
        self._record(call, status, None)
        body = refusal(call.path, status, code, message)
        return JSONResponse(body, status, headers={"x-request-id": call.request_id})

    def _record(self, call: _Call, status: int, response: dict[str, Any] | None) -> None:
        decision = call.decision
        event: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(),
            "request_id": call.request_id,
            "account_id": call.account,
            "endpoint": call.path,
            "model": str(call.body.get("model") or ""),
            "client": call.client,
            "request": call.body,
            "status": status,
            "latency_ms": round((time.perf_counter() - call.started) * 1000, 3),
        }
        if call.key_id:
            event["api_key_id"] = call.key_id
        if response is not None:
            event["response"] = response
            usage = usage_counts(response.get("usage"))
            if usage:
                event["usage"] = usage
        if decision is not None:
            event["gateway"] = {
                "action": decision.action,
                "verdict": decision.verdict,
                "why": decision.why,
            }
        self.log.append(event)
        self.metrics.duration.observe(time.perf_counter() - call.started)


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _not_here(request: Request) -> Response:
    return JSONResponse({"error": f"no {request.method} {request.url.path} on the gateway"}, 404)


def _restrip(event: bytes, data: dict[str, Any] | None, stripper: StreamStripper) -> bytes:
    if data is None:
        return event + b"\n\n"
    kept = stripper.event(data)
    if kept is None:
        return b""
    if kept is data:
        return event + b"\n\n"
    head = b"".join(line + b"\n" for line in event.split(b"\n") if not line.startswith(b"data:"))
    return head + b"data: " + _encode(kept) + b"\n\n"


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _client(request: Request) -> dict[str, Any]:
    ip = request.client.host if request.client else "0.0.0.0"
    out: dict[str, Any] = {"ip": ip}
    if ua := request.headers.get("user-agent"):
        out["user_agent"] = ua
    return out
