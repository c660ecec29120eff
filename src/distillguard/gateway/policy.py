"""From a request's account and signals to an action: the verdict's, or the online rule's.

Accounts the scan has not judged are watched online: when most of an account's recent requests
elicit reasoning, it is treated as `watch` until a scan decides. A throttled account keeps a
token bucket; requests beyond it get 429 with the seconds to wait.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signals.request import RequestSignals

_MAX_ACCOUNTS = 200_000  # online state is bounded: the least recently seen accounts go first


@dataclass(slots=True)
class Decision:
    action: str  # allow, throttle, degrade, challenge, block
    verdict: str
    why: str
    retry_after: int = 0  # seconds, for throttle


class _Online:
    __slots__ = ("eliciting", "tokens", "updated")

    def __init__(self, window: int, tokens: float) -> None:
        self.eliciting: deque[bool] = deque(maxlen=window)
        self.tokens = tokens
        self.updated = time.monotonic()


class Policy:
    def __init__(self, cfg: GatewayConfig, book: VerdictBook) -> None:
        self.cfg = cfg
        self.book = book
        self._online: OrderedDict[str, _Online] = OrderedDict()

    def _state(self, account: str) -> _Online:
        state = self._online.get(account)
        if state is None:
            state = _Online(self.cfg.online.window, self.cfg.throttle.requests_per_minute)
            self._online[account] = state
            if len(self._online) > _MAX_ACCOUNTS:
                self._online.popitem(last=False)
        else:
            self._online.move_to_end(account)
        return state

    def observe(self, account: str, signals: RequestSignals) -> None:
        """Count one request's signals in the account's online state."""
        self._state(account).eliciting.append(signals.scores["reasoning_elicitation"] >= 0.6)

    def decide(self, account: str, signals: RequestSignals | None = None) -> Decision:
        """The action for an account's request; with ``signals``, counted first. Without, the
        online rule judges on the requests seen so far: the gateway then reads this request's
        signals while the model server works, so the detector adds none of its time."""
        if signals is not None:
            self.observe(account, signals)
        state = self._state(account)
        verdict, why = self.book.lookup(account)
        if verdict == "clear" and not why and len(state.eliciting) == state.eliciting.maxlen:
            share = sum(state.eliciting) / len(state.eliciting)
            if share >= self.cfg.online.elicitation_share:
                verdict, why = "watch", f"online: {share:.0%} of its last requests elicit reasoning"
        action = self.cfg.actions.get(verdict, "allow")
        if action != "throttle":
            return Decision(action, verdict, why)
        rate = self.cfg.throttle.requests_per_minute / 60.0
        now = time.monotonic()
        state.tokens = min(
            self.cfg.throttle.requests_per_minute, state.tokens + (now - state.updated) * rate
        )
        state.updated = now
        if state.tokens >= 1.0:
            state.tokens -= 1.0
            return Decision("allow", verdict, why + " (within its throttled rate)")
        wait = int((1.0 - state.tokens) / rate) + 1 if rate > 0 else 60
        return Decision("throttle", verdict, why, retry_after=wait)
