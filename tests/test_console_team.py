"""A team on the console: named users and their roles, braked guessing, sessions that end,
and verdicts on many accounts at once, with an audit trail, an undo, and the gateway enforcing
both within a second.

Driven over HTTP against a console (and a gateway) on 127.0.0.1, and in Debian's chromium where
it is installed.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.console.app import Console
from distillguard.console.data import Results
from distillguard.console.users import Users
from distillguard.gateway.app import Gateway
from distillguard.gateway.config import load_gateway_config
from distillguard.gateway.local import serving
from distillguard.gateway.mock import mock_app
from tests.login import form_token, log_in
from tests.scanned import build
from tests.test_console import CHROMIUM, SALT

PASSWORDS = {"vic": "viewer-passphrase-1", "ana": "analyst-passphrase-2", "ada": "admin-pass-3xyz"}
ROLES = {"vic": "viewer", "ana": "analyst", "ada": "admin"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A scanned world, and a users file made with the command line."""
    root = build(tmp_path_factory.mktemp("users"))
    users = root / "users.json"
    for name, role in ROLES.items():
        args = ["console-users", "add", name, "--role", role, "--file", str(users)]
        made = CliRunner().invoke(app, [*args, "--password-stdin"], input=PASSWORDS[name] + "\n")
        assert made.exit_code == 0, made.output
    return root, users


@pytest.fixture
def console(world: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[str, Path, Console]]:
    root, users = world
    results = tmp_path / "results"
    shutil.copytree(root / "out", results)
    view = Console(
        Results.open(results, root / "store.duckdb"), "unused-token", tmp_path / "verdicts.json",
        salt=SALT, users=Users(users),
    )  # fmt: skip
    with serving(view.app()) as url:
        yield url, results, view


@contextmanager
def _client(url: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url) as client:
        reply = log_in(client, {"name": name, "password": PASSWORDS[name]})
        assert reply.status_code == 303, reply.text
        yield client


def test_the_users_file_holds_roles_and_slow_hashes_never_a_password(
    world: tuple[Path, Path],
) -> None:
    _, users = world
    text = users.read_text()
    assert not any(p in text for p in PASSWORDS.values())
    stored = json.loads(text)["users"]
    assert {n: u["role"] for n, u in stored.items()} == ROLES
    assert all(u["hash"].startswith("scrypt$32768$8$1$") for u in stored.values())
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    listed = CliRunner().invoke(app, ["console-users", "list", "--file", str(users)])
    assert listed.output.split() == ["ada", "admin", "ana", "analyst", "vic", "viewer"]
    short = CliRunner().invoke(
        app,
        ["console-users", "add", "bob", "--role", "analyst", "--file", str(users),
         "--password-stdin"],
        input="short\n",
    )  # fmt: skip
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    odd = CliRunner().invoke(
        app,
        ["console-users", "add", "bob", "--role", "root", "--file", str(users),
         "--password-stdin"],
        input="long-enough-password\n",
    )  # fmt: skip
    assert odd.exit_code == 1
    assert "role must be one of viewer, analyst, admin" in odd.output


