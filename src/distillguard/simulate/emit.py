"""Requests to contract events, a day at a time, written sorted by time.

Each (emitter, day) pair has its own seeded random stream, so a day's events are the same
whichever worker process writes them.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from distillguard.simulate.actor import Models, Request, iso
from distillguard.simulate.plan import DAY, Planner
from distillguard.simulate.shape import anthropic_body, openai_body, prompt_chars
from distillguard.simulate.text import Prompt

_encode = msgspec.json.Encoder().encode
_ERRORS = ((429, 0.004), (500, 0.002), (529, 0.001), (400, 0.003))
_SHORT = {
    "coding": "Here is an implementation with an explanation of each step.",
    "math_reasoning": "Let us work through this carefully, one step at a time.",
    "agentic": "I'll start by inspecting the relevant files.",
    "computer_use": "The next action is to click the highlighted button.",
}


def event(r: Request, prompt: Prompt, rng: random.Random, response_text: str) -> dict[str, Any]:
    """The contract event for one request, with usage, status and latency filled in."""
    actor = r.actor
    style = actor.style
    params: dict[str, Any] = {}
    if style.temperature is not None:
        params["temperature"] = style.temperature
    max_tokens = prompt.max_tokens or style.max_tokens
    if max_tokens:
        params["max_tokens"] = max_tokens
    if rng.random() < style.stream_share:
        params["stream"] = True
    if style.logprobs_share and rng.random() < style.logprobs_share:
        params["logprobs"] = True
    if actor.shape == "anthropic":
        endpoint, body = "/v1/messages", anthropic_body(prompt, r.model, params)
    else:
        endpoint, body = "/v1/chat/completions", openai_body(prompt, r.model, params)
    address = actor.address(rng)
    lo, hi = prompt.output_tokens
    out_tokens = min(int(rng.uniform(lo, hi)), max_tokens or 1 << 30)
    status = 200
    x = rng.random()
    for code, p in _ERRORS:
        if x < p:
            status, out_tokens = code, 0
            break
        x -= p
    ev: dict[str, Any] = {
        "ts": iso(r.ts),
        "request_id": f"req_{rng.getrandbits(64):016x}",
        "account_id": actor.account_id,
        "api_key_id": f"key_{actor.account_id[5:13]}",
        "endpoint": endpoint,
        "model": r.model,
        "client": {
            "ip": address.ip,
            "user_agent": actor.stack.user_agent,
            "asn": address.asn,
            "country": address.country,
            "tls_fingerprint": actor.stack.tls_fingerprint,
        },
        "request": body,
        "status": status,
        "usage": {"input_tokens": prompt_chars(prompt) // 4 + 8, "output_tokens": out_tokens},
        "latency_ms": round(250 + out_tokens * rng.uniform(8, 25), 1),
    }
    if actor.org_id:
        ev["org_id"] = actor.org_id
    if response_text == "short" and status == 200:
        text = _SHORT.get(prompt.capability, "Sure. Here is what I found.")
        ev["response"] = {"role": "assistant", "content": [{"type": "text", "text": text}]}
    return ev


def emit_day(plan: Planner, day: int, out_dir: Path, compress: bool) -> tuple[str, Counter[str]]:
    """Write one day of events, sorted by time; returns the file name and counts per label."""
    start = plan.start + day * DAY
    models: Models = plan.models
    requests: list[Request] = []
    for emitter in plan.emitters:
        rng = random.Random(f"{plan.seed}:{emitter.key}:{day}")
        requests.extend(emitter.day(day, start, rng, models))
    requests.sort(key=lambda r: r.ts)
    rng = random.Random(f"{plan.seed}:events:{day}")
    counts: Counter[str] = Counter()
    name = f"day-{day + 1:03d}.jsonl" + (".gz" if compress else "")
    path = out_dir / name
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        lines = []
        for r in requests:
            prompt = r.prompt(random.Random(r.seed))
            lines.append(_encode(event(r, prompt, rng, plan.scenario.response_text)))
            label = r.actor.label
            counts[label.campaign or label.population] += 1
            if len(lines) >= 4096:
                fh.write(b"\n".join(lines) + b"\n")
                lines.clear()
        if lines:
            fh.write(b"\n".join(lines) + b"\n")
    return name, counts
