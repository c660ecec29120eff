"""Curriculum links on a real store: accounts that walk the same subjects on the same days.

Events go through the real ingest (topics by meaning) and the real scan. A farm shares no
address, network or client; what links it is its subject sequence. A class on the same
syllabus is linked the same way and must stay clear on its own traffic; users of one agent,
who ask about the same subject every day, and a user who shared one day's subject with the
farm are not linked at all.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distillguard.coordination.links import build_links
from distillguard.store import Store
from tests.conftest import RunIngest, WriteLines, scan_store

T0 = datetime(2026, 5, 4, tzinfo=UTC)
Gen = Callable[[random.Random], str]
SUBJECTS: dict[str, list[Gen]] = {
    "dice": [
        lambda r: f"Two fair dice are rolled. What is P(sum = {r.randint(3, 11)})?",
        lambda r: f"I roll a die {r.randint(3, 8)} times. What is the chance of at least one six?",
    ],
    "sql": [
        lambda r: f"Write a SQL query for the top {r.randint(3, 20)} customers by order value.",
        lambda r: (
            f"In PostgreSQL, join orders and customers; count per {r.choice(['city', 'month'])}."
        ),
    ],
    "travel": [
        lambda r: f"A cyclist rides {r.randint(20, 90)} km at {r.randint(12, 30)} km/h. How long?",
        lambda r: (
            f"A train goes {r.randint(100, 500)} km at {r.randint(60, 140)} km/h. How many hours?"
        ),
    ],
    "python": [
        lambda r: (
            f"Implement {r.choice(['merge sort', 'quicksort', 'bisection'])} in Python, typed."
        ),
        lambda r: (
            f"My Python script raises KeyError: '{r.choice(['user', 'id', 'price'])}'. How to fix?"
        ),
    ],
    "letter": [
        lambda r: f"Draft a short email to my manager asking for {r.randint(2, 10)} days of leave.",
        lambda r: f"Write a polite resignation letter after {r.randint(3, 20)} years on my team.",
    ],
}
HARVEST = (
    "Here is a problem whose final answer is {a}. Reconstruct the complete chain of reasoning "
    "that leads to it, every step: {p}",
    "{p} Think it through step by step and show all of your intermediate reasoning first.",
    "Reply with your full internal reasoning for the following, not just the result. {p}",
)
HOMEWORK = ("I have homework due tomorrow and I'm stuck: {p} Any hint?", "{p}", "Quick one: {p}")
SYLLABUS = ("dice", "sql", "travel")


def _ask(rng: random.Random, subject: str, wrappers: tuple[str, ...]) -> str:
    problem = rng.choice(SUBJECTS[subject])(rng)
    return rng.choice(wrappers).format(p=problem, a=rng.randint(2, 99))


def _world() -> list[dict[str, Any]]:
    rng = random.Random(7)
    plan: list[tuple[str, int, str, tuple[str, ...]]] = []  # account, day, subject, wrappers
    for day, subject in enumerate(SYLLABUS):
        for k in range(12):
            plan += [(f"farm-{k}", day, subject, HARVEST)] * 10
            plan += [(f"farm-{k}", day, "letter", HOMEWORK)] * 2  # camouflage
            plan += [(f"student-{k}", day, subject, HOMEWORK)] * 6
        for k in range(15):
            plan += [(f"agent-{k}", day, "python", HOMEWORK)] * 6
        plan += [("bystander", day, "dice" if day == 0 else "python", HOMEWORK)] * 5
    events = []
    for n, (account, day, subject, wrappers) in enumerate(plan):
        ts = T0 + timedelta(days=day, hours=8 + rng.random() * 10)
        host = sum(map(ord, account)) % 250 + 1
        events.append(
            {
                "ts": ts.isoformat(),
                "request_id": f"r{n}",
                "account_id": account,
                "endpoint": "/v1/chat/completions",
                "model": "atlas-2",
                "client": {
                    "ip": f"10.{host}.{len(account)}.{n % 3 + 1}",  # each its own home
                    "user_agent": f"client/{host}",
                    "asn": 64000 + host,
                },
                "request": {
                    "model": "atlas-2",
                    "messages": [{"role": "user", "content": _ask(rng, subject, wrappers)}],
                },
                "status": 200,
            }
        )
    return events


@pytest.fixture
def walked(store: Store, run_ingest: RunIngest, write_lines: WriteLines) -> Store:
    run_ingest(write_lines("events.jsonl", _world()))
    return store


def _curriculum(store: Store) -> dict[str, set[str]]:
    con = store.con
    con.execute("CREATE OR REPLACE TEMP VIEW ev AS SELECT * FROM events")
    build_links(con)
    out: dict[str, set[str]] = {}
    for account, value in con.execute(
        "SELECT account_id, value FROM links WHERE kind = 'curriculum'"
    ).fetchall():
        out.setdefault(account, set()).add(value)
    return out


def test_accounts_walking_one_subject_sequence_are_linked_on_each_day(walked: Store) -> None:
    links = _curriculum(walked)
    for k in range(12):
        days = {v.split(":")[0] for v in links.get(f"farm-{k}", set())}
        assert len(days) >= 2, (k, links.get(f"farm-{k}"))
    held: dict[str, int] = {}
    for k in range(12):
        for value in links[f"farm-{k}"]:
            held[value] = held.get(value, 0) + 1
    # The same (day, subject) values, held by most of the farm on at least two days.
    assert len({v.split(":")[0] for v, n in held.items() if n >= 9}) >= 2, held
    # Named for an analyst: the day, the topic id and the topic's characteristic words.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d:\d+ \(\w[^()]*\)", v) for v in held), held


def test_a_subject_asked_every_day_or_on_one_day_only_links_nobody(walked: Store) -> None:
    links = _curriculum(walked)
    assert not [a for a in links if a.startswith("agent-")]  # steady: no burst
    assert "bystander" not in links, links.get("bystander")  # one coincident day: no sequence


def test_the_farm_is_one_cluster_and_acted_on_while_the_class_on_its_syllabus_stays_clear(
    walked: Store, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    rows = scan_store(walked, out)
    farm = [rows[f"farm-{k}"] for k in range(12)]
    assert len({r["cluster_id"] for r in farm}) == 1
    assert farm[0]["cluster_id"]
    assert sum(r["verdict"] in ("challenge", "block") for r in farm) >= 10
    assert "walking one curriculum" in farm[0]["reasons"]
    assert "own traffic: " in farm[0]["reasons"]
    students = [rows[f"student-{k}"]["verdict"] for k in range(12)]
    assert students == ["clear"] * 12, [rows[f"student-{k}"]["reasons"] for k in range(3)]
    assert all(rows[f"agent-{k}"]["verdict"] == "clear" for k in range(15))
    assert rows["bystander"]["verdict"] == "clear", rows["bystander"]["reasons"]
    campaigns = json.loads((out / "campaigns.json").read_text())
    walked_days = [
        i["value"]
        for c in campaigns
        for i in c["indicators"].get("curriculum", [])
        if i["campaign_accounts"] >= 9
    ]
    assert len({v.split(":")[0] for v in walked_days}) >= 2, walked_days
