"""Settings changed while the gateway runs: in force on the next request, on the same
connection; a broken file changes nothing; SIGHUP reloads at once."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import free_port, serving
from distillguard.gateway.mock import mock_app

BODY = b'{"model": "mock-1", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}'
ALLOW = "actions: {clear: allow}\nidentity: {header: x-account}\n"
BLOCK = "actions: {clear: block}\nidentity: {header: x-account}\n"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(mock_app()) as url:
        yield url


def _ask(conn: socket.socket) -> int:
    """One request on an open keep-alive connection: the response's status."""
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-account: acct_1\r\n"
        f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
    )
    conn.sendall(head.encode() + BODY)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head_part, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head_part.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    return int(head_part.split(b" ")[1])


def test_a_changed_file_is_in_force_on_the_same_connection(
    upstream: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(ALLOW)
    gateway = Gateway(upstream, load_gateway_config(config), None, None, tmp_path / "log", config)
    with serving(gateway.app()) as url, socket.create_connection(url[7:].split(":")) as conn:
        assert _ask(conn) == 200
        config.write_text(BLOCK)
        deadline = time.monotonic() + 3
        while (status := _ask(conn)) == 200:
            assert time.monotonic() < deadline, "the new settings were not read"
            time.sleep(0.1)
        assert status == 403  # on the connection opened before the change
        with caplog.at_level(logging.ERROR, "distillguard.gateway"):
            config.write_text("actions: {clear: allow\n")  # broken: the block stays
            time.sleep(1.5)
            assert _ask(conn) == 403
        assert any("not reloaded" in r.message for r in caplog.records)
        config.write_bytes(b"# caf\xe9\n" + BLOCK.encode())  # Latin-1: not UTF-8
        time.sleep(1.5)
        assert _ask(conn) == 403
        config.write_text(ALLOW + "limits: {max_body_bytes: 10}\n")  # needs a restart
        deadline = time.monotonic() + 3
        while _ask(conn) != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert gateway.cfg.limits.max_body_bytes == 10 << 20  # not changed under a running server


def test_sighup_reloads_at_once(upstream: str, tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(ALLOW)
    port = free_port()
    cmd = [sys.executable, "-m", "distillguard", "serve", "--upstream", upstream]
    cmd += ["--port", str(port), "--config", str(config), "--log-dir", str(tmp_path / "log")]
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
        headers = {"x-account": "acct_1", "content-type": "application/json"}
        post = lambda: httpx.post(url + "/v1/chat/completions", content=BODY, headers=headers)  # noqa: E731
        assert post().status_code == 200
        # Same size, same inode, same times: only the signal can tell it changed.
        st = os.stat(config)
        with open(config, "r+") as f:
            f.write(BLOCK)
        os.utime(config, ns=(st.st_atime_ns, st.st_mtime_ns))
        time.sleep(1.5)
        assert post().status_code == 200  # the poll saw nothing new
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 1
        while post().status_code != 403:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
