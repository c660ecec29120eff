"""Risk at sign-up through the gateway's admin API, against a real scan's campaigns."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import mock_app
from tests.scanned import build

TOKEN = "admin-secret"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("signup"))


@pytest.fixture
def ask(world: Path, tmp_path: Path) -> Iterator[Any]:
    with serving(mock_app()) as model:
        gateway = Gateway(model, load_gateway_config(), world / "out", TOKEN, tmp_path / "log")
        with serving(gateway.app()) as url:

            def post(record: Any, token: str = TOKEN) -> httpx.Response:
                return httpx.post(
                    url + "/admin/v1/signup-risk",
                    json=record,
                    headers={"authorization": f"Bearer {token}"},
                )

            yield post


def _records(world: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with open(world / "sim" / "labels.csv", newline="") as f:
        attack = {r["account_id"] for r in csv.DictReader(f) if r["is_attack"] == "1"}
    rows = [json.loads(x) for x in (world / "sim" / "accounts.jsonl").open()]
    return [r for r in rows if r["account_id"] in attack], [
        r for r in rows if r["account_id"] not in attack
    ]


def test_a_farms_next_account_is_stopped_and_customers_are_not(
    ask: Any, world: Path, tmp_path: Path
) -> None:
    farm, customers = _records(world)
    # A new account paying with a farm's card, from one of its /24s.
    twin = {**farm[0], "account_id": "acct_new_farm", "signup_ip": "130.189.169.200"}
    r = ask(twin)
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["action"] in ("verify", "refuse")
    assert found["campaigns"]
    assert any("payment method shared with" in why for why in found["reasons"])
    # Customers signing up again with their own details (cards the farms never used).
    actions = [ask({**c, "account_id": f"new_{c['account_id']}"}).json()["action"]
               for c in customers[:200]]  # fmt: skip
    assert actions.count("allow") >= 0.99 * len(actions)
    logged = [json.loads(x) for x in (tmp_path / "log-signups.jsonl").open()]
    assert logged[0]["account_id"] == "acct_new_farm"
    assert logged[0]["signup"]["action"] == found["action"]  # the next scan reads it


def test_a_burst_alone_stops_nobody_but_adds_to_a_link(ask: Any) -> None:
    # A class signing up together: noted, not stopped.
    answers = [
        ask({"account_id": f"edu_{i}", "email_domain": "uni-burst.example", "tier": "edu",
             "created_at": f"2026-04-01T10:0{i}:00Z"}).json()
        for i in range(6)
    ]  # fmt: skip
    assert [a["action"] for a in answers] == ["allow"] * 6
    assert "5 sign-ups with this e-mail domain in the last hour" in answers[4]["reasons"]
    assert answers[4]["risk"] > answers[0]["risk"]  # what a link beside it would add to


def test_bad_sign_up_records_get_clear_errors(ask: Any) -> None:
    assert ask({"email_domain": "x.example"}).status_code == 400
    assert "account_id" in ask({"email_domain": "x.example"}).json()["error"]
    r = ask({"account_id": "a", "created_at": "yesterday"})
    assert r.status_code == 400
    assert "created_at" in r.json()["error"]
    assert ask({"account_id": "a"}, token="wrong").status_code == 401


def test_partners_reports_reach_the_sign_up_check_through_salted_digests(
    world: Path, tmp_path: Path
) -> None:
    """A partner's bundle (here: the world's own campaigns, exported as a peer would with the
    partnership's salt) stops a farm's next account at a gateway that has no scan of its own."""
    from typer.testing import CliRunner

    from distillguard.cli import app
    from distillguard.verdicts.config import ConfigError

    salt = tmp_path / "partner.salt"
    salt.write_text("ab" * 32)
    bundle = tmp_path / "peer.json"
    made = CliRunner().invoke(app, [
        "intel", "export", "--results", str(world / "out"), "--all", "--salt-file", str(salt),
        "--producer", "peer lab", "--out", str(bundle),
    ])  # fmt: skip
    assert made.exit_code == 0, made.output
    cfg = load_gateway_config()
    cfg.signup.partners, cfg.signup.salt_file = [str(bundle)], str(salt)
    farm, customers = _records(world)
    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, None, TOKEN, tmp_path / "log")  # no scan: partners only
        with serving(gateway.app()) as url:
            headers = {"authorization": f"Bearer {TOKEN}"}

            def ask(record: dict[str, Any]) -> dict[str, Any]:
                r = httpx.post(url + "/admin/v1/signup-risk", json=record, headers=headers)
                assert r.status_code == 200, r.text
                return dict(r.json())

            paying = [r for r in farm if r.get("payment_fingerprint")]
            next_one = {**paying[0], "account_id": "acct_next_of_the_farm"}
            found = ask(next_one)
            assert found["action"] in ("verify", "refuse")
            assert any("payment method reported by partner peer lab" in x for x in found["reasons"])
            assert found["campaigns"][0].startswith("partner:peer lab")
            stopped = sum(ask(r)["action"] != "allow" for r in customers[:200])
            assert stopped <= 2  # customers share nothing the partner reported
    unsalted = load_gateway_config()
    unsalted.signup.partners = [str(tmp_path / "missing.json")]
    with pytest.raises(ConfigError, match=r"missing\.json"):
        Gateway("http://127.0.0.1:9", unsalted, None, TOKEN, tmp_path / "log2")
