"""What every state backend offers (``State``), and how it fails (``StateDown``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from distillguard.gateway.state.limits import Limit


class StateDown(RuntimeError):
    """The shared state could not be reached in time."""


class State(Protocol):
    failures: int  # operations that failed or were skipped while down, for /metrics

    async def admit(
        self, limits: Sequence[Limit], lease: str, lease_s: float
    ) -> tuple[float, int]: ...

    def settle(
        self, charges: Sequence[tuple[str, float, float]], leases: Sequence[str], lease: str
    ) -> None: ...

    def observe(self, account: str, flag: bool, window: int) -> None: ...

    def window(self, account: str) -> tuple[int, int]: ...

    async def signups(self, keys: Sequence[str], at: float, window_s: float) -> list[int]:
        """Count one sign-up at ``at`` under each key; per key, those in the window up to
        ``at`` (this one included): bursts seen by every worker (``signup/bursts.py``)."""
        ...

    async def close(self) -> None: ...
