"""From a request's account and signals to an action: the verdict's, or the online rule's.

Accounts the scan has not judged are watched online: when most of an account's recent requests
elicit reasoning, it is treated as `watch` until a scan decides. A throttled account draws on a
token bucket; requests beyond it get 429 with the seconds to wait. Both live in the ``State``
every worker shares (``state.py``); when it fails, ``on_state_error`` says what happens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.state import State, StateDown
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signals.request import RequestSignals


@dataclass(slots=True)
class Decision:
    action: str  # allow, throttle, degrade, challenge, block; "error": refuse with 503
    verdict: str
    why: str
    retry_after: int = 0  # seconds, for throttle


class Policy:
    def __init__(self, cfg: GatewayConfig, book: VerdictBook, state: State) -> None:
        self.cfg = cfg
        self.book = book
        self.state = state

    def observe(self, account: str, signals: RequestSignals) -> None:
        """Count one request's signals in the account's online window (never waits)."""
        flag = signals.scores["reasoning_elicitation"] >= 0.6
        self.state.observe(account, flag, self.cfg.online.window)

    async def decide(self, account: str, signals: RequestSignals | None = None) -> Decision:
        """The action for an account's request; with ``signals``, counted first. Without, the
        online rule judges on the requests seen so far: the gateway then reads this request's
        signals while the model server works, so the detector adds none of its time."""
        if signals is not None:
            self.observe(account, signals)
        verdict, why = self.book.lookup(account)
        if verdict == "clear" and not why:
            flagged, seen = self.state.window(account)
            if seen >= self.cfg.online.window:
                share = flagged / seen
                if share >= self.cfg.online.elicitation_share:
                    why = f"online: {share:.0%} of its last requests elicit reasoning"
                    verdict = "watch"
        action = self.cfg.actions.get(verdict, "allow")
        if action != "throttle":
            return Decision(action, verdict, why)
        try:
            wait = await self.state.take(
                f"account:{account}", self.cfg.throttle.requests_per_minute
            )
        except StateDown as exc:
            if self.cfg.on_state_error == "closed":
                return Decision("error", verdict, f"{why}; {exc}")
            return Decision("allow", verdict, f"{why}; {exc}: let through")
        if wait <= 0:
            return Decision("allow", verdict, why + " (within its throttled rate)")
        return Decision("throttle", verdict, why, retry_after=max(1, math.ceil(wait)))
