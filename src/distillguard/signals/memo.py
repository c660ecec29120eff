"""A bounded memo for per-request work that repeats: API traffic resends the same text.

An app resends its system prompt on every call, a conversation resends its earlier turns and an
agent loop resends the task on every step, so most texts a signal reads it has read moments
before. A memo keeps two generations of dicts: new results go into the young one; when it is
full it becomes the old one and the previous old one is dropped, and a hit in the old one moves
up. Texts still being resent survive, a stream of ever-new texts costs bounded memory (two
generations of ``size``) and one or two dict lookups each. An approximate LRU at dict speed.

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
    """``fn`` with its recent results remembered: at most ``2 * size`` of them."""

    __slots__ = ("__weakref__", "_fn", "_old", "_young", "size")

    def __init__(self, fn: Callable[[K], V] | None = None, size: int = 8192) -> None:
        self._fn = fn  # None: only get and put
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}
        self.size = size
        _ALL.add(self)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def forget(self) -> None:
        self._young.clear()
        self._old.clear()

    def get(self, key: K) -> V | None:
        """The remembered result for ``key``, or None: for callers that compute it themselves."""
        value = self._young.get(key, _MISSING)
        if value is _MISSING:
            value = self._old.get(key, _MISSING)
            if value is _MISSING:
                return None
            self.put(key, value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def put(self, key: K, value: V) -> None:
        if len(self._young) >= self.size:
            self._old, self._young = self._young, {}
        self._young[key] = value

    def __call__(self, key: K) -> V:
        value: object = self._young.get(key, _MISSING)
        if value is _MISSING:
            value = self._old.get(key, _MISSING)
            if value is _MISSING:
                value = self._fn(key)  # type: ignore[misc]
            if len(self._young) >= self.size:
                self._old, self._young = self._young, {}
            self._young[key] = value  # type: ignore[assignment]
        return value  # type: ignore[return-value]


def forget_all() -> None:
    """Empty every memo: what a benchmark of never-seen traffic does before each request."""
    for memo in list(_ALL):
        memo.forget()
