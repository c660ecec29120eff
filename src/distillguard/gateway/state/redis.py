"""State in a Valkey or Redis server (``serve --state redis://HOST:PORT/DB``), shared by every
worker of every host.

Each operation is one Lua script, atomic on the server and timed by the server's clock, so
hosts whose clocks differ still agree. When the server fails or is slower than ``timeout_s``,
``admit`` raises ``StateDown`` (the policy applies ``on_state_error``), observations and
settlements are dropped (a lease then expires by itself), and the server is tried again a
second later: no request waits on a dead server more than once a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from distillguard.gateway.state.limits import _MAX_KEYS, CONCURRENT_RETRY_S, Limit
from distillguard.gateway.state.protocol import StateDown

_log = logging.getLogger("distillguard.gateway")

# The limits of one request, all or nothing (``limits.admit_on`` in Lua). KEYS: the limits'
# keys; ARGV: lease, lease seconds, then kind ('r' rate, 'c' concurrent), limit, cost per key.
# Returns {wait, index}: {"0", -1} when admitted.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease, lease_s = ARGV[1], tonumber(ARGV[2])
local after, worst, at = {}, 0, -1
for i, key in ipairs(KEYS) do
  local kind = ARGV[3 * i]
  local cap = tonumber(ARGV[3 * i + 1])
  local wait = 0
  if kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZCARD', key) >= cap then wait = CONCURRENT_RETRY end
  else
    local cost = tonumber(ARGV[3 * i + 2])
    local rate = cap / 60.0
    local b = redis.call('HMGET', key, 't', 'u')
    local tokens = tonumber(b[1]) or cap
    local updated = tonumber(b[2]) or now
    tokens = math.min(cap, tokens + math.max(0, now - updated) * rate)
    if tokens >= cost then
      after[i] = tokens - cost
    elseif rate > 0 then
      wait = (cost - tokens) / rate
    else
      wait = 60
    end
  end
  if wait > worst then worst, at = wait, i - 1 end
end
if at >= 0 then return {tostring(worst), at} end
for i, key in ipairs(KEYS) do
  if ARGV[3 * i] == 'c' then
    redis.call('ZADD', key, now + lease_s, lease)
    redis.call('EXPIRE', key, math.ceil(lease_s) + 60)
  else
    redis.call('HSET', key, 't', tostring(after[i]), 'u', tostring(now))
    redis.call('EXPIRE', key, 86400)
  end
end
return {"0", -1}
""".replace("CONCURRENT_RETRY", repr(CONCURRENT_RETRY_S))

# After the answer (``limits.settle_on``). KEYS: the buckets to charge, then the leases to end;
# ARGV: lease, number of buckets, then limit and amount per bucket.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[2])
for i = 1, n do
  local key = KEYS[i]
  local cap = tonumber(ARGV[2 * i + 1])
  local rate = cap / 60.0
  local b = redis.call('HMGET', key, 't', 'u')
  local tokens = tonumber(b[1]) or cap
  local updated = tonumber(b[2]) or now
  tokens = math.min(cap, tokens + math.max(0, now - updated) * rate) - tonumber(ARGV[2 * i + 2])
  redis.call('HSET', key, 't', tostring(tokens), 'u', tostring(now))
  redis.call('EXPIRE', key, 86400)
