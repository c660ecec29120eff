"""Own evidence of the group's kind, on a real store through the real ingest and scan.

Events only (no account records). A farm appears together on a few shared addresses and runs
round the clock: its case is its timing. A benchmark harness that happens to share one of its
addresses and to appear the same day repeats one template all day long, in office hours: its
own traffic looks automated, but not the way the farm's does, so it must not carry the farm's
risk. Before the member gate read the group's kind of harvest, it was challenged with them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from distillguard.store import Store
from tests.conftest import RunIngest, WriteLines, scan_store

T0 = datetime(2026, 5, 4, tzinfo=UTC)
POOL = ("203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13")
VERBS = ("read", "sort", "merge", "validate", "plot", "cache", "parse", "test", "deploy", "profile")
THINGS = (
    "a CSV file",
    "two lists",
    "a JSON config",
    "log lines",
    "a date column",
    "user input",
    "an HTTP response",
    "a queue",
    "a SQLite table",
    "image files",
    "a cron job",
    "a form",
)
TOOLS = ("pandas", "bash", "Go", "Rust", "SQL", "JavaScript", "Excel", "R", "awk", "Java")


def _ask(rng: random.Random) -> str:
    # Ordinary, varied questions: the farm's case is its timing, not its wording.
    return (
        f"{rng.choice(('How do I', 'What is the best way to', 'Can you show me how to'))} "
        f"{rng.choice(VERBS)} {rng.choice(THINGS)} in {rng.choice(TOOLS)} when it has "
        f"{rng.choice(THINGS)} and {rng.choice(('no header', 'missing values', 'unicode'))}?"
    )


HARNESS = "Question {n}: answer with the letter of the correct option only. A) yes B) no C) maybe"


def _event(n: int, account: str, ts: datetime, ip: str, text: str) -> dict[str, Any]:
    person = account.startswith("person")
    return {
        "ts": ts.isoformat(),
        "request_id": f"r{n}",
        "account_id": account,
        "endpoint": "/v1/chat/completions",
        "model": "atlas-2",
        "client": {
            "ip": ip,
            "user_agent": f"browser/{ip}" if person else "python-requests/2.32",
            "asn": 64000 + int(ip.split(".")[2]) if person else 64500,
        },
        "request": {"model": "atlas-2", "messages": [{"role": "user", "content": text}]},
        "status": 200,
    }


def _world() -> list[dict[str, Any]]:
    rng = random.Random(5)
    plan: list[tuple[str, datetime, str, str]] = []
    for k in range(30):  # people who were there before: they open the window
        for day in range(4):
            for _ in range(3):
                ts = T0 + timedelta(days=day, hours=9 + rng.random() * 9)
                plan.append((f"person-{k}", ts, f"198.{51 + k}.{k + 1}.9", _ask(rng)))
    for k in range(20):  # the farm: from day 2, every hour of the day, on four addresses
        for hour in range(24 * 2):
            ts = T0 + timedelta(days=2, hours=hour, minutes=rng.random() * 50)
            plan.append((f"farm-{k}", ts, rng.choice(POOL), _ask(rng)))
    for day in range(2, 4):  # the harness: office hours, one template, on a farm address
        for _ in range(30):
            ts = T0 + timedelta(days=day, hours=9 + rng.random() * 8)
            plan.append(("harness", ts, POOL[0], HARNESS))
    plan.sort(key=lambda p: p[1])
    return [
        _event(n, account, ts, ip, text.format(n=rng.randint(2, 9)))
        for n, (account, ts, ip, text) in enumerate(plan)
    ]


def test_a_harness_sharing_a_farms_address_is_judged_on_its_own_kind_of_harvest(
    store: Store, run_ingest: RunIngest, write_lines: WriteLines, tmp_path: Path
) -> None:
    run_ingest(write_lines("events.jsonl", _world()))
    rows = scan_store(store, tmp_path / "results")
    farm = [rows[f"farm-{k}"] for k in range(20)]
    assert sum(r["verdict"] in ("challenge", "block") for r in farm) >= 18, farm[0]
    assert "round-the-clock timing" in farm[0]["reasons"]
    harness = rows["harness"]
    assert harness["cluster_id"] == farm[0]["cluster_id"]  # swept into the farm's group
    assert harness["verdict"] in ("clear", "watch"), harness["reasons"]
    assert float(harness["risk"]) < 0.6
    assert all(rows[f"person-{k}"]["verdict"] == "clear" for k in range(30))
