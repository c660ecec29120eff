"""The gateway, driven by the official SDKs against the mock model server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import csv
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import duckdb
import httpx
import msgspec
import openai
import pytest

from distillguard.contract.derived import Derived
from distillguard.contract.event import Event
from distillguard.gateway.app import Gateway
from distillguard.gateway.config import (
    GatewayConfig,
    Identity,
    Limits,
    Throttle,
    load_gateway_config,
)
from distillguard.gateway.local import free_port, serving
from distillguard.gateway.mock import ANSWER, THINKING, mock_app
from distillguard.gateway.verdicts import VerdictBook
from distillguard.gateway.walkthrough import walk
from distillguard.verdicts.config import ConfigError

TOKEN = "admin-secret"
ACCOUNT_HEADER = "x-distillguard-account"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(mock_app()) as url:
        yield url


class Running:
    def __init__(self, url: str, gateway: Gateway, log_dir: Path) -> None:
        self.url, self.gateway, self.log_dir = url, gateway, log_dir

    def openai(self, account: str, **kw: object) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.url + "/v1",
            api_key="sk-test",
            max_retries=0,
            default_headers={"x-distillguard-account": account},
            **kw,
        )

    def anthropic(self, account: str, **kw: object) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url,
            api_key="sk-test",
            max_retries=0,
            default_headers={"x-distillguard-account": account},
            **kw,
        )

    def set_verdict(self, scope: str, key: str, verdict: str) -> None:
        r = httpx.put(
            f"{self.url}/admin/verdicts/{scope}/{key}",
            json={"verdict": verdict},
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200, r.text

    def events(self) -> list[Event]:
        lines = [
            line
            for p in sorted(self.log_dir.glob("events-*.jsonl"))
            for line in p.read_bytes().splitlines()
        ]
        return [msgspec.json.decode(line, type=Event) for line in lines]

    def raw_events(self) -> list[dict[str, object]]:
        return [
            json.loads(line)
            for p in sorted(self.log_dir.glob("events-*.jsonl"))
            for line in p.read_text().splitlines()
        ]


@pytest.fixture
def gw(upstream: str, tmp_path: Path) -> Iterator[Running]:
    cfg = load_gateway_config()
    cfg.identity.header = ACCOUNT_HEADER
    results = tmp_path / "results"
    results.mkdir()
    (results / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,campaign_id,reasons\n"
        "acct_scan_block,0.9,block,c7,camp1,shared template\n"
        "acct_member,0.2,clear,c7,,\n"
    )
    gateway = Gateway(upstream, cfg, results, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        yield Running(url, gateway, tmp_path / "log")


MSG: Any = [{"role": "user", "content": "What is 6 times 7?"}]


def test_allowed_requests_pass_through_and_are_logged(gw: Running) -> None:
    chat = gw.openai("acct_ok").chat.completions.create(model="mock-1", messages=MSG)
    assert chat.choices[0].message.content == ANSWER
    assert chat.choices[0].message.model_extra["reasoning_content"] == THINKING  # type: ignore[index]
    msg = gw.anthropic("acct_ok").messages.create(model="mock-1", max_tokens=100, messages=MSG)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert gw.openai("acct_ok").models.list().data[0].id == "mock-1"
    events = gw.events()  # every one is a valid contract event
    assert [e.endpoint for e in events] == ["/v1/chat/completions", "/v1/messages", "/v1/models"]
    assert events[0].account_id == "acct_ok"
    assert events[0].status == 200
    assert events[0].usage is not None
    assert events[0].usage.output_tokens == 9
    assert events[1].request["messages"] == MSG


def test_streams_pass_through_chunk_by_chunk(gw: Running) -> None:
    stream = gw.openai("acct_ok").chat.completions.create(model="mock-1", messages=MSG, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == ANSWER
    with gw.anthropic("acct_ok").messages.stream(model="mock-1", max_tokens=100, messages=MSG) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    logged = gw.events()
    assert logged[0].response is not None
    assert logged[0].response["streamed"] is True
    assert logged[1].response["content"][0]["text"] == ANSWER  # type: ignore[index]
    assert logged[1].usage is not None
    assert logged[1].usage.output_tokens == 9


def test_degraded_accounts_lose_reasoning_not_the_answer(gw: Running) -> None:
    gw.set_verdict("account", "acct_watch", "watch")  # default config: watch -> degrade
    client = gw.openai("acct_watch")
    chat = client.chat.completions.create(
        model="mock-1", messages=MSG, max_tokens=4000, logprobs=True
    )
    assert chat.choices[0].message.content == ANSWER
    assert "reasoning_content" not in (chat.choices[0].message.model_extra or {})
    assert chat.choices[0].logprobs is None
    stream = client.chat.completions.create(model="mock-1", messages=MSG, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert not any(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices
    )
    ac = gw.anthropic("acct_watch")
    msg = ac.messages.create(model="mock-1", max_tokens=100, messages=MSG)
    assert [b.type for b in msg.content] == ["text"]
    with ac.messages.stream(model="mock-1", max_tokens=100, messages=MSG) as s:
        final = s.get_final_message()  # the SDK rebuilds the message by index: renumbered
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == ANSWER
    sent = gw.raw_events()[0]
    assert sent["gateway"]["action"] == "degrade"  # type: ignore[index]
    # Served by a smaller model when configured; the event keeps what the client asked for.
    gw.gateway.cfg.degrade.model = "mock-small"
    chat = client.chat.completions.create(model="mock-1", messages=MSG)
    assert chat.model == "mock-small"
    assert chat.choices[0].message.content == ANSWER
    assert gw.raw_events()[-1]["model"] == "mock-1"
    clear = gw.openai("acct_ok").chat.completions.create(model="mock-1", messages=MSG)
    assert clear.model == "mock-1"  # never for other verdicts


def test_challenge_and_block_are_errors_the_sdks_raise(gw: Running) -> None:
    gw.set_verdict("account", "acct_chal", "challenge")
    with pytest.raises(openai.PermissionDeniedError, match="verification"):
        gw.openai("acct_chal").chat.completions.create(model="mock-1", messages=MSG)
    with pytest.raises(anthropic.PermissionDeniedError, match="verification"):
        gw.anthropic("acct_chal").messages.create(model="mock-1", max_tokens=10, messages=MSG)
    with pytest.raises(openai.PermissionDeniedError, match="blocked"):  # the scan's verdict
        gw.openai("acct_scan_block").chat.completions.create(model="mock-1", messages=MSG)
    gw.set_verdict("cluster", "c7", "block")  # a whole cluster, members the scan left clear
    with pytest.raises(anthropic.PermissionDeniedError):
        gw.anthropic("acct_member").messages.create(model="mock-1", max_tokens=10, messages=MSG)
    actions = [e["gateway"]["action"] for e in gw.raw_events()]  # type: ignore[index]
    assert actions == ["challenge", "challenge", "block", "block"]  # refused requests are logged


def test_throttled_accounts_get_429_with_retry_after(upstream: str, tmp_path: Path) -> None:
    cfg = load_gateway_config()
    cfg.identity.header = ACCOUNT_HEADER
    cfg.actions["watch"] = "throttle"
    cfg.throttle = Throttle(requests_per_minute=2)
    gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        run = Running(url, gateway, tmp_path / "log")
        run.set_verdict("account", "acct_t", "watch")
        client = run.openai("acct_t")
        for _ in range(2):
            client.chat.completions.create(model="mock-1", messages=MSG)
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="mock-1", messages=MSG)
        assert int(err.value.response.headers["retry-after"]) >= 1


def test_upstream_errors_timeouts_and_disconnects_reach_the_client(
    upstream: str, tmp_path: Path
) -> None:
    cfg = GatewayConfig(limits=Limits(upstream_timeout_s=0.5), identity=Identity(ACCOUNT_HEADER))
    gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        run = Running(url, gateway, tmp_path / "log")
        with pytest.raises(openai.InternalServerError):
            run.openai("a").chat.completions.create(model="error-500", messages=MSG)
        with pytest.raises(anthropic.NotFoundError):  # 404 passes through as it is
            run.anthropic("a").messages.create(model="error-404", max_tokens=5, messages=MSG)
        with pytest.raises(openai.APIStatusError) as err:
            run.openai("a").chat.completions.create(model="slow", messages=MSG)
        assert err.value.status_code == 504
        with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
            list(
                run.openai("a").chat.completions.create(
                    model="disconnect", messages=MSG, stream=True
                )
            )
        statuses = [e.status for e in run.events()]
    assert statuses == [500, 404, 504, 502]


def test_body_limit_admin_auth_health_and_metrics(upstream: str, tmp_path: Path) -> None:
    cfg = GatewayConfig(limits=Limits(max_body_bytes=1000), identity=Identity(ACCOUNT_HEADER))
    gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        run = Running(url, gateway, tmp_path / "log")
        big = [{"role": "user", "content": "x" * 2000}]
        with pytest.raises(openai.APIStatusError) as err:
            run.openai("a").chat.completions.create(model="mock-1", messages=big)
        assert err.value.status_code == 413
        assert httpx.get(url + "/healthz").json()["status"] == "ok"
        assert httpx.get(url + "/admin/verdicts").status_code == 401
        wrong = httpx.put(
            url + "/admin/verdicts/account/x",
            json={"verdict": "nuke"},
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        assert wrong.status_code == 400
        assert "verdict" in wrong.json()["error"]
        run.openai("a").chat.completions.create(model="mock-1", messages=MSG)
        metrics = httpx.get(url + "/metrics").text
        assert 'distillguard_gateway_requests_total{action="allow"} 1.0' in metrics
        assert "distillguard_gateway_overhead_seconds_bucket" in metrics


def _refused_within(client: openai.OpenAI, seconds: float, what: str) -> None:
    """Send until the gateway refuses the account (403), or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.chat.completions.create(model="mock-1", messages=MSG)
        except openai.PermissionDeniedError:
            return
        time.sleep(0.2)
    pytest.fail(f"{what} was not enforced within {seconds:.0f} s")


