"""Per-account state every gateway worker shares: budgets, leases and the online rule's window.

A hydra spreads its traffic over accounts, and a provider spreads its gateway over workers and
hosts: a limit each worker counts alone lets N times the traffic through. So the state lives in
one place, behind one small interface (``protocol.State``):

- ``await admit(limits, lease, lease_s)``: take every budget on a request at once, or none
  (``limits.py``); the wait when refused is the truthful Retry-After.
- ``settle(charges, leases, lease)``: after the answer, charge its tokens and end its leases;
  never waited on.
- ``observe(account, flag, window)`` / ``window(account)``: the online rule's window of an
  account's last requests, over every worker, as last known here.

Backends, one module each: ``memory.MemoryState`` (one process: the default with one worker),
``sqlite.LocalState`` (a file the workers of one host share: ``serve --workers N`` without a
server), ``redis.RedisState`` (a Valkey or Redis server every host shares: ``--state redis://``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from distillguard.gateway.state.limits import Limit, refill
from distillguard.gateway.state.memory import MemoryState
from distillguard.gateway.state.protocol import State, StateDown
from distillguard.gateway.state.redis import RedisState
from distillguard.gateway.state.sqlite import LocalState

if TYPE_CHECKING:
    from distillguard.gateway.config import GatewayConfig
    from distillguard.gateway.verdicts import VerdictBook

__all__ = [
    "Limit",
    "LocalState",
    "MemoryState",
    "RedisState",
    "State",
    "StateDown",
    "follow_shared_verdicts",
    "refill",
    "shared_state",
]


def shared_state(cfg: GatewayConfig) -> State:
    """The state ``state.url`` names: ``redis://`` (or ``rediss://``, ``unix://``) a Valkey or
    Redis server's, ``sqlite:PATH`` a file the workers of one host share, none this process's."""
    url = cfg.state.url
    if not url:
        return MemoryState()
    if url.startswith("sqlite:"):
        return LocalState(Path(url.removeprefix("sqlite:")), cfg.state.timeout_s)
    return RedisState(url, cfg.state.prefix, cfg.state.timeout_s)


async def follow_shared_verdicts(state: State, book: VerdictBook) -> None:
    """Copy the shared state's manual verdicts into ``book`` when they change (twice a
    second), for as long as it runs; with no shared state, return at once."""
    if not isinstance(state, RedisState):
        return
    version = -1
    while True:
        try:
            version, manual = await state.manual_since(version)
            if manual is not None:
                book.shared = manual
        except Exception:  # down: the verdicts in force stay; read them all once it is back
            version = -1
        await asyncio.sleep(0.5)
