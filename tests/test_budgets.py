"""Budgets per verdict: requests and tokens per minute and requests at once, per account, cluster
and campaign, on every state backend (a real Valkey/Redis server among them), and through two
gateways sharing one server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import free_port, serving
from distillguard.gateway.mock import mock_app
from distillguard.gateway.state import Limit, LocalState, MemoryState, RedisState, State
from distillguard.verdicts.config import ConfigError
from tests.test_shared_state import SERVER, Store

needs_server = pytest.mark.skipif(SERVER is None, reason="no valkey-server or redis-server")


@pytest.fixture
def store() -> Iterator[Store]:
    found = Store(free_port())
    yield found
    found.kill()


async def _each(state: State) -> None:
    own = Limit("account:a:rpm", "rate", 5, 1.0)
    cluster = Limit("cluster:c1:rpm", "rate", 3, 1.0)
    # All or nothing: the cluster's budget refuses the 4th, and the account's is not drawn.
    got = [await state.admit([own, cluster], f"r{i}", 60) for i in range(4)]
    assert got[:3] == [(0.0, -1)] * 3
    wait, at = got[3]
    assert at == 1
    assert 19 < wait <= 20
    assert [(await state.admit([own], f"s{i}", 60))[1] for i in range(3)] == [-1, -1, 0]

    conc = Limit("account:a:conc", "concurrent", 2)
    assert [(await state.admit([conc], f"c{i}", 60))[1] for i in range(3)] == [-1, -1, 0]
    state.settle([], ["account:a:conc"], "c0")
    await asyncio.sleep(0.05)  # the server's settlement is sent in the background
    assert (await state.admit([conc], "c3", 60))[1] == -1

    brief = Limit("account:b:conc", "concurrent", 1)
    assert (await state.admit([brief], "d0", 0.2))[1] == -1  # a worker died holding it
    assert (await state.admit([brief], "d1", 0.2))[1] == 0
    await asyncio.sleep(0.3)
    assert (await state.admit([brief], "d2", 0.2))[1] == -1

    tpm = Limit("account:a:tpm", "rate", 600, 0.0)  # 10 tokens a second
    assert await state.admit([tpm], "t0", 60) == (0.0, -1)
    state.settle([("account:a:tpm", 600, 900)], [], "t0")  # 300 over: 30 s of debt
    await asyncio.sleep(0.05)
    wait, at = await state.admit([tpm], "t1", 60)
    assert at == 0
    assert 29 < wait <= 30
    await state.close()


def test_budgets_on_one_process(tmp_path: Path) -> None:
    asyncio.run(_each(MemoryState()))


def test_budgets_on_a_local_file(tmp_path: Path) -> None:
    asyncio.run(_each(LocalState(tmp_path / "state.sqlite")))


@needs_server
def test_budgets_on_a_state_server(store: Store) -> None:
    asyncio.run(_each(RedisState(store.url, timeout_s=0.5)))


BODY: Any = {"model": "mock-1", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}


@pytest.fixture(scope="module")
def model() -> Iterator[str]:
    with serving(mock_app()) as url:
        yield url


def _gateways(model: str, state_url: str, tmp: Path, budgets: str) -> list[Gateway]:
    config = tmp / "gateway.yaml"
    config.write_text(
        "actions: {clear: allow, watch: allow, challenge: challenge, block: block}\n"
        f"identity: {{header: x-account}}\nbudgets:\n{budgets}\n"
        f"state: {{url: '{state_url}', timeout_s: 0.5}}\n"
    )
    results = tmp / "results"
    results.mkdir(exist_ok=True)
    (results / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,campaign_id,reasons\n"
        "acct_a,0.5,watch,c1,camp1,shared template\n"
        "acct_b,0.5,watch,c1,camp1,shared template\n"
        "acct_c,0.5,watch,c2,camp1,shared template\n"
        "acct_x,0.5,watch,c9,,shared template\n"
    )
    cfg = load_gateway_config(config)
    return [Gateway(model, cfg, results, "t", tmp / f"log{i}") for i in range(2)]


def _post(url: str, account: str, model: str = "mock-1") -> httpx.Response:
    body = {**BODY, "model": model}
    return httpx.post(url + "/v1/chat/completions", json=body, headers={"x-account": account})


@needs_server
def test_a_cluster_budget_binds_its_accounts_together_across_gateways(
    model: str, store: Store, tmp_path: Path
) -> None:
    budgets = (
        "  watch:\n    account: {requests_per_minute: 100}\n    cluster: {requests_per_minute: 4}"
    )
    one, two = _gateways(model, store.url, tmp_path, budgets)
    with serving(one.app()) as a, serving(two.app()) as b:
        got = [_post(url, acct).status_code for url, acct in [(a, "acct_a"), (b, "acct_b")] * 2]
        assert got == [200] * 4
        refused = _post(b, "acct_a")
        assert refused.status_code == 429
        # 4 a minute: the next in 15 s, less what refilled while these requests ran
        assert 13 <= int(refused.headers["retry-after"]) <= 15
        assert _post(a, "acct_c").status_code == 200  # another cluster, same campaign
        assert _post(a, "acct_x").status_code == 200
        client = openai.OpenAI(
            base_url=a + "/v1", api_key="k", max_retries=0, default_headers={"x-account": "acct_b"}
        )
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="mock-1", messages=BODY["messages"])
        assert 13 <= int(caught.value.response.headers["retry-after"]) <= 15
    events = [line for d in ("log0", "log1") for line in _lines(tmp_path / d)]
    whys = [e["gateway"]["why"] for e in events if e["status"] == 429]
    assert whys
    assert all("over its cluster c1 budget of requests per minute" in w for w in whys)


@needs_server
def test_a_token_budget_charges_what_was_used_and_its_retry_after_is_true(
    model: str, store: Store, tmp_path: Path
) -> None:
    # The mock answers with 21 tokens; a campaign's 60 a minute is one a second.
    budgets = "  watch:\n    campaign: {tokens_per_minute: 60}"
    one, two = _gateways(model, store.url, tmp_path, budgets)
    with serving(one.app()) as a, serving(two.app()) as b:
        got = [_post(u, x).status_code for u, x in [(a, "acct_a"), (b, "acct_c"), (a, "acct_b")]]
        assert got == [200] * 3  # 60 -> 39 -> 18 -> -3: in debt after the third
        refused = _post(b, "acct_a")
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 3  # 3 tokens of debt at one a second
        time.sleep(wait)
        assert _post(a, "acct_b").status_code == 200  # the wait it was told was enough
        assert _post(a, "acct_x").status_code == 200  # no campaign: no campaign budget


@needs_server
def test_requests_at_once_are_limited_and_freed_when_answers_end(
    model: str, store: Store, tmp_path: Path
) -> None:
    budgets = "  watch:\n    account: {concurrent: 1}"
    one, two = _gateways(model, store.url, tmp_path, budgets)
    with serving(one.app()) as a, serving(two.app()) as b:
        slow: list[int] = []
        thread = threading.Thread(
            target=lambda: slow.append(_post(a, "acct_a", "slow").status_code)
        )
        thread.start()
        time.sleep(0.5)  # the mock holds "slow" for 2 s
        held = _post(b, "acct_a")
        assert held.status_code == 429
        assert held.headers["retry-after"] == "1"
        assert "requests at once" in _lines(tmp_path / "log1")[-1]["gateway"]["why"]
        assert _post(b, "acct_b").status_code == 200  # its own slot
        with httpx.Client() as one:  # one request after another: each lease ends before the next
            statuses = [
                one.post(b + "/v1/chat/completions", json=BODY, headers={"x-account": "acct_c"})
                for _ in range(30)
            ]
        assert [r.status_code for r in statuses] == [200] * 30
        thread.join()
        assert slow == [200]
        time.sleep(0.1)
        assert _post(b, "acct_a").status_code == 200  # freed when the slow answer ended
        client = openai.OpenAI(
            base_url=a + "/v1", api_key="k", max_retries=0, default_headers={"x-account": "acct_a"}
        )
        for _ in range(3):  # a stream holds its slot until its last event, then frees it
            stream = client.chat.completions.create(
                model="mock-1", messages=BODY["messages"], stream=True
            )
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            time.sleep(0.05)


def test_budgets_refuse_nonsense(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.yaml"
    bad.write_text("budgets:\n  watch:\n    cluster: {tokens_per_minute: 0}\n")
    with pytest.raises(ConfigError, match=r"budgets\.watch\.cluster\.tokens_per_minute"):
        load_gateway_config(bad)
    bad.write_text("budgets:\n  suspicious:\n    account: {concurrent: 2}\n")
    with pytest.raises(ConfigError, match="budgets: unknown verdicts"):
        load_gateway_config(bad)
    bad.write_text("budgets:\n  watch:\n    team: {concurrent: 2}\n")
    with pytest.raises(ConfigError, match="team"):
        load_gateway_config(bad)


def _lines(log: Path) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(line)
        for p in sorted(log.glob("events-*.jsonl"))
        for line in p.read_text().splitlines()
    ]