def test_each_role_may_do_what_it_should_and_no_more(
    console: tuple[str, Path, Console],
) -> None:
    url, results, _ = console
    campaign = json.loads((results / "campaigns.json").read_text())[0]
    account = campaign["accounts"][0]
    with _client(url, "vic") as vic:
        page = vic.get(f"/account/{account}").text
        assert "vic (viewer)" in page
        assert 'action="/verdict"' not in page
        assert 'action="/label"' not in page
        assert "Your role (viewer) reads only" in page
        csrf = form_token(page)  # the logout form's: a forged request with a valid token
        refused = vic.post("/label", data={"csrf": csrf, "target": "account", "id": account,
                                           "label": "dismissed"})  # fmt: skip
        assert refused.status_code == 403
        assert refused.text == "the viewer role cannot label: it needs analyst"
        refused = vic.post("/verdict", data={"csrf": csrf, "id": account, "verdict": "clear"})
        assert refused.status_code == 403
    assert not (results / "labels.jsonl").exists()
    with _client(url, "ana") as ana:
        page = ana.get(f"/campaign/{campaign['campaign_id']}").text
        csrf = form_token(page)
        assert "exports to partners need an admin" in page
        done = ana.post("/label", data={"csrf": csrf, "target": "account", "id": account,
                                        "label": "confirmed"})  # fmt: skip
        assert done.status_code == 303
        done = ana.post("/verdict", data={"csrf": csrf, "id": account, "verdict": "block"})
        assert done.status_code == 303
        refused = ana.post("/export", data={"csrf": csrf, "id": campaign["campaign_id"]})
        assert refused.status_code == 403
        assert "needs admin" in refused.text
    labels = [json.loads(x) for x in (results / "labels.jsonl").read_text().splitlines()]
    assert [(x["who"], x["label"]) for x in labels] == [("ana", "confirmed")]
    risk = float(Results.open(results).accounts[account]["risk"])
    assert labels[0]["evidence"] == {account: risk}  # for the next scan to compare with
    assert json.loads((results.parent / "verdicts.json").read_text())["account"][account] == "block"
    with _client(url, "ada") as ada:
        csrf = form_token(ada.get("/").text)
        sent = ada.post("/export", data={"csrf": csrf, "id": campaign["campaign_id"]})
        assert sent.status_code == 200
        assert json.loads(sent.text)["type"] == "bundle"
    exports = [json.loads(x) for x in (results / "exports.jsonl").read_text().splitlines()]
    assert [x["who"] for x in exports] == ["ada"]


def test_guessing_is_braked_even_for_the_right_password_and_unknown_names_look_the_same(
    console: tuple[str, Path, Console],
) -> None:
    url, _, _ = console
    with httpx.Client(base_url=url) as client:
        wrong = log_in(client, {"name": "ana", "password": "guess"})
        nobody = log_in(client, {"name": "mallory", "password": "guess"})
        assert wrong.status_code == nobody.status_code == 401
        assert "wrong name or password" in wrong.text
        assert "wrong name or password" in nobody.text
        for _ in range(3):  # five failures from this address in all
            assert log_in(client, {"name": "ana", "password": "x"}).status_code == 401
        braked = log_in(client, {"name": "ana", "password": PASSWORDS["ana"]})
        assert braked.status_code == 429
        assert 0 < int(braked.headers["retry-after"]) <= 900
        assert "too many failed logins" in braked.text
        assert client.get("/").status_code == 303  # not logged in


def test_parallel_guesses_are_braked_like_serial_ones(console: tuple[str, Path, Console]) -> None:
    """Each attempt is counted before its password is hashed: twelve guesses sent at once still
    get at most five answers of 401, the rest 429."""
    url, _, _ = console

    async def guess_all() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            token = form_token((await client.get("/login")).text)
            sent = [
                client.post("/login", data={"name": "vic", "password": f"g{i}", "csrf": token})
                for i in range(12)
            ]
            return [r.status_code for r in await asyncio.gather(*sent)]

    codes = asyncio.run(guess_all())
    assert codes.count(401) <= 5, codes
    assert codes.count(429) >= 7, codes
    assert set(codes) <= {401, 429}


