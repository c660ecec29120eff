"""Alerts on new and grown campaigns between two real scans, delivered to webhooks on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.gateway.local import serving
from tests.scanned import MINI, simulate_into

CONSOLE = "https://console.test"


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The mini world scanned twice: on its first 9 hours, then whole."""
    root = tmp_path_factory.mktemp("alerts")
    spec = root / "mini.yaml"
    spec.write_text(MINI)
    simulate_into(spec, root / "sim", root / "store.duckdb")
    outs = []
    for name, until in (("early", ["--until", "2026-03-02T09:00:00Z"]), ("late", [])):
        args = ["scan", "--store", str(root / "store.duckdb"), "--out", str(root / name), "-q"]
        result = CliRunner().invoke(app, [*args, *until])
        assert result.exit_code == 0, result.output
        outs.append(root / name)
    return outs[0], outs[1]


class Receiver:
    """Webhook receivers: /ok takes every alert, /broken answers 500 each time."""

    def __init__(self) -> None:
        self.got: dict[str, list[Any]] = {"ok": [], "broken": []}

    def app(self) -> Starlette:
        async def take(request: Request) -> Response:
            name = request.path_params["name"]
            self.got[name].append(await request.json())
            if name == "broken":
                return JSONResponse({"error": "down"}, 500)
            return Response("ok")

        return Starlette(routes=[Route("/{name}", take, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    found = Receiver()
    with serving(found.app()) as url:
        yield url, found


def _campaigns(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "campaigns.json").read_text())


def test_a_campaign_that_appeared_since_the_last_scan_is_sent_with_its_link(
    scans: tuple[Path, Path], receiver: tuple[str, Receiver]
) -> None:
    early, late = scans
    url, got = receiver
    args = ["alert", "--results", str(late), "--previous", str(early)]
    args += ["--webhook", f"{url}/ok", "--console-url", CONSOLE]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = json.loads((late / "alerts.json").read_text())["alerts"]
    assert written, "the late scan holds a campaign the early one did not"
    assert got.got["ok"] == [
        {"source": "distillguard", **{k: v for k, v in a.items() if k != "deliveries"},
         "link": f"{CONSOLE}/campaign/{a['campaign_id']}"}
        for a in written
    ]  # fmt: skip
    before = {acct for c in _campaigns(early) for acct in c["accounts"]}
    for alert in written:
        mine = next(c for c in _campaigns(late) if c["campaign_id"] == alert["campaign_id"])
        shared = len(before & set(mine["accounts"]))
        if alert["kind"] == "new":  # no earlier campaign holds half its accounts
            assert shared < len(mine["accounts"]) / 2
        else:
            assert alert["accounts"] >= 1.5 * alert["previous_accounts"]
        assert alert["deliveries"] == [
            {"webhook": "http://127.0.0.1/…", "ok": True, "status": 200, "attempts": 1, "error": ""}
        ]
        assert alert["campaign_id"] in result.output
    # The same scan against itself: nothing new, nothing sent.
    again = CliRunner().invoke(app, ["alert", "--results", str(late), "--previous", str(late),
                                     "--webhook", f"{url}/ok"])  # fmt: skip
    assert again.exit_code == 0
    assert "no new or grown campaigns" in again.output
    assert len(got.got["ok"]) == len(written)


def test_a_campaign_that_grew_is_followed_by_its_accounts_across_new_ids(
    scans: tuple[Path, Path], tmp_path: Path
) -> None:
    _, late = scans
    biggest = max(_campaigns(late), key=lambda c: len(c["accounts"]))
    third = len(biggest["accounts"]) // 3
    earlier = {**biggest, "campaign_id": "K0042", "accounts": biggest["accounts"][:third]}
    (tmp_path / "campaigns.json").write_text(json.dumps([earlier]))
    result = CliRunner().invoke(app, ["alert", "--results", str(late), "--previous", str(tmp_path)])
    assert result.exit_code == 0, result.output
    alerts = json.loads((late / "alerts.json").read_text())["alerts"]
    grown = [a for a in alerts if a["kind"] == "grown"]
    assert [(a["campaign_id"], a["previous_id"], a["previous_accounts"]) for a in grown] == [
        (biggest["campaign_id"], "K0042", third)
    ]
    assert f"grew from {third} to {len(biggest['accounts'])} accounts" in result.output
    assert {a["kind"] for a in alerts} == {"new", "grown"}  # the others are new to it


def test_slack_hooks_get_text_and_blocks_and_a_first_scan_alerts_on_everything(
    scans: tuple[Path, Path], receiver: tuple[str, Receiver]
) -> None:
    _, late = scans
    url, got = receiver
    args = ["alert", "--results", str(late), "--webhook", f"{url}/ok", "--format", "slack"]
    result = CliRunner().invoke(app, [*args, "--console-url", CONSOLE])
    assert result.exit_code == 0, result.output
    campaigns = _campaigns(late)
    assert len(got.got["ok"]) == len(campaigns) >= 2
    for message in got.got["ok"]:
        assert set(message) == {"text", "blocks"}
        assert message["text"].startswith("New campaign K")
        assert f"<{CONSOLE}/campaign/K" in message["text"]
        assert message["blocks"][0]["text"]["text"] == message["text"]


def test_a_webhook_that_fails_is_retried_named_and_the_alerts_are_still_written(
    scans: tuple[Path, Path], receiver: tuple[str, Receiver]
) -> None:
    _, late = scans
    url, got = receiver
    args = ["alert", "--results", str(late), "--webhook", f"{url}/broken"]
    result = CliRunner().invoke(app, [*args, "--webhook", f"{url}/ok"])
    assert result.exit_code == 4
    assert "http://127.0.0.1/…" in result.output
    assert "not delivered after 3 attempts (HTTP 500" in result.output
    written = json.loads((late / "alerts.json").read_text())["alerts"]
    assert len(got.got["broken"]) == 3 * len(written)  # three tries each
    assert len(got.got["ok"]) == len(written)  # the other hook still got every one
    assert all([d["ok"] for d in a["deliveries"]] == [False, True] for a in written)


def test_a_hook_that_never_answers_is_waited_on_once_and_a_bad_address_is_named(
    scans: tuple[Path, Path], receiver: tuple[str, Receiver]
) -> None:
    _, late = scans
    url, got = receiver
    from distillguard.gateway.local import free_port

    dead = f"http://127.0.0.1:{free_port()}/services/T000/B000/secret-path"
    args = ["alert", "--results", str(late), "--webhook", dead, "--webhook", "http://[::1"]
    result = CliRunner().invoke(app, [*args, "--webhook", f"{url}/ok"])
    assert result.exit_code == 4
    assert "secret-path" not in result.output
    written = json.loads((late / "alerts.json").read_text())["alerts"]
    assert len(written) >= 2
    assert "secret-path" not in (late / "alerts.json").read_text()
    first, *rest = written
    assert first["deliveries"][0]["attempts"] == 3  # tried, with retries, for the first alert
    assert all(a["deliveries"][0]["attempts"] == 0 for a in rest)  # not waited on again
    assert "not a usable address" in first["deliveries"][1]["error"]
    assert all(a["deliveries"][1]["attempts"] == 0 for a in rest)
    assert len(got.got["ok"]) == len(written)  # the good hook still got every one


def test_a_broken_campaigns_file_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "campaigns.json").write_text('[\n {"campaign_id": "K1",\n oops}\n]')
    result = CliRunner().invoke(app, ["alert", "--results", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'campaigns.json'}:3: not JSON" in result.output.replace("\n", "")
    missing = CliRunner().invoke(app, ["alert", "--results", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "no campaigns.json here" in missing.output
