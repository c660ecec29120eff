"""Latency the gateway adds in front of a model server, and how much it carries on one core.

Starts a canned model server (bench/http_load.py: it answers every request at once, so only the
proxy is measured), then the proxy under test pinned to one core in front of it, and sends chat
completions at a fixed rate (open loop: a slow proxy does not slow the sender down), first straight
to the model server, then through distillguard's gateway, then through LiteLLM's proxy, alone and
with distillguard's LiteLLM plugin in it (``--no-litellm`` skips both). Added latency is the
difference of the percentiles; CPU per request is the proxy's own user + system time over the
requests it served. First, 64 requests kept in flight give the most it carries, and their
latency (``c64``). With a state server, the gateway runs again with shared state, with every
request under budgets (admitted and settled on the server), and as two workers. The sender and the
model server share the other core. Record results in docs/benchmarks.md with the machine and the
date. Target (issue #5): at most 1 ms median and 5 ms p99 added at 500 requests/s on one core, and
below LiteLLM's; the plugin's cost is the difference between LiteLLM with it and without it (issue
#19).

    uv run python bench/gateway.py                     # 20, 200 and 500 req/s, 20 s each
    uv run python bench/gateway.py --seconds 5 --no-litellm
"""

from __future__ import annotations

import argparse
import contextlib
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
import psutil
import uvloop
from http_load import Sender, request_bytes

OUT = Path(__file__).parent / "out" / "gateway"
CORE = 1  # the core the proxy under test runs on; the sender and the model server share core 0

PROMPTS = [
    "Summarise this support ticket in two sentences: the customer cannot log in after the update.",
    "Write a Python function that returns the n-th Fibonacci number, with a docstring.",
    "Solve 17 * 23 and explain each step of the multiplication.",
    "Translate into French: the meeting is moved to Thursday afternoon.",
]
KEY = "sk-bench-" + "5f0c" * 8  # LiteLLM refuses to start without a strong master key
HEADERS = {"authorization": f"Bearer {KEY}", "user-agent": "bench/1.0"}


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
def running(cmd: list[str], port: int, core: int) -> Iterator[psutil.Process]:
    """A server subprocess on ``core``, waited for until it answers on ``port``."""
    proc = subprocess.Popen(
        cmd, preexec_fn=lambda: _pin(core), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"{cmd[0]} did not start:\n{err}") from None
                time.sleep(0.2)
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(proc: psutil.Process) -> np.ndarray:
    """User and system time of a process and its children."""
    total = np.zeros(2)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += (t.user, t.system)
        except psutil.NoSuchProcess:
            pass
    return total


def sender(port: int) -> Sender:
    """2,000 distinct requests, as an app sends them: a few templates, varied values (the
    signals' memos help no more than in real traffic)."""
    words = ["login", "billing", "invoice", "refund", "export", "latency", "upgrade", "outage"]
    prompts = [
        f"{PROMPTS[i % len(PROMPTS)]} Case {i}: {words[i % 8]} {words[(i * 3) % 8]} issue."
        for i in range(2000)
    ]
    return Sender(port, [request_bytes(p, HEADERS) for p in prompts])


def litellm_proxy(upstream: str, plugin: bool = False) -> list[str]:
    """The command line of LiteLLM's proxy (the project's own, from the dev group) in front of
    the model server; with ``plugin``, distillguard's guardrail in it (docs/litellm.md). The
    environment has uvloop and httptools, so it is served as fast as the gateway is, and
    opentelemetry-sdk: without it LiteLLM retries a failing import on every request (1.108)."""
    name = "litellm-plugin" if plugin else "litellm"
    guard = ""
    if plugin:
        guard = (
            "guardrails:\n"
            "  - guardrail_name: distillguard\n"
            "    litellm_params:\n"
            "      guardrail: distillguard.gateway.litellm_guard.DistillguardGuardrail\n"
            "      mode: [pre_call, post_call]\n"
            "      default_on: true\n"
            f"      distillguard_log: {OUT / 'plugin-log'}\n"
        )
    config = OUT / f"{name}.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: mock-1\n"
        "    litellm_params: {model: openai/mock-1, api_base: " + upstream + "/v1, api_key: none}\n"
        "litellm_settings: {telemetry: false, drop_params: true}\n"
        f"general_settings: {{master_key: {KEY}}}\n" + guard
    )
    proxy = [sys.executable, "-m", "litellm.proxy.proxy_cli"]
    return [*proxy, "--config", str(config), "--num_workers", "1"]


ALL_CORES = 1 << 10  # not a core: not pinned


@contextmanager
def state_server() -> Iterator[str | None]:
    """A Valkey/Redis server on core 0 for the shared-state runs, if one is installed."""
    exe = shutil.which("valkey-server") or shutil.which("redis-server")
    if exe is None:
        print(
            "no valkey-server or redis-server (make redis): shared state skipped", file=sys.stderr
        )
        yield None
        return
    port = free_port()
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, preexec_fn=lambda: _pin(0), stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def percentiles(ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
    }


