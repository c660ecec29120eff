"""The LiteLLM plugin in a real LiteLLM proxy on 127.0.0.1, in front of the mock model server,
driven by the official OpenAI SDK; verdicts set through a gateway's admin API."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

pytest.importorskip("litellm.proxy.proxy_server")

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import free_port, serving
from distillguard.gateway.mock import ANSWER, THINKING, mock_app

TOKEN = "admin-secret"
MSG: Any = [{"role": "user", "content": "What is 6 times 7?"}]

# Stands in for LiteLLM's key database: a key "sk-USER.TEAM" belongs to USER in TEAM.
AUTH = """
from litellm.proxy._types import UserAPIKeyAuth

async def auth(request, api_key: str) -> UserAPIKeyAuth:
    user, _, team = api_key.removeprefix("sk-").partition(".")
    return UserAPIKeyAuth(api_key=api_key, user_id=user or None, team_id=team or None)
"""


class Proxy:
    def __init__(self, url: str, admin: str, log_dir: Path) -> None:
        self.url, self.admin, self.log_dir = url, admin, log_dir

    def client(self, user: str, team: str = "red") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=f"sk-{user}.{team}", max_retries=0)

    def set_verdict(self, account: str, verdict: str | None) -> None:
        r = httpx.request(
            "PUT" if verdict else "DELETE",
            f"{self.admin}/admin/verdicts/account/{account}",
            json={"verdict": verdict} if verdict else None,
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200, r.text

    def events(self, user: str, at_least: int = 1) -> list[dict[str, Any]]:
        """The plugin's events for a user, waiting a moment for the last to be written."""
        deadline = time.monotonic() + 5
        while True:
            found = [
                e
                for p in sorted(self.log_dir.glob("events-*.jsonl"))
                for e in map(json.loads, p.read_text().splitlines())
                if e["account_id"] == user
            ]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("litellm")
    gateway_log, plugin_log = tmp / "gateway-log", tmp / "plugin-log"
    manual = tmp / "manual-verdicts.json"
    (tmp / "gateway.yaml").write_text(
        f"manual_verdicts: {manual}\nthrottle: {{requests_per_minute: 2}}\n"
    )
    (tmp / "auth.py").write_text(AUTH)
    with serving(mock_app()) as model:
        cfg = load_gateway_config(tmp / "gateway.yaml")
        gateway = Gateway(model, cfg, None, TOKEN, gateway_log)  # only its admin API is used
        with serving(gateway.app()) as admin:
            port = free_port()
            (tmp / "config.yaml").write_text(
                f"""
model_list:
  - model_name: mock-1
    litellm_params: {{model: openai/mock-1, api_base: "{model}/v1", api_key: none}}
general_settings:
  custom_auth: auth.auth
guardrails:
  - guardrail_name: distillguard
    litellm_params:
      guardrail: distillguard.gateway.litellm_guard.DistillguardGuardrail
      mode: [pre_call, post_call]
      default_on: true
      distillguard_config: {tmp / "gateway.yaml"}
      distillguard_log: {plugin_log}
"""
            )
            env = {
                **os.environ,
                "LITELLM_MASTER_KEY": "sk-" + secrets.token_hex(24),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "PYTHONPATH": str(tmp),
            }
            with open(tmp / "proxy.out", "wb") as out:
                server = subprocess.Popen(
                    [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config",
                     str(tmp / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)],
                    cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if httpx.get(url + "/health/liveliness").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((tmp / "proxy.out").read_text()[-3000:])
                    time.sleep(0.25)
                yield Proxy(url, admin, plugin_log)
            finally:
                server.terminate()
                server.wait(timeout=20)


def test_allowed_calls_pass_and_are_logged_as_contract_events(proxy: Proxy) -> None:
    chat = proxy.client("alice").chat.completions.create(model="mock-1", messages=MSG)
    assert chat.choices[0].message.content == ANSWER
    (event,) = proxy.events("alice")
    assert event["endpoint"] == "/v1/chat/completions"
    assert event["status"] == 200
    assert event["litellm"]["team_id"] == "red"
    assert event["api_key_id"]  # LiteLLM's key hash, never the key
    assert "sk-alice" not in json.dumps(event)
    assert event["request"]["messages"] == MSG
    assert event["gateway"]["action"] == "allow"


def test_a_client_cannot_choose_its_request_ids(proxy: Proxy) -> None:
    """LiteLLM takes litellm_call_id from the client: repeating one must not make later calls
    look like duplicates of the first to ingest."""
    client = proxy.client("gina")
    for _ in range(2):
        client.chat.completions.create(
            model="mock-1", messages=MSG, extra_headers={"x-litellm-call-id": "same-id"}
        )
    events = proxy.events("gina", 2)
    assert len({e["request_id"] for e in events}) == 2
    assert [e["litellm"].get("call_id") for e in events] == ["same-id", "same-id"]


def test_a_block_set_through_the_admin_api_refuses_plain_and_streamed(proxy: Proxy) -> None:
    client = proxy.client("bob")
    assert client.chat.completions.create(model="mock-1", messages=MSG).choices
    proxy.set_verdict("bob", "block")
    time.sleep(1.1)  # the plugin reads the manual verdicts file again at most once a second
    with pytest.raises(openai.PermissionDeniedError, match="blocked"):
        client.chat.completions.create(model="mock-1", messages=MSG)
    with pytest.raises(openai.PermissionDeniedError, match="blocked"):
        for _ in client.chat.completions.create(model="mock-1", messages=MSG, stream=True):
            pass
    statuses = [e["status"] for e in proxy.events("bob", 3)]
    assert statuses == [200, 403, 403]
    proxy.set_verdict("bob", None)
    time.sleep(1.1)
    assert client.chat.completions.create(model="mock-1", messages=MSG).choices


def test_a_watched_team_gets_answers_without_reasoning(proxy: Proxy) -> None:
    plain = proxy.client("carol", team="blue").chat.completions.create(model="mock-1", messages=MSG)
    assert getattr(plain.choices[0].message, "reasoning_content", None) == THINKING
    proxy.set_verdict("team:blue", "watch")  # degrade, by default
    time.sleep(1.1)
    client = proxy.client("carol", team="blue")
    plain = client.chat.completions.create(model="mock-1", messages=MSG, max_tokens=4000)
    assert plain.choices[0].message.content == ANSWER
    assert not getattr(plain.choices[0].message, "reasoning_content", None)
    text, reasoning = "", ""
    for chunk in client.chat.completions.create(model="mock-1", messages=MSG, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
    assert text == ANSWER
    assert reasoning == ""
    events = proxy.events("carol", 3)
    assert [e["gateway"]["action"] for e in events] == ["allow", "degrade", "degrade"]
    assert "team:blue" in events[1]["gateway"]["why"]
    proxy.set_verdict("team:blue", None)


def test_challenge_and_throttle_are_the_gateways_refusals(proxy: Proxy) -> None:
    proxy.set_verdict("dave", "challenge")
    time.sleep(1.1)
    with pytest.raises(openai.PermissionDeniedError, match="verification"):
        proxy.client("dave").chat.completions.create(model="mock-1", messages=MSG)
    proxy.set_verdict("dave", None)


def test_the_plugin_log_is_read_by_ingest(proxy: Proxy, tmp_path: Path) -> None:
    proxy.client("erin").chat.completions.create(model="mock-1", messages=MSG)
    assert proxy.events("erin")
    store = tmp_path / "store.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "distillguard", "ingest", str(proxy.log_dir), "--store", str(store)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    import duckdb

    with duckdb.connect(str(store), read_only=True) as db:
        accounts = {r[0] for r in db.execute("select distinct account_id from events").fetchall()}
    assert {"alice", "erin"} <= accounts


def test_a_throttled_key_gets_429_with_retry_after(tmp_path: Path) -> None:
    """The hook as LiteLLM calls it; a key, not the user, carries the verdict."""
    import asyncio

    from litellm.proxy._types import ProxyException, UserAPIKeyAuth

    from distillguard.gateway.litellm_guard import DistillguardGuardrail

    (tmp_path / "gateway.yaml").write_text(
        "actions: {clear: allow, watch: throttle, challenge: challenge, block: block}\n"
        "throttle: {requests_per_minute: 1}\n"
    )
    guard = DistillguardGuardrail(
        distillguard_config=str(tmp_path / "gateway.yaml"),
        distillguard_log=str(tmp_path / "log"),
        guardrail_name="distillguard",
        event_hook=["pre_call"],
        default_on=True,
    )
    guard.enforcer.book.set_manual("account", "key:hash-9", "watch")
    who = UserAPIKeyAuth(api_key="hash-9", user_id="frank")

    async def call(n: int) -> dict[str, Any]:
        data = {"model": "m", "messages": MSG, "litellm_call_id": f"call-{n}"}
        out: dict[str, Any] = await guard.async_pre_call_hook(who, None, data, "acompletion")
        return out

    assert asyncio.run(call(1))["messages"] == MSG  # within its rate
    with pytest.raises(ProxyException) as refused:
        asyncio.run(call(2))
    assert refused.value.code == "429"
    assert int(refused.value.headers["retry-after"]) >= 1
    assert "retry after" in refused.value.message
    (event,) = [json.loads(x) for p in (tmp_path / "log").glob("*.jsonl") for x in p.open()]
    assert event["litellm"]["call_id"] == "call-2"
    assert (event["account_id"], event["status"]) == ("frank", 429)
    assert event["gateway"]["action"] == "throttle"
    assert "key:hash-9" in event["gateway"]["why"]


def test_degrading_keeps_what_litellm_made_of_the_call() -> None:
    """Only the fields degrading touches change in LiteLLM's request, and a stripped response
    keeps the hidden parameters LiteLLM reads after the hook."""
    from litellm.types.utils import ModelResponse

    from distillguard.gateway.litellm_guard import _degrade_in_place, _strip_in_place

    data: dict[str, Any] = {
        "model": "alias-resolved",  # LiteLLM's, not the client's
        "messages": [{"role": "user", "content": "[MASKED]"}],
        "max_tokens": 9000,
        "logprobs": True,
        "thinking": {"type": "enabled", "budget_tokens": 8000},
    }
    _degrade_in_place(data, 512, "/v1/chat/completions")
    assert data == {
        "model": "alias-resolved",
        "messages": [{"role": "user", "content": "[MASKED]"}],
        "max_tokens": 512,
    }
    response = ModelResponse(
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "42",
                    "reasoning_content": "six sevens",
                    "thinking_blocks": [{"type": "thinking", "thinking": "six sevens"}],
                },
            }
        ]
    )
    response._hidden_params = {"response_cost": 0.01}
    _strip_in_place(response, "message")
    dumped = json.dumps(response.model_dump())
    assert "six sevens" not in dumped
    assert response.choices[0].message.content == "42"
    assert response._hidden_params == {"response_cost": 0.01}
