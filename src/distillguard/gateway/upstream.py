"""The model server behind the gateway: a pool of keep-alive HTTP/1.1 connections.

Why not httpx or aiohttp: on the gateway's hot path httpx's pool cost 1-3 ms a request under
load and aiohttp's client about 240 µs of CPU; this costs about 40 µs (bench/gateway.py,
docs/benchmarks.md), because it does only what a reverse proxy needs. Parsing is httptools'
(llhttp, the parser of uvicorn and Node.js); this module writes requests, hands replies over
chunk by chunk, and keeps connections for the next request. Paths, query strings and repeated
headers go out exactly as the client sent them.

A request is sent again, once, only when a kept connection turns out closed by the server
before a byte of the reply came back (the server's idle timeout raced the request).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

_HIGH, _LOW = 1 << 20, 1 << 18  # pause the server above 1 MiB unread, resume under 256 KiB
_IDLE_S = 4.0  # below common server keep-alive timeouts (uvicorn: 5 s), so races stay rare
_MAX_IDLE = 256


def _expire(waiting: asyncio.Future[Any]) -> None:
    if not waiting.done():
        waiting.set_exception(TimeoutError())


class UpstreamError(Exception):
    """The model server failed: ``kind`` is ``timeout``, ``connect`` or ``broken``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _NotAnswered(Exception):
    """A connection closed before any byte of the reply: the request may be sent again."""


class Reply:
    """The model server's answer: status and headers at once, the body as it arrives."""

    def __init__(self, conn: _Connection, status: int, headers: list[tuple[bytes, bytes]]):
        self.status = status
        self.headers = headers  # names lower-cased, as ASGI wants them
        self.content_type = next((v for k, v in headers if k == b"content-type"), b"").decode(
            "latin-1"
        )
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def read(self) -> bytes:
        """The whole body."""
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk, as the server sends it: nothing is held back."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered < _LOW and self._conn.reply is self:
                    self._conn.resume()
                yield chunk
            if self._complete:
                return
            if self._error is not None:
                raise self._error
            await self._wait()

    def close(self) -> None:
        """Done with the reply: a connection whose reply was not read whole is closed, never
        reused (the next request would read the rest of this one)."""
        if not self._complete:
            self._conn.abort()

    async def _wait(self) -> None:
        conn = self._conn
        self._waiter = waiter = conn.loop.create_future()
        timer = conn.loop.call_later(conn.pool.read_timeout_s, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            conn.abort()
            raise UpstreamError("timeout", "the model server stopped sending") from None
        finally:
            timer.cancel()
            self._waiter = None

    # Fed by the connection.
    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > _HIGH:
            self._conn.pause()
        self._wake()

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if not self._complete:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One connection to the model server, answering one request at a time."""

    def __init__(self, pool: Upstream, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop  # kept: each get_running_loop() is a getpid() system call
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[Reply] | None = None
        self.reply: Reply | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.answered = False  # a byte of the current reply has come back
        self.until_close = False  # the reply has no length: it ends when the connection does
        self.head_only = False
        self.paused = False
        self.idle_since = 0.0

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    async def request(
        self, data: bytes, head_only: bool, meanwhile: Callable[[], None] | None
    ) -> Reply:
        assert self.transport is not None
        head: asyncio.Future[Reply] = self.loop.create_future()
        self.head = head
        self.reply, self.answered, self.head_only = None, False, head_only
        self.transport.write(data)
        if meanwhile is not None:
            meanwhile()
        timer = self.loop.call_later(self.pool.read_timeout_s, _expire, head)
        try:
            return await head
        except TimeoutError:
            self.abort()
            raise UpstreamError("timeout", "the model server did not answer in time") from None
        finally:
            timer.cancel()

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._lost(UpstreamError("broken", f"the model server sent bad HTTP ({exc})"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)
        if self.reply is not None and self.until_close and exc is None:
            self.reply._finish()  # a body without a length ends with the connection
            self.reply = None
            return
        if not self.answered and self.head is not None and not self.head.done():
            self.head.set_exception(_NotAnswered())
            return
        self._lost(UpstreamError("broken", "the model server closed the connection"))

    def _lost(self, error: UpstreamError) -> None:
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        if self.reply is not None:
            self.reply._fail(error)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            return  # 1xx: an interim answer, the real one follows
        reply = Reply(self, status, self.headers)
        sized = any(k in (b"content-length", b"transfer-encoding") for k, _ in self.headers)
        self.until_close = not sized and status not in (204, 304)
        self.reply = reply
        if self.head is not None and not self.head.done():
            self.head.set_result(reply)
        if self.head_only:  # a reply to HEAD has no body, whatever its length says
            reply._finish()
            self.reply = None
            self.abort()

    def on_body(self, body: bytes) -> None:
        if self.reply is not None:
            self.reply._feed(body)

    def on_message_complete(self) -> None:
        reply, self.reply = self.reply, None
        if reply is None:
            return  # 1xx, or a HEAD reply already finished
        reply._finish()
        self.resume()  # paused for this reply's unread bytes: the next reply must be read
        if self.parser.should_keep_alive() and self.usable:
            self.pool.keep(self)
        else:
            self.abort()


class Upstream:
    """Connections to one model server; ``read_timeout_s`` bounds each wait for its bytes."""

    def __init__(self, base: str, read_timeout_s: float, connect_timeout_s: float) -> None:
        url = urlsplit(base)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL, got {base!r}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if url.scheme == "https" else None
        self.authority = url.netloc.rsplit("@", 1)[-1].encode("latin-1")
        self.prefix = url.path.rstrip("/")
        self.read_timeout_s = read_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def send(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        meanwhile: Callable[[], None] | None = None,
    ) -> Reply:
        """Send a request; the reply comes back once its headers are in. ``meanwhile`` runs
        once, as soon as the request is on its way, while the model server works on it."""
        lines = [f"{method} {self.prefix}{target} HTTP/1.1\r\n".encode("latin-1")]
        lines.append(b"host: " + self.authority + b"\r\n")
        lines.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(b"content-length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        data = b"".join(lines) + body
        for attempt in range(2):
            conn, reused = await self._checkout()
            task, meanwhile = meanwhile, None
            try:
                return await conn.request(data, method == "HEAD", task)
            except _NotAnswered:
                if reused and attempt == 0:
                    continue
                raise UpstreamError("broken", "the model server closed without answering") from None
        raise AssertionError("unreachable")

    def keep(self, conn: _Connection) -> None:
        if len(self._idle) < _MAX_IDLE:
            conn.idle_since = conn.loop.time()
            self._idle.append(conn)
        else:
            conn.abort()

    def forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    async def _checkout(self) -> tuple[_Connection, bool]:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be closed
            if conn.usable and conn.loop.time() - conn.idle_since < _IDLE_S:
                return conn, True
            conn.abort()
        return await self._connect(), False

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, loop),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError:
            raise UpstreamError(
                "timeout", "could not connect to the model server in time"
            ) from None
        except OSError as exc:
            raise UpstreamError("connect", f"{type(exc).__name__}: {exc.strerror or exc}") from None
        self._open.add(conn)
        return conn

    async def close(self) -> None:
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()