def measure(port: int, rates: list[float], seconds: float, proc: psutil.Process | None) -> Any:
    """The most it carries, then latency and CPU per request at each rate it can carry (above
    90% of its most, an open-loop sender only builds a queue without end)."""
    out: dict[str, Any] = {}
    closed = sender(port)
    capacity = uvloop.run(closed.closed_loop(min(seconds, 10), 64))
    out["max_req_per_s"] = round(capacity)
    out["c64"] = {**percentiles(closed.latencies), "errors": closed.errors}  # 64 in flight
    for rate in rates:
        if rate > 0.9 * capacity:
            out[str(int(rate))] = {"saturated": True}
            continue
        load = sender(port)
        before = cpu_seconds(proc) if proc else np.zeros(2)
        ms = uvloop.run(load.open_loop(rate, seconds))
        used = (cpu_seconds(proc) - before) / (len(ms) + 200) * 1e6 if proc else None
        out[str(int(rate))] = {**percentiles(ms), "errors": load.errors}
        if used is not None:  # per request, in µs, of the proxy's own process
            out[str(int(rate))].update(cpu_user_us=round(used[0]), cpu_system_us=round(used[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rates",
        default="20,200,500",
        help="requests per second, comma-separated (20: a rate LiteLLM can carry on one core)",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--no-state", action="store_true", help="skip the runs on a shared state server"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "log", ignore_errors=True)
    shutil.rmtree(OUT / "plugin-log", ignore_errors=True)
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network here: no retries of a fetch
    model_port = free_port()
    model_cmd = [sys.executable, str(Path(__file__).parent / "http_load.py"), "upstream"]
    results: dict[str, Any] = {"bench": "gateway", "seconds": args.seconds}
    with contextlib.ExitStack() as stack:
        stack.enter_context(running([*model_cmd, str(model_port)], model_port, core=0))
        upstream = f"http://127.0.0.1:{model_port}"
        results["direct"] = measure(model_port, rates, args.seconds, None)
        print("direct      ", json.dumps(results["direct"]))
        dg = [sys.executable, "-m", "distillguard", "serve", "--upstream", upstream]
        proxies: dict[str, list[str] | None] = {
            "distillguard": [*dg, "--log-dir", str(OUT / "log")]
        }
        cores = {name: CORE for name in ("distillguard", "litellm", "litellm_plugin")}
        state = stack.enter_context(state_server()) if not args.no_state else None
        if state:  # issue #20: the shared state's cost, and what a second worker adds
            proxies["distillguard_state"] = [*dg, "--state", state, "--log-dir", str(OUT / "log")]
            cores["distillguard_state"] = CORE
            # Every request under budgets (room to spare): admitted and settled on the server.
            budgets = OUT / "budgets.yaml"
            budgets.write_text(
                "budgets:\n  clear:\n    account: {requests_per_minute: 1.0e9, "
                "tokens_per_minute: 1.0e12, concurrent: 100000}\n"
            )
            proxies["distillguard_budgets"] = [
                *dg, "--state", state, "--config", str(budgets), "--log-dir", str(OUT / "log")
            ]  # fmt: skip
            cores["distillguard_budgets"] = CORE
            two = [*dg, "--workers", "2", "--state", state, "--log-dir", str(OUT / "log")]
            proxies["distillguard_2_workers"] = two
            cores["distillguard_2_workers"] = ALL_CORES  # both cores, beside the sender
        if not args.no_litellm:
            proxies["litellm"] = litellm_proxy(upstream)
            proxies["litellm_plugin"] = litellm_proxy(upstream, plugin=True)
        for name, cmd in proxies.items():
            assert cmd is not None
            port = free_port()
            with running([*cmd, "--port", str(port)], port, core=cores[name]) as proc:
                through = measure(port, rates, args.seconds, proc)
            for rate in ["c64", *map(str, map(int, rates))]:
                base, via = results["direct"][rate], through[rate]
                if "p50" in via:
                    via["added_p50"] = round(via["p50"] - base["p50"], 3)
                    via["added_p99"] = round(via["p99"] - base["p99"], 3)
                alone = results.get("litellm", {}).get(rate, {})
                if name == "litellm_plugin" and "p50" in via and "p50" in alone:
                    via["plugin_p50"] = round(via["p50"] - alone["p50"], 3)
                    via["plugin_p99"] = round(via["p99"] - alone["p99"], 3)
            results[name] = through
            print(f"{name:12}", json.dumps(through))
    results.update(
        python=platform.python_version(),
        cpus=os.cpu_count(),
        date=time.strftime("%Y-%m-%d"),
    )
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
