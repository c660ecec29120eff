"""The gateway tried as an attacker would: bodies it must not forward unread, connections it
must not hold open for nothing."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import ANSWER, mock_app

BODY = {
    "model": "mock-1",
    "messages": [{"role": "user", "content": "Show your full chain of thought, step by step."}],
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(mock_app()) as url:
        yield url


def _events(log: Path) -> list[dict[str, object]]:
    return [json.loads(x) for p in sorted(log.glob("events-*.jsonl")) for x in p.open()]


def test_a_compressed_body_is_read_checked_and_forwarded_decoded(
    upstream: str, tmp_path: Path
) -> None:
    cfg = load_gateway_config()
    gateway = Gateway(upstream, cfg, None, None, tmp_path / "log")
    raw = json.dumps(BODY).encode()
    with serving(gateway.app()) as url:
        for encoding, body in (("gzip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
            r = httpx.post(
                url + "/v1/chat/completions",
                content=body,
                headers={"content-type": "application/json", "content-encoding": encoding},
            )
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == ANSWER
    events = _events(tmp_path / "log")
    assert [e["model"] for e in events] == ["mock-1", "mock-1"]
    assert all(e["request"] == BODY for e in events)  # the signals and the log saw it


def test_compression_bombs_and_unknown_encodings_are_refused(upstream: str, tmp_path: Path) -> None:
    cfg = load_gateway_config()
    cfg.limits.max_body_bytes = 100_000
    gateway = Gateway(upstream, cfg, None, None, tmp_path / "log")
    bomb = gzip.compress(b" " * 50_000_000)  # ~50 kB that opens to 50 MB
    assert len(bomb) < cfg.limits.max_body_bytes
    with serving(gateway.app()) as url:
        post = url + "/v1/chat/completions"
        r = httpx.post(post, content=bomb, headers={"content-encoding": "gzip"})
        assert r.status_code == 413
        assert "opens to more than 100000 bytes" in r.json()["error"]["message"]
        r = httpx.post(post, content=b"\x1b\x00", headers={"content-encoding": "br"})
        assert r.status_code == 415
        r = httpx.post(post, content=b"not gzip", headers={"content-encoding": "gzip"})
        assert r.status_code == 415
    assert [e["status"] for e in _events(tmp_path / "log")] == [413, 415, 415]


def test_compressed_bodies_can_be_refused_outright(upstream: str, tmp_path: Path) -> None:
    cfg = load_gateway_config()
    cfg.limits.compressed_bodies = "refuse"
    gateway = Gateway(upstream, cfg, None, None, tmp_path / "log")
    with serving(gateway.app()) as url:
        r = httpx.post(
            url + "/v1/chat/completions",
            content=gzip.compress(json.dumps(BODY).encode()),
            headers={"content-encoding": "gzip"},
        )
        assert r.status_code == 415
        plain = httpx.post(url + "/v1/chat/completions", json=BODY)
        assert plain.status_code == 200


def _gateway(upstream: str, tmp_path: Path, **limits: float) -> Gateway:
    cfg = load_gateway_config()
    for name, value in limits.items():
        setattr(cfg.limits, name, value)
    return Gateway(upstream, cfg, None, None, tmp_path / "log")


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _closed(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing, or None if it is still open after ``within``."""
    sock.settimeout(within)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return got


def test_half_sent_headers_are_cut_off(upstream: str, tmp_path: Path) -> None:
    gateway = _gateway(upstream, tmp_path, header_timeout_s=0.5)
    with serving(gateway.app()) as url:
        slow = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", _port(url)))
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-a: ")
            slow.append(sock)
        time.sleep(0.2)
        for sock in slow[:5]:
            sock.sendall(b"1\r\n")  # trickling does not earn more time
        answers = [_closed(sock, within=5) for sock in slow]
        assert all(a is not None and a.startswith(b"HTTP/1.1 408") for a in answers)
        # Meanwhile, and after, real requests are answered.
        assert httpx.post(url + "/v1/chat/completions", json=BODY).status_code == 200
        for sock in slow:
            sock.close()


def test_a_kept_alive_connection_cannot_idle_on_bare_line_ends(
    upstream: str, tmp_path: Path
) -> None:
    # The parser skips CRLFs between requests without starting one: each used to reset the
    # keep-alive timer and none started the header timer.
    gateway = _gateway(upstream, tmp_path, header_timeout_s=0.5)
    with serving(gateway.app()) as url, socket.create_connection(("127.0.0.1", _port(url))) as s:
        body = json.dumps(BODY).encode()
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
            b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        s.settimeout(5)
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(30):
                s.sendall(b"\r\n")
                time.sleep(0.1)
        assert _closed(s, within=3) is not None
        assert time.monotonic() - started < 3


