"""The sign-up check a gateway serves: the latest scan's campaigns, partners' bundles
(``signup.partners``), bursts (in the shared state when there is one), and a
log of every answer as an account record (``ingest --accounts`` and ``scan --accounts`` read it:
the answer is kept in the record's ``signup`` field)."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from distillguard.gateway.state.protocol import State, StateDown
from distillguard.signup.bursts import Bursts
from distillguard.signup.index import CampaignIndex
from distillguard.signup.partners import PartnerIndex
from distillguard.signup.risk import BURST, Assessment, assess, values
from distillguard.verdicts.config import ConfigError


class SignupCheck:
    def __init__(
        self,
        results: Path | None,
        log_path: Path,
        partners: PartnerIndex | None = None,
        state: State | None = None,
    ) -> None:
        self.results, self.log_path = results, log_path
        self.index = CampaignIndex.load(results)
        self.partners = partners
        self.state = state  # shared: every worker's sign-ups count in a burst
        self.bursts = Bursts()  # this process's: without shared state, or while it is down
        self._checked = time.monotonic()

    def _fresh(self) -> CampaignIndex:
        """The index, read again when campaigns.json changed (checked once a second)."""
        if self.results is not None and time.monotonic() - self._checked > 1.0:
            self._checked = time.monotonic()
            with contextlib.suppress(FileNotFoundError, OSError):
                stamp = os.stat(self.results / "campaigns.json").st_mtime_ns
                if stamp != self.index.stamp:
                    with contextlib.suppress(ConfigError):  # mid-write: keep the one in force
                        self.index = CampaignIndex.load(self.results)
        return self.index

    def assess(self, record: dict[str, Any], created: datetime | None = None) -> Assessment:
        """Assess a sign-up made at ``created`` (a replay's time), or now, counting its
        bursts in this process."""
        at = created.timestamp() if created is not None else time.time()
        return self._logged(record, assess(record, self._fresh(), self.bursts, at, self.partners))

    async def assess_shared(
        self, record: dict[str, Any], created: datetime | None = None
    ) -> Assessment:
        """As ``assess``, its bursts counted in the shared state, so that a burst spread over
        several workers or hosts is seen whole; in this process while the state is down."""
        at = created.timestamp() if created is not None else time.time()
        keys = {k: f"{k}:{v.lower()}" for k, v in values(record).items() if k in BURST}
        counter: Bursts | _Counted = self.bursts
        if self.state is not None and keys:
            with contextlib.suppress(StateDown):
                counts = await self.state.signups(list(keys.values()), at, self.bursts.window_s)
                counter = _Counted(dict(zip(keys, counts, strict=True)))
        return self._logged(record, assess(record, self._fresh(), counter, at, self.partners))

    def _logged(self, record: dict[str, Any], found: Assessment) -> Assessment:
        logged = {
            **record,
            "signup": {
                "risk": found.risk,
                "action": found.action,
                "reasons": found.reasons,
                "campaigns": found.campaigns,
            },
        }
        with open(self.log_path, "ab") as f:  # one write per record: never half a line
            f.write(msgspec.json.encode(logged) + b"\n")
        return found


class _Counted:
    """Bursts already counted in the shared state, read as ``Bursts.add`` answers."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def add(self, kind: str, value: str, now: float) -> int:
        return self.counts.get(kind, 1)
