"""One process's state (the default with one worker): nothing shared, nothing to wait on.

>>> import asyncio
>>> from distillguard.gateway.state.limits import Limit
>>> state = MemoryState()
>>> rpm = Limit("account:a:rpm", "rate", 60, 1.0)
>>> asyncio.run(state.admit([rpm], "r1", 60))
(0.0, -1)
>>> state.observe("acct_1", True, 3); state.observe("acct_1", False, 3); state.window("acct_1")
(1, 2)
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Sequence

from distillguard.gateway.state.limits import _MAX_KEYS, Limit, MemoryLedger, admit_on, settle_on
from distillguard.signup.bursts import Bursts


class MemoryState:
    """Buckets, leases and windows in this process, bounded (least recently seen go first)."""

    def __init__(self) -> None:
        self._ledger = MemoryLedger()
        self._windows: OrderedDict[str, deque[bool]] = OrderedDict()
        self._bursts: Bursts | None = None
        self.failures = 0

    async def admit(self, limits: Sequence[Limit], lease: str, lease_s: float) -> tuple[float, int]:
        return admit_on(self._ledger, limits, lease, lease_s, time.monotonic())

    def settle(
        self, charges: Sequence[tuple[str, float, float]], leases: Sequence[str], lease: str
    ) -> None:
        settle_on(self._ledger, charges, leases, lease, time.monotonic())

    def observe(self, account: str, flag: bool, window: int) -> None:
        flags = self._windows.pop(account, None)
        if flags is None or flags.maxlen != window:
            flags = deque(flags or (), maxlen=window)
        flags.append(flag)
        self._windows[account] = flags
        if len(self._windows) > _MAX_KEYS:
            self._windows.popitem(last=False)

    def window(self, account: str) -> tuple[int, int]:
        flags = self._windows.get(account)
        return (sum(flags), len(flags)) if flags else (0, 0)

    async def signups(self, keys: Sequence[str], at: float, window_s: float) -> list[int]:
        if self._bursts is None or self._bursts.window_s != window_s:
            self._bursts = Bursts(window_s)
        return [self._bursts.add("", key, at) for key in keys]

    async def close(self) -> None:
        return None