def test_sessions_end_when_idle_removed_or_given_a_new_password_and_follow_a_new_role(
    console: tuple[str, Path, Console], world: tuple[Path, Path]
) -> None:
    url, _, view = console
    _, users = world
    view.idle_s = 1.0
    with _client(url, "vic") as vic:
        assert vic.get("/").status_code == 200
        time.sleep(1.3)
        assert vic.get("/").status_code == 303  # idle: log in again
    view.idle_s = 1800.0
    spare = users.with_name("spare.json")
    shutil.copy(users, spare)
    try:
        with _client(url, "ana") as ana:
            assert ana.get("/").status_code == 200
            demote = ["console-users", "role", "ana", "--role", "viewer", "--file", str(users)]
            assert CliRunner().invoke(app, demote).exit_code == 0
            page = ana.get("/").text
            assert "ana (viewer)" in page  # the new role at the next request, still logged in
            removed = CliRunner().invoke(
                app, ["console-users", "remove", "ana", "--file", str(users)]
            )
            assert removed.exit_code == 0
            assert ana.get("/").status_code == 303  # gone: logged out
        shutil.copy(spare, users)
        with _client(url, "ana") as ana:
            assert ana.get("/").status_code == 200
            reset = ["console-users", "add", "ana", "--role", "analyst", "--file", str(users)]
            made = CliRunner().invoke(app, [*reset, "--password-stdin"], input="a-new-passphrase\n")
            assert made.exit_code == 0
            assert ana.get("/").status_code == 303  # a new password: the old session ends
            csrf = {"csrf": "\u00e9t\u00e9", "verdict": "block", "why": "x", "account": ""}
            assert ana.post("/verdicts", data=csrf).status_code == 403  # not a 500
    finally:
        shutil.copy(spare, users)  # other tests log ana in


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_a_viewer_in_the_browser_sees_no_decision_forms(
    console: tuple[str, Path, Console],
) -> None:
    from playwright.sync_api import sync_playwright

    url, results, _ = console
    account = json.loads((results / "campaigns.json").read_text())[0]["accounts"][0]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = chromium.new_page()
        page.goto(f"{url}/account/{account}")
        page.fill("input[name=name]", "vic")
        page.fill("input[name=password]", PASSWORDS["vic"])
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == f"Account {account}"
        assert page.locator("form.verdict-form").count() == 0
        assert page.locator("form.label-form").count() == 0
        assert "reads only" in page.locator("p.note").inner_text()
        chromium.close()


def _status(url: str, account: str) -> int:
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"x-account": account}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers).status_code