def test_a_new_scan_takes_effect_without_restart(gw: Running) -> None:
    client = gw.openai("acct_later")
    client.chat.completions.create(model="mock-1", messages=MSG)
    results = gw.gateway.book.results
    assert results is not None
    with (results / "accounts.csv").open("a") as f:
        f.write("acct_later,0.95,block,c9,camp2,new evidence\n")
    _refused_within(client, 5.0, "the new verdict")


def test_a_verdict_set_elsewhere_takes_effect_and_a_broken_file_keeps_the_old(
    gw: Running,
) -> None:
    client = gw.openai("acct_console")
    client.chat.completions.create(model="mock-1", messages=MSG)
    # The console writes into the gateway's manual verdicts file through its own book.
    console = VerdictBook(gw.gateway.book.results, gw.gateway.book.manual_path)
    console.set_manual("account", "acct_console", "block")
    _refused_within(client, 5.0, "the console's verdict")
    gw.set_verdict("account", "acct_other", "watch")  # the gateway's own write keeps the block
    assert console.manual["account"] == {"acct_console": "block"}
    assert json.loads(gw.gateway.book.manual_path.read_text())["account"] == {
        "acct_console": "block",
        "acct_other": "watch",
    }
    gw.gateway.book.manual_path.write_text("{not json")  # broken mid-edit: keep enforcing
    time.sleep(1.2)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="mock-1", messages=MSG)
    with pytest.raises(ConfigError, match="not a manual verdicts file"):
        VerdictBook(None, gw.gateway.book.manual_path)  # and a new gateway says why
    refused = httpx.put(  # saving over it would lose what it held
        f"{gw.url}/admin/verdicts/account/acct_third",
        json={"verdict": "watch"},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert refused.status_code == 409
    assert "fix it first" in refused.json()["error"]
    assert gw.gateway.book.manual_path.read_text() == "{not json"


def test_head_keeps_the_length_a_get_would_have(gw: Running) -> None:
    got = httpx.get(gw.url + "/v1/models", headers={"authorization": "Bearer sk-test"})
    head = httpx.head(gw.url + "/v1/models", headers={"authorization": "Bearer sk-test"})
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(got.content))
    assert head.content == b""


