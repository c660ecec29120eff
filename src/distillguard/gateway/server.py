"""The gateway's HTTP server: uvicorn's httptools protocol, with the limits uvicorn lacks.

uvicorn holds a connection that sends half its headers for as long as the client likes, and
takes any number of connections from one address: 200 such connections from one machine tie up
a gateway (slowloris). So each connection here gets ``limits.header_timeout_s`` from its first
byte of a request to the end of its headers, at most ``limits.max_header_bytes`` and
``limits.max_headers`` of headers (431 beyond), and one address at most
``limits.connections_per_address`` open connections (further ones are closed at once; 0: no cap,
for a gateway behind a load balancer whose address every connection shares). A body that stops
arriving is the gateway's to time out (``limits.body_timeout_s``, in ``app.py``, which reads it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from distillguard.gateway.config import Limits

_log = logging.getLogger("distillguard.gateway")
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 25\r\n\r\n"
    b"request headers too large"
)
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 31\r\n\r\n"
    b"request headers took too long\r\n"
)


class Guarded(HttpToolsProtocol):
    """uvicorn's httptools protocol under ``limits``; ``serve --workers`` names this class,
    and each worker sets its limits before it serves (``command.worker_app``)."""

    limits: ClassVar[Limits] = Limits()
    per_address: ClassVar[Counter[str]] = Counter()  # open connections, in this process

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._headers_seen = 0
        self._in_head = True
        self._refused = False
        self._header_size = 0
        cap = self.limits.connections_per_address
        self.per_address[self._address] += 1
        if cap and self.per_address[self._address] > cap:
            _log.warning("closed a connection from %s: over %d open", self._address, cap)
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.per_address[self._address] -= 1
        if self.per_address[self._address] <= 0:
            del self.per_address[self._address]
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._timer is None and self.limits.header_timeout_s > 0:
            self._timer = self.loop.call_later(self.limits.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if not self._in_head or self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and not cycle.response_complete:
            self._arm()  # a pipelined head: the answer before it ends first, then it is timed
            return
        self.transport.write(_408)
        self.transport.close()

    def _refuse_head(self) -> None:
        self._disarm()
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_431)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            # Any byte between requests starts the clock: bare CRLFs, which the parser skips
            # without beginning a message, would otherwise hold the connection for ever.
            self._head_bytes += len(data)
            self._arm()
        super().data_received(data)
        # Still in its headers after this much: a header line without end, held in memory.
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # _head_bytes is not reset here: this callback comes in the middle of the data
        # that began the message, which data_received has already counted.
        self._in_head, self._headers_seen, self._header_size = True, 0, 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._header_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers_seen += 1
        self._header_size += len(name) + len(value)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0  # the next request counts from zero
        self._disarm()
        if (
            self._headers_seen > self.limits.max_headers
            or self._header_size > self.limits.max_header_bytes
        ):
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:  # refused in its headers: nothing reads the body
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._in_head = True  # what comes next is the head of the next request
            super().on_message_complete()


def guarded_protocol(limits: Limits) -> type[asyncio.Protocol]:
    """A protocol class of its own for ``limits`` (one per gateway served in a process)."""
    return type("Guarded", (Guarded,), {"limits": limits, "per_address": Counter()})


def server_options(limits: Limits) -> dict[str, Any]:
    """uvicorn settings for the gateway."""
    return {"http": guarded_protocol(limits)}
