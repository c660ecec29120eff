"""Latency the gateway adds in front of a model server, and how much it carries on one core.

Starts the mock model server, then the gateway (pinned to one core) in front of it, and sends
chat completions at a fixed rate (open loop: a slow server does not slow the sender down),
first straight to the mock, then through the gateway, then through LiteLLM's proxy in front of
the same mock (installed by this script into bench/out/gateway/litellm-venv, so the project's
environment is untouched; ``--no-litellm`` skips it). Added latency is the difference of the
percentiles. Record results in docs/benchmarks.md with the machine and the date. Target
(issue #5): at most 1 ms median and 5 ms p99 added at 500 requests/s on one core, and below
LiteLLM's.

    uv run python bench/gateway.py                     # 200 and 500 req/s, 20 s each
    uv run python bench/gateway.py --seconds 5 --no-litellm
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

OUT = Path(__file__).parent / "out" / "gateway"
CORE = 1  # the core the proxy under test runs on; the sender and the mock share the other

PROMPTS = [
    "Summarise this support ticket in two sentences: the customer cannot log in after the update.",
    "Write a Python function that returns the n-th Fibonacci number, with a docstring.",
    "Solve 17 * 23 and explain each step of the multiplication.",
    "Translate into French: the meeting is moved to Thursday afternoon.",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


@contextmanager
def running(cmd: list[str], port: int, core: int | None = None, **kw: Any) -> Iterator[str]:
    """A server subprocess, waited for until it answers on ``port``."""
    preexec = (lambda: _pin(core)) if core is not None else None
    proc = subprocess.Popen(cmd, preexec_fn=preexec, stdout=subprocess.DEVNULL, **kw)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/v1/models", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[0]} did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _load(url: str, rate: float, seconds: float, headers: dict[str, str]) -> np.ndarray:
    """Send at ``rate`` per second for ``seconds``; the latency of each request in ms."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(i: int) -> None:
            nonlocal errors
            body = {
                "model": "mock-1",
                "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            }
            began = time.perf_counter()
            r = await client.post("/v1/chat/completions", json=body, headers=headers)
            if r.status_code != 200:
                errors += 1
            latencies.append((time.perf_counter() - began) * 1000)

        for i in range(min(int(rate), 200)):  # warm the connections and the memos
            await one(i)
        latencies.clear()
        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    if errors:
        print(f"  {errors} requests failed", file=sys.stderr)
    return np.array(latencies)


async def _closed(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> float:
    """Requests per second with ``concurrency`` requests always in flight."""
    done = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal done
            body = {"model": "mock-1", "messages": [{"role": "user", "content": PROMPTS[0]}]}
            while time.perf_counter() < stop:
                await client.post("/v1/chat/completions", json=body, headers=headers)
                done += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - began)


def litellm_proxy(mock: str) -> list[str] | None:
    """The command line of LiteLLM's proxy in front of the mock, installing it if need be."""
    venv = OUT / "litellm-venv"
    exe = venv / "bin" / "litellm"
    if not exe.exists():
        uv = shutil.which("uv") or "uv"
        print("installing litellm[proxy] into", venv, file=sys.stderr)
        subprocess.run([uv, "venv", "-q", str(venv)], check=True)
        done = subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
             "litellm[proxy]"],
            check=False,
        )  # fmt: skip
        if done.returncode != 0 or not exe.exists():
            return None
    config = OUT / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: mock-1\n"
        "    litellm_params: {model: openai/mock-1, api_base: " + mock + "/v1, api_key: none}\n"
        "litellm_settings: {telemetry: false, drop_params: true}\n"
    )
    return [str(exe), "--config", str(config), "--num_workers", "1"]


def percentiles(ms: np.ndarray) -> dict[str, float]:
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="200,500", help="requests per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-litellm", action="store_true")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "log", ignore_errors=True)
    dg = [sys.executable, "-m", "distillguard"]
    results: dict[str, Any] = {"bench": "gateway", "seconds": args.seconds, "rates": {}}
    mock_port = free_port()
    with running([*dg, "mock-model", "--port", str(mock_port)], mock_port, core=0) as mock:
        direct = {r: asyncio.run(_load(mock, r, args.seconds, {})) for r in rates}
        proxies: dict[str, list[str] | None] = {
            "distillguard": [*dg, "serve", "--upstream", mock, "--log-dir", str(OUT / "log")],
        }
        if not args.no_litellm:
            proxies["litellm"] = litellm_proxy(mock)
        for name, cmd in proxies.items():
            if cmd is None:
                print(f"{name}: could not be installed; skipped", file=sys.stderr)
                continue
            port = free_port()
            with running([*cmd, "--port", str(port)], port, core=CORE) as url:
                headers = {"x-distillguard-account": "acct_bench", "authorization": "Bearer x"}
                for rate in rates:
                    through = asyncio.run(_load(url, rate, args.seconds, headers))
                    base, via = percentiles(direct[rate]), percentiles(through)
                    added = {k: via[k] - base[k] for k in base}
                    results["rates"].setdefault(str(int(rate)), {})[name] = {
                        "direct_ms": base, "through_ms": via, "added_ms": added,
                    }  # fmt: skip
                    print(f"{name:12} {rate:5.0f} req/s  added p50 {added['p50']:6.2f} ms"
                          f"  p99 {added['p99']:6.2f} ms")  # fmt: skip
                capacity = asyncio.run(_closed(url, min(args.seconds, 10), 64, headers))
                results.setdefault("max_req_per_s_one_core", {})[name] = round(capacity)
                print(f"{name:12} max {capacity:,.0f} req/s on one core")
    results.update(python=platform.python_version(), date=time.strftime("%Y-%m-%d"))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
