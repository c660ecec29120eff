"""What each countermeasure gives the client, and the latency it adds, on the mock model server.

Starts ``distillguard mock-model`` and, for each countermeasure, ``distillguard serve`` in front
of it with one account set to ``watch`` through the admin API; then sends the same requests
(Chat Completions and Anthropic Messages, plain and streamed) one at a time on a kept-alive
connection, straight to the mock and through the gateway. It reports, per countermeasure and
shape, what the client received (the reasoning, the answer, the model that served it) and the
median and p99 latency added over the mock alone. The mock answers at once, so what is added is
the gateway's work plus, for ``summary``, one more round trip to the summariser: a real model
adds the time it takes to write about 160 tokens. Record results in docs/benchmarks.md.

    uv run python bench/countermeasures.py               # 300 requests per shape
    uv run python bench/countermeasures.py --requests 50
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from distillguard.gateway.local import free_port

OUT = Path(__file__).parent / "out" / "countermeasures"
TOKEN = "bench-admin"
MSG = [{"role": "user", "content": "What is 6 times 7? Think it through."}]
SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "mock-1", "messages": MSG}),
    "chat stream": ("/v1/chat/completions", {"model": "mock-1", "messages": MSG, "stream": True}),
    "messages": ("/v1/messages", {"model": "mock-1", "max_tokens": 256, "messages": MSG}),
    "messages stream": (
        "/v1/messages",
        {"model": "mock-1", "max_tokens": 256, "messages": MSG, "stream": True},
    ),
}
# Each countermeasure as the settings a provider would write (docs/gateway.md).
COUNTERMEASURES: dict[str, str] = {
    "none (allow)": "actions: {watch: allow}\n",
    "strip reasoning": "actions: {watch: degrade}\n",
    "summarise reasoning": "actions: {watch: degrade}\ndegrade: {reasoning: summary}\n",
    "smaller model": "actions: {watch: degrade}\ndegrade: {model: mock-small}\n",
    "watermark request": "actions: {watch: allow}\nwatermark: {verdicts: [watch]}\n",
}


@contextmanager
def running(args: list[str], port: int) -> Iterator[None]:
    cmd = [sys.executable, "-m", "distillguard", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"{' '.join(args[:1])} did not start:\n{err}") from None
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def received(shape: str, raw: bytes) -> dict[str, Any]:
    """What the client got: reasoning text, answer text and model, from either API's shape."""
    reasoning, answer, model = [], [], ""
    if "stream" in shape:
        datas = [line[5:].strip() for line in raw.split(b"\n") if line.startswith(b"data:")]
        items = [json.loads(d) for d in datas if d and d != b"[DONE]"]
    else:
        items = [json.loads(raw)]
    for item in items:
        model = item.get("model") or (item.get("message") or {}).get("model") or model
        for choice in item.get("choices") or []:
            part = choice.get("delta") or choice.get("message") or {}
            reasoning.append(part.get("reasoning_content") or "")
            answer.append(part.get("content") or "")
        for block in item.get("content") or []:
            reasoning.append(block.get("thinking") or "")
            answer.append(block.get("text") or "")
        delta = item.get("delta") or {}
        reasoning.append(delta.get("thinking") or "")
        answer.append(delta.get("text") or "")
    return {"reasoning": "".join(reasoning), "answer": "".join(answer), "model": model}


def timed(port: int, account: str | None, n: int) -> dict[str, Any]:
    headers = {"authorization": "Bearer sk-bench", "anthropic-version": "2023-06-01"}
    if account:
        headers["x-account"] = account
    out: dict[str, Any] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        for shape, (path, body) in SHAPES.items():
            ms = []
            for i in range(n + 10):  # the first 10 warm the connection and the models
                started = time.perf_counter()
                reply = client.post(path, json=body)
                raw = reply.read()
                if i >= 10:
                    ms.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200, (shape, reply.status_code, raw[:300])
            out[shape] = {"ms": ms, **received(shape, raw)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per shape and countermeasure")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    mock_port = free_port()
    rows: list[dict[str, Any]] = []
    with running(["mock-model"], mock_port), tempfile.TemporaryDirectory() as tmp:
        direct = timed(mock_port, None, args.requests)
        for name, settings in COUNTERMEASURES.items():
            config = Path(tmp) / "gateway.yaml"
            config.write_text("identity: {header: x-account}\n" + settings)
            port = free_port()
            serve = ["serve", "--upstream", f"http://127.0.0.1:{mock_port}", "--config"]
            serve += [str(config), "--admin-token", TOKEN, "--log-dir", f"{tmp}/log-{port}"]
            with running(serve, port):
                put = httpx.put(
                    f"http://127.0.0.1:{port}/admin/verdicts/account/acct_w",
                    json={"verdict": "watch"},
                    headers={"authorization": f"Bearer {TOKEN}"},
                )
                put.raise_for_status()
                got = timed(port, "acct_w", args.requests)
            for shape, result in got.items():
                base = np.percentile(direct[shape]["ms"], [50, 99])
                mine = np.percentile(result["ms"], [50, 99])
                rows.append(
                    {
                        "countermeasure": name,
                        "shape": shape,
                        "added_p50_ms": round(float(mine[0] - base[0]), 3),
                        "added_p99_ms": round(float(mine[1] - base[1]), 3),
                        "reasoning": result["reasoning"],
                        "answer": result["answer"],
                        "model": result["model"],
                    }
                )
                print(
                    f"{name:20} {shape:16} +{rows[-1]['added_p50_ms']:6.2f} / "
                    f"+{rows[-1]['added_p99_ms']:6.2f} ms  reasoning={result['reasoning']!r} "
                    f"model={result['model']}",
                    flush=True,
                )
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    (OUT / "results.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
