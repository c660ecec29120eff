"""A new account's risk, action and reasons, from its links to flagged campaigns and from
sign-up bursts still arriving.

A link is a value the record shares with a campaign's accounts, weighed by how telling the kind
is (a payment method more than a /24), by the campaign's share of the accounts holding it (a
value shared far outside the campaign tells little) and by the campaign's confidence. A burst is
a run of sign-ups sharing a value within the hour. Programmes that farms abuse (edu, research,
startup, free trials) are sent to verification sooner.

>>> from distillguard.signup.bursts import Bursts
>>> from distillguard.signup.index import CampaignIndex, Hit
>>> index = CampaignIndex({("payment", "pm-1"): [Hit("K1", 0.9, "payment", "pm-1", 1.0, 6)]})
>>> found = assess({"account_id": "new", "payment_fingerprint": "pm-1"}, index, Bursts(), 0.0)
>>> found.action, found.reasons[0]
('refuse', 'payment method shared with 6 accounts of campaign K1 (confidence 0.90)')
>>> assess({"account_id": "new2", "email_domain": "example.org"}, index, Bursts(), 0.0).action
'allow'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from distillguard.ingest.validate import parse_ip
from distillguard.signup.index import CampaignIndex
from distillguard.signup.partners import PartnerIndex

WEIGHTS = {"payment": 1.0, "email": 0.8, "ip": 0.7, "prefix": 0.5, "client": 0.3, "tls": 0.3}
NAMES = {
    "payment": "payment method",
    "email": "e-mail domain",
    "ip": "sign-up IP address",
    "prefix": "sign-up /24 or /48",
    "client": "client",
    "tls": "TLS fingerprint",
    "address": "postal address",
}
PROGRAMMES = frozenset({"edu", "research", "startup", "trial", "free_trial"})
# Sign-ups an hour sharing a value that make a burst (halved for programmes, at least 2).
BURST = {"payment": 2, "email": 10, "prefix": 10, "address": 3}
# Shared by millions: never a link nor a burst by themselves.
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "aol.com",
        "gmx.com",
        "gmx.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
    ]
)
REFUSE_AT, VERIFY_AT, VERIFY_AT_PROGRAMME = 0.85, 0.5, 0.3
BURST_WEIGHT = 0.25  # below both thresholds: a burst alone never stops anyone


class Counter(Protocol):
    def add(self, kind: str, value: str, now: float) -> int: ...  # as Bursts.add


@dataclass(slots=True)
class Assessment:
    account_id: str
    risk: float
    action: str  # allow, verify, refuse
    reasons: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)


def values(record: dict[str, Any]) -> dict[str, str]:
    """The record's values by indicator kind (empty ones left out)."""
    out: dict[str, str] = {}
    domain = str(record.get("email_domain") or "").strip().lower()
    if domain and domain not in FREE_MAIL:
        out["email"] = domain
    for kind, name in (
        ("payment", "payment_fingerprint"),
        ("tls", "tls_fingerprint"),
        ("address", "address"),
    ):
        if value := str(record.get(name) or "").strip():
            out[kind] = value
    agent = str(record.get("user_agent") or "").strip()
    if agent and "tls" in out:  # the scan's client indicator: user agent and TLS together
        out["client"] = f"{agent}|{out['tls']}"
    if (network := parse_ip(str(record.get("signup_ip") or ""))) is not None:
        out["ip"], out["prefix"] = network.ip, network.prefix
    return out


def assess(
    record: dict[str, Any],
    index: CampaignIndex,
    bursts: Counter,
    now: float,
    partners: PartnerIndex | None = None,
) -> Assessment:
    """Assess one sign-up record (the account contract's fields, plus ``signup_ip``,
    ``user_agent``, ``tls_fingerprint`` and ``address`` where known); counts it in ``bursts``.
    ``partners``: what partners reported (``signup/partners.py``), weighed by their
    confidence as a campaign's link is by its own."""
    found = values(record)
    programme = str(record.get("tier") or "").lower() in PROGRAMMES
    reasons: list[str] = []
    campaigns: list[str] = []
    clean = 1.0
    for kind, value in found.items():
        for hit in index.find(kind, value):
            strength = WEIGHTS[kind] * hit.share * hit.confidence
            clean *= 1 - strength
            if hit.campaign not in campaigns:
                campaigns.append(hit.campaign)
            reasons.append(
                f"{NAMES[kind]} shared with {hit.accounts} accounts of campaign {hit.campaign} "
                f"(confidence {hit.confidence:.2f})"
            )
        for seen in partners.find(kind, value) if partners is not None else []:
            clean *= 1 - WEIGHTS[kind] * seen.confidence
            name = f"partner:{seen.source}" + (f"/{seen.campaign}" if seen.campaign else "")
            if name not in campaigns:
                campaigns.append(name)
            of = f" of campaign {seen.campaign}" if seen.campaign else ""
            reasons.append(
                f"{NAMES[kind]} reported by partner {seen.source}{of} "
                f"(their confidence {seen.confidence:.2f})"
            )
    risk = 1 - clean
    burst = False
    for kind, limit in BURST.items():
        if kind not in found:
            continue
        n = bursts.add(kind, found[kind], now)
        if n >= (max(2, limit // 2) if programme else limit):
            burst = True
            reasons.append(f"{n} sign-ups with this {NAMES[kind]} in the last hour")
    if burst:  # alone, how a class or a company signs up; beside a link, a farm growing
        risk = 1 - (1 - risk) * (1 - BURST_WEIGHT)
    verify_at = VERIFY_AT_PROGRAMME if programme else VERIFY_AT
    if programme and VERIFY_AT > risk >= verify_at:  # what only a programme is verified for
        reasons.append(
            f"programme {record.get('tier')}: verified from risk {verify_at} (others {VERIFY_AT})"
        )
    action = "refuse" if risk >= REFUSE_AT else "verify" if risk >= verify_at else "allow"
    return Assessment(
        str(record.get("account_id") or ""), round(risk, 3), action, reasons, campaigns
    )
