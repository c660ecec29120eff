"""Reading a partner's STIX 2.1 bundle into indicators the store keeps, refusing what is not.

A bundle is untrusted input: it may be huge, of another STIX version, hold patterns that do not
parse, object types no one knows, or values that do not fit. Each object is judged alone: what
distillguard can use is kept (with its source, confidence and expiry), everything else is
counted in the report with why, and a bundle that cannot be read at all changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MAX_BYTES = 64 << 20
MAX_INDICATORS = 200_000
SIGNATURE_KINDS = {"template", "system", "tools", "sync"}

# The STIX patterns distillguard writes (intel/export.py), and so can match on its traffic.
_PATTERNS = [
    (re.compile(r"^\[ipv[46]-addr:value = '([^']+)'\]$"), "ip"),
    (re.compile(r"^\[ipv[46]-addr:value ISSUBSET '([^']+)'\]$"), "prefix"),
    (re.compile(r"^\[autonomous-system:number = (\d+)\]$"), "asn"),
    (
        re.compile(
            r"^\[network-traffic:extensions\.'http-request-ext'\.request_header\."
            r"'User-Agent' = '((?:[^'\\]|\\.)*)'\]$"
        ),
        "client",
    ),
    (re.compile(r"^\[x-distillguard-tls:fingerprint = '((?:[^'\\]|\\.)*)'\]$"), "tls"),
    (re.compile(r"^\[x-distillguard-payment:hmac_sha256 = '([0-9a-f]{64})'\]$"), "payment"),
    (re.compile(r"^\[x-distillguard-email:hmac_sha256 = '([0-9a-f]{64})'\]$"), "email"),
    (re.compile(r"^\[user-account:user_id = '([0-9a-f]{64})'\]$"), "account"),
]
SALTED = {"payment", "email", "account"}


class BundleError(ValueError):
    """A bundle that cannot be read at all: nothing is stored."""


@dataclass
class PartnerIndicator:
    source: str
    stix_id: str
    kind: str
    value: str
    salted: bool
    confidence: int
    campaign: str
    expires: datetime


@dataclass
class Report:
    objects: int = 0
    kept: list[PartnerIndicator] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, obj: Any) -> None:
        self.skipped[reason] += 1
        if reason not in self.examples and isinstance(obj, dict):
            self.examples[reason] = str(obj.get("id", "?"))[:120]


def read_bundle(path: Path, source: str | None, expires_days: float) -> Report:
    """Parse and judge every object of a bundle file."""
    from stix2patterns.validator import run_validator

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise BundleError(f"{path}: {size >> 20} MiB, over the {MAX_BYTES >> 20} MiB limit")
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        raise BundleError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise BundleError(f'{path}: not a STIX bundle (no "type": "bundle")')
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise BundleError(f'{path}: the bundle has no "objects" list')
    report = Report(objects=len(objects))
    now = datetime.now(UTC)
    names = {
        o.get("id"): str(o.get("name", ""))[:200]
        for o in objects
        if isinstance(o, dict) and o.get("type") in ("identity", "campaign")
    }
    indicates = {
        o.get("source_ref"): o.get("target_ref")
        for o in objects
        if isinstance(o, dict) and o.get("type") == "relationship"
    }
    for obj in objects:
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            report.skip("not a STIX object", obj)
            continue
        kind = obj["type"]
        if kind in ("identity", "campaign", "relationship", "sighting", "marking-definition"):
            continue  # read above, or nothing to keep
        if obj.get("spec_version") != "2.1":
            report.skip(f"spec_version {obj.get('spec_version')!r}, not '2.1'", obj)
            continue
        if kind not in ("indicator", "x-distillguard-signature"):
            report.skip(f"object type {kind[:60]} not used", obj)
            continue
        if len(report.kept) >= MAX_INDICATORS:
            report.skip(f"over {MAX_INDICATORS} indicators", obj)
            continue
        made = _indicator(obj, run_validator)
        if isinstance(made, str):
            report.skip(made, obj)
            continue
        found_kind, value = made
        who = source or names.get(obj.get("created_by_ref")) or "partner"
        confidence = obj.get("confidence", 50)
        if not isinstance(confidence, int) or not 0 <= confidence <= 100:
            report.skip("confidence not an integer 0-100", obj)
            continue
        expires = _until(obj.get("valid_until")) or now + timedelta(days=expires_days)
        if expires <= now:
            report.skip("expired", obj)
            continue
        campaign = names.get(indicates.get(obj.get("id")), "")
        report.kept.append(
            PartnerIndicator(
                who[:200], str(obj.get("id"))[:200], found_kind, value,
                found_kind in SALTED, confidence, campaign, expires,
            )
        )  # fmt: skip
    return report


def _indicator(obj: dict[str, Any], validate: Any) -> tuple[str, str] | str:
    """(kind, value) of a usable object, or why it is not."""
    if obj["type"] == "x-distillguard-signature":
        kind, value = obj.get("kind"), obj.get("value")
        if kind not in SIGNATURE_KINDS or not isinstance(value, str) or len(value) > 64:
            return "signature of unknown kind or bad value"
        return str(kind), value
    pattern = obj.get("pattern")
    if obj.get("pattern_type") != "stix" or not isinstance(pattern, str) or len(pattern) > 4096:
        return "not a STIX pattern"
    if validate(pattern):
        return "pattern does not parse"
    for regex, kind in _PATTERNS:
        if match := regex.match(pattern):
            value = match.group(1).replace("\\'", "'").replace("\\\\", "\\")
            try:
                if kind == "ip":
                    value = str(ipaddress.ip_address(value))
                elif kind == "prefix":
                    value = str(ipaddress.ip_network(value, strict=False))
            except ValueError:
                return "pattern names no valid address"
            return kind, value
    return "pattern not one distillguard matches"


def _until(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
