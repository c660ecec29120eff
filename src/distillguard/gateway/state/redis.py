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
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from distillguard.gateway.state.limits import _MAX_KEYS, CONCURRENT_RETRY_S, Limit
from distillguard.gateway.state.protocol import StateDown

_log = logging.getLogger("distillguard.gateway")

# The limits of a batch of requests, each all or nothing, in order (``limits.admit_on`` in Lua):
# one script call for every request that arrived in one turn of the event loop. KEYS: each
# request's limit keys, one request after another; ARGV: the number of requests, then per
# request its lease, lease seconds and number of limits, then per limit its kind ('r' rate,
# 'c' concurrent), limit and cost. Returns {wait, index} per request: {"0", -1} when admitted.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out, a, k = {}, 2, 0
for r = 1, tonumber(ARGV[1]) do
  local lease, lease_s, n = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local after, worst, at = {}, 0, -1
  for i = 1, n do
    local key, kind, cap = KEYS[k + i], ARGV[a], tonumber(ARGV[a + 1])
    local wait = 0
    if kind == 'c' then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      if redis.call('ZCARD', key) >= cap then wait = CONCURRENT_RETRY end
    else
      local cost = tonumber(ARGV[a + 2])
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
    a = a + 3
  end
  if at < 0 then
    for i = 1, n do
      local key = KEYS[k + i]
      if after[i] == nil then
        redis.call('ZADD', key, now + lease_s, lease)
        redis.call('EXPIRE', key, math.ceil(lease_s) + 60)
      else
        redis.call('HSET', key, 't', tostring(after[i]), 'u', tostring(now))
        redis.call('EXPIRE', key, 86400)
      end
    end
  end
  out[#out + 1] = tostring(worst)
  out[#out + 1] = at
  k = k + n
end
return out
""".replace("CONCURRENT_RETRY", repr(CONCURRENT_RETRY_S))

# After the answers, a batch at once (``limits.settle_on``). KEYS: per request the buckets to
# charge, then the leases to end; ARGV: the number of requests, then per request its lease,
# number of buckets and of leases, then limit and amount per bucket.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local a, k = 2, 0
for r = 1, tonumber(ARGV[1]) do
  local lease, charges, leases = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  for i = 1, charges do
    local key, cap = KEYS[k + i], tonumber(ARGV[a])
    local rate = cap / 60.0
    local b = redis.call('HMGET', key, 't', 'u')
    local tokens = tonumber(b[1]) or cap
    local updated = tonumber(b[2]) or now
    tokens = math.min(cap, tokens + math.max(0, now - updated) * rate) - tonumber(ARGV[a + 1])
    redis.call('HSET', key, 't', tostring(tokens), 'u', tostring(now))
    redis.call('EXPIRE', key, 86400)
    a = a + 2
  end
  for i = charges + 1, charges + leases do
    redis.call('ZREM', KEYS[k + i], lease)
  end
  k = k + charges + leases
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
        self._admits: list[tuple[list[str], list[Any], asyncio.Future[tuple[float, int]]]] = []
        self._settles: list[tuple[list[str], list[Any]]] = []
        self._settle_soon = False
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
        loop = asyncio.get_running_loop()
        found: asyncio.Future[tuple[float, int]] = loop.create_future()
        args: list[Any] = [lease, lease_s, len(limits)]
        for limit in limits:
            args += ["c" if limit.kind == "concurrent" else "r", limit.limit, limit.cost]
        self._admits.append(([self.prefix + limit.key for limit in limits], args, found))
        if len(self._admits) == 1:  # those that arrive in this turn of the loop go together
            loop.call_soon(self._flush_admits)
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                return await asyncio.shield(found)
        except Exception as exc:
            # The script may still run on a slow server: end the lease it would take, or it
            # would hold a place for the whole lease time (ending an unknown lease does nothing).
            if held := [self.prefix + x.key for x in limits if x.kind == "concurrent"]:
                self._queue_settle(held, [lease, 0, len(held)], soon=True)
            raise self._failed(exc) from None

    def _flush_admits(self) -> None:
        batch, self._admits = self._admits, []
        self._spawn(self._send_admits(batch))

    async def _send_admits(self, batch: list[tuple[list[str], list[Any], Any]]) -> None:
        keys = [key for request, _, _ in batch for key in request]
        args = [len(batch), *(arg for _, request, _ in batch for arg in request)]
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                out = await self._admit(keys=keys, args=args)
        except Exception as exc:
            for _, _, found in batch:
                if not found.done():
                    found.set_exception(exc)
            return
        self._up()
        for i, (_, _, found) in enumerate(batch):
            if not found.done():
                found.set_result((float(out[2 * i]), int(out[2 * i + 1])))

    def settle(
        self, charges: Sequence[tuple[str, float, float]], leases: Sequence[str], lease: str
    ) -> None:
        if not charges and not leases:
            return
        if self._down():
            self.failures += 1
            return
        keys = [self.prefix + key for key, _, _ in charges] + [self.prefix + k for k in leases]
        args: list[Any] = [lease, len(charges), len(leases)]
        for _, per_minute, amount in charges:
            args += [per_minute, amount]
        self._queue_settle(keys, args, soon=bool(leases))

    def _queue_settle(self, keys: list[str], args: list[Any], soon: bool) -> None:
        """Charges wait up to 5 ms to go together; a lease's end goes out on the next turn of
        the loop, before the client's next request can be admitted against it."""
        self._settles.append((keys, args))
        loop = asyncio.get_running_loop()
        if soon and not self._settle_soon:
            self._settle_soon = True
            loop.call_soon(self._flush_settles)
        elif len(self._settles) == 1 and not self._settle_soon:
            loop.call_later(_BATCH_S, self._flush_settles)

    def _flush_settles(self) -> None:
        self._settle_soon = False
        batch, self._settles = self._settles, []
        if not batch:  # sent already by an earlier flush
            return
        self._spawn(self._send_settles(batch))

    async def _send_settles(self, batch: list[tuple[list[str], list[Any]]]) -> None:
        keys = [key for request, _ in batch for key in request]
        args = [len(batch), *(arg for _, request in batch for arg in request)]
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                await self._settle(keys=keys, args=args)
        except Exception as exc:  # the leases expire by themselves; the charges are lost
            self._failed(exc)
            return
        self._up()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    async def signups(self, keys: Sequence[str], at: float, window_s: float) -> list[int]:
        """One sorted set per key (score: the sign-up's time), kept two windows past its
        newest; raises StateDown as admit does."""
        if self._down():
            self.failures += 1
            raise StateDown("shared state unreachable (retried within a second)")
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            name = f"{self.prefix}signup:{key}"
            pipe.zadd(name, {f"{at}:{secrets.token_hex(6)}": at})
            pipe.zremrangebyscore(name, "-inf", at - 2 * window_s)
            pipe.zcount(name, f"({at - window_s}", at)
            pipe.expire(name, int(2 * window_s) + 60)
        try:
            async with asyncio.timeout(max(self.timeout_s * 4, 0.5)):
                replies = await pipe.execute()
        except Exception as exc:
            raise self._failed(exc) from None
        self._up()
        return [int(n) for n in replies[2::4]]

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(max(self.timeout_s * 4, 0.5)):
                return bool(await self.client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        if self._settles:  # leases to end: sent now, not left to expire
            self._flush_settles()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()


def _decoded(found: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in found.items()}
