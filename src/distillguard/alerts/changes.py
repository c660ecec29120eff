"""What changed between two scans: campaigns that are new, and campaigns that have grown.

Campaign ids are a scan's own numbering, so a campaign is followed from one scan to the next
by its accounts: the previous campaign that holds at least half of the smaller one's accounts
(the overlap coefficient) is the same campaign. A campaign with no such match is ``new``; one
whose accounts grew by ``grow_by`` (and by at least ``min_growth`` accounts) is ``grown``.

>>> old = [{"campaign_id": "K1", "accounts": ["a", "b"], "requests": 10}]
>>> new = [{"campaign_id": "K7", "accounts": ["a", "b", "c", "d"], "requests": 40},
...        {"campaign_id": "K8", "accounts": ["x", "y"], "requests": 5}]
>>> [(a.kind, a.campaign_id, a.previous_id) for a in changes(old, new, min_growth=1)]
[('new', 'K8', None), ('grown', 'K7', 'K1')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

SAME = 0.5  # overlap coefficient at which two scans' campaigns are one campaign


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "new" or "grown"
    campaign_id: str
    accounts: int
    requests: int
    confidence: float
    capabilities: dict[str, float]
    first_seen: str | None
    last_seen: str | None
    previous_id: str | None = None  # the same campaign in the previous scan
    previous_accounts: int = 0
    previous_requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> str:
        """One line for a person: what happened and how big it is."""
        top = sorted(self.capabilities.items(), key=lambda x: -x[1])[:3]
        targets = ", ".join(f"{k} {v:.0%}" for k, v in top) or "unknown capabilities"
        if self.kind == "new":
            what = f"New campaign {self.campaign_id}: {_accounts(self.accounts)}"
        else:
            what = (
                f"Campaign {self.campaign_id} (was {self.previous_id}) grew from "
                f"{self.previous_accounts} to {_accounts(self.accounts)}"
            )
        size = f"{self.requests:,} requests, confidence {self.confidence:.2f}"
        return f"{what}, {size}; targets {targets}"


def _accounts(n: int) -> str:
    return f"{n} account" + ("" if n == 1 else "s")


def same_campaign(
    campaign: dict[str, Any], previous: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The campaign of ``previous`` that is ``campaign`` in an earlier scan, or None."""
    mine = set(campaign.get("accounts") or [])
    best, score = None, 0.0
    for other in previous:
        theirs = set(other.get("accounts") or [])
        if not mine or not theirs:
            continue
        overlap = len(mine & theirs) / min(len(mine), len(theirs))
        if overlap > score:
            best, score = other, overlap
    return best if score >= SAME else None


def changes(
    previous: Sequence[dict[str, Any]],
    current: Sequence[dict[str, Any]],
    grow_by: float = 0.5,
    min_growth: int = 5,
) -> list[Alert]:
    """The alerts of ``current`` (a scan's campaigns.json) against ``previous``, new first,
    then the largest."""
    out = []
    for campaign in current:
        accounts = len(campaign.get("accounts") or [])
        before = same_campaign(campaign, previous)
        if before is None:
            kind = "new"
        else:
            was = len(before.get("accounts") or [])
            if accounts < was * (1 + grow_by) or accounts - was < min_growth:
                continue
            kind = "grown"
        out.append(
            Alert(
                kind=kind,
                campaign_id=str(campaign["campaign_id"]),
                accounts=accounts,
                requests=int(campaign.get("requests") or 0),
                confidence=float(campaign.get("confidence") or 0.0),
                capabilities={
                    k: round(float(v), 3) for k, v in (campaign.get("capabilities") or {}).items()
                },
                first_seen=campaign.get("first_seen"),
                last_seen=campaign.get("last_seen"),
                previous_id=None if before is None else str(before["campaign_id"]),
                previous_accounts=0 if before is None else len(before.get("accounts") or []),
                previous_requests=0 if before is None else int(before.get("requests") or 0),
            )
        )
    return sorted(out, key=lambda a: (a.kind != "new", -a.accounts, a.campaign_id))
