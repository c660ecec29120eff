"""Tiny real PNGs for image parts: a few hundred bytes of base64 each, all different.

Real screenshots would make events megabytes long; the detector only needs images to be
present, valid and varied, so each is a small thumbnail of coloured panels with some noise.

>>> pool = image_pool(8, seed=1)
>>> len(set(pool)), all(200 <= len(b) <= 700 for b in pool)
(8, True)
>>> import base64; base64.b64decode(pool[0])[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import base64
import random
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width: int, height: int, pixels: bytes) -> bytes:
    """An RGB PNG from raw rows (3 bytes a pixel, no filter bytes)."""
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _thumbnail(rng: random.Random) -> bytes:
    w, h = rng.randint(12, 24), rng.randint(8, 16)
    panels = [
        (rng.randrange(w), rng.randrange(h), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(rng.randint(2, 5))
    ]
    noise = rng.choice((0.02, 0.05, 0.1, 0.15))
    out = bytearray()
    for y in range(h):
        for x in range(w):
            # The panel whose corner is nearest above-left paints the pixel: a crude UI layout.
            colour = min(panels, key=lambda p: (x < p[0]) * 99 + (y < p[1]) * 99 - p[0] - p[1])[2]
            if rng.random() < noise:
                colour = tuple(rng.randrange(256) for _ in range(3))
            out += bytes(colour)
    return png(w, h, bytes(out))


def image_pool(n: int = 128, seed: int = 20260223) -> tuple[str, ...]:
    """n distinct thumbnails as base64, between about 200 and 700 characters each."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        data = base64.b64encode(_thumbnail(rng)).decode()
        if 200 <= len(data) <= 700 and data not in seen:
            seen.add(data)
            out.append(data)
    return tuple(out)
