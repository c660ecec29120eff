"""What partners reported, for the sign-up check: their STIX 2.1 bundles' indicators of the
kinds a sign-up record holds (payment method, e-mail domain, address, /24 or /48).

Bundles are judged by the same rules as ``distillguard intel import`` (``intel/partners.py``:
expired, malformed, unknown objects skipped). Payment methods and e-mail domains arrive as
salted digests (docs/intel.md); with the partnership's salt, a new account's value is
digested the same way and looked up, so no partner ever sees the value itself.

>>> from datetime import UTC, datetime, timedelta
>>> from distillguard.intel.partners import PartnerIndicator
>>> from distillguard.intel.salt import salted
>>> later = datetime.now(UTC) + timedelta(days=30)
>>> card = PartnerIndicator("peer", "indicator--1", "payment", salted(b"s", "pm-9"), True, 80,
...                         "hydra", later)
>>> index = PartnerIndex([card], b"s")
>>> [(h.source, h.campaign, h.confidence) for h in index.find("payment", "pm-9")]
[('peer', 'hydra', 0.8)]
>>> index.find("payment", "pm-1")
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from distillguard.intel.partners import BundleError, PartnerIndicator, read_bundle
from distillguard.intel.salt import load_salt, salted
from distillguard.verdicts.config import ConfigError

KINDS = ("payment", "email", "ip", "prefix")  # what a sign-up record and a bundle both hold


@dataclass(frozen=True, slots=True)
class PartnerHit:
    source: str
    campaign: str
    confidence: float  # the partner's, 0-1
    kind: str
    expires: datetime


class PartnerIndex:
    def __init__(self, indicators: list[PartnerIndicator], salt: bytes | None = None) -> None:
        self.salt = salt
        self.hits: dict[tuple[str, str], list[PartnerHit]] = {}
        for i in indicators:
            if i.kind not in KINDS:
                continue
            hit = PartnerHit(i.source, i.campaign, i.confidence / 100, i.kind, i.expires)
            self.hits.setdefault((i.kind, i.value.lower()), []).append(hit)

    @classmethod
    def load(cls, bundles: list[Path], salt_file: Path | None) -> PartnerIndex:
        """ConfigError naming the file when a bundle or the salt cannot be read."""
        salt = None
        if salt_file is not None:
            try:
                salt = load_salt(salt_file)  # as `intel export --salt-file` reads it
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if not bundles:
            return cls([], salt)

        kept: list[PartnerIndicator] = []
        for path in bundles:
            try:
                kept += read_bundle(path, None, expires_days=90).kept
            except (OSError, BundleError) as exc:
                raise ConfigError(f"{path}: partner bundle not read ({exc})") from None
        return cls(kept, salt)

    def find(self, kind: str, value: str | None) -> list[PartnerHit]:
        """What partners reported of this value, still in force."""
        if not value or not self.hits:
            return []
        if kind in ("payment", "email"):  # sent as digests under the partnership's salt
            if self.salt is None:
                return []
            value = salted(self.salt, value)
        now = datetime.now(UTC)
        return [h for h in self.hits.get((kind, value.lower()), []) if h.expires > now]

    def __len__(self) -> int:
        return sum(len(v) for v in self.hits.values())
