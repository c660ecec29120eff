"""A scan's campaigns as a STIX 2.1 bundle for partners: what identifies a campaign, never its
customers.

Per campaign: a ``campaign`` object; ``indicator`` objects with STIX patterns for the network
side (IP addresses, prefixes, ASNs, client user agents) and for salted digests of what is about
customers (payment fingerprints, e-mail domains, account ids: HMAC-SHA256 with a salt agreed per
partnership, so a partner can match its own values and no one can read ours);
``x-distillguard-signature`` objects for prompt-template, system-prompt, tool-schema and timing
signatures (the same distillguard code computes the same digest from the same template);
``indicates`` / ``related-to`` relationships; one ``sighting`` per indicator with how many of the
campaign's accounts showed it and when; TLP markings and confidence on everything. An
indicator's confidence is the campaign's scaled by the share of the accounts showing it that are
in the campaign; one shared mostly outside it is left out. No prompt text is exported.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import stix2

from distillguard.console.data import Results
from distillguard.console.labels import Labels
from distillguard.evaluate.results import FLAGGED
from distillguard.intel.salt import salted

TLP = {
    "clear": stix2.TLP_WHITE,  # TLP 2.0's CLEAR is TLP 1.0's WHITE, the marking STIX 2.1 defines
    "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER,
    "red": stix2.TLP_RED,
}
SIGNATURE_KINDS = {"template", "system", "tools", "sync"}
SALTED_KINDS = {"payment": "payment method", "email": "e-mail domain"}
SIGNATURE_ALGORITHM = "distillguard-v1"
# An indicator most of whose accounts are outside the campaign (a webmail domain, a popular
# SDK) identifies nothing: it is left out, and the rest carry confidence scaled by their share.
MIN_SPECIFICITY = 0.5
# `--all` shares campaigns at least this confident: low-confidence groups are often campus or
# grader groups that a partner would only mistake for attackers.
MIN_CONFIDENCE = 0.7
# Indicators stay valid this long after the campaign was last seen: proxies and cards rotate.
VALID_DAYS = 90


@stix2.CustomObject(
    "x-distillguard-signature",
    [
        ("kind", stix2.properties.StringProperty(required=True)),
        ("value", stix2.properties.StringProperty(required=True)),
        ("algorithm", stix2.properties.StringProperty(required=True)),
        ("campaign_accounts", stix2.properties.IntegerProperty(min=0)),
        ("all_accounts", stix2.properties.IntegerProperty(min=0)),
    ],
)
class Signature:
    """A digest distillguard computes from requests: the same template, the same value."""


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def pattern(kind: str, value: str, salt: bytes) -> tuple[str, str] | None:
    """(STIX pattern, what it names) for one indicator value; None for kinds not exported."""
    if kind == "ip":
        version = ipaddress.ip_address(value).version
        return f"[ipv{version}-addr:value = '{value}']", f"IP address {value}"
    if kind == "prefix":
        version = ipaddress.ip_network(value, strict=False).version
        return f"[ipv{version}-addr:value ISSUBSET '{value}']", f"network {value}"
    if kind == "asn" and value.isdigit():
        return f"[autonomous-system:number = {int(value)}]", f"AS{value}"
    if kind == "client":
        agent = value.split("|", 1)[0]
        path = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
        return f"[{path} = '{_quote(agent)}']", f"client {agent}"
    if kind == "tls":
        return f"[x-distillguard-tls:fingerprint = '{_quote(value)}']", f"TLS fingerprint {value}"
    if kind in SALTED_KINDS:
        digest = salted(salt, value)
        name = f"x-distillguard-{kind}:hmac_sha256"
        return f"[{name} = '{digest}']", f"{SALTED_KINDS[kind]} (salted digest)"
    return None


def bundle(
    results: Results,
    campaign_ids: list[str] | None,
    salt: bytes,
    tlp: str = "amber",
    producer: str = "distillguard",
    min_confidence: float = MIN_CONFIDENCE,
    manual: dict[str, str] | None = None,
) -> stix2.Bundle:
    """The bundle for the named campaigns (when None: all at least ``min_confidence``).

    Only what flagged accounts hold is shared. An account is flagged by its manual verdict
    (``manual``: account → verdict, as the gateway's file holds them), else by an analyst's
    label in RESULTS/labels.jsonl (confirmed or dismissed), else by the scan. A campaign an
    analyst dismissed, or with no flagged account, is not shared: ``ValueError`` when named.
    """
    marking = TLP[tlp]
    identity = stix2.Identity(
        name=producer, identity_class="organization", object_marking_refs=[marking]
    )
    common: dict[str, Any] = {"created_by_ref": identity.id, "object_marking_refs": [marking]}
    objects: list[Any] = [marking, identity]
    if campaign_ids is None:
        chosen = [c for c in results.campaigns if float(c["confidence"]) >= min_confidence]
    else:
        chosen = [c for c in results.campaigns if c["campaign_id"] in campaign_ids]
    if campaign_ids is not None:
        missing = set(campaign_ids) - {c["campaign_id"] for c in chosen}
        if missing:
            raise KeyError(f"no campaign {', '.join(sorted(missing))} in {results.directory}")
    labels = Labels(results.directory / "labels.jsonl").latest()
    for c in chosen:
        key = c["campaign_id"]
        # A campaign also lists members at watch, often bystanders swept in by a shared
        # address: only flagged accounts, and what they hold, are named to partners.
        flagged = {a for a in c["accounts"] if _flagged(results, labels, manual or {}, a)}
        said = labels.get(("campaign", key))
        why = ""
        if said and said["label"] == "dismissed":
            why = f"dismissed by {said['who']} on {said['ts']}"
        elif not flagged:
            why = "none of its accounts is flagged"
        if why:
            if campaign_ids is not None:
                raise ValueError(f"campaign {key} is not shared: {why}")
            continue
        objects += _campaign_objects(c, flagged, salt, common)
    return stix2.Bundle(objects=objects, allow_custom=True)


def _flagged(
    results: Results,
    labels: dict[tuple[str, str], dict[str, Any]],
    manual: dict[str, str],
    account: str,
) -> bool:
    if account in manual:
        return manual[account] in FLAGGED
    if said := labels.get(("account", account)):
        return bool(said["label"] == "confirmed")
    row = results.accounts.get(account)
    return bool(row and row["verdict"] in FLAGGED)


def _campaign_objects(
    c: dict[str, Any], flagged: set[str], salt: bytes, common: dict[str, Any]
) -> list[Any]:
    confidence = round(float(c["confidence"]) * 100)
    first, last = _time(c.get("first_seen")), _time(c.get("last_seen"))
    targets = ", ".join(f"{k} {v:.0%}" for k, v in c["capabilities"].items() if v >= 0.1)
    tactics = "; ".join(t["tactic"] for t in c.get("tactics", []))
    campaign = stix2.Campaign(
        name=f"distillation campaign {c['campaign_id']}",
        description=f"{len(c['accounts'])} accounts, {c['requests']} requests. "
        f"Targets: {targets}. Tactics: {tactics}.",
        first_seen=first,
        last_seen=last,
        objective="distil the model's capabilities from its outputs",
        confidence=confidence,
        **common,
    )
    out: list[Any] = [campaign]
    kinds = {**c["indicators"], "account": [
        {"value": a, "campaign_accounts": 1, "all_accounts": 1} for a in sorted(flagged)
    ]}  # fmt: skip
    held = {(k, str(v)) for a, k, v in c.get("links", []) if a in flagged}
    for kind, items in kinds.items():
        for item in items:
            value = str(item["value"])
            if kind != "account" and "links" in c and (kind, value) not in held:
                continue  # only watched members hold it
            share = int(item["campaign_accounts"]) / max(1, int(item["all_accounts"]))
            if share < MIN_SPECIFICITY:
                continue
            sure = round(confidence * share)
            if kind in SIGNATURE_KINDS:
                fields = {
                    "kind": kind,
                    "value": value,
                    "algorithm": SIGNATURE_ALGORITHM,
                    "campaign_accounts": item["campaign_accounts"],
                    "all_accounts": item["all_accounts"],
                    "confidence": sure,
                }
                signature = Signature(**fields, **common)
                out += [signature, _relate(signature, "related-to", campaign, common)]
                continue
            if kind == "account":
                digest = salted(salt, value)
                made: tuple[str, str] | None = (
                    f"[user-account:user_id = '{digest}']",
                    "account (salted digest)",
                )
            else:
                made = pattern(kind, value, salt)
            if made is None:
                continue
            text, name = made
            indicator = stix2.Indicator(
                name=name,
                pattern=text,
                pattern_type="stix",
                valid_from=first or datetime.now(UTC),
                valid_until=max(last or first or datetime.now(UTC), datetime.now(UTC))
                + timedelta(days=VALID_DAYS),
                indicator_types=["malicious-activity"],
                confidence=sure,
                **common,
            )
            sighting = stix2.Sighting(
                sighting_of_ref=indicator.id,
                count=int(item["campaign_accounts"]),
                first_seen=first,
                last_seen=last,
                where_sighted_refs=[common["created_by_ref"]],
                **common,
            )
            out += [indicator, _relate(indicator, "indicates", campaign, common), sighting]
    return out


def _relate(source: Any, kind: str, target: Any, common: dict[str, Any]) -> Any:
    return stix2.Relationship(source.id, kind, target.id, allow_custom=True, **common)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
