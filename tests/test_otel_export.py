"""The gateway's OTLP span export, to a collector stand-in on 127.0.0.1 that decodes what the
official exporter sends, and back into a store through ``ingest --format otel``."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import openai
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import ANSWER, mock_app

MSG: Any = [{"role": "user", "content": "What is 6 times 7?"}]


class Collector:
    """OTLP/HTTP traces in, OTLP JSON lines out, as a collector's file exporter writes them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    async def traces(self, request: Request) -> Response:
        message = ExportTraceServiceRequest.FromString(await request.body())
        export = MessageToDict(message)
        for resource in export.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    for name in ("traceId", "spanId"):  # OTLP JSON spells ids in hex
                        span[name] = base64.b64decode(span[name]).hex()
        with self.lock:
            self.lines.append(json.dumps(export))
            self.headers.append(dict(request.headers))
        return Response(status_code=200)

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for line in self.lines
            for resource in json.loads(line)["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    found = Collector()
    app = Starlette(routes=[Route("/v1/traces", found.traces, methods=["POST"])])
    with serving(app) as url:
        yield found, url


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_request_spans_reach_the_collector_and_read_back(
    collector: tuple[Collector, str], tmp_path: Path
) -> None:
    found, url = collector
    cfg = load_gateway_config()
    cfg.identity.header = "x-distillguard-account"
    cfg.otel.enabled = True
    cfg.otel.endpoint = url + "/v1/traces"
    cfg.otel.headers = {"authorization": "Bearer collector-token"}
    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, None, "admin", tmp_path / "log")
        gateway.book.set_manual("account", "acct_blocked", "block")
        with serving(gateway.app()) as gw:

            def client(account: str) -> openai.OpenAI:
                headers = {"x-distillguard-account": account}
                return openai.OpenAI(
                    base_url=gw + "/v1", api_key="sk-x", max_retries=0, default_headers=headers
                )

            chat = client("acct_ok").chat.completions.create(
                model="mock-1", messages=MSG, max_tokens=50
            )
            assert chat.choices[0].message.content == ANSWER
            with pytest.raises(openai.PermissionDeniedError):
                client("acct_blocked").chat.completions.create(model="mock-1", messages=MSG)
            assert gateway.spans is not None
            assert gateway.spans.flush()

    spans = {_attrs(s)["user.id"]: s for s in found.spans()}
    assert set(spans) == {"acct_ok", "acct_blocked"}
    ok, blocked = _attrs(spans["acct_ok"]), _attrs(spans["acct_blocked"])
    assert spans["acct_ok"]["name"] == "chat mock-1"
    assert ok["gen_ai.operation.name"] == "chat"
    assert ok["gen_ai.request.model"] == "mock-1"
    assert ok["gen_ai.request.max_tokens"] == "50"  # int64 travels as text in OTLP JSON
    assert ok["http.response.status_code"] == "200"
    assert ok["distillguard.action"] == "allow"
    assert "gen_ai.usage.output_tokens" in ok
    assert blocked["distillguard.action"] == "block"
    assert blocked["http.response.status_code"] == "403"
    assert spans["acct_blocked"]["status"]["code"] == "STATUS_CODE_ERROR"
    assert "What is 6 times 7" not in "".join(found.lines)  # no text leaves in a span
    assert found.headers[0]["authorization"] == "Bearer collector-token"
    # Each span's duration is the request's latency, and the log and the spans agree.
    logged = [json.loads(x) for p in (tmp_path / "log").glob("*.jsonl") for x in p.open()]
    assert {e["request_id"] for e in logged} == {
        _attrs(s)["distillguard.request_id"] for s in found.spans()
    }

    exported = tmp_path / "collector" / "traces.jsonl"
    exported.parent.mkdir()
    exported.write_text("\n".join(found.lines) + "\n")
    store = tmp_path / "store.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "distillguard", "ingest", str(exported), "--store", str(store)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(store), read_only=True) as db:
        rows = db.execute("select account_id, status from events order by account_id").fetchall()
    assert rows == [("acct_blocked", 403), ("acct_ok", 200)]


def test_export_is_off_by_default(tmp_path: Path) -> None:
    cfg = load_gateway_config()
    assert cfg.otel.enabled is False
    assert Gateway("http://127.0.0.1:9", cfg, None, None, tmp_path / "log").spans is None


def test_an_unreachable_collector_costs_no_request(tmp_path: Path) -> None:
    cfg = load_gateway_config()
    cfg.otel.enabled = True
    cfg.otel.endpoint = "http://127.0.0.1:9/v1/traces"  # nothing listens there
    cfg.otel.timeout_s = 0.5
    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, None, None, tmp_path / "log")
        with serving(gateway.app()) as gw:
            client = openai.OpenAI(base_url=gw + "/v1", api_key="sk-x", max_retries=0)
            for _ in range(3):
                assert client.chat.completions.create(model="mock-1", messages=MSG).choices
    logged = [x for p in (tmp_path / "log").glob("*.jsonl") for x in p.open()]
    assert len(logged) == 3


def test_spans_of_a_log_without_text_still_carry_the_request_parameters(
    collector: tuple[Collector, str], tmp_path: Path
) -> None:
    found, url = collector
    cfg = load_gateway_config()
    cfg.log.retention = "derived"
    cfg.otel.enabled, cfg.otel.endpoint, cfg.otel.max_queue = True, url + "/v1/traces", 10
    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, None, None, tmp_path / "log")
        with serving(gateway.app()) as gw:
            client = openai.OpenAI(base_url=gw + "/v1", api_key="sk-x", max_retries=0)
            client.chat.completions.create(model="mock-1", messages=MSG, max_tokens=70)
            assert gateway.spans is not None
            assert gateway.spans.flush()
    (span,) = found.spans()
    attrs = _attrs(span)
    assert attrs["gen_ai.request.max_tokens"] == "70"
    assert attrs["gen_ai.response.model"]
    (event,) = [json.loads(x) for p in (tmp_path / "log").glob("*.jsonl") for x in p.open()]
    assert event["request"] == {}  # the log kept no body; the span only its parameters
