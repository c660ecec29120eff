"""ASGI apps served on 127.0.0.1 in a thread: the gateway and the mock model server, for the
tests and the walkthrough (`distillguard gateway-demo`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread; yields its base URL. A gateway's app is served
    as ``serve`` serves it (``server.py``: header timeouts and limits)."""
    port = free_port()
    gateway = getattr(app, "distillguard_gateway", None)
    if gateway is not None and not options:
        from distillguard.gateway.server import server_options

        options = server_options(gateway.cfg.limits)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