def test_a_failure_of_the_derived_columns_loses_no_request(
    upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distillguard.gateway.call as gateway_call

    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("bug in the signals")

    monkeypatch.setattr(gateway_call, "derive", broken)
    cfg = load_gateway_config()
    cfg.log.retention = "derived"
    gateway = Gateway(upstream, cfg, None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        run = Running(url, gateway, tmp_path / "log")
        chat = run.openai("any").chat.completions.create(model="mock-1", messages=MSG)
        assert chat.choices[0].message.content == ANSWER
        (event,) = run.raw_events()
    assert event["request"] == {}  # still no text
    assert "derived columns failed (RuntimeError)" in event["gateway"]["why"]  # type: ignore[index]


def test_ingest_reads_the_gateway_log_as_it_is(gw: Running, tmp_path: Path) -> None:
    gw.openai("acct_a").chat.completions.create(model="mock-1", messages=MSG)
    list(gw.openai("acct_a").chat.completions.create(model="mock-1", messages=MSG, stream=True))
    gw.anthropic("acct_b").messages.create(model="mock-1", max_tokens=50, messages=MSG)
    with pytest.raises(openai.PermissionDeniedError):
        gw.openai("acct_scan_block").chat.completions.create(model="mock-1", messages=MSG)
    gw.set_verdict("account", "acct_c", "watch")  # kept beside the log, not read as one
    store = tmp_path / "store.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "distillguard", "ingest", str(gw.log_dir), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(store), read_only=True) as db:
        rows = db.execute("SELECT account_id, status FROM events ORDER BY ts").fetchall()
    assert rows == [("acct_a", 200), ("acct_a", 200), ("acct_b", 200), ("acct_scan_block", 403)]
    # The next scan reads back what the gateway did, per account and action.
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "distillguard", "scan", "--store", str(store), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with open(out / "enforcement.csv", newline="") as f:
        enforced = [(r["account_id"], r["action"], r["requests"]) for r in csv.DictReader(f)]
    assert enforced == [("acct_a", "allow", "2"), ("acct_b", "allow", "1"),
                        ("acct_scan_block", "block", "1")]  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["enforced"] == {"allow": 3, "block": 1}


def test_acknowledged_events_survive_kill_9(upstream: str, tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillguard", "serve", "--upstream", upstream,
         "--port", str(port), "--log-dir", str(log_dir)],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        acknowledged = []
        stop = threading.Event()

        def hammer() -> None:  # requests in flight when the gateway dies
            with httpx.Client(base_url=url, timeout=5) as c:
                while not stop.is_set():
                    with contextlib.suppress(httpx.TransportError):
                        c.post("/v1/chat/completions", json={"model": "mock-1", "messages": MSG})

        background = threading.Thread(target=hammer)
        background.start()
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        for _ in range(40):
            raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=MSG)
            acknowledged.append(raw.headers["x-request-id"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        background.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line for p in log_dir.glob("events-*.jsonl") for line in p.read_bytes().splitlines()]
    logged = {msgspec.json.decode(line, type=Event).request_id for line in lines}  # none torn
    assert set(acknowledged) <= logged


def test_the_account_header_is_ignored_unless_configured(upstream: str, tmp_path: Path) -> None:
    gateway = Gateway(upstream, load_gateway_config(), None, TOKEN, tmp_path / "log")
    with serving(gateway.app()) as url:
        run = Running(url, gateway, tmp_path / "log")
        key_account = gateway.identity.account({"authorization": "Bearer sk-test"})
        run.set_verdict("account", key_account, "block")
        with pytest.raises(openai.PermissionDeniedError):  # claiming another account is no way out
            run.openai("someone-else").chat.completions.create(model="mock-1", messages=MSG)
        assert httpx.post(url + "/healthz").status_code == 404  # the gateway's own paths
        assert httpx.post(url + "/admin/anything").status_code == 404  # are never forwarded


def test_a_derived_log_keeps_no_text_yet_ingests_to_the_same_columns(
    upstream: str, tmp_path: Path
) -> None:
    secret = "zebra-quartz-7731"
    ask: Any = [
        {"role": "system", "content": f"You are a tutor. Code word {secret}."},
        {"role": "user", "content": "Solve 17 * 23 and explain your reasoning step by step."},
    ]
    tools: Any = [{"type": "function", "function": {"name": "calc", "parameters": {}}}]
    columns = ", ".join(Derived.__struct_fields__)
    found: dict[str, list[tuple[Any, ...]]] = {}
    for retention in ("full", "derived"):
        cfg = load_gateway_config()
        cfg.identity.header = ACCOUNT_HEADER
        cfg.log.retention = retention  # type: ignore[assignment]
        log = tmp_path / retention
        gateway = Gateway(upstream, cfg, None, TOKEN, log)
        with serving(gateway.app()) as url:
            run = Running(url, gateway, log)
            chat = run.openai("acct_a").chat.completions
            chat.create(model="mock-1", messages=ask, tools=tools, temperature=0.2, max_tokens=99)
            list(chat.create(model="mock-1", messages=ask, stream=True))
            run.anthropic("acct_b").messages.create(
                model="mock-1", max_tokens=50, system=ask[0]["content"], messages=ask[1:]
            )
        text = b"".join(p.read_bytes() for p in log.glob("events-*.jsonl"))
        kept = [word.encode() in text for word in (secret, "17 * 23", ANSWER, THINKING)]
        assert kept == [retention == "full"] * 4  # no prompt or answer text in a derived log
        store = tmp_path / f"{retention}.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "distillguard", "ingest", str(log), "--store", str(store)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        with duckdb.connect(str(store), read_only=True) as db:
            found[retention] = db.execute(
                f"SELECT {columns} FROM events ORDER BY account_id, ts"
            ).fetchall()
            stored_text = db.execute("SELECT count(request_json) FROM events").fetchone()
        assert stored_text == ((3,) if retention == "full" else (0,))
    assert found["full"] == found["derived"]  # the same columns, computed by the same code
    first = dict(zip(Derived.__struct_fields__, found["derived"][0], strict=True))
    assert first["n_tools"] == 1
    assert first["max_tokens"] == 99
    assert first["reasoning_elicitation"] > 0
    assert first["response_reasoning_chars"] == len(THINKING)


def test_the_walkthrough_shows_each_action_as_the_verdict_changes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,campaign_id,reasons\n"
        "acct_farm_1,0.97,block,c1,k1,shared payment method\n"
        "acct_shop,0.01,clear,,,\n"
    )
    said: list[object] = []
    steps = walk(results, tmp_path / "demo", said.append)
    seen = [(s.account, s.verdict, s.action, s.status) for s in steps]
    assert seen == [
        ("acct_shop", "clear", "allow", 200),
        ("acct_shop", "watch", "degrade", 200),
        *[("acct_shop", "challenge", "allow", 200)] * 3,  # within its throttled rate
        *[("acct_shop", "challenge", "throttle", 429)] * 2,
        ("acct_shop", "block", "block", 403),
        ("acct_shop", "clear", "allow", 200),
        ("acct_farm_1", "block", "block", 403),  # on the scan's verdict alone
    ]
    assert [s.said for s in steps[:2]] == [
        "answered, reasoning kept",
        "answered, reasoning stripped",
    ]
    assert steps[5].said.startswith("rate_limited, retry after")
    assert len(said) > len(steps)  # the analyst's changes are shown between the requests
