"""Compressed request bodies, opened before anything reads them.

A body sent with ``Content-Encoding: gzip`` would otherwise go past the signals and into the log
unread: a harvester whose model server accepts compressed bodies would never be seen. So the
gateway decodes it, bounded after decompression (a small bomb that opens to more than
``limits.max_body_bytes`` is refused with 413), forwards it decoded, and logs what it said. An
encoding it cannot open is refused with 415; ``limits.compressed_bodies: refuse`` refuses every
compressed body.

>>> import gzip
>>> decode_body(gzip.compress(b'{"model": "m"}'), "gzip", 1000)
b'{"model": "m"}'
>>> decode_body(gzip.compress(b"x" * 5000), "gzip", 1000)
Traceback (most recent call last):
...
distillguard.gateway.encoding.TooLarge: opens to more than 1000 bytes
"""

from __future__ import annotations

import zlib


class TooLarge(ValueError):
    pass


class Unsupported(ValueError):
    pass


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body under its ``Content-Encoding`` (one or more, as listed), at most ``limit``
    bytes once opened."""
    body = raw
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    if len([c for c in codings if c != "identity"]) > 1:
        # Each layer is opened on the event loop: a thousand nested layers would stall it.
        raise Unsupported("more than one content encoding is not accepted")
    for coding in reversed(codings):  # applied in the order listed: undone last first
        if coding == "identity":
            continue
        wbits = _WBITS.get(coding)
        if wbits is None:
            raise Unsupported(f"content encoding {coding!r} is not accepted; send gzip or none")
        body = _inflate(body, wbits, limit, coding)
    return body


def _inflate(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    opener = zlib.decompressobj(wbits)
    try:
        out = opener.decompress(data, limit + 1)
        if len(out) > limit or opener.unconsumed_tail:
            raise TooLarge(f"opens to more than {limit} bytes")
        out += opener.flush()
    except zlib.error:
        if coding == "deflate":  # some clients send raw deflate, without the zlib header
            return _inflate(data, -zlib.MAX_WBITS, limit, "raw deflate")
        raise Unsupported(f"body is not valid {coding}") from None
    if len(out) > limit:
        raise TooLarge(f"opens to more than {limit} bytes")
    if not opener.eof:
        raise Unsupported(f"body is cut short: not a whole {coding} stream")
    return out
