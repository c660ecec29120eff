"""Lean HTTP/1.1 load for bench/gateway.py: a canned model server and an open-loop sender.

Both are raw asyncio protocols on uvloop, so that on a small machine the sender and the model
server cost little next to the proxy under test (about 50 µs a request each, against ~1 ms for
an httpx sender or the Starlette mock). The canned server answers every request with the same
chat completion, as fast as it can: the model's own time is not what is measured.

    python bench/http_load.py upstream PORT       # the canned model server, until killed
"""

from __future__ import annotations

import asyncio
import sys
import time

import msgspec

ANSWER = msgspec.json.encode(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "mock-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The answer is 42."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    }
)
TIMEOUT_S = 30.0  # a request not answered by then counts as an error

_REPLY = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER)
    + ANSWER
)


def _length(head: bytes) -> int:
    at = head.lower().find(b"content-length:")
    if at < 0:
        return 0
    end = head.find(b"\r\n", at)
    return int(head[at + 15 : end if end > 0 else len(head)])


class _Canned(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            size = end + 4 + _length(self.buf[:end])
            if len(self.buf) < size:
                return
            self.buf = self.buf[size:]
            self.transport.write(_REPLY)


def serve_canned(port: int) -> None:
    import uvloop

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Canned, "127.0.0.1", port)
        await server.serve_forever()

    uvloop.run(main())


class _Client(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.buf = b""
        self.need = -1
        self.status = 0
        self.reply: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.buf[9:12])
            self.need = end + 4 + _length(self.buf[:end])
        if len(self.buf) >= self.need and self.reply is not None:
            self.buf, self.need = self.buf[self.need :], -1
            reply, self.reply = self.reply, None
            reply.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError("closed by the server"))


def request_bytes(prompt: str, headers: dict[str, str]) -> bytes:
    body = msgspec.json.encode(
        {"model": "mock-1", "messages": [{"role": "user", "content": prompt}]}
    )
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"content-type: application/json\r\n{lines}content-length: {len(body)}\r\n\r\n"
    ).encode() + body


class Sender:
    """Requests to one server over a pool of keep-alive connections."""

    def __init__(self, port: int, requests: list[bytes]) -> None:
        self.port = port
        self.requests = requests
        self.idle: list[_Client] = []
        self.errors = 0
        self.latencies: list[float] = []  # ms, of the last closed loop

    async def one(self, i: int) -> float | None:
        """Send request ``i``; its latency in ms, or None if it failed (counted in errors)."""
        loop = asyncio.get_running_loop()
        while self.idle and self.idle[-1].closed:
            self.idle.pop()
        began = time.perf_counter()
        try:
            if self.idle:
                conn = self.idle.pop()
            else:
                _, conn = await loop.create_connection(_Client, "127.0.0.1", self.port)
            conn.reply = loop.create_future()
            conn.transport.write(self.requests[i % len(self.requests)])
            status = await asyncio.wait_for(conn.reply, TIMEOUT_S)
        except (OSError, TimeoutError):
            self.errors += 1
            return None
        took = (time.perf_counter() - began) * 1000
        if status != 200:
            self.errors += 1
        if not conn.closed:
            self.idle.append(conn)
        return took

    async def open_loop(self, rate: float, seconds: float) -> list[float]:
        """``rate`` requests a second for ``seconds``, each sent on time whatever the server
        does (a slow server does not slow the sender down); latencies in ms."""
        for i in range(200):  # warm connections, memos and the server's caches
            await self.one(i)
        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(i)))
        return [ms for ms in await asyncio.gather(*tasks) if ms is not None]

    async def closed_loop(self, seconds: float, concurrency: int) -> float:
        """Requests answered per second with ``concurrency`` always in flight (their
        latencies in ``latencies``)."""
        for i in range(50):  # warm up
            await self.one(i)
        done = 0
        stop = time.perf_counter() + seconds

        self.latencies = []

        async def worker(w: int) -> None:
            nonlocal done
            while time.perf_counter() < stop:
                if (ms := await self.one(w + done)) is not None:
                    done += 1
                    self.latencies.append(ms)

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return done / (time.perf_counter() - began)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "upstream":
        sys.exit("usage: python bench/http_load.py upstream PORT")
    serve_canned(int(sys.argv[2]))
