"""The red team's knobs: each tactic visible in the generated traffic, built-ins unchanged."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from distillguard.simulate.populations import KINDS
from distillguard.simulate.run import plan, simulate
from distillguard.simulate.scenario import (
    BUILTIN,
    REDTEAM,
    ScenarioError,
    builtin_path,
    load_scenario,
)
from distillguard.simulate.tactics.farm import SHARED_SYSTEM, TacticEmitter
from distillguard.simulate.tactics.fresh import FAMILIES, MULTI_LANGUAGES, Elicitor
from distillguard.simulate.text import TextBank

START = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
DAY = 86400.0

# Every red-team knob switched on somewhere, small enough to simulate in a few seconds.
TACTICS = """
name: tactics
start: 2026-06-01T00:00:00Z
days: 3
seed: 31337
models:
  - {name: old-model, released: 2025-09-01T00:00:00Z}
  - {name: new-model, released: 2026-06-02T06:00:00Z}
populations:
  - {kind: hobbyist, accounts: 30, requests_per_day: 3}
  - {kind: chat_user, name: bystander, accounts: 20, requests_per_day: 8,
     shares_exits_of: farm}
  - {kind: reseller_customers, accounts: 6, requests_per_day: 30, shares_exits_of: hydra}
  - {kind: student, accounts: 24, groups: 2, requests_per_day: 6, active_share: 1.0,
     languages: {ko: 1, it: 1, en: 1}}
  - {kind: teacher, accounts: 4, requests_per_day: 20, active_share: 1.0}
  - {kind: power_user, accounts: 8, requests_per_day: 10}
campaigns:
  - name: farm
    accounts: 30
    phrasing: fresh
    pacing: {per_day: [5, 25]}
    curriculum: {topics: 3, days_per_topic: 1.0, system_share: 0.3}
    workload: {reasoning_reconstruction: 0.6, hidden_reasoning: 0.4}
    camouflage: 0.4
    payment_methods: 30
    creation: {aged_days: [60, 400]}
    proxy: {kind: residential, ips: 30, asns: 6, rotation: sticky}
    user_agents: randomised
  - name: hydra
    accounts: 24
    start_day: 0.2
    requests_per_day: 900
    mixing: 0.65
    phrasing: fresh
    account_languages: 2
    languages: {ko: 1, it: 1, tr: 1, ar: 1, hi: 1, vi: 1, pl: 1, nl: 1, th: 1, en: 1}
    workload: {hidden_reasoning: 0.5, reasoning_reconstruction: 0.5}
    creation: {burst_hours: 4, days_before_start: 0.5, waves: 3, wave_every_days: 1.0}
    proxy: {kind: datacenter, ips: 12, asns: 2}
    load_balancing: random
    pivot: {share: 0.5, within_hours: 12}
  - name: churn
    accounts: 8
    start_day: 0.0
    requests_per_day: 600
    phrasing: fresh
    replacement: {lifetime_days: [1, 2], fresh_cards: true}
    workload: {hidden_reasoning: 1.0}
    proxy: {kind: residential, ips: 80, asns: 4, rotation: sticky}
  - name: chats
    accounts: 12
    pacing: {per_day: [10, 30]}
    conversation: {turns: [3, 8], harvest_after: 2}
    camouflage: 0.3
    payment_methods: 12
    proxy: {kind: residential, ips: 12, asns: 3, rotation: sticky}
