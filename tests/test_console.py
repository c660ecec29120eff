"""The analyst console in a real browser: Debian's chromium driven by playwright, against a
console on 127.0.0.1 over a simulated, ingested and scanned store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.console import plots
from distillguard.console.app import Console
from distillguard.console.data import Results
from distillguard.gateway.local import free_port, serving
from distillguard.gateway.verdicts import VerdictBook
from tests.login import log_in
from tests.scanned import HOSTILE, PROMPT_MARKUP, build

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "console-test-token"
SALT = b"a-partnership-secret-of-some-length"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = build(tmp_path_factory.mktemp("console"))
    results = root / "results"
    shutil.copytree(root / "out", results)
    app = Console(
        Results.open(results, root / "store.duckdb"), TOKEN, results / "verdicts.json",
        salt=SALT, producer="Lab A",
    )  # fmt: skip
    with serving(app.app()) as url:
        yield url, results


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (.ci/run installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def _log_in(page: object, url: str, path: str = "/") -> None:
    page.goto(url + path)  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("input[name=name]", "ana")  # type: ignore[attr-defined]
    page.fill("input[name=token]", TOKEN)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_from_a_campaign_to_the_evidence_and_a_label(
    console: tuple[str, Path], browser: object
) -> None:
    url, results = console
    page = browser.new_page()  # type: ignore[attr-defined]
    _log_in(page, url)
    assert page.locator("h1").inner_text() == "Overview"
    campaigns = json.loads((results / "campaigns.json").read_text())
    top = max(campaigns, key=lambda c: (c["confidence"], c["requests"]))
    page.click(f"a[href='/campaign/{top['campaign_id']}']")  # click 1: the campaign
    assert page.locator("h1").inner_text().startswith(f"Campaign {top['campaign_id']}")
    assert page.locator("figure.plot svg").count() == 2  # by capability, by model
    assert page.locator("article.evidence").count() == len(top["evidence"])
    first = page.locator("table a[href^='/account/']").first
    account = first.inner_text()
    first.click()  # click 2: an account in it
    assert page.locator("h1").inner_text() == f"Account {account}"
    assert page.locator("ul.reasons li").count() >= 1  # why it was flagged, in words
    assert page.locator("article.evidence").count() >= 1  # its requests, with signals
    page.fill("form.label-form input[name=note]", "same templates as the farm")
    page.click("form.label-form button[value=confirmed]")  # click 3: the decision
    assert "confirmed by ana" in page.locator("form.label-form .label").inner_text()
    stored = [json.loads(line) for line in (results / "labels.jsonl").read_text().splitlines()]
    assert stored[-1]["who"] == "ana"
    assert stored[-1]["target"] == "account"
    assert stored[-1]["id"] == account
    assert stored[-1]["label"] == "confirmed"
    assert stored[-1]["note"] == "same templates as the farm"
    page.click("form.verdict-form button[value=block]")  # a verdict for the gateway
    manual = json.loads((results / "verdicts.json").read_text())
    assert manual["account"][account] == "block"
    page.close()


def test_markup_from_the_logs_is_shown_as_text(console: tuple[str, Path], browser: object) -> None:
    url, _ = console
    page = browser.new_page()  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _log_in(page, url, "/account/" + quote(HOSTILE, safe=""))
    assert page.locator("h1").inner_text() == f"Account {HOSTILE}"
    assert PROMPT_MARKUP in page.locator("pre.prompt").first.inner_text()
    assert page.locator("main script, main img").count() == 0  # no element made from a log
    assert page.title() != "owned"
    assert dialogs == []
    page.close()


def test_login_and_forms_are_guarded(console: tuple[str, Path]) -> None:
    url, results = console
    with httpx.Client(base_url=url) as anon:
        assert anon.get("/").status_code == 303  # to the login page
        wrong = log_in(anon, {"name": "eve", "token": "guess"})
        assert wrong.status_code == 401
    with httpx.Client(base_url=url) as forged_login:  # another site's form: no token to send
        refused = forged_login.post("/login", data={"name": "ana", "token": TOKEN})
        assert refused.status_code == 403
        assert "came from another page" in refused.text
        assert forged_login.get("/").status_code == 303  # not logged in
        forged_login.get("/login")
        stale = forged_login.post("/login", data={"name": "ana", "token": TOKEN, "csrf": "x"})
        assert stale.status_code == 403
    with httpx.Client(base_url=url) as anon:
        forged = anon.post(
            "/label", data={"target": "account", "id": "a", "label": "dismissed", "csrf": "x"}
        )
        assert forged.status_code == 403
        page = anon.get("/login")
        assert "script-src" not in page.headers["content-security-policy"]  # no script at all
        assert "default-src 'none'" in page.headers["content-security-policy"]
        odd = anon.get("/account/x%2541")  # the account "x%41", not "xA", after logging in
        assert odd.headers["location"] == "/login?next=/account/x%252541"
    with httpx.Client(base_url=url) as ana:
        log_in(ana, {"name": "ana", "token": TOKEN})
        no_token = ana.post("/label", data={"target": "account", "id": "a", "label": "dismissed"})
        assert no_token.status_code == 403  # logged in, but the form carries no CSRF token
        page = ana.get("/campaign/none-such")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        odd_target = {"target": "../x", "id": "a", "label": "dismissed", "csrf": csrf}
        assert ana.post("/label", data=odd_target).status_code == 400
    assert all("dismissed" not in line for line in _lines(results / "labels.jsonl"))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_verdict_set_through_the_gateway_shows_on_the_account_page(
    console: tuple[str, Path],
) -> None:
    url, results = console
    VerdictBook(results, results / "verdicts.json").set_manual("account", "acct_x", "challenge")
    with httpx.Client(base_url=url, follow_redirects=True) as ana:
        log_in(ana, {"name": "ana", "token": TOKEN})
        page = ana.get("/account/acct_x")
    assert "manual verdict <b>challenge</b>" in page.text


def test_labels_from_logs_cannot_break_a_picture() -> None:
    hours = [datetime(2026, 3, 2, h, tzinfo=UTC) for h in range(3)]
    rows = [(h, name, 5) for h in hours for name in ("gpt$\\frac{$", "_hidden", "<b>x</b>")]
    svg = plots.timeline(rows, "requests per hour, by model")
    assert svg.startswith("<svg")
    assert "<b>" not in svg  # text is drawn as paths, never as markup


def test_a_campaign_exports_as_stix_from_its_page_and_the_export_is_logged(
    console: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    import stix2

    url, results = console
    campaigns = json.loads((results / "campaigns.json").read_text())
    top = max(campaigns, key=lambda c: (c["confidence"], c["requests"]))
    page = browser.new_page(accept_downloads=True)  # type: ignore[attr-defined]
    _log_in(page, url, f"/campaign/{top['campaign_id']}")
    page.select_option("form.export-form select[name=tlp]", "green")
    with page.expect_download() as info:
        page.click("form.export-form button[type=submit]")
    saved = tmp_path / "export.json"
    info.value.save_as(saved)
    assert info.value.suggested_filename == f"{top['campaign_id']}-green.stix.json"
    bundle = stix2.parse(saved.read_text(), allow_custom=True)
    (campaign,) = [o for o in bundle.objects if o["type"] == "campaign"]
    assert campaign.name == f"distillation campaign {top['campaign_id']}"
    assert stix2.TLP_GREEN.id in campaign.object_marking_refs
    assert not any(a in saved.read_text() for a in top["accounts"])  # ids only as digests
    logged = json.loads((results / "exports.jsonl").read_text().splitlines()[-1])
    who = (logged["who"], logged["campaign"], logged["tlp"])
    assert who == ("ana", top["campaign_id"], "green")


def test_without_a_salt_the_console_refuses_to_export(console: tuple[str, Path]) -> None:
    _, results = console
    bare = Console(Results.open(results), TOKEN, results / "verdicts.json")
    with serving(bare.app()) as url, httpx.Client(base_url=url) as client:
        log_in(client, {"name": "ana", "token": TOKEN})
        campaign = json.loads((results / "campaigns.json").read_text())[0]["campaign_id"]
        page = client.get(f"/campaign/{campaign}").text
        assert "start the console with --salt-file" in page
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        refused = client.post("/export", data={"csrf": csrf, "id": campaign, "tlp": "amber"})
        assert refused.status_code == 409
        assert "--salt-file" in refused.text
        forged = client.post("/export", data={"id": campaign, "tlp": "amber"})
        assert forged.status_code == 403


def test_alerts_of_the_latest_scan_show_on_the_overview_with_their_links(
    console: tuple[str, Path], tmp_path: Path
) -> None:
    _, results = console
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    unreachable = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens: not delivered
    ran = CliRunner().invoke(app, ["alert", "--results", str(copy), "--webhook", unreachable])
    assert ran.exit_code == 4
    campaigns = [c["campaign_id"] for c in json.loads((copy / "campaigns.json").read_text())]
    view = Console(Results.open(copy), TOKEN, copy / "verdicts.json")
    with serving(view.app()) as url, httpx.Client(base_url=url) as client:
        log_in(client, {"name": "ana", "token": TOKEN})
        page = client.get("/").text
    assert "Alerts since the previous scan" in page
    for campaign in campaigns:  # a first scan: every campaign is new
        assert f'<b>new</b> <a href="/campaign/{campaign}">{campaign}</a>' in page
    assert page.count("not delivered to http://127.0.0.1/…") == len(campaigns)


def _payment_and_ip(results: Path) -> tuple[str, str, Path]:
    manifest = json.loads((results / "manifest.json").read_text())
    store = Path(manifest["store"])
    with duckdb.connect(str(store), read_only=True) as con:
        payment = con.execute(
            "SELECT payment_fingerprint FROM accounts JOIN events USING (account_id) "
            "WHERE payment_fingerprint IS NOT NULL GROUP BY 1 "
            "HAVING count(DISTINCT account_id) > 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        ip = con.execute(
            "SELECT ip FROM events GROUP BY ip HAVING count(DISTINCT account_id) > 1 "
            "ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    return payment, ip, store


def test_a_search_by_address_and_by_payment_counts_what_the_store_holds(
    console: tuple[str, Path],
) -> None:
    url, results = console
    payment, ip, store = _payment_and_ip(results)
    with duckdb.connect(str(store), read_only=True) as con:
        by_payment = dict(
            con.execute(
                "SELECT account_id, count(*) FROM events WHERE account_id IN "
                "(SELECT account_id FROM accounts WHERE payment_fingerprint = ?) GROUP BY 1",
                [payment],
            ).fetchall()
        )
        by_ip = con.execute(
            "SELECT count(*), count(DISTINCT account_id) FROM events WHERE ip = ?", [ip]
        ).fetchone()
        first = con.execute("SELECT request_id FROM events WHERE ip = ? ORDER BY ts DESC", [ip])
        latest = first.fetchone()[0]
    with httpx.Client(base_url=url) as client:
        log_in(client, {"name": "ana", "token": TOKEN})
        page = client.get("/search", params={"payment": payment}).text
        found = f"<b>{sum(by_payment.values()):,}</b> requests from <b>{len(by_payment):,}</b>"
        assert found in page
        for account in by_payment:
            assert f'<a href="/account/{quote(account, safe="")}">{account}</a>' in page
        page = client.get("/search", params={"ip": ip}).text
        assert f"<b>{by_ip[0]:,}</b> requests from <b>{by_ip[1]:,}</b>" in page
        assert f'href="/request/{latest}"' in page  # the evidence opens from the hit
        shown = client.get(f"/request/{latest}").text
        assert f'<a href="/search?ip={ip}">{ip}</a>' in shown  # and searches on from there
        assert '<pre class="prompt">' in shown
        bad = client.get("/search", params={"asn": "not-a-number"}).text
        assert "ASN: &#39;not-a-number&#39; is not a valid int" in bad
        both = client.get("/search", params={"ip": ip, "payment": "no-such-card"}).text
        assert "No request matches." in both


def test_search_in_the_browser_leads_from_a_payment_to_an_account(
    console: tuple[str, Path], browser: object
) -> None:
    url, results = console
    payment, _, _ = _payment_and_ip(results)
    page = browser.new_page()  # type: ignore[attr-defined]
    _log_in(page, url, "/search")
    page.fill("form.search-form input[name=payment]", payment)
    page.click("form.search-form button[type=submit]")
    assert "requests from" in page.locator("p.found").inner_text()
    hit = page.locator("table.hits a[href^='/account/']").first
    account = hit.inner_text()
    hit.click()
    assert page.locator("h1").inner_text() == f"Account {account}"
    page.close()