end
for i = n + 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 0
"""

# Online windows, a batch at once: KEYS = the windows; ARGV = window size, then one flag (0/1)
# per key. Returns {flagged, seen} per key, in order.
_OBSERVE = """
local n = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('LPUSH', key, ARGV[i + 1])
  redis.call('LTRIM', key, 0, n - 1)
  redis.call('EXPIRE', key, 86400)
  local xs = redis.call('LRANGE', key, 0, -1)
  local ones = 0
  for _, x in ipairs(xs) do
    if x == '1' then ones = ones + 1 end
  end
  out[#out + 1] = ones
  out[#out + 1] = #xs
end
return out
"""
_BATCH_S = 0.005  # observations wait this long to go out together: one round trip, not one each
_BATCH_MAX = 500


class RedisState:
    """State in a Valkey or Redis server, under ``prefix`` (one per gateway deployment)."""

    def __init__(self, url: str, prefix: str = "distillguard:", timeout_s: float = 0.05) -> None:
        import redis.asyncio as redis

        self.url, self.prefix, self.timeout_s = url, prefix, timeout_s
        # A pool that waits for a free connection (up to the budget) rather than failing at
        # once: a burst of throttled requests must not read as the server being down.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=256,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self.client: Any = redis.Redis(connection_pool=pool)
        self._admit = self.client.register_script(_ADMIT)
        self._settle = self.client.register_script(_SETTLE)
        self._observe = self.client.register_script(_OBSERVE)
        self._windows: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._batch: list[tuple[str, bool]] = []
        self._retry_at = 0.0  # while down: when to try the server again
        self.failures = 0  # operations that failed or were skipped while down, for /metrics

    def _down(self) -> bool:
        return self._retry_at > 0 and time.monotonic() < self._retry_at

    def _failed(self, exc: BaseException) -> StateDown:
        self.failures += 1
        if self._retry_at == 0:
            _log.error("shared state %s unreachable (%r): on_state_error applies", self.url, exc)
        self._retry_at = time.monotonic() + 1.0
        return StateDown(f"shared state unreachable ({type(exc).__name__})")

    def _up(self) -> None:
        if self._retry_at:
            _log.warning("shared state %s reachable again", self.url)
            self._retry_at = 0.0

    async def admit(self, limits: Sequence[Limit], lease: str, lease_s: float) -> tuple[float, int]:
        if self._down():
            self.failures += 1
            raise StateDown("shared state unreachable (retried within a second)")
        args: list[Any] = [lease, lease_s]
        for limit in limits:
            args += ["c" if limit.kind == "concurrent" else "r", limit.limit, limit.cost]
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                wait, at = await self._admit(
                    keys=[self.prefix + limit.key for limit in limits], args=args
                )
        except Exception as exc:
            raise self._failed(exc) from None
        self._up()
        return float(wait), int(at)

    def settle(
        self, charges: Sequence[tuple[str, float, float]], leases: Sequence[str], lease: str
    ) -> None:
        if not charges and not leases:
            return
        if self._down():
            self.failures += 1
            return
        keys = [self.prefix + key for key, _, _ in charges] + [self.prefix + k for k in leases]
        args: list[Any] = [lease, len(charges)]
        for _, per_minute, amount in charges:
            args += [per_minute, amount]
        task = asyncio.get_running_loop().create_task(self._send_settle(keys, args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_settle(self, keys: list[str], args: list[Any]) -> None:
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                await self._settle(keys=keys, args=args)
        except Exception as exc:  # the lease expires by itself; the charge is lost
            self._failed(exc)
            return
        self._up()

    def observe(self, account: str, flag: bool, window: int) -> None:
        if self._down():
            self.failures += 1
            return
        self._batch.append((account, flag))
        if len(self._batch) == 1:
            asyncio.get_running_loop().call_later(_BATCH_S, self._flush, window)

    def _flush(self, window: int) -> None:
        batch, self._batch = self._batch, []
        for start in range(0, len(batch), _BATCH_MAX):
            task = asyncio.get_running_loop().create_task(
                self._push(batch[start : start + _BATCH_MAX], window)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _push(self, batch: list[tuple[str, bool]], window: int) -> None:
        keys = [f"{self.prefix}online:{account}" for account, _ in batch]
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                counts = await self._observe(
                    keys=keys, args=[window, *(int(flag) for _, flag in batch)]
                )
        except Exception as exc:
            self._failed(exc)
            return
        self._up()
        for i, (account, _) in enumerate(batch):
            self._windows.pop(account, None)
            self._windows[account] = (int(counts[2 * i]), int(counts[2 * i + 1]))
        while len(self._windows) > _MAX_KEYS:
            self._windows.popitem(last=False)

    def window(self, account: str) -> tuple[int, int]:
        return self._windows.get(account, (0, 0))

    # Manual verdicts: one hash per scope and a version counter that moves on each change, so
    # workers poll one number and read the hashes only when it moved.

    async def set_manual(self, scope: str, key: str, verdict: str | None) -> None:
        pipe = self.client.pipeline(transaction=True)
        name = f"{self.prefix}manual:{scope}"
        pipe.hset(name, key, verdict or "")  # "" lifts it: over every host's file
        pipe.incr(f"{self.prefix}manual:version")
        async with asyncio.timeout(max(self.timeout_s * 4, 0.5)):
            await pipe.execute()

    async def manual_since(self, version: int) -> tuple[int, dict[str, dict[str, str]] | None]:
        """The manual verdicts if their version moved past ``version``: (version, verdicts)."""
        async with asyncio.timeout(max(self.timeout_s * 4, 0.5)):
            now = int(await self.client.get(f"{self.prefix}manual:version") or 0)
            if now == version:
                return now, None
            pipe = self.client.pipeline(transaction=True)
            for scope in ("account", "cluster"):
                pipe.hgetall(f"{self.prefix}manual:{scope}")
            accounts, clusters = await pipe.execute()
        return now, {"account": _decoded(accounts), "cluster": _decoded(clusters)}

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(max(self.timeout_s * 4, 0.5)):
                return bool(await self.client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()


def _decoded(found: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in found.items()}