"""

# Digests of the built-ins (scale 0.01, 2 days, 1 worker) as the simulator wrote them before
# the red team's knobs existed: every knob is off by default.
BUILTIN_DIGESTS = {
    "default": "d7b4230c870bca22b878938560081688bf5c7a66b535457684fafd35cccb5e91",
    "hard": "df02eca756fdf8404e25bca9ef7862d0533a09407a353256482cc1c4cbb0fb66",
    "incident": "cc86a759cd53e16b7ca11b0087a445cb6069b24e6ab929468b0cc4d35fd1df7a",
}
TOPIC_MARKERS = {
    "percentages": ("sales tax", "population grew"),
    "equations": ("theatre sold",),
    "probability": ("marbles", "dice are rolled"),
    "combinatorics": ("committee of", "arrangements of the letters"),
    "kinematics": ("accelerates uniformly", "is kicked at"),
    "interest": ("compounded annually",),
    "geometry": ("ladder reaches", "circular garden"),
    "work_rates": ("pipe fills",),
    "number_theory": ("greatest common divisor", "remainder when"),
    "algorithms": ("Given ",),
    "puzzles": ("years older than",),
    "statistics": ("For the data set",),
    "chemistry": ("of methane",),
    "economics": ("elasticity of demand",),
}


class Traffic:
    def __init__(self, out: Path) -> None:
        self.events = [
            json.loads(line)
            for path in sorted((out / "events").glob("day-*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        with (out / "labels.csv").open() as fh:
            self.labels = {r["account_id"]: r for r in csv.DictReader(fh)}
        self.accounts = {
            a["account_id"]: a
            for a in map(json.loads, (out / "accounts.jsonl").read_text().splitlines())
        }

    def of(self, group: str) -> list[dict[str, Any]]:
        return [e for e in self.events if _group(self.labels[e["account_id"]]) == group]

    def accounts_of(self, group: str) -> list[dict[str, Any]]:
        ids = [a for a, r in self.labels.items() if _group(r) == group]
        return [self.accounts[a] for a in ids]


def _group(row: dict[str, str]) -> str:
    return row["campaign"] or row["population"]


def _ts(e: dict[str, Any]) -> float:
    return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()


def _messages(e: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in e["request"]["messages"] if m["role"] != "system"]


def _text(m: dict[str, Any]) -> str:
    content = m["content"]
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _last_user(e: dict[str, Any]) -> str:
    return _text([m for m in _messages(e) if m["role"] == "user"][-1])


def _system(e: dict[str, Any]) -> str | None:
    body = e["request"]
    if "system" in body:
        return str(body["system"])
    first = body["messages"][0]
    return str(first["content"]) if first["role"] == "system" else None


def _topic(text: str) -> str | None:
    for topic, markers in TOPIC_MARKERS.items():
        if any(m in text for m in markers):
            return topic
    return None


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    root = tmp_path_factory.mktemp("tactics")
    spec = root / "tactics.yaml"
    spec.write_text(TACTICS)
    simulate(load_scenario(spec), root / "sim", workers=2)
    return Traffic(root / "sim")


def test_fresh_phrasing_repeats_no_skeleton() -> None:
    e = Elicitor.load()
    skeletons, heads = set(), Counter()
    for seed in range(400):
        rng = random.Random(seed)
        text = _text(e.prompt("hidden_reasoning", rng, "en").messages[-1])
        skeletons.add(re.sub(r"[\d.,$%]+", "#", text))
        heads[" ".join(text.split()[:4]).lower()] += 1
    assert len(skeletons) >= 396  # no two requests share their wording
    assert heads.most_common(1)[0][1] < 30  # and no opening dominates


def test_fresh_phrasings_are_the_red_teams_own() -> None:
    bank = TextBank.load()
    theirs = {t.literal.strip() for t in bank.phrases["hidden_reasoning"]["en"]["reveal"]}
    e = Elicitor.load()
    ours = [_text(e.prompt("hidden_reasoning", random.Random(s)).messages[-1]) for s in range(200)]
    assert not any(t and t in o for t in theirs for o in ours)
    assert set(e.en["hidden"]) == set(FAMILIES)
    for lang in MULTI_LANGUAGES:
        assert set(e.multi[lang]["hidden"]) == set(FAMILIES), lang


def test_farm_follows_a_shared_curriculum_slow_and_low(traffic: Traffic) -> None:
    by_day: dict[int, Counter[str]] = defaultdict(Counter)
    per_account_day: Counter[tuple[str, int]] = Counter()
    systems: dict[str, set[str | None]] = defaultdict(set)
    for e in traffic.of("farm"):
        day = int((_ts(e) - START) // DAY)
        per_account_day[(e["account_id"], day)] += 1
        systems[e["account_id"]].add(_system(e))
        topic = _topic(_last_user(e))
        if topic:
            by_day[day][topic] += 1
    leaders = []
    for day, topics in sorted(by_day.items()):
        topic, n = topics.most_common(1)[0]
        assert n / sum(topics.values()) > 0.6, (day, topics)  # the whole farm on one topic
        leaders.append(topic)
    assert len(set(leaders)) == len(leaders) == 3  # moving on together, day by day
    assert max(per_account_day.values()) <= 25
    shared = sum(SHARED_SYSTEM in s for s in systems.values())
    assert 0 < shared < len(systems)  # the shared system prompt on some accounts only
    accounts = traffic.accounts_of("farm")
    assert len({a["payment_fingerprint"] for a in accounts}) == len(accounts)  # own cards
    assert all(_ts({"ts": a["created_at"]}) < START - 55 * DAY for a in accounts)  # aged
    ips = defaultdict(set)
    for e in traffic.of("farm"):
        ips[e["account_id"]].add(e["client"]["ip"])
    assert all(len(v) == 1 for v in ips.values())  # a sticky home exit each


def test_farm_keeps_human_hours(traffic: Traffic) -> None:
    hours = Counter()
    for e in traffic.of("farm"):
        offset = {"US": -6, "JP": 9, "KR": 9, "IN": 5.5}.get(e["client"]["country"], 1)
        hours[int((_ts(e) / 3600 + offset) % 24)] += 1
    night = sum(hours[h] for h in (1, 2, 3, 4))
    assert night < 0.06 * sum(hours.values())


def test_bystanders_live_behind_the_farms_exits(traffic: Traffic) -> None:
    farm = {e["client"]["ip"] for e in traffic.of("farm")}
    homes = {e["client"]["ip"] for e in traffic.of("bystander")}
    assert homes
    assert homes <= farm
    labels = {traffic.labels[e["account_id"]]["is_attack"] for e in traffic.of("bystander")}
    assert labels == {"0"}


def test_multilingual_two_languages_per_account(traffic: Traffic) -> None:
    books = Elicitor.load().multi
    asks = {
        lang: [*b["hidden"].values(), *(r.split("{{")[0] for r in b["reconstruct"])]
        for lang, b in books.items()
    }
    seen: dict[str, set[str]] = defaultdict(set)
    for e in traffic.of("hydra"):
        text = _last_user(e)
        for lang, phrases in asks.items():
            if any(p in text for p in phrases):
                seen[e["account_id"]].add(lang)
    assert len(set().union(*seen.values())) >= 6
    assert max(len(v) for v in seen.values()) <= 2


def test_reseller_majority_waves_shared_egress_and_pivot(traffic: Traffic) -> None:
    hydra = traffic.of("hydra")
    created = sorted(_ts({"ts": a["created_at"]}) for a in traffic.accounts_of("hydra"))
    assert sum(t > START + 0.5 * DAY for t in created) >= len(created) // 3  # later waves
    pool = {e["client"]["ip"] for e in hydra}
    customers = {e["client"]["ip"] for e in traffic.of("reseller_customers")}
    assert customers <= pool  # the reseller's customers leave by the same egress
    asks = Elicitor.load()
    marks = [p for b in asks.multi.values() for p in b["hidden"].values()]
    harvest = sum(any(m in _last_user(e) for m in marks) for e in hydra)
    assert harvest < 0.45 * len(hydra)  # most of the traffic is genuine customers
    late = [e for e in hydra if _ts(e) > START + 2 * DAY]
    share = sum(e["model"] == "new-model" for e in late) / len(late)
    assert 0.35 < share < 0.65


def test_banned_accounts_replaced_with_fresh_cards(traffic: Traffic) -> None:
    spans: dict[str, list[float]] = defaultdict(list)
    for e in traffic.of("churn"):
        spans[e["account_id"]].append(_ts(e))
    assert max(max(v) - min(v) for v in spans.values()) <= 2 * DAY
    accounts = traffic.accounts_of("churn")
    assert len(accounts) >= 12  # 8 live at a time over three days
    fresh = [a for a in accounts if _ts({"ts": a["created_at"]}) > START]
    first = {a["payment_fingerprint"] for a in accounts if a not in fresh}
    cards = [a["payment_fingerprint"] for a in fresh]
    assert len(fresh) >= 4
    assert len(set(cards)) == len(cards)
    assert not first & set(cards)  # never seen before


def test_harvest_hides_in_later_turns_of_resent_chats(traffic: Traffic) -> None:
    chats = traffic.of("chats")
    books = Elicitor.load()
    cores = [c.split("{{")[0].strip() for fam in books.en["hidden"].values() for c in fam]
    cores = [c for c in cores if len(c) > 12]
    harvest = [e for e in chats if any(c.lower() in _last_user(e).lower() for c in cores)]
    assert harvest
    assert min(sum(m["role"] == "user" for m in _messages(e)) for e in harvest) >= 3
    # Each request resends the conversation: its history is an earlier request's prompt.
    prompts = {(e["account_id"], json.dumps(_messages(e))) for e in chats}
    resent = sum(
        (e["account_id"], json.dumps(_messages(e)[:-2])) in prompts
        for e in chats
        if len(_messages(e)) >= 3
    )
    assert resent > 0.8 * sum(len(_messages(e)) >= 3 for e in chats)


def test_lookalikes_send_what_resembles_the_tactics(traffic: Traffic) -> None:
    teacher = traffic.of("teacher")
    assert sum(re.search(r"\(0-\d+\)", _last_user(e)) is not None for e in teacher) > 0.7 * len(
        teacher
    )  # marking against a rubric
    power = " ".join(_last_user(e) for e in traffic.of("power_user")).lower()
    assert "step by step" in power or "reasoning" in power
    student = " ".join(_last_user(e) for e in traffic.of("student"))
    assert re.search("[\uac00-\ud7a3]", student)  # Korean learners
    long_chats = [e for e in traffic.of("bystander") if len(_messages(e)) >= 5]
    assert long_chats


def test_no_event_names_a_population_or_campaign(traffic: Traffic) -> None:
    text = "\n".join(json.dumps(e) for e in traffic.events[:5000])
    for word in ("bystander", "hydra", "churn", "farm", "chat_user", "power_user"):
        assert f'"{word}"' not in text
        assert f"_{word}" not in text


def test_redteam_scenarios_load_by_name_and_path(tmp_path: Path) -> None:
    seeds = {load_scenario(b).seed for b in BUILTIN}
    for name in REDTEAM:
        s = load_scenario(f"redteam/{name}")
        assert s.campaigns
        assert s.populations
        assert s.seed not in seeds
        assert load_scenario(builtin_path(f"redteam/{name}")).name == s.name
    text = builtin_path("redteam/curriculum").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("shares_exits_of: curriculum-farm", "shares_exits_of: x"))
    with pytest.raises(ScenarioError, match=r"shares_exits_of: 'x' is no campaign"):
        load_scenario(bad)


def test_builtins_unchanged(tmp_path: Path) -> None:
    for name in BUILTIN_DIGESTS:  # `content` came later and uses the tactics on purpose
        scenario = load_scenario(name)
        planner = plan(scenario, 0.01)
        assert not any(isinstance(e, TacticEmitter) for e in planner.emitters)
        assert {p.kind for p in scenario.populations} <= set(KINDS)
        simulate(scenario, tmp_path / name, scale=0.01, days=2, workers=1)
        h = hashlib.sha256()
        for path in sorted((tmp_path / name).rglob("*")):
            if path.is_file() and path.name != "manifest.json":
                h.update(path.name.encode() + path.read_bytes())
        assert h.hexdigest() == BUILTIN_DIGESTS[name], name
