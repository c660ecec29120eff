"""The sign-up check a gateway serves: the latest scan's campaigns, partners' bundles
(``signup.partners``), this process's bursts, and a
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

from distillguard.signup.bursts import Bursts
from distillguard.signup.index import CampaignIndex
from distillguard.signup.partners import PartnerIndex
from distillguard.signup.risk import Assessment, assess
from distillguard.verdicts.config import ConfigError


class SignupCheck:
    def __init__(
        self, results: Path | None, log_path: Path, partners: PartnerIndex | None = None
    ) -> None:
        self.results, self.log_path = results, log_path
        self.index = CampaignIndex.load(results)
        self.partners = partners
        self.bursts = Bursts()
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
        """Assess a sign-up made at ``created`` (a replay's time), or now."""
        at = created.timestamp() if created is not None else time.time()
        found = assess(record, self._fresh(), self.bursts, at, self.partners)
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
