"""One request as an enforcement point sees it, and the contract event it is logged as.

The inline gateway and the LiteLLM plugin (``litellm_guard.py``) both build their events here,
so a scan reads the same fields whichever of them wrote the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from distillguard.contract.body import RequestView, view_request
from distillguard.gateway.policy import Decision, Policy
from distillguard.gateway.stream import usage_counts
from distillguard.signals.derived import derive
from distillguard.signals.request import RequestSignals, score_request


@dataclass(slots=True)
class Call:
    """One request: what its event is made of."""

    started: float  # time.perf_counter() when it arrived
    request_id: str
    account: str
    path: str
    body: dict[str, Any]
    client: dict[str, Any]
    key_id: str | None
    decision: Decision | None = None
    view: RequestView | None = None
    signals: RequestSignals | None = None
    observed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # more top-level fields, e.g. org_id
    # Other decisions that hold budgets until the call ends (LiteLLM: its team's, key's, ...).
    also: list[Decision] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # what the gateway did, for the log


def observe(call: Call, policy: Policy, strict: bool = False) -> None:
    """Read the call's signals (for its event) and count them in its account's online state;
    once per call. Errors are noted in the decision's ``why`` unless ``strict``."""
    if call.observed:
        return
    call.observed = True
    if not call.body:
        return
    try:
        call.view = view_request(call.body, call.path)
        call.signals = score_request(call.view)
        policy.observe(call.account, call.signals)
    except Exception as exc:
        if strict:
            raise
        if call.decision is not None:
            call.decision.why += f"; detector error ({type(exc).__name__})"


def tokens_of(event: dict[str, Any], body: dict[str, Any], response: dict[str, Any] | None) -> int:
    """The tokens a call used, for token budgets: the model server's count, or when it gave
    none (a stream without usage, a failure) about one per 4 bytes of request and answer.

    >>> tokens_of({"usage": {"input_tokens": 3, "output_tokens": 5}}, {}, None)
    8
    >>> tokens_of({}, {"messages": [{"role": "user", "content": "x" * 396}]}, None)
    109
    """
    usage = event.get("usage")
    if usage:
        return int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    size = len(orjson.dumps(body)) + (len(orjson.dumps(response)) if response else 0)
    return size // 4


class Clock:
    """UTC timestamps in RFC 3339, the date and time formatted once a second."""

    def __init__(self) -> None:
        self._second, self._prefix = -1, ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"


def event_of(
    call: Call, status: int, response: dict[str, Any] | None, keep_text: bool, ts: str
) -> dict[str, Any]:
    """The contract event for a call that ended with ``status``. Without ``keep_text`` (log
    retention ``derived``) the text is replaced by the columns detection reads."""
    decision = call.decision
    event: dict[str, Any] = {
        "ts": ts,
        "request_id": call.request_id,
        "account_id": call.account,
        "endpoint": call.path,
        "model": str(call.body.get("model") or ""),
        "client": call.client,
        "request": call.body,
        "status": status,
        "latency_ms": round((time.perf_counter() - call.started) * 1000, 3),
        **call.extra,
    }
    if call.key_id:
        event["api_key_id"] = call.key_id
    if response is not None:
        event["response"] = response
        usage = usage_counts(response.get("usage"))
        if usage:
            event["usage"] = usage
    if not keep_text:
        try:
            event["derived"] = derive(call.body, call.path, response, call.view, call.signals)
        except Exception as exc:  # logged without text or columns, never lost
            if decision is not None:
                decision.why += f"; derived columns failed ({type(exc).__name__})"
        event["request"] = {}
        event.pop("response", None)
    if decision is not None:
        event["gateway"] = {
            "action": decision.action,
            "verdict": decision.verdict,
            "why": decision.why,
        }
        if decision.watermark:  # which key a later provenance test looks for
            event["gateway"]["watermark"] = decision.watermark
        event["gateway"].update(call.notes)
    return event
