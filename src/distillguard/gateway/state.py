"""Per-account state every gateway worker shares: throttle buckets and the online rule's window.

A hydra spreads its traffic over accounts, and a provider spreads its gateway over workers and
hosts: a limit each worker counts alone lets N times the traffic through. So the state lives in
one place, behind a small interface:

- ``await take(key, per_minute, cost)``: a token bucket of ``per_minute`` (a minute's worth of
  burst); 0.0 when ``cost`` was taken, else the seconds until it could be (a truthful
  Retry-After). Only throttled accounts wait on it.
- ``observe(account, flag, window)``: push one request's flag into the account's window of its
  last ``window`` requests, without waiting (to a server, in batches every 5 ms);
  ``window(account)`` is (flagged, seen) in it, over every worker, as last known here.

``MemoryState`` is one process's (the default: one worker). ``LocalState`` is a SQLite file
the workers of one host share (``serve --workers N`` without a server). ``RedisState`` is a
Valkey or Redis server's (``serve --state redis://HOST:PORT/DB``): each operation is one Lua
script, atomic on the server and timed by the server's clock, so hosts whose clocks differ
still agree. When the
server fails or is slower than ``timeout_s``, ``take`` raises ``StateDown`` (the policy applies
``on_state_error``), observations are dropped, and the server is tried again a second later:
no request waits on a dead server more than once a second.

>>> import asyncio
>>> state = MemoryState()
>>> asyncio.run(state.take("acct_1", per_minute=60, cost=60))  # a minute's burst, at once
0.0
>>> round(asyncio.run(state.take("acct_1", per_minute=60)), 1)  # one a second refills
1.0
>>> state.observe("acct_1", True, 3); state.observe("acct_1", False, 3); state.window("acct_1")
(1, 2)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from distillguard.gateway.config import GatewayConfig
    from distillguard.gateway.verdicts import VerdictBook

_log = logging.getLogger("distillguard.gateway")
_MAX_KEYS = 200_000  # in memory: the least recently used go first


class StateDown(RuntimeError):
    """The shared state could not be reached in time."""


class State(Protocol):
    async def take(self, key: str, per_minute: float, cost: float = 1.0) -> float: ...

    def observe(self, account: str, flag: bool, window: int) -> None: ...

    def window(self, account: str) -> tuple[int, int]: ...

    async def close(self) -> None: ...


def refill(tokens: float, elapsed: float, per_minute: float, cost: float) -> tuple[float, float]:
    """A bucket after ``elapsed`` seconds and a request for ``cost``: (tokens left, wait).

    >>> refill(0.0, 30.0, 10.0, 1.0)  # half a minute refills half of 10
    (4.0, 0.0)
    >>> refill(0.5, 0.0, 60.0, 1.0)  # half a token short at one a second
    (0.5, 0.5)
    """
    rate = per_minute / 60.0
    tokens = min(per_minute, tokens + max(0.0, elapsed) * rate)
    if tokens >= cost:
        return tokens - cost, 0.0
    return tokens, (cost - tokens) / rate if rate > 0 else 60.0


class MemoryState:
    """One process's state, bounded: the least recently seen keys are forgotten first."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._windows: OrderedDict[str, deque[bool]] = OrderedDict()

    async def take(self, key: str, per_minute: float, cost: float = 1.0) -> float:
        now = time.monotonic()
        tokens, updated = self._buckets.pop(key, (per_minute, now))
        tokens, wait = refill(tokens, now - updated, per_minute, cost)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > _MAX_KEYS:
            self._buckets.popitem(last=False)
        return wait

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

    async def close(self) -> None:
        return None


# Token bucket: KEYS[1]; ARGV: per_minute, cost. The server's clock, so every host agrees.
_TAKE = """
local cap = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local rate = cap / 60.0
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(b[1]) or cap
local updated = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
elseif rate > 0 then
  wait = (cost - tokens) / rate
else
  wait = 60
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return tostring(wait)
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
        self._take = self.client.register_script(_TAKE)
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

    async def take(self, key: str, per_minute: float, cost: float = 1.0) -> float:
        if self._down():
            self.failures += 1
            raise StateDown("shared state unreachable (retried within a second)")
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                bucket = f"{self.prefix}bucket:{key}"
                wait = await self._take(keys=[bucket], args=[per_minute, cost])
        except Exception as exc:
            raise self._failed(exc) from None
        self._up()
        return float(wait)

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
        pipe.hset(name, key, verdict) if verdict else pipe.hdel(name, key)
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


class LocalState:
    """State the workers of one host share without a server: a SQLite file beside the log.

    Each operation is one short write transaction; SQLite's file lock orders the workers, and
    one that cannot get it within ``timeout_s`` gets ``StateDown`` like a dead server. Rows not
    touched for a day (windows) or two minutes (buckets) are swept now and then.
    """

    def __init__(self, path: Path, timeout_s: float = 0.05) -> None:
        import sqlite3

        self.path, self.failures = path, 0
        self._db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")  # counts, not records: speed over a crash
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS bucket (key TEXT PRIMARY KEY, tokens REAL, updated REAL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS online (account TEXT PRIMARY KEY, flags TEXT, updated REAL)"
        )
        self._ops = 0
        self._error = sqlite3.Error

    def _write(self, work: Any) -> Any:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = work(time.time())
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except self._error as exc:
            self.failures += 1
            raise StateDown(f"local state busy or broken ({exc})") from None
        self._ops += 1
        if self._ops % 10_000 == 0:
            self._sweep()
        return out

    def _sweep(self) -> None:
        now = time.time()
        with contextlib.suppress(self._error):
            self._db.execute("DELETE FROM bucket WHERE updated < ?", (now - 120,))
            self._db.execute("DELETE FROM online WHERE updated < ?", (now - 86_400,))

    async def take(self, key: str, per_minute: float, cost: float = 1.0) -> float:
        def work(now: float) -> float:
            row = self._db.execute(
                "SELECT tokens, updated FROM bucket WHERE key = ?", (key,)
            ).fetchone()
            tokens, updated = row if row else (per_minute, now)
            tokens, wait = refill(tokens, now - updated, per_minute, cost)
            self._db.execute("INSERT OR REPLACE INTO bucket VALUES (?, ?, ?)", (key, tokens, now))
            return wait

        wait: float = self._write(work)
        return wait

    def observe(self, account: str, flag: bool, window: int) -> None:
        def work(now: float) -> None:
            row = self._db.execute(
                "SELECT flags FROM online WHERE account = ?", (account,)
            ).fetchone()
            flags = ((row[0] if row else "") + ("1" if flag else "0"))[-window:]
            self._db.execute(
                "INSERT OR REPLACE INTO online VALUES (?, ?, ?)", (account, flags, now)
            )

        with contextlib.suppress(StateDown):  # a lost observation, never a lost request
            self._write(work)

    def window(self, account: str) -> tuple[int, int]:
        try:
            row = self._db.execute(
                "SELECT flags FROM online WHERE account = ?", (account,)
            ).fetchone()
        except self._error:
            self.failures += 1
            return 0, 0
        return (row[0].count("1"), len(row[0])) if row else (0, 0)

    async def close(self) -> None:
        self._db.close()


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
