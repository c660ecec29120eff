"""The gateway's upstream client against real sockets on 127.0.0.1, with servers that misbehave
in the ways model servers and their load balancers do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from distillguard.gateway.upstream import Upstream, UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def _response(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n" % (len(body), extra) + body


def run(handler: Handler, scenario: Callable[[Upstream], Awaitable[None]], **kw: float) -> None:
    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://127.0.0.1:{port}", kw.get("read", 5.0), kw.get("connect", 5.0))
        try:
            await scenario(upstream)
        finally:
            await upstream.close()
            server.close()

    asyncio.run(main())


def test_request_goes_out_as_sent_and_the_connection_is_kept() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                head, body = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            seen.append(head + body)
            writer.write(_response(b"ok " + body, b"set-cookie: a=1\r\nset-cookie: b=2\r\n"))

    async def scenario(up: Upstream) -> None:
        for i in range(3):
            headers = [("x-tag", "1"), ("x-tag", "2")]
            reply = await up.send("POST", "/v1/x%2Fy?q=a%20b", headers, b"n%d" % i)
            assert reply.status == 200
            assert await reply.read() == b"ok n%d" % i
            assert [v for k, v in reply.headers if k == b"set-cookie"] == [b"a=1", b"b=2"]

    run(handler, scenario)
    assert connections == 1  # kept alive between requests
    assert seen[0].startswith(b"POST /v1/x%2Fy?q=a%20b HTTP/1.1\r\n")  # path as sent
    assert b"x-tag: 1\r\nx-tag: 2\r\n" in seen[0]  # repeated headers stay repeated


def test_a_kept_connection_closed_by_the_server_is_retried_once() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        _, body = await _read_request(reader)
        if body == b"never":
            writer.close()  # a fresh connection that closes unanswered: no second try
            return
        writer.write(_response(b"answered " + body))
        await _read_request(reader)
        writer.close()  # the next request on this connection raced the server's idle timeout

    async def scenario(up: Upstream) -> None:
        first = await up.send("POST", "/", [], b"1")
        assert await first.read() == b"answered 1"
        second = await up.send("POST", "/", [], b"2")  # kept connection: closed, sent again
        assert await second.read() == b"answered 2"
        for conn in list(up._idle):
            conn.abort()
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamError) as err:
            await up.send("POST", "/", [], b"never")
        assert err.value.kind == "broken"

    run(handler, scenario)
    assert connections == 3


def test_a_reply_cut_short_never_serves_the_next_request() -> None:
    hung_up: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b""
        while True:
            try:
                _, body = await _read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                hung_up.append(body)  # the client closed this connection
                return
            writer.write(_response(body * 200_000))  # bigger than the unread-buffer limit

    async def scenario(up: Upstream) -> None:
        big = await up.send("POST", "/", [], b"A")
        chunks = big.chunks()
        assert (await anext(chunks)).startswith(b"A")
        big.close()  # abandoned half way, as when a client leaves mid-stream
        small = await up.send("POST", "/", [], b"B")
        assert await small.read() == b"B" * 200_000
        again = await up.send("POST", "/", [], b"C")
        assert len(await again.read()) == 200_000  # flow control paused, then resumed
        await asyncio.sleep(0.05)
        assert hung_up == [b"A"]  # the abandoned connection was closed, not left paused

    run(handler, scenario)


def test_head_and_length_less_replies_end_where_http_says() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await _read_request(reader)
        if head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(1)
            return
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end")
        writer.close()

    async def scenario(up: Upstream) -> None:
        head = await asyncio.wait_for(up.send("HEAD", "/", [], b""), 2)
        assert head.status == 200
        assert await asyncio.wait_for(head.read(), 2) == b""
        plain = await up.send("GET", "/", [], b"")
        assert await plain.read() == b"until the end"

    run(handler, scenario)


def test_failures_come_back_as_their_kind() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    async def timeout(up: Upstream) -> None:
        with pytest.raises(UpstreamError) as err:
            await up.send("POST", "/", [], b"x")
        assert err.value.kind == "timeout"

    run(silent, timeout, read=0.2)

    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    async def broken(up: Upstream) -> None:
        reply = await up.send("POST", "/", [], b"x")
        with pytest.raises(UpstreamError) as err:
            await reply.read()
        assert err.value.kind == "broken"

    run(half, broken)

    async def refused() -> None:
        up = Upstream("http://127.0.0.1:9", 1.0, 1.0)  # discard port: nothing listens
        with pytest.raises(UpstreamError) as err:
            await up.send("GET", "/", [], b"")
        assert err.value.kind == "connect"

    asyncio.run(refused())
    with pytest.raises(ValueError, match="http:// or https://"):
        Upstream("ftp://example.org", 1.0, 1.0)


def test_a_reply_that_filled_the_buffer_leaves_its_connection_reading() -> None:
    big = b"x" * (1 << 20) + b"y" * 150_000  # past the 1 MiB unread-buffer mark

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                _, body = await _read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(_response(big if body == b"big" else b"small"))

    async def scenario(up: Upstream) -> None:
        reply = await up.send("POST", "/", [], b"big")
        await asyncio.sleep(0.3)  # not read yet: the connection pauses, maybe with it all in
        assert await reply.read() == big
        after = await up.send("POST", "/", [], b"next")  # on the same, kept connection
        assert await after.read() == b"small"

    run(handler, scenario, read=2.0)
