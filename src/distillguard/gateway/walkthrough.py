"""A walkthrough of enforcement: one account's verdict changes, and the gateway's answer with it.

Starts the mock model server and the gateway on 127.0.0.1 (enforcing a scan's verdicts when
given its results), then sends chat completions as a customer would, while an analyst changes
the account's verdict through the admin API: allowed with its reasoning, degraded (reasoning
stripped, length capped), throttled (429), blocked (403), then lifted. An account the scan
flagged is refused on the scan's verdict alone. Every request is in the gateway's log, which
`distillguard ingest` reads.

This walkthrough's config answers ``challenge`` with a throttle of 3 requests a minute rather
than a 403: actions per verdict are configuration (docs/gateway.md).
"""

from __future__ import annotations

import csv
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import mock_app

CUSTOMER_KEY = "sk-demo-customer"
CAMPAIGN_KEY = "sk-demo-campaign"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def said(self) -> str:
        """What the client got, in a few words."""
        if self.status == 200:
            message = self.body["choices"][0]["message"]
            kept = "reasoning kept" if message.get("reasoning_content") else "reasoning stripped"
            return f"answered, {kept}"
        error = self.body.get("error", {})
        wait = self.headers.get("retry-after")
        refused = str(error.get("code") or error.get("type"))
        return refused + (f", retry after {wait} s" if wait else "")


@dataclass
class Step:
    account: str
    verdict: str
    action: str
    status: int
    said: str


def pick_accounts(results: Path | None) -> tuple[str, str | None]:
    """A customer the scan cleared and an account it blocked, from its accounts.csv."""
    customer, campaign = "acct_customer", None
    path = results / "accounts.csv" if results else None
    if path is None or not path.exists():
        return customer, campaign
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cleared = [r["account_id"] for r in rows if r["verdict"] == "clear"]
    blocked = [r["account_id"] for r in rows if r["verdict"] == "block"]
    return (cleared[0] if cleared else customer), (blocked[0] if blocked else None)


def _call(
    url: str, path: str, key: str, body: dict[str, Any] | None, method: str = "POST"
) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {key}")
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return Answer(r.status, json.loads(r.read() or b"{}"), dict(r.headers.items()))
    except urllib.error.HTTPError as err:
        return Answer(err.code, json.loads(err.read() or b"{}"), dict(err.headers.items()))


def _last_event(gateway: Gateway) -> dict[str, Any]:
    assert gateway.log.path is not None
    last = gateway.log.path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    event: dict[str, Any] = json.loads(last)
    return event


def walk(results: Path | None, out: Path, show: Callable[[Step | str], None] = print) -> list[Step]:
    """Run the walkthrough; each step is shown as it happens and returned. What the gateway
    did (verdict, action) is read back from its own log."""
    customer, campaign = pick_accounts(results)
    out.mkdir(parents=True, exist_ok=True)
    keys = out / "keys.json"
    keys.write_text(json.dumps({CUSTOMER_KEY: customer, CAMPAIGN_KEY: campaign or "acct_other"}))
    cfg = load_gateway_config()
    cfg.actions["challenge"] = "throttle"
    cfg.throttle.requests_per_minute = 3
    cfg.identity.keys = str(keys)
    token = secrets.token_urlsafe(16)
    ask = {"model": "mock-1", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}
    steps: list[Step] = []

    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, results, token, out / "log")
        with serving(gateway.app()) as url:

            def send(key: str) -> None:
                answer = _call(url, "/v1/chat/completions", key, ask)
                event = _last_event(gateway)
                did = event.get("gateway", {})
                step = Step(
                    event["account_id"], did.get("verdict", "?"), did.get("action", "?"),
                    answer.status, answer.said(),
                )  # fmt: skip
                steps.append(step)
                show(step)

            def analyst(verdict: str | None) -> None:
                path = f"/admin/verdicts/account/{customer}"
                if verdict is None:
                    answer = _call(url, path, token, None, "DELETE")
                else:
                    answer = _call(url, path, token, {"verdict": verdict}, "PUT")
                if answer.status != 200:
                    raise RuntimeError(f"admin API refused: {answer.status} {answer.body}")
                show(f"analyst sets {customer} to {verdict or 'no manual verdict'}")

            show(f"gateway {url} in front of the mock model server {model}")
            send(CUSTOMER_KEY)
            analyst("watch")
            send(CUSTOMER_KEY)
            analyst("challenge")
            for _ in range(5):
                send(CUSTOMER_KEY)
            analyst("block")
            send(CUSTOMER_KEY)
            analyst(None)
            send(CUSTOMER_KEY)
            if campaign:
                show(f"the scan blocked {campaign} ({results}/accounts.csv)")
                send(CAMPAIGN_KEY)
    return steps
