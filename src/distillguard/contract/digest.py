"""Stable 64-bit digests of prompt parts, so stores and partners can compare without the text."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec

from distillguard.contract.body import Tool

_encoder = msgspec.json.Encoder(order="sorted")


def digest64(data: str | bytes) -> int:
    """An unsigned 64-bit BLAKE2b digest: stable across processes and machines.

    >>> digest64("hello") == digest64(b"hello")
    True
    """
    raw = data.encode() if isinstance(data, str) else data
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def system_digest(text: str) -> int | None:
    """Digest of a system prompt with whitespace runs collapsed; None when there is none."""
    normalised = " ".join(text.split())
    return digest64(normalised) if normalised else None


def tool_schema_digest(tools: Sequence[Tool]) -> int | None:
    """Digest of a tool set, independent of API shape and of the order tools are listed in."""
    if not tools:
        return None
    specs = sorted(
        (_encoder.encode([t.name, t.description, t.parameters]) for t in tools),
    )
    return digest64(b"\n".join(specs))
