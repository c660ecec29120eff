"""intel export: a STIX 2.1 bundle that validates, identifies a campaign, and holds no customer
data but salted digests."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator
from typer.testing import CliRunner

from distillguard.cli import app

SALT = b"partnership-secret-0123456789"
CAMPAIGN = {
    "campaign_id": "K0007",
    "cluster_id": "C0007",
    "confidence": 0.91,
    "accounts": ["acct_farm_1", "acct_farm_2", "acct_farm_3"],
    "requests": 4211,
    "first_seen": "2026-03-02T00:04:11+00:00",
    "last_seen": "2026-03-08T23:58:40+00:00",
    "capabilities": {"agentic": 0.82, "coding": 0.11, "other": 0.07},
    "models": {"frontier-2": 1.0},
    "tactics": [{"tactic": "accounts created in a burst", "factor": "burst", "strength": 0.97}],
    "indicators": {
        "ip": [{"value": "203.0.113.7", "campaign_accounts": 3, "all_accounts": 3},
               {"value": "2001:db8::7", "campaign_accounts": 2, "all_accounts": 2}],
        "prefix": [{"value": "203.0.113.0/24", "campaign_accounts": 3, "all_accounts": 4}],
        "asn": [{"value": "64500", "campaign_accounts": 3, "all_accounts": 9}],
        "client": [{"value": "Farm's \\\"bot\\\"/1.0|t13d1516h2_aa", "campaign_accounts": 3,
                    "all_accounts": 3}],
        "tls": [{"value": "t13d1516h2_aa", "campaign_accounts": 3, "all_accounts": 5}],
        "payment": [{"value": "pm_secret_card", "campaign_accounts": 2, "all_accounts": 2}],
        "email": [{"value": "throwaway.edu", "campaign_accounts": 3, "all_accounts": 3}],
        "template": [{"value": "h123456789", "campaign_accounts": 3, "all_accounts": 3}],
        "tools": [{"value": "987654321", "campaign_accounts": 2, "all_accounts": 2}],
    },
    "evidence": [],
}  # fmt: skip
# acct_farm_1 holds every indicator; an address only the watched acct_farm_3 used is not shared.
CAMPAIGN["links"] = [
    ["acct_farm_1", kind, item["value"]]
    for kind, items in CAMPAIGN["indicators"].items()
    for item in items
] + [["acct_farm_3", "ip", "198.51.100.33"]]
CAMPAIGN["indicators"]["ip"].append(
    {"value": "198.51.100.33", "campaign_accounts": 1, "all_accounts": 1}
)


def _results(root: Path, campaigns: list[dict[str, Any]]) -> Path:
    results = root / "results"
    results.mkdir()
    (results / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,campaign_id,reasons\n"
        "acct_farm_1,0.91,block,C0007,K0007,x\n"
        "acct_farm_2,0.7,challenge,C0007,K0007,x\n"
        "acct_farm_3,0.45,watch,C0007,K0007,x\n"
    )
    (results / "campaigns.json").write_text(json.dumps(campaigns))
    (results / "manifest.json").write_text("{}")
    (root / "partner.salt").write_bytes(SALT + b"\n")
    return results


def _export(root: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        ["intel", "export", "--results", str(root / "results"),
         "--salt-file", str(root / "partner.salt"), "--out", str(root / "bundle.json"), *args],
    )  # fmt: skip


def test_the_bundle_validates_and_names_the_campaign_without_customer_data(tmp_path: Path) -> None:
    _results(tmp_path, [CAMPAIGN, {**CAMPAIGN, "campaign_id": "K0008"}])
    done = _export(tmp_path, "--campaign", "K0007", "--tlp", "amber", "--producer", "Lab A")
    assert done.exit_code == 0, done.output
    text = (tmp_path / "bundle.json").read_text()
    for private in ("pm_secret_card", "throwaway.edu", "acct_farm_1", "partnership-secret"):
        assert private not in text  # never raw: only salted digests
    bundle = stix2.parse(text, allow_custom=True)
    objects = {o["id"]: o for o in bundle.objects}
    by_type: dict[str, list[Any]] = {}
    for o in bundle.objects:
        by_type.setdefault(o["type"], []).append(o)
    (campaign,) = by_type["campaign"]  # only the one asked for
    assert campaign.name == "distillation campaign K0007"
    assert campaign.confidence == 91
    assert by_type["identity"][0].name == "Lab A"
    amber = stix2.TLP_AMBER.id
    assert all(amber in o.get("object_marking_refs", []) for o in bundle.objects if o is not
               by_type["marking-definition"][0])  # fmt: skip
    patterns = {o.pattern for o in by_type["indicator"]}
    assert all(run_validator(p) == [] for p in patterns)  # every pattern is valid STIX
    digest = hmac.new(SALT, b"pm_secret_card", hashlib.sha256).hexdigest()
    assert f"[x-distillguard-payment:hmac_sha256 = '{digest}']" in patterns
    assert "[ipv6-addr:value = '2001:db8::7']" in patterns
    assert "[ipv4-addr:value ISSUBSET '203.0.113.0/24']" in patterns
    # 3 of the 9 accounts on this network are the campaign's: it identifies nothing, left out.
    assert "[autonomous-system:number = 64500]" not in patterns
    sure = {o.pattern: o.confidence for o in by_type["indicator"]}
    assert sure["[ipv4-addr:value ISSUBSET '203.0.113.0/24']"] == round(91 * 3 / 4)
    account = hmac.new(SALT, b"acct_farm_1", hashlib.sha256).hexdigest()
    assert f"[user-account:user_id = '{account}']" in patterns
    # A member the scan only watches (often a bystander) is not named to partners, nor what
    # only it holds.
    watched = hmac.new(SALT, b"acct_farm_3", hashlib.sha256).hexdigest()
    assert f"[user-account:user_id = '{watched}']" not in patterns
    assert "[ipv4-addr:value = '198.51.100.33']" not in patterns
    signatures = {(s.kind, s.value) for s in by_type["x-distillguard-signature"]}
    assert signatures == {("template", "h123456789"), ("tools", "987654321")}
    indicates = [r for r in by_type["relationship"] if r.relationship_type == "indicates"]
    assert len(indicates) == len(by_type["indicator"])
    assert all(r.target_ref == campaign.id for r in indicates)
    counts = {objects[s.sighting_of_ref].pattern: s.count for s in by_type["sighting"]}
    assert counts["[ipv4-addr:value ISSUBSET '203.0.113.0/24']"] == 3


def test_bad_requests_are_refused_with_why(tmp_path: Path) -> None:
    _results(tmp_path, [CAMPAIGN])
    assert "--all" in _export(tmp_path).output  # neither --campaign nor --all
    unknown = _export(tmp_path, "--campaign", "K9")
    assert unknown.exit_code == 2
    assert "no campaign K9" in unknown.output
    assert "--tlp must be one of" in _export(tmp_path, "--all", "--tlp", "purple").output
    (tmp_path / "partner.salt").write_text("short")
    short = _export(tmp_path, "--all")
    assert short.exit_code == 2
    assert "at least 16 bytes" in short.output


def test_all_leaves_out_low_confidence_groups_unless_named(tmp_path: Path) -> None:
    campus = {**CAMPAIGN, "campaign_id": "K0009", "confidence": 0.5}
    _results(tmp_path, [CAMPAIGN, campus])
    assert _export(tmp_path, "--all").exit_code == 0
    names = {o["name"] for o in json.loads((tmp_path / "bundle.json").read_text())["objects"]
             if o["type"] == "campaign"}  # fmt: skip
    assert names == {"distillation campaign K0007"}
    assert _export(tmp_path, "--all", "--min-confidence", "0.4").exit_code == 0
    assert "K0009" in (tmp_path / "bundle.json").read_text()
    assert _export(tmp_path, "--campaign", "K0009").exit_code == 0  # named: always exported
    assert "K0009" in (tmp_path / "bundle.json").read_text()


def test_analysts_decisions_come_before_the_scan(tmp_path: Path) -> None:
    results = _results(tmp_path, [CAMPAIGN, {**CAMPAIGN, "campaign_id": "K0008"}])
    (results / "labels.jsonl").write_text(
        json.dumps({"ts": "2026-11-30T10:00:00+00:00", "who": "ana", "target": "campaign",
                    "id": "K0008", "label": "dismissed", "note": ""}) + "\n"
        + json.dumps({"ts": "2026-11-30T10:01:00+00:00", "who": "ana", "target": "account",
                      "id": "acct_farm_3", "label": "confirmed", "note": ""}) + "\n"
    )  # fmt: skip
    (results / "manual-verdicts.json").write_text(
        json.dumps({"account": {"acct_farm_2": "clear"}, "cluster": {}})
    )
    dismissed = _export(tmp_path, "--campaign", "K0008")
    assert dismissed.exit_code == 2
    assert "dismissed by ana" in dismissed.output
    assert _export(tmp_path, "--all").exit_code == 0
    text = (tmp_path / "bundle.json").read_text()
    assert "K0008" not in text
    digests = {a: hmac.new(SALT, a.encode(), hashlib.sha256).hexdigest()
               for a in ("acct_farm_1", "acct_farm_2", "acct_farm_3")}  # fmt: skip
    assert digests["acct_farm_1"] in text  # flagged by the scan
    assert digests["acct_farm_2"] not in text  # cleared by an analyst's manual verdict
    assert digests["acct_farm_3"] in text  # confirmed by an analyst
    assert "198.51.100.33" in text  # so what it holds is shared too
    (results / "manual-verdicts.json").write_text(json.dumps(
        {"account": {a: "watch" for a in digests}, "cluster": {}}))  # fmt: skip
    nobody = _export(tmp_path, "--campaign", "K0007")
    assert nobody.exit_code == 2
    assert "none of its accounts is flagged" in nobody.output


def test_an_id_repeated_in_one_bundle_keeps_its_last_version(tmp_path: Path) -> None:
    first = {"type": "indicator", "spec_version": "2.1", "id": "indicator--1",
             "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.9']",
             "confidence": 70}  # fmt: skip
    objects = [first, {**first, "confidence": 40}]
    bundle = tmp_path / "twice.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--2", "objects": objects}))
    done = _import(tmp_path, bundle, "--source", "Lab B")
    assert done.exit_code == 0, done.output
    assert _stored(tmp_path) == [("Lab B", "ip", "198.51.100.9", False, 40, "")]


@pytest.mark.parametrize("tlp", ["clear", "green", "red"])
def test_each_tlp_marks_everything(tmp_path: Path, tlp: str) -> None:
    _results(tmp_path, [CAMPAIGN])
    assert _export(tmp_path, "--all", "--tlp", tlp).exit_code == 0
    bundle = json.loads((tmp_path / "bundle.json").read_text())
    markings = {m for o in bundle["objects"] for m in o.get("object_marking_refs", [])}
    assert len(markings) == 1


def _import(root: Path, bundle: Path, *args: str) -> Any:
    store = str(root / "partner.duckdb")
    return CliRunner().invoke(app, ["intel", "import", str(bundle), "--store", store, *args])


def _stored(root: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(root / "partner.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT source, kind, value, salted, confidence, campaign FROM partner_indicators "
            "ORDER BY kind, value"
        ).fetchall()


def test_a_bundle_exported_here_imports_into_a_fresh_store(tmp_path: Path) -> None:
    _results(tmp_path, [CAMPAIGN])
    assert _export(tmp_path, "--all", "--producer", "Lab A").exit_code == 0
    done = _import(tmp_path, tmp_path / "bundle.json")
    assert done.exit_code == 0, done.output
    rows = _stored(tmp_path)
    kinds = {r[1] for r in rows}
    assert kinds == {"ip", "prefix", "client", "tls", "payment", "email", "account",
                     "template", "tools"}  # fmt: skip
    assert all(r[0] == "Lab A" for r in rows)  # every indicator names its source
    # The campaign's confidence, scaled by the share of the indicator's accounts in it.
    assert {(r[1], r[4]) for r in rows if r[4] != 91} == {("prefix", 68), ("tls", 55)}
    assert all(r[5] == "distillation campaign K0007" for r in rows)
    payment = next(r for r in rows if r[1] == "payment")
    assert payment[2] == hmac.new(SALT, b"pm_secret_card", hashlib.sha256).hexdigest()
    assert payment[3] is True
    assert ("Lab A", "client", "Farm's \\\"bot\\\"/1.0", False, 91,
            "distillation campaign K0007") in rows  # fmt: skip
    again = _import(tmp_path, tmp_path / "bundle.json")  # idempotent
    assert again.exit_code == 0
    assert len(_stored(tmp_path)) == len(rows)


def test_a_hostile_bundle_is_refused_or_partly_kept_and_nothing_is_damaged(
    tmp_path: Path,
) -> None:
    _results(tmp_path, [CAMPAIGN])
    _export(tmp_path, "--all")
    assert _import(tmp_path, tmp_path / "bundle.json").exit_code == 0
    before = _stored(tmp_path)
    good = {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "pattern_type":
            "stix", "pattern": "[ipv4-addr:value = '198.51.100.9']", "confidence": 70}  # fmt: skip
    objects = [
        good,
        {**good, "id": "indicator--2", "spec_version": "2.0"},
        {**good, "id": "indicator--3", "pattern": "[ipv4-addr:value = "},
        {**good, "id": "indicator--4", "pattern": "[file:name = 'x.exe']"},
        {**good, "id": "indicator--5", "pattern": "[ipv4-addr:value = '999.1.1.1']"},
        {**good, "id": "indicator--6", "confidence": 500},
        {**good, "id": "indicator--11", "confidence": True},
        {**good, "id": "indicator--12", "pattern": "[autonomous-system:number = 0123]"},
        {**good, "id": "indicator--13", "pattern": "[x-distillguard-tls:fingerprint = '\ud800']"},
        {**good, "id": "indicator--7", "valid_until": "2001-01-01T00:00:00Z"},
        # No valid_until, last changed long ago: a collection pulled again must not revive it.
        {**good, "id": "indicator--8", "modified": "2020-01-01T00:00:00Z"},
        {**good, "id": "indicator--9", "pattern": "[ipv4-addr:value ISSUBSET '10.0.0.0/16']"},
        {
            **good,
            "id": "indicator--10",
            "pattern": "[ipv4-addr:value = '198.51.100.10']",
            "created_by_ref": "identity--x",
        },
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": "identity--x",
            "name": "Lab C;\x1fblock; everyone",
        },
        {"type": "x-unknown-thing", "spec_version": "2.1", "id": "x-unknown-thing--1"},
        "not an object",
    ]
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    partly = _import(tmp_path, hostile, "--source", "Lab B")
    assert partly.exit_code == 3, partly.output  # some skipped, each with why
    for why in (
        "spec_version '2.0'",
        "pattern does not parse",
        "not one distillguard matches",
        "no valid address",
        "confidence",
        "expired",
        "x-unknown-thing",
        "not a STIX",
        "not a /24 (IPv4) or /48 (IPv6)",
        "not valid Unicode",
    ):
        assert why in partly.output  # fmt: skip
    after = _stored(tmp_path)
    assert set(before) <= set(after)  # nothing already stored is damaged
    assert ("Lab B", "ip", "198.51.100.9", False, 70, "") in after
    assert not any(r[2] == "10.0.0.0/16" for r in after)
    unsourced = _import(tmp_path, hostile)  # names from the bundle, cleaned for reasons
    assert ("Lab C block everyone", "ip", "198.51.100.10", False, 70, "") in _stored(tmp_path)
    assert "skipped 2: expired" in " ".join(unsourced.output.split())  # 7, and 8 by its age
    after = _stored(tmp_path)
    for broken, why in (
        (b"{not json", "not JSON"),
        (b'{"type": "indicator"}', "not a STIX bundle"),
        (b'{"type": "bundle", "objects": 5}', '"objects" list'),
    ):
        (tmp_path / "broken.json").write_bytes(broken)
        refused = _import(tmp_path, tmp_path / "broken.json")
        assert refused.exit_code == 2
        assert why in refused.output
    assert _stored(tmp_path) == after


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_what_the_importer_reads_without_the_grammar_is_valid_stix(text: str) -> None:
    """The importer skips the (slow) STIX grammar for the forms it recognises; that is sound
    only if every string those forms accept parses, and what export writes round-trips."""
    from distillguard.intel.export import _quote
    from distillguard.intel.partners import _ESCAPE, _PATTERNS

    for raw in (text, _quote(text)):
        for pattern in (f"[x-distillguard-tls:fingerprint = '{raw}']",
                        f"[ipv4-addr:value = '{raw}']"):  # fmt: skip
            if any(regex.fullmatch(pattern) for regex, _ in _PATTERNS):
                assert run_validator(pattern) == [], pattern
    tls = next(r for r, kind in _PATTERNS if kind == "tls")
    found = tls.fullmatch(f"[x-distillguard-tls:fingerprint = '{_quote(text)}']")
    assert found is not None
    assert _ESCAPE.sub(r"\1", found.group(1)) == text


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_every_form_the_importer_recognises_parses_as_stix(data: st.DataObject) -> None:
    from distillguard.intel.partners import _PATTERNS

    for regex, _ in _PATTERNS:
        pattern = data.draw(st.from_regex(regex, fullmatch=True))
        assert run_validator(pattern) == [], pattern