def _within(seconds: float, url: str, accounts: list[str], status: int) -> float:
    """How long until the gateway answers every one of ``accounts`` with ``status``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if all(_status(url, a) == status for a in accounts):
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"not {status} for {accounts[:3]}... within {seconds} s")


def test_a_campaign_verdict_and_its_undo_reach_the_gateway_within_a_second(
    console: tuple[str, Path, Console], tmp_path: Path
) -> None:
    url, results, view = console
    campaign = max(
        json.loads((results / "campaigns.json").read_text()), key=lambda c: len(c["accounts"])
    )
    cfg = load_gateway_config()
    cfg.identity.header = "x-account"
    cfg.manual_verdicts = str(view.book.manual_path)  # the file the console writes
    with serving(mock_app()) as model:
        gateway = Gateway(model, cfg, None, None, tmp_path / "gateway-log")
        with serving(gateway.app()) as gw, _client(url, "ana") as ana:
            members = campaign["accounts"]
            assert _status(gw, members[0]) == 200
            csrf = form_token(ana.get(f"/campaign/{campaign['campaign_id']}").text)
            form = {"csrf": csrf, "campaign": campaign["campaign_id"], "verdict": "block"}
            assert ana.post("/verdicts", data=form).status_code == 400  # no reason given
            done = ana.post("/verdicts", data={**form, "why": "one farm: shared cards"})
            assert done.status_code == 303
            assert _within(2.0, gw, members[-1:], 403) <= 1.2  # read once a second
            assert {_status(gw, a) for a in members} == {403}
            [action] = view.actions.history()
            assert action["who"] == "ana"
            assert action["why"] == "one farm: shared cards"
            assert sorted(action["accounts"]) == sorted(members)
            assert action["previous"] == dict.fromkeys(members)  # none had a manual verdict
            page = ana.get("/actions").text
            assert f'id="{action["id"]}"' in page
            assert f"{len(members)}: " in page
            undo = ana.post("/undo", data={"csrf": csrf, "id": action["id"], "why": "wrong"})
            assert undo.status_code == 303
            assert _within(2.0, gw, members[-1:], 200) <= 1.2
            assert {_status(gw, a) for a in members} == {200}
            again = ana.post("/undo", data={"csrf": csrf, "id": action["id"]})
            assert again.status_code == 409
            assert "undone already" in again.text
            assert "undone</span>" in ana.get("/actions").text
        with _client(url, "vic") as vic:
            csrf = form_token(vic.get("/").text)
            refused = vic.post("/verdicts", data={**form, "csrf": csrf, "why": "x"})
            assert refused.status_code == 403


def test_a_selection_is_one_action_and_its_undo_spares_what_was_changed_since(
    console: tuple[str, Path, Console],
) -> None:
    url, results, view = console
    members = json.loads((results / "campaigns.json").read_text())[0]["accounts"]
    one, two = members[0], members[1]
    with _client(url, "ana") as ana:
        csrf = form_token(ana.get("/").text)
        nothing = {"csrf": csrf, "verdict": "block", "why": "none ticked", "account": ""}
        assert ana.post("/verdicts", data=nothing).status_code == 400
        form = {"csrf": csrf, "verdict": "block", "why": "these two", "account": [one, two]}
        assert ana.post("/verdicts", data=form).status_code == 303
        later = {"csrf": csrf, "id": one, "verdict": "challenge", "why": "lighter for this one"}
        assert ana.post("/verdict", data=later).status_code == 303
        first, second = view.actions.history()
        assert (first["accounts"], second["accounts"]) == ([one, two], [one])
        assert second["previous"] == {one: "block"}
        assert ana.post("/undo", data={"csrf": csrf, "id": first["id"]}).status_code == 303
    manual = json.loads(view.book.manual_path.read_text())["account"]
    assert manual == {one: "challenge"}  # two back to none; one kept what came after
    assert view.actions.history()[-1]["accounts"] == [two]


def test_an_undo_spares_a_verdict_set_through_the_gateway_and_is_not_undone_itself(
    tmp_path: Path,
) -> None:
    """The gateway's admin API writes the same verdicts file as the console: an undo puts back
    only the accounts still at the verdict its action set, and an undo cannot be undone."""
    from distillguard.console.actions import Actions
    from distillguard.gateway.verdicts import VerdictBook

    path = tmp_path / "verdicts.json"
    console_book, gateway_book = VerdictBook(None, path), VerdictBook(None, path)
    actions = Actions(tmp_path / "actions.jsonl")
    first = actions.apply(console_book, "ana", "block", ["a1", "a2"], "both")
    gateway_book.set_manual("account", "a1", "challenge")  # PUT /admin/verdicts/account/a1
    undo = actions.undo(console_book, "ana", first["id"], "wrong")
    assert undo["accounts"] == ["a2"]
    assert undo["previous"] == {"a2": "block"}
    assert json.loads(path.read_text())["account"] == {"a1": "challenge"}
    with pytest.raises(ValueError, match="is an undo"):
        actions.undo(console_book, "ada", undo["id"], "back again")
    second = actions.apply(console_book, "ana", "watch", ["a3"], "one")
    gateway_book.set_manual("account", "a3", None)
    with pytest.raises(ValueError, match="changed since"):
        actions.undo(console_book, "ana", second["id"], "nothing left to undo")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_a_bulk_verdict_and_its_undo_in_the_browser(console: tuple[str, Path, Console]) -> None:
    from playwright.sync_api import sync_playwright

    url, results, view = console
    campaign = json.loads((results / "campaigns.json").read_text())[0]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = chromium.new_page()
        page.goto(f"{url}/campaign/{campaign['campaign_id']}")
        page.fill("input[name=name]", "ana")
        page.fill("input[name=password]", PASSWORDS["ana"])
        page.click("button[type=submit]")
        page.select_option("form.bulk-form select[name=verdict]", "challenge")
        page.fill("form.bulk-form input[name=why]", "verify them all")
        page.click("form.bulk-form button[type=submit]")
        assert page.locator("h1").inner_text() == "Actions"
        row = page.locator("table.actions tbody tr").first
        assert "challenge" in row.inner_text()
        assert "verify them all" in row.inner_text()
        manual = json.loads(view.book.manual_path.read_text())["account"]
        assert manual == dict.fromkeys(campaign["accounts"], "challenge")
        row.locator("form.undo-form button").click()
        assert "undone" in page.locator("table.actions tbody tr").nth(1).inner_text()
        assert json.loads(view.book.manual_path.read_text())["account"] == {}
        chromium.close()


def _previous_scan(results: Path, into: Path) -> tuple[dict[str, object], dict[str, object]]:
    """A made-up scan before ``results``: its biggest campaign a third of its size under
    another id, and another campaign as it is now; the rest did not exist yet."""
    into.mkdir()
    shutil.copy(results / "accounts.csv", into / "accounts.csv")
    campaigns = sorted(
        json.loads((results / "campaigns.json").read_text()), key=lambda c: -len(c["accounts"])
    )
    grown, same = campaigns[0], campaigns[1]
    earlier = {**grown, "campaign_id": "K0099", "accounts": grown["accounts"][:3], "requests": 9}
    (into / "campaigns.json").write_text(json.dumps([earlier, {**same, "campaign_id": "K0098"}]))
    return grown, same


def test_the_queue_puts_what_changed_first_and_keeps_who_took_what(
    console: tuple[str, Path, Console], tmp_path: Path
) -> None:
    url, results, view = console
    grown, same = _previous_scan(results, tmp_path / "before")
    view.previous = Results.open(tmp_path / "before")
    with _client(url, "ana") as ana:
        page = ana.get("/queue").text
        rows = page.split("<tbody>")[1].split("</tr>")[:-1]
        ids = [m.group(1) for r in rows if (m := re.search(r'<a href="/\w+/[^"]*">([^<]+)</a>', r))]
        assert ids[-1] == same["campaign_id"]  # unchanged: after everything that changed
        grown_row = rows[ids.index(grown["campaign_id"])]
        assert f"was K0099: 3 → {len(grown['accounts'])} accounts" in grown_row
        assert all(
            "new since the last scan" in rows[ids.index(c)] for c in ids if c not in
            (grown["campaign_id"], same["campaign_id"])
        )  # fmt: skip
        csrf = form_token(page)
        take = {"csrf": csrf, "target": "campaign", "id": ids[0], "assignee": "me"}
        assert ana.post("/queue/assign", data=take).status_code == 303
        page = ana.get("/queue").text
        assert "1 in review (1 yours)" in page
        first = page.split("<tbody>")[1].split("</tr>")[0]
        assert "in review" in first
        assert "ana" in first
        label = {"csrf": csrf, "target": "campaign", "id": ids[0], "label": "confirmed"}
        assert ana.post("/label", data=label).status_code == 303
        rows = ana.get("/queue").text.split("<tbody>")[1].split("</tr>")[:-1]
        assert ids[0] in rows[-1]  # decided: last
        assert "decided" in rows[-1]
        assign = {"csrf": csrf, "target": "campaign", "id": ids[1], "assignee": "nobody-here"}
        assert ana.post("/queue/assign", data=assign).status_code == 400
    taken = [json.loads(x) for x in (results / "queue.jsonl").read_text().splitlines()]
    assert [(t["who"], t["id"], t["assignee"]) for t in taken] == [("ana", ids[0], "ana")]
    with _client(url, "vic") as vic:
        csrf = form_token(vic.get("/queue").text)
        refused = vic.post("/queue/assign", data={**take, "csrf": csrf})
        assert refused.status_code == 403


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_from_the_queue_to_a_decision_in_the_browser(
    console: tuple[str, Path, Console], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, results, view = console
    _previous_scan(results, tmp_path / "before")
    view.previous = Results.open(tmp_path / "before")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = chromium.new_page()
        page.goto(f"{url}/queue")
        page.fill("input[name=name]", "ana")
        page.fill("input[name=password]", PASSWORDS["ana"])
        page.click("button[type=submit]")
        first = page.locator("table.queue tbody tr").first
        item = first.locator("a").first.inner_text()
        first.locator("form.assign-form select").select_option("me")
        first.locator("form.assign-form button").click()
        assert "in review" in page.locator("table.queue tbody tr").first.inner_text()
        page.click(f"table.queue a:text-is('{item}')")
        page.select_option("form.bulk-form select[name=verdict]", "block")
        page.fill("form.bulk-form input[name=why]", "farm, from the queue")
        page.click("form.bulk-form button[type=submit]")
        page.goto(f"{url}/queue")
        last = page.locator("table.queue tbody tr").last
        assert item in last.inner_text()
        assert "decided" in last.inner_text()
        chromium.close()
    campaign = next(c for c in json.loads((results / "campaigns.json").read_text())
                    if c["campaign_id"] == item)  # fmt: skip
    manual = json.loads(view.book.manual_path.read_text())["account"]
    assert manual == dict.fromkeys(campaign["accounts"], "block")  # what the gateway enforces
