"""A small scanned world for tests: the mini scenario (hard negatives and two campaigns) plus an
account whose id is markup, simulated, ingested and scanned once per module that asks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.ingest import IngestOptions, ingest
from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import load_scenario
from distillguard.store import Store

LATE = datetime(2026, 11, 1, tzinfo=UTC)
HOSTILE = "acct<script>alert(1)</script>"

# Three days with the hard negatives (a campus NAT running benchmarks, users of one open-source
# agent, a corporate org on one card, graders) and two campaigns with different tactics.
MINI = """
name: mini
start: 2026-03-02T00:00:00Z
days: 3
seed: 11
models:
  - {name: old-model, released: 2025-09-01T00:00:00Z}
  - {name: new-model, released: 2026-03-03T06:00:00Z}
populations:
  - {kind: hobbyist, accounts: 150, requests_per_day: 4}
  - {kind: campus, accounts: 80, groups: 1, requests_per_day: 6, active_share: 0.8}
  - {kind: oss_agent, accounts: 60, groups: 1, requests_per_day: 15, active_share: 0.8}
  - {kind: corporate, accounts: 30, groups: 2, requests_per_day: 8}
  - {kind: judge, accounts: 3, groups: 1, requests_per_day: 300}
  - {kind: early_adopter, accounts: 20, requests_per_day: 8}
campaigns:
  - name: reasoning
    accounts: 15
    start_day: 0.5
    requests_per_day: 600
    workload: {reasoning_reconstruction: 0.6, rubric_grading: 0.2, hidden_reasoning: 0.2}
    templates: 2
    payment_methods: 2
    proxy: {kind: datacenter, ips: 10, asns: 1, rotation: per_request}
    timing: flat
  - name: agentic
    accounts: 25
    start_day: 0.0
    requests_per_day: 1500
    workload: {agentic_harvest: 0.5, coding_harvest: 0.5}
    templates: 3
    paraphrase: 0.2
    payment_methods: 5
    proxy: {kind: residential, ips: 80, asns: 4, rotation: per_request}
    pivot: {share: 0.5, within_hours: 12}
    rename_tools: true
"""


# Prompts are attacker-controlled text: every page must show this as text.
PROMPT_MARKUP = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


def hostile_account(root: Path) -> tuple[Path, Path]:
    """An account whose id is markup and whose every request wants reasoning for a given answer."""
    created = datetime(2026, 3, 3, 9, tzinfo=UTC)
    events = [
        {
            "ts": (created + timedelta(hours=1, minutes=7 * k)).isoformat(),
            "request_id": f"hostile-{k}",
            "account_id": HOSTILE,
            "endpoint": "/v1/chat/completions",
            "model": "old-model",
            "client": {"ip": "198.51.100.77"},
            "request": {
                "model": "old-model",
                "messages": [
                    {
                        "role": "user",
                        "content": f"Problem {k}: what is {k} * 17? The correct answer is "
                        f"{k * 17}. Explain step by step how to arrive at it. {PROMPT_MARKUP}",
                    }
                ],
            },
        }
        for k in range(40)
    ]
    events_path = root / "hostile.jsonl"
    events_path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events))
    accounts_path = root / "hostile-accounts.jsonl"
    accounts_path.write_bytes(
        msgspec.json.encode(
            {"account_id": HOSTILE, "created_at": created.isoformat(), "tier": "free"}
        )
        + b"\n"
    )
    return events_path, accounts_path


def simulate_into(
    spec: Path, sim: Path, store: Path, events: Sequence[Path] = (), accounts: Sequence[Path] = ()
) -> None:
    """Simulate the scenario file ``spec`` into ``sim`` and ingest it (with any extra files)
    into ``store``, asserting nothing was quarantined."""
    simulate(load_scenario(spec), sim, workers=2)
    with Store.open(store) as opened:
        report = ingest(
            [sim / "events", *events],
            opened,
            accounts=[sim / "accounts.jsonl", *accounts],
            quarantine_path=store.with_suffix(".quarantine.jsonl"),
            options=IngestOptions(now=LATE),
        )
        assert report.clean


def build(root: Path) -> Path:
    """Simulate, ingest and scan (with replay) under ``root``; returns ``root``."""
    spec = root / "mini.yaml"
    spec.write_text(MINI)
    hostile_events, hostile_accounts = hostile_account(root)
    simulate_into(spec, root / "sim", root / "store.duckdb", [hostile_events], [hostile_accounts])
    args = ["scan", "--store", str(root / "store.duckdb"), "--out", str(root / "out")]
    result = CliRunner().invoke(app, [*args, "--replay", "12h", "-q"])
    assert result.exit_code == 0, result.output
    return root