def test_oversized_or_too_many_headers_get_431(upstream: str, tmp_path: Path) -> None:
    gateway = _gateway(upstream, tmp_path, max_header_bytes=4096, max_headers=20)
    with serving(gateway.app()) as url:
        big = httpx.post(url + "/v1/chat/completions", json=BODY, headers={"x-big": "a" * 8000})
        assert big.status_code == 431
        many = {f"x-h{i}": "1" for i in range(30)}
        assert httpx.post(url + "/v1/chat/completions", json=BODY, headers=many).status_code == 431
        # A header line that never ends is cut off once it is larger than the limit.
        sock = socket.create_connection(("127.0.0.1", _port(url)))
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nx-endless: " + b"a" * 10_000)
        answer = _closed(sock, within=5)
        assert answer is not None
        assert answer.startswith(b"HTTP/1.1 431")
        sock.close()
        assert httpx.post(url + "/v1/chat/completions", json=BODY).status_code == 200


def test_one_address_holds_a_bounded_number_of_connections(upstream: str, tmp_path: Path) -> None:
    gateway = _gateway(upstream, tmp_path, connections_per_address=10, header_timeout_s=30)
    with serving(gateway.app()) as url:
        held = [socket.create_connection(("127.0.0.1", _port(url))) for _ in range(10)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", _port(url)))
        assert _closed(extra, within=5) == b""  # closed at once, nothing said
        assert all(_closed(sock, within=0.2) is None for sock in held)  # the ten stay open
        for sock in held:
            sock.close()
        time.sleep(0.2)
        assert httpx.post(url + "/v1/chat/completions", json=BODY).status_code == 200


def test_a_body_that_stops_arriving_gets_408(upstream: str, tmp_path: Path) -> None:
    gateway = _gateway(upstream, tmp_path, body_timeout_s=0.5)
    with serving(gateway.app()) as url:
        sock = socket.create_connection(("127.0.0.1", _port(url)))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 1000\r\n\r\n{"model": '
        )
        answer = _closed(sock, within=5)
        assert answer is not None
        assert b" 408 " in answer.split(b"\r\n")[0]
        sock.close()
    (event,) = _events(tmp_path / "log")
    assert event["status"] == 408


def test_sigterm_lets_requests_in_flight_finish(upstream: str, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import threading

    from distillguard.gateway.local import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "distillguard", "serve", "--upstream", upstream]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--log-dir", str(tmp_path / "log")])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
    answers: list[httpx.Response] = []
    slow = {**BODY, "model": "slow"}  # the mock model server takes two seconds
    worker = threading.Thread(
        target=lambda: answers.append(
            httpx.post(url + "/v1/chat/completions", json=slow, timeout=30)
        )
    )
    worker.start()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    worker.join()
    assert proc.wait(timeout=30) in (
        0,
        -signal.SIGTERM,
    )  # uvicorn re-raises the signal it drained on
    assert answers[0].status_code == 200
    assert answers[0].json()["choices"][0]["message"]["content"] == ANSWER
    assert [e["status"] for e in _events(tmp_path / "log")] == [200]


def test_credentials_that_name_two_accounts_are_refused(upstream: str, tmp_path: Path) -> None:
    # A model server reading Authorization would bill the blocked key while this gateway judged
    # the fresh one in x-api-key: such a request names no single account.
    keys = tmp_path / "keys.json"
    keys.write_text('{"sk-blocked": "acct_blocked"}')
    cfg = load_gateway_config()
    cfg.identity.keys = str(keys)
    gateway = Gateway(upstream, cfg, None, None, tmp_path / "log")
    gateway.book.set_manual("account", "acct_blocked", "block")
    with serving(gateway.app()) as url:
        chat = url + "/v1/chat/completions"
        both = {"authorization": "Bearer sk-blocked", "x-api-key": "sk-fresh"}
        r = httpx.post(chat, json=BODY, headers=both)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "ambiguous_credentials"
        assert r.headers["connection"] == "close"
        twice = [("authorization", "Bearer sk-fresh"), ("authorization", "Bearer sk-blocked")]
        assert httpx.post(chat, json=BODY, headers=twice).status_code == 400
        same = {"authorization": "Bearer sk-blocked", "x-api-key": "sk-blocked"}
        assert httpx.post(chat, json=BODY, headers=same).status_code == 403  # one account
        assert httpx.post(chat, json=BODY, headers={"x-api-key": "sk-ok"}).status_code == 200
    assert [e["status"] for e in _events(tmp_path / "log")] == [400, 400, 403, 200]
