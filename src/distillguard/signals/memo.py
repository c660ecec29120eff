"""A bounded memo for per-request work that repeats: API traffic resends the same text.

An app resends its system prompt on every call, a conversation resends its earlier turns and an
agent loop resends the task on every step, so most texts a signal reads it has read moments
before. A memo is a dict emptied when full: a stream of ever-new texts costs bounded memory
and one dict lookup each, and repeated ones are not read again.

>>> calls = []
>>> memo = Memo(lambda text: calls.append(text) or len(text), size=2)
>>> memo("abc"), memo("abc"), memo("de"), calls
(3, 3, 2, ['abc', 'de'])
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()
_ALL: weakref.WeakSet[Memo[object, object]] = weakref.WeakSet()


class Memo(Generic[K, V]):
    """``fn`` with its last results remembered, at most ``size`` of them."""

    __slots__ = ("__weakref__", "_fn", "_seen", "size")

    def __init__(self, fn: Callable[[K], V], size: int = 4096) -> None:
        self._fn = fn
        self._seen: dict[K, V] = {}
        self.size = size
        _ALL.add(self)  # type: ignore[arg-type]

    def forget(self) -> None:
        self._seen.clear()

    def __call__(self, key: K) -> V:
        value = self._seen.get(key, _MISSING)
        if value is _MISSING:
            value = self._fn(key)
            if len(self._seen) >= self.size:
                self._seen.clear()
            self._seen[key] = value
        return value  # type: ignore[return-value]


def forget_all() -> None:
    """Empty every memo: what a benchmark of never-seen traffic does before each request."""
    for memo in list(_ALL):
        memo.forget()
