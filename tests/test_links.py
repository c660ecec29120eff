"""Coordination links on a real store: which shared indicators link accounts, and how strongly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from distillguard.coordination.links import LINK_WEIGHTS, build_links
from distillguard.store import Store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _event(n: int, account: str, minute: int, template: int, asn: int, tls: str) -> str:
    ts = (T0 + timedelta(minutes=minute, seconds=n % 50)).isoformat()
    return (
        f"('r{n}', '{ts}'::TIMESTAMPTZ, '{account}', '10.{n % 200}.0.1', '10.{n % 200}.0.0/24',"
        f" {asn}, '{tls}', {template})"
    )


def _links(
    tmp_path: Path, rows: list[str], created: dict[str, datetime] | None = None
) -> dict[tuple[str, str], list[tuple[str, float]]]:
    with Store.open(tmp_path / "s.duckdb") as store:
        con = store.con
        for account, at in (created or {}).items():
            con.execute(
                "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)", [account, at]
            )
        con.execute(
            "INSERT INTO events (request_id, ts, account_id, ip, ip_prefix, asn, tls_fingerprint,"
            " template_head, ip_version, source_file, source_line)"
            f" SELECT *, 4, 'f', 1 FROM (VALUES {', '.join(rows)})"
        )
        con.execute("CREATE TEMP VIEW ev AS SELECT * FROM events")
        build_links(con)
        out: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for account, kind, value, weight in con.execute(
            "SELECT account_id, kind, value, weight FROM links ORDER BY ALL"
        ).fetchall():
            out.setdefault((kind, value), []).append((account, weight))
        return out


def test_a_farm_sending_one_template_in_the_same_minutes_is_linked_by_sync(
    tmp_path: Path,
) -> None:
    rows, n = [], 0
    # A pipeline load-balanced over three accounts: the same template, minute after minute.
    for minute in range(6):
        for account in ("farm-a", "farm-b", "farm-c"):
            rows.append(_event(n, account, minute, 111, 64500, "tls-farm"))
            n += 1
    # A user of the same template hours later, never in the same minute as the farm.
    for minute in range(6):
        rows.append(_event(n, "later", 600 + 7 * minute, 111, 64501, "tls-common"))
        n += 1
    links = _links(tmp_path, rows)
    assert sorted(a for a, _ in links[("sync", "s111")]) == ["farm-a", "farm-b", "farm-c"]
    template = sorted(a for a, _ in links[("template", "h111")])
    assert template == ["farm-a", "farm-b", "farm-c", "later"]  # sharing alone still links
    assert sorted(a for a, _ in links[("asn", "64500")]) == ["farm-a", "farm-b", "farm-c"]
    assert sorted(a for a, _ in links[("tls", "tls-farm")]) == ["farm-a", "farm-b", "farm-c"]
    assert ("asn", "64501") not in links  # one account's own network links nothing


def test_one_coincident_minute_is_not_synchronised_activity(tmp_path: Path) -> None:
    rows = [_event(k, account, 0, 222, 64500, "t") for k, account in enumerate("xyz")]
    rows += [_event(10 + k, "x", 30 + k, 222, 64500, "t") for k in range(5)]
    assert not [key for key in _links(tmp_path, rows) if key[0] == "sync"]


def test_an_indicator_shared_by_many_weighs_less_than_one_shared_by_few(tmp_path: Path) -> None:
    rows, n = [], 0
    for k in range(40):  # a campus network: forty accounts behind one ASN and TLS stack
        rows.append(_event(n, f"student-{k}", k, 1000 + k, 64999, "tls-browser"))
        n += 1
    for k in range(3):  # three accounts on a small hosting network
        rows.append(_event(n, f"farm-{k}", 100 + k, 2000 + k, 65001, "tls-script"))
        n += 1
    links = _links(tmp_path, rows)
    campus = links[("asn", "64999")][0][1]
    farm = links[("asn", "65001")][0][1]
    assert farm > 2 * campus
    assert farm <= LINK_WEIGHTS["asn"]


def test_accounts_created_in_one_burst_share_a_sign_up_window(tmp_path: Path) -> None:
    burst = {f"new-{k}": T0 + timedelta(minutes=17 * k) for k in range(4)}
    created = {**burst, "old": T0 - timedelta(days=30)}
    rows = [_event(k, a, k, 3000 + k, 64000 + k, f"t{k}") for k, a in enumerate(created)]
    links = _links(tmp_path, rows, created)
    windows = [
        sorted(a for a, _ in members) for (kind, _), members in links.items() if kind == "created"
    ]
    assert sorted(burst) in windows  # one window holds the whole burst
    assert all("old" not in w for w in windows)
