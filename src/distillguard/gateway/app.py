"""The inline gateway: a reverse proxy that enforces verdicts in front of any model server.

Per request: read the body (413 past the limit), name the account, compute the per-request
signals (the code the batch scan uses), decide an action from the account's verdict, then
refuse (429, 403) or forward, stripping reasoning when degraded. Streams pass through chunk by
chunk. Every request, refused or forwarded, is appended to the event log before its response
completes (see eventlog.py).

The proxy is a plain ASGI callable on the hot path; Starlette serves only the gateway's own
paths (/healthz, /metrics, /admin), whose middleware and router would cost every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from distillguard.gateway.call import Call, Clock, event_of, observe, tokens_of
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.degrade import StreamStripper, degrade_request, strip_response
from distillguard.gateway.encoding import TooLarge, Unsupported, decode_body
from distillguard.gateway.eventlog import EventLog
from distillguard.gateway.identity import Identity
from distillguard.gateway.otel import SpanExport
from distillguard.gateway.policy import Decision, Policy
from distillguard.gateway.refusals import REFUSING, refusal, refused_by
from distillguard.gateway.reload import ConfigFollower
from distillguard.gateway.state import RedisState, StateDown, follow_shared_verdicts, shared_state
from distillguard.gateway.stream import (
    EventSplitter,
    StreamRecord,
    decode_data,
    event_data,
)
from distillguard.gateway.summary import (
    StreamSummary,
    Summarise,
    Summariser,
    SummaryError,
    reasoning_of,
    with_summary,
)
from distillguard.gateway.upstream import Reply, Upstream, UpstreamError
from distillguard.gateway.verdicts import Scope as VerdictScope
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signup.check import SignupCheck
from distillguard.signup.partners import PartnerIndex

# Hop-by-hop headers, and those the gateway sets itself (the body may change when degraded).
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"accept-encoding",
        b"content-encoding",
        b"expect",
    }
)
_OWN = ("/healthz", "/metrics", "/admin")
_encode = msgspec.json.encode


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


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
        self.span_errors = Counter(
            "distillguard_gateway_span_errors",
            "Request spans that could not be queued for OTLP export",
            registry=self.registry,
        )
        self.state_failures = Gauge(
            "distillguard_gateway_state_failures",
            "Shared-state operations that failed or were skipped while it was down",
            registry=self.registry,
        )
        self._by_action: dict[str, Counter] = {}

    def count(self, action: str) -> None:
        """One request more with this action (the labelled child kept: labels() costs)."""
        child = self._by_action.get(action)
        if child is None:
            child = self._by_action[action] = self.requests.labels(action)
        child.inc()


class Gateway:
    def __init__(
        self,
        upstream: str,
        cfg: GatewayConfig,
        results: Path | None = None,
        admin_token: str | None = None,
        log_dir: Path | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_path = config_path  # read again when it changes (reload.py)
        self.log_dir = log_dir or Path(cfg.log.directory)
        self.log = EventLog(self.log_dir, cfg.log.segment_mb << 20, cfg.log.fsync)
        self.book = VerdictBook(results, manual_verdicts_path(cfg, self.log_dir))
        signups = self.log_dir.parent / f"{self.log_dir.name}-signups.jsonl"  # not in the log
        partners = PartnerIndex.load(
            [Path(p) for p in cfg.signup.partners],
            Path(cfg.signup.salt_file) if cfg.signup.salt_file else None,
        )
        self.state = shared_state(cfg)
        self.signups = SignupCheck(results, signups, partners, self.state)
        self.policy = Policy(cfg, self.book, self.state)
        self.identity = Identity.from_config(cfg.identity.header, cfg.identity.keys)
        self.admin_token = admin_token
        self.metrics = _Metrics()
        self.keep_text = cfg.log.retention == "full"
        self._clock = Clock()
        # Request ids: random per process, then counted (uuid4 costs a system call each).
        self._id_prefix, self._ids = os.urandom(11).hex(), itertools.count()
        limits = cfg.limits
        self.upstream = Upstream(upstream, limits.upstream_timeout_s, limits.connect_timeout_s)
        self.summariser = Summariser(cfg, self.upstream)
        self.spans = SpanExport(cfg.otel) if cfg.otel.enabled else None

    def app(self) -> ASGIApp:
        from distillguard.gateway.admin import admin_routes

        routes = [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            *admin_routes(self),
            # The gateway's own paths, any other method or sub-path: answered here, not forwarded.
            Route("/{rest:path}", _not_here, methods=_ALL_METHODS),
        ]

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            tasks = [asyncio.create_task(follow_shared_verdicts(self.state, self.book))]
            if self.config_path is not None:
                tasks.append(asyncio.create_task(ConfigFollower(self, self.config_path).follow()))
            yield
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

        own = Starlette(routes=routes, lifespan=lifespan)

        async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if scope["type"] == "http" and not (path in _OWN or path.startswith(_OWN_PREFIXES)):
                await self.proxy(scope, receive, send)
            else:
                await own(scope, receive, send)

        gateway.distillguard_gateway = self  # type: ignore[attr-defined]  # for local.serving
        return gateway

    async def set_manual(self, scope: VerdictScope, key: str, verdict: str | None) -> None:
        """Set (or lift) a manual verdict: in the file, and in the shared state when there is
        one, so that every worker and host enforces it within a second. The shared state
        first: when it cannot be written, nothing changed anywhere. A lift is kept there too,
        so that other hosts' files cannot bring the verdict back."""
        if isinstance(self.state, RedisState):
            try:
                await self.state.set_manual(scope, key, verdict)
            except Exception as exc:
                raise StateDown(f"shared state unreachable ({type(exc).__name__})") from None
            self.book.shared = {
                **self.book.shared,
                scope: {**self.book.shared[scope], key: verdict or ""},
            }
        self.book.set_manual(scope, key, verdict)

    async def close(self) -> None:
        await self.state.close()
        await self.upstream.close()
        await self.summariser.close()
        self.log.close()
        if self.spans is not None:
            self.spans.close()  # sends what is queued

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "log": str(self.log.path)})

    async def metrics_endpoint(self, request: Request) -> Response:
        self.metrics.state_failures.set(getattr(self.state, "failures", 0))
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def authorised(self, request: Request) -> bool:
        if not self.admin_token:
            return False
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.admin_token.encode())

    # -- the proxy ---------------------------------------------------------------------------

    async def proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._handle(scope, receive, send)
        if response is not None:
            await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> Response | None:
        """Answer one request: a response to send, or None once it has been sent here."""
        started = time.perf_counter()
        raw_path = scope.get("raw_path")  # as sent: %2F stays %2F
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        headers, forward, repeated = _headers(
            scope["headers"], self.identity, self.cfg.watermark.header.lower()
        )
        call = Call(
            started,
            f"gw_{self._id_prefix}{next(self._ids):010x}",
            self.identity.account(headers),
            path,
            {},
            _client(scope, headers),
            self.identity.key_id(headers),
        )
        if why := self.identity.ambiguous(headers, repeated):
            response = self._refuse(call, 400, "ambiguous_credentials", why, "allow")
            response.headers["connection"] = "close"  # its body is not read
            return response
        try:
            raw = await self._read_body(receive, headers)
        except _BodyTooLarge:
            limit = self.cfg.limits.max_body_bytes
            response = self._refuse(
                call, 413, "request_too_large", f"request body over {limit} bytes", "allow"
            )
            response.headers["connection"] = "close"  # the rest of the body is not read
            return response
        except _ClientGone:
            self._record(call, 499, None)  # the attempt is still a fact; nobody to answer
            return None
        except TimeoutError:
            limit_s = self.cfg.limits.body_timeout_s
            response = self._refuse(
                call, 408, "request_timeout", f"request body not sent within {limit_s:g} s", "allow"
            )
            response.headers["connection"] = "close"
            return response
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            if self.cfg.limits.compressed_bodies == "refuse":
                return self._refuse(
                    call, 415, "unsupported_encoding", "send the request body uncompressed", "allow"
                )
            try:  # forwarded decoded: what the model server reads is what was checked
                raw = decode_body(raw, encoding, self.cfg.limits.max_body_bytes)
            except TooLarge as exc:
                return self._refuse(call, 413, "request_too_large", f"request body {exc}", "allow")
            except Unsupported as exc:
                return self._refuse(call, 415, "unsupported_encoding", str(exc), "allow")
        call.body = _json_object(raw)
        decision = await self._decide(call)
        if decision is not None and decision.action == "error":  # on_state_error: closed
            call.decision = decision
            return self._refuse(
                call,
                503,
                "state_unavailable",
                "the request could not be checked; try again",
                "error",
            )
        if decision is None:
            return self._refuse(
                call,
                503,
                "detector_unavailable",
                "the request could not be checked; try again",
                "error",
            )
        call.decision = decision
        if decision.action in REFUSING:
            return self._refuse_by(call, decision)
        degrade = decision.action == "degrade"
        content, served = raw, call.body
        if degrade and call.body:
            settings = self.cfg.degrade
            served = degrade_request(call.body, settings.max_tokens, path, settings.model)
            content = _encode(served)
        forward.append(("accept-encoding", "identity"))
        if decision.watermark:
            forward.append((self.cfg.watermark.header, decision.watermark))
        query = scope.get("query_string")  # as sent: not parsed and re-encoded
        target = f"{path}?{query.decode('latin-1')}" if query else path
        self.metrics.overhead.observe(time.perf_counter() - started)
        try:
            reply = await self.upstream.send(
                scope["method"], target, forward, content, meanwhile=lambda: self._observe(call)
            )
        except UpstreamError as exc:
            return self._upstream_failed(call, exc)
        self.metrics.count(decision.action)
        out = [(k, v) for k, v in reply.headers if k not in _HOP]
        out.append((b"x-request-id", call.request_id.encode()))
        # Compressed although asked not to be: passed on as it is, labelled, never rewritten.
        encoded = any(k == b"content-encoding" and v != b"identity" for k, v in reply.headers)
        if encoded:
            out += [(k, v) for k, v in reply.headers if k == b"content-encoding"]
            degrade = False
        # The reasoning's summary, when configured: written for this request's model and API.
        summarise = None
        if degrade and self.cfg.degrade.reasoning == "summary" and reply.status < 400:
            model = str(served.get("model") or "")

            async def summarise(text: str) -> str:
                return await self.summariser.summarise(text, model, path, forward)

        if reply.content_type.startswith("text/event-stream"):
            relay = self._relay(call, reply, degrade, summarise)
            streamed = StreamingResponse(relay, reply.status)
            streamed.raw_headers = out  # as the model server sent them, repeats included
            return streamed
        try:
            body = await reply.read()
        except UpstreamError as exc:
            return self._upstream_failed(call, exc)
        answer = {} if encoded else _json_object(body)
        if degrade and answer and reply.status < 400:
            answer = await self._summarised(call, answer, summarise)
            body = _encode(answer)
        if reply.status >= 500:
            self.metrics.upstream_errors.labels(str(reply.status)).inc()
        self._record(call, reply.status, answer or None)
        if scope["method"] == "HEAD":  # no body here: the length of the one a GET would get
            out += [(k, v) for k, v in reply.headers if k == b"content-length"]
        elif reply.status not in (204, 304):
            out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": body})
        return None

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limit = self.cfg.limits.max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge
        chunks, size = [], 0
        async with asyncio.timeout(self.cfg.limits.body_timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

    async def _decide(self, call: Call) -> Decision | None:
        """The action for this request. With ``on_detector_error: closed`` its signals are read
        first, so that a detector error refuses it; otherwise the account's state so far
        decides, and the signals are read while the model server works (``_observe``)."""
        try:
            if self.cfg.on_detector_error == "closed":
                self._observe(call, strict=True)
            return await self.policy.decide(call.account)
        except Exception as exc:  # the detector must never be why a request is lost
            if self.cfg.on_detector_error == "closed":
                return None
            return Decision("allow", "clear", f"detector error ({type(exc).__name__}): let through")

    def _observe(self, call: Call, strict: bool = False) -> None:
        observe(call, self.policy, strict)

    async def _summarised(
        self, call: Call, answer: dict[str, Any], summarise: Summarise | None
    ) -> dict[str, Any]:
        """A degraded answer: its reasoning summarised when configured, else stripped."""
        reasoning = reasoning_of(answer) if summarise is not None else ""
        if not reasoning or summarise is None:
            return strip_response(answer)
        started = time.perf_counter()
        try:
            answer = with_summary(answer, await summarise(reasoning))
            call.notes["summary"] = "written"
        except SummaryError as exc:
            answer = strip_response(answer)
            call.notes["summary"] = f"failed ({exc}): stripped"
        call.notes["summary_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return answer

    async def _relay(
        self, call: Call, reply: Reply, degrade: bool, summarise: Summarise | None = None
    ) -> AsyncIterator[bytes]:
        split, record = EventSplitter(), StreamRecord()
        stripper = StreamStripper() if degrade and summarise is None else None
        summary = StreamSummary(summarise) if summarise is not None else None
        status = reply.status
        try:
            async for chunk in reply.chunks():
                events = split.feed(chunk)
                datas = [decode_data(p) if (p := event_data(e)) else None for e in events]
                for data in datas:
                    if data is not None:
                        record.add(data)
                if summary is not None:
                    out = [
                        await _resummarise(e, d, summary)
                        for e, d in zip(events, datas, strict=True)
                    ]
                elif stripper is not None:
                    out = [_restrip(e, d, stripper) for e, d in zip(events, datas, strict=True)]
                else:
                    yield chunk  # untouched: no buffering
                    continue
                kept = b"".join(e for e in out if e)
                if kept:
                    yield kept
            if summary is not None and (held := await summary.flush()):
                yield b"".join(_sse(d, anthropic=False) for d in held)
            if (stripper or summary) is not None and split.rest():
                yield split.rest()
        except (asyncio.CancelledError, GeneratorExit):
            status = 499  # the client went away mid-stream: not a complete answer
            raise
        except UpstreamError:
            # Ending the response cleanly would pass a cut answer for a whole one: the client
            # must see a broken connection, as it would without the gateway.
            self.metrics.upstream_errors.labels("stream_broken").inc()
            status = 502
            raise
        finally:
            reply.close()
            if summary is not None:
                call.notes.update(summary.notes)
            self._record(call, status, record.response())

    def _upstream_failed(self, call: Call, exc: UpstreamError) -> Response:
        action = call.decision.action if call.decision else "allow"
        self.metrics.upstream_errors.labels(exc.kind).inc()
        if exc.kind == "timeout":
            message = "the model server did not answer in time"
            return self._refuse(call, 504, "upstream_timeout", message, action)
        if exc.kind == "connect":
            message = f"the model server could not be reached ({exc})"
            return self._refuse(call, 502, "upstream_unreachable", message, action)
        message = "the model server broke off its answer"
        return self._refuse(call, 502, "upstream_broken", message, action)

    # -- refusals and the log ----------------------------------------------------------------

    def _refuse_by(self, call: Call, decision: Decision) -> Response:
        self.metrics.count(decision.action)
        status, code, message = refused_by(decision.action, decision.retry_after)
        response = self._refuse(call, status, code, message, decision.action)
        if decision.action == "throttle":
            response.headers["retry-after"] = str(decision.retry_after)
        return response

    def _refuse(self, call: Call, status: int, code: str, message: str, action: str) -> Response:
        if call.decision is None:
            call.decision = Decision(action, "clear", "")
        self._record(call, status, None)
        body = refusal(call.path, status, code, message)
        return JSONResponse(body, status, headers={"x-request-id": call.request_id})

    def _record(self, call: Call, status: int, response: dict[str, Any] | None) -> None:
        self._observe(call)  # refused, or the model server failed before it could be done
        event = event_of(call, status, response, self.keep_text, self._clock.now())
        self.policy.settle(call.decision, tokens_of(event, call.body, response))
        self.log.append(event)
        if self.spans is not None:
            try:
                self.spans.export(event, call.body, response)
            except Exception:  # the log has the request; a span is only a copy
                self.metrics.span_errors.inc()
        self.metrics.duration.observe(time.perf_counter() - call.started)


def manual_verdicts_path(cfg: GatewayConfig, log_dir: Path) -> Path:
    """Where manual verdicts are kept: beside the log directory, never in it (ingest reads
    every log file there)."""
    if cfg.manual_verdicts:
        return Path(cfg.manual_verdicts)
    return log_dir.parent / f"{log_dir.name}-manual-verdicts.json"


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_OWN_PREFIXES = tuple(p + "/" for p in _OWN)


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


async def _resummarise(event: bytes, data: dict[str, Any] | None, summary: StreamSummary) -> bytes:
    if data is None:
        if event_data(event) != b"[DONE]":  # a keep-alive comment: reasoning may go on after it
            return event + b"\n\n"
        held = await summary.flush()  # [DONE]: what is held back goes first
        return b"".join(_sse(d, anthropic=False) for d in held) + event + b"\n\n"
    named = any(line.startswith(b"event:") for line in event.split(b"\n"))
    return b"".join(_sse(d, anthropic=named) for d in await summary.event(data))


def _sse(data: dict[str, Any], anthropic: bool) -> bytes:
    head = b"event: " + str(data.get("type")).encode() + b"\n" if anthropic else b""
    return head + b"data: " + _encode(data) + b"\n\n"


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _headers(
    raw: list[tuple[bytes, bytes]], identity: Identity, own: str
) -> tuple[dict[str, str], list[tuple[str, str]], set[str]]:
    """The request's headers by name (the last of repeats), those to forward, in order (not
    the identity header, nor ``own``, the gateway's to send), and the credential headers sent
    more than once."""
    named: dict[str, str] = {}
    forward: list[tuple[str, str]] = []
    repeated: set[str] = set()
    credentials = identity.credential_headers()
    for k, v in raw:
        name, value = k.decode("latin-1"), v.decode("latin-1")
        if name in named and name in credentials:
            repeated.add(name)
        named[name] = value
        if k not in _HOP and name != identity.header and name != own:
            forward.append((name, value))
    return named, forward, repeated


def _client(scope: Scope, headers: dict[str, str]) -> dict[str, Any]:
    peer = scope.get("client")
    out: dict[str, Any] = {"ip": peer[0] if peer else "0.0.0.0"}
    if ua := headers.get("user-agent"):
        out["user_agent"] = ua
    return out
