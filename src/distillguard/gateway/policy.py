"""From a request's account and signals to an action: the verdict's, or the online rule's.

Accounts the scan has not judged are watched online: when most of an account's recent requests
elicit reasoning, it is treated as `watch` until a scan decides. A verdict may carry budgets
(``budgets`` in the settings): requests and tokens per minute and requests at once, for the
account and for its whole cluster or campaign. A request is let through only if every budget
has room; beyond any, 429 with the seconds until the tightest has room again. The ``throttle``
action is the simplest budget: ``throttle.requests_per_minute`` per account. Budgets live in the
``State`` every worker shares (``state/``); when it fails, ``on_state_error`` says what happens.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from distillguard.gateway.config import Budget, GatewayConfig
from distillguard.gateway.state import Limit, State, StateDown
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signals.request import RequestSignals

_NAMES = {"rpm": "requests per minute", "tpm": "tokens per minute", "conc": "requests at once"}


@dataclass(slots=True)
class Decision:
    action: str  # allow, throttle, degrade, challenge, block; "error": refuse with 503
    verdict: str
    why: str
    retry_after: int = 0  # seconds, for throttle
    # What the request holds until ``Policy.settle``: token budgets to charge, leases to end.
    charges: tuple[tuple[str, float], ...] = ()
    leases: tuple[str, ...] = ()
    lease: str = ""
    settled: bool = field(default=False)
    watermark: str = ""  # the key id the model server is asked to mark the answer with


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
        decision = await self._decide(account, signals)
        if decision.action in ("allow", "degrade"):
            decision.watermark = self.watermark_for(decision.verdict, account)
        return decision

    def watermark_for(self, verdict: str, account: str) -> str:
        """The key id to mark an answer with ("" for none): the account's cluster's by default,
        so that one test finds what a whole farm was given."""
        marking = self.cfg.watermark
        if verdict not in marking.verdicts:
            return ""
        found = ""
        if marking.key_by == "campaign":
            found = self.book.campaign_of(account)
        if marking.key_by in ("campaign", "cluster") and not found:
            found = self.book.cluster_of(account)
        return found or f"account:{account}"

    async def _decide(self, account: str, signals: RequestSignals | None) -> Decision:
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
        if action in ("challenge", "block"):
            return Decision(action, verdict, why)
        limits = self.limits_for(verdict, action, account)
        if not limits:
            return Decision("allow" if action == "throttle" else action, verdict, why)
        lease = secrets.token_hex(8)
        try:
            wait, at = await self.state.admit(limits, lease, self.cfg.limits.upstream_timeout_s)
        except StateDown as exc:
            if self.cfg.on_state_error == "closed":
                return Decision("error", verdict, f"{why}; {exc}")
            return Decision(
                "allow" if action == "throttle" else action, verdict, f"{why}; {exc}: let through"
            )
        if at >= 0:
            scope, _, kind = limits[at].key.rpartition(":")
            over = f"over its {scope.replace(':', ' ', 1)} budget of {_NAMES[kind]}"
            return Decision(
                "throttle", verdict, f"{why}; {over}".lstrip("; "), max(1, math.ceil(wait))
            )
        return Decision(
            "allow" if action == "throttle" else action,
            verdict,
            why + " (within its budgets)",
            charges=tuple((x.key, x.limit) for x in limits if x.key.endswith(":tpm")),
            leases=tuple(x.key for x in limits if x.kind == "concurrent"),
            lease=lease,
        )

    def limits_for(self, verdict: str, action: str, account: str) -> list[Limit]:
        """Every budget on a request of ``account`` with ``verdict``: its own, its cluster's
        and its campaign's (as the scan knows them)."""
        budgets = self.cfg.budgets.get(verdict)
        own = budgets.account if budgets else Budget()
        if action == "throttle" and own.requests_per_minute is None:
            rpm = self.cfg.throttle.requests_per_minute
            own = Budget(rpm, own.tokens_per_minute, own.concurrent)
        scopes = [(f"account:{account}", own)]
        if budgets is not None:
            if cluster := self.book.cluster_of(account):
                scopes.append((f"cluster:{cluster}", budgets.cluster))
            if campaign := self.book.campaign_of(account):
                scopes.append((f"campaign:{campaign}", budgets.campaign))
        limits: list[Limit] = []
        for scope, budget in scopes:
            if budget.requests_per_minute is not None:
                limits.append(Limit(f"{scope}:rpm", "rate", budget.requests_per_minute, 1.0))
            if budget.tokens_per_minute is not None:
                limits.append(Limit(f"{scope}:tpm", "rate", budget.tokens_per_minute, 0.0))
            if budget.concurrent is not None:
                limits.append(Limit(f"{scope}:conc", "concurrent", budget.concurrent))
        return limits

    def settle(self, decision: Decision | None, tokens: int) -> None:
        """After the answer (or the failure): charge its ``tokens`` to the token budgets and
        free its place among the concurrent ones; once per decision, never waited on."""
        if decision is None or decision.settled or not decision.lease:
            return
        decision.settled = True
        charges = [(key, per_minute, float(tokens)) for key, per_minute in decision.charges]
        self.state.settle(charges, decision.leases, decision.lease)
