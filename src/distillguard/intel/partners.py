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
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from distillguard.store import Store

MAX_BYTES = 64 << 20
MAX_INDICATORS = 200_000
SIGNATURE_KINDS = {"template", "system", "tools", "sync"}

# The STIX patterns distillguard writes (intel/export.py), and so can match on its traffic.
_PATTERNS = [
    (re.compile(r"\[ipv[46]-addr:value = '([0-9A-Fa-f.:]+)'\]"), "ip"),
    (re.compile(r"\[ipv[46]-addr:value ISSUBSET '([0-9A-Fa-f.:/]+)'\]"), "prefix"),
    (re.compile(r"\[autonomous-system:number = (0|[1-9][0-9]*)\]"), "asn"),
    (
        re.compile(
            r"\[network-traffic:extensions\.'http-request-ext'\.request_header\."
            r"'User-Agent' = '((?:[^'\\]|\\['\\])*)'\]"
        ),
        "client",
    ),
    (re.compile(r"\[x-distillguard-tls:fingerprint = '((?:[^'\\]|\\['\\])*)'\]"), "tls"),
    (re.compile(r"\[x-distillguard-payment:hmac_sha256 = '([0-9a-f]{64})'\]"), "payment"),
    (re.compile(r"\[x-distillguard-email:hmac_sha256 = '([0-9a-f]{64})'\]"), "email"),
    (re.compile(r"\[user-account:user_id = '([0-9a-f]{64})'\]"), "account"),
]
SALTED = {"payment", "email", "account"}
_ESCAPE = re.compile(r"\\(['\\])")  # STIX strings escape only ' and \
_PREFIX_LEN = {4: 24, 6: 48}  # the store's ip_prefix (ingest/validate.py)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f;]+")


def clean_name(text: Any) -> str:
    """A partner's or campaign's name as shown in reasons: no control characters and no ';'
    (reasons are joined with '; '), at most 120 characters.

    >>> clean_name("Lab A;\\x1f block everyone")
    'Lab A block everyone'
    """
    text = str(text).encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
    return " ".join(_UNSAFE.sub(" ", text).split())[:120]


def _unicode(text: str) -> bool:
    """JSON may carry lone surrogates, which no store or file can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    local_value: str | None = None  # this provider's value whose salted digest this is
    campaign_ref: str = ""  # the STIX id of the campaign: names like K0003 repeat across scans


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
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise BundleError(f"{path}: {size >> 20} MiB, over the {MAX_BYTES >> 20} MiB limit")
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        raise BundleError(f"{path}: not JSON ({exc})") from None
    return judge_bundle(data, source, expires_days, str(path))


def judge_bundle(data: Any, source: str | None, expires_days: float, where: str) -> Report:
    """Judge every object of a parsed bundle (``where`` names it in errors)."""
    from stix2patterns.validator import run_validator

    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise BundleError(f'{where}: not a STIX bundle (no "type": "bundle")')
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise BundleError(f'{where}: the bundle has no "objects" list')
    report = Report(objects=len(objects))
    now = datetime.now(UTC)
    names = {
        o.get("id"): clean_name(o.get("name", ""))
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
        if not (_unicode(value) and _unicode(str(obj.get("id")))):
            report.skip("not valid Unicode", obj)
            continue
        who = clean_name(source or names.get(obj.get("created_by_ref")) or "") or "partner"
        confidence = obj.get("confidence", 50)
        bad = isinstance(confidence, bool) or not isinstance(confidence, int)  # true is not 1
        if bad or not 0 <= confidence <= 100:
            report.skip("confidence not an integer 0-100", obj)
            continue
        # No valid_until: in force for expires_days from when the partner made or last changed
        # it (not from this import: pulling a collection again must not revive old objects).
        made_at = _until(obj.get("modified")) or _until(obj.get("created")) or now
        expires = _until(obj.get("valid_until")) or min(now, made_at) + timedelta(days=expires_days)
        if expires <= now:
            report.skip("expired", obj)
            continue
        ref = indicates.get(obj.get("id"))
        campaign = names.get(ref, "")
        report.kept.append(
            PartnerIndicator(
                who[:200], str(obj.get("id"))[:200], found_kind, value,
                found_kind in SALTED, confidence, campaign, expires,
                campaign_ref=clean_name(ref or "")[:200] if campaign else "",
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
    for regex, kind in _PATTERNS:
        # The forms distillguard matches are valid STIX by construction (quotes and escapes
        # included), so the grammar's parser, 2 ms a pattern, runs only on the others.
        if match := regex.fullmatch(pattern.strip()):
            value = _ESCAPE.sub(r"\1", match.group(1))
            try:
                if kind == "ip":
                    value = str(ipaddress.ip_address(value))
                elif kind == "prefix":
                    network = ipaddress.ip_network(value, strict=False)
                    if network.prefixlen != _PREFIX_LEN[network.version]:
                        return "prefix not a /24 (IPv4) or /48 (IPv6), the networks matched"
                    value = str(network)
            except ValueError:
                return "pattern names no valid address"
            return kind, value
    if validate(pattern):
        return "pattern does not parse"
    return "pattern not one distillguard matches"


def _until(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Where this provider keeps the values partners send as salted digests.
_LOCAL = {"payment": "payment_fingerprint", "email": "email_domain", "account": "account_id"}


def resolve_salted(
    con: duckdb.DuckDBPyConnection, salt: bytes, indicators: list[PartnerIndicator]
) -> int:
    """Fill ``local_value`` of salted indicators whose digest matches one of this provider's
    own payment methods, e-mail domains or account ids (HMAC-SHA256 under the partnership's
    salt, as the partner computed it). Returns how many matched.

    The store's account records (and, for ids, its events) are hashed once per distinct value:
    accounts that appear later match when the bundle is imported again.
    """
    from distillguard.intel.salt import salted

    wanted = {i.kind for i in indicators if i.salted}
    found = 0
    for kind in sorted(wanted):
        column = _LOCAL[kind]
        query = f"SELECT DISTINCT {column} FROM accounts WHERE {column} IS NOT NULL"
        if kind == "account":  # a store may have events without account records
            query += " UNION SELECT DISTINCT account_id FROM events"
        values = con.execute(query).fetchall()
        digests = {salted(salt, str(v)): str(v) for (v,) in values}
        for i in indicators:
            if i.kind == kind and i.value in digests:
                i.local_value = digests[i.value]
                found += 1
    return found


def keep(db: Store, report: Report, salt: bytes | None) -> int:
    """Store what a judged bundle kept, matching its salted digests first when the salt is
    given; returns how many digests matched."""
    matched = resolve_salted(db.con, salt, report.kept) if salt is not None else 0
    now = datetime.now(UTC)
    db.put_partner_indicators(
        [
            (i.source, i.stix_id, i.kind, i.value, i.salted, i.confidence, i.campaign,
             i.expires, now, i.local_value, i.campaign_ref)
            for i in report.kept
        ]
    )  # fmt: skip
    return matched
