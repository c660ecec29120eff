"""A scenario is data: populations and campaigns with their knobs, read from YAML.

Every knob has a default, so a scenario file names only what it changes. Errors name the
file, the line and the field (``$.campaigns[1].proxy.kind``).

>>> s = load_scenario("default")
>>> s.name, s.days >= 7, any(c.pivot for c in s.campaigns)
('default', True, True)
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

Timing = Literal["diurnal", "business", "flat", "nightly", "sessions"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with where and why."""


class Model(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    released: datetime
    """Release time; a model released during the scenario is where pivots happen."""


class Population(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A legitimate population: real customers whose traffic resembles an attack on one signal."""

    kind: str
    name: str = ""
    accounts: int = 10
    requests_per_day: float = 20.0
    """Mean per account on an active weekday; each account draws its own multiplier."""
    groups: int = 1
    """Apps, campuses, companies, agents or resellers the accounts belong to."""
    languages: dict[str, float] = msgspec.field(default_factory=lambda: {"en": 1.0})
    anthropic_share: float = 0.4
    """Share of accounts calling /v1/messages rather than /v1/chat/completions."""
    adoption: float = 0.15
    """Share of traffic moved to a newly released model once it is out (ramped over days)."""
    active_share: float = 0.8
    """Chance that an account is active on a given day."""
    shares_exits_of: str = ""
    """A campaign whose proxy exits are these customers' own connections (residential exits are
    real homes; a reseller's customers leave by its egress pool). Empty: their own addresses."""


class Proxy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["datacenter", "residential", "mixed"] = "datacenter"
    ips: int = 40
    asns: int = 2
    rotation: Literal["per_request", "sticky"] = "per_request"


class Creation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    burst_hours: float = 6.0
    """Accounts are created within this many hours (a farm), ..."""
    days_before_start: float = 2.0
    """... this long before the campaign starts."""
    aged_days: tuple[float, float] | None = None
    """Aged (bought or long-dormant) accounts: each created this many days before the start,
    one by one, instead of in a burst."""
    waves: int = 1
    """Sign-ups come in this many bursts, ..."""
    wave_every_days: float = 1.0
    """... this far apart (later waves join a running campaign)."""


class Pivot(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: str = ""
    """The newly released model to move to; empty means the newest one."""
    share: float = 0.5
    within_hours: float = 20.0


class Pacing(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Each account keeps its own human day instead of taking a load balancer's share."""

    per_day: tuple[float, float] = (5.0, 25.0)
    """Requests a day, drawn per account within this range."""
    session_gap: float = 90.0
    """Mean seconds between requests of one sitting."""


class Curriculum(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One topic sequence for the whole farm: every account moves to the next topic together."""

    topics: int = 7
    days_per_topic: float = 1.0
    system_share: float = 0.3
    """Share of accounts that send the operator's shared system prompt."""


class Conversation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Harvest inside ordinary chats: each request resends the conversation so far."""

    turns: tuple[int, int] = (3, 8)
    harvest_after: int = 2
    """Ordinary turns before the harvesting one (at least)."""
    turn_gap: float = 70.0
    """Mean seconds between turns."""


class Replacement(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Accounts that live a day or two, each replaced by a fresh one when it is banned."""

    lifetime_days: tuple[float, float] = (1.0, 2.0)
    fresh_cards: bool = True
    """Each replacement pays with a card never seen before (and signs up with a new e-mail)."""


class Campaign(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A distillation campaign; each tactic is a knob (see docs/simulator.md)."""

    name: str
    accounts: int = 40
    start_day: float = 0.5
    end_day: float | None = None
    requests_per_day: float = 3000.0
    """Campaign total on an active day, spread over its live accounts."""
    workload: dict[str, float] = msgspec.field(
        default_factory=lambda: {"reasoning_reconstruction": 1.0}
    )
    templates: int = 3
    """Prompt skeletons per intent the pipeline uses."""
    paraphrase: float = 0.1
    languages: dict[str, float] = msgspec.field(default_factory=lambda: {"en": 1.0})
    tiers: dict[str, float] = msgspec.field(default_factory=lambda: {"free": 1.0})
    verified_share: float = 0.1
    email_domains: int = 3
    payment_methods: int = 4
    creation: Creation = msgspec.field(default_factory=Creation)
    proxy: Proxy = msgspec.field(default_factory=Proxy)
    load_balancing: Literal["round_robin", "random"] = "round_robin"
    timing: Timing = "flat"
    user_agents: Literal["single", "few", "randomised"] = "single"
    anthropic_share: float = 0.0
    mixing: float = 0.0
    """Share of requests from unrelated real customers routed through the same accounts."""
    camouflage: float = 0.0
    """Share of requests that imitate ordinary use (chat, writing) to look normal."""
    per_account_cap: float | None = None
    """Slow and low: no account exceeds this many requests a day."""
    pivot: Pivot | None = None
    rename_tools: bool = False
    ban_share_per_day: float = 0.0
    """Share of live accounts banned each day and replaced by fresh ones."""
    boilerplate: bool = False
    """The pipeline injects one fixed instruction into every request."""
    phrasing: Literal["bank", "fresh"] = "bank"
    """fresh: every elicitation worded afresh (no skeleton repeats), as an LLM paraphraser does."""
    account_languages: int = 0
    """Each account elicits in this many languages drawn from ``languages`` (0: the mix)."""
    pacing: Pacing | None = None
    curriculum: Curriculum | None = None
    conversation: Conversation | None = None
    replacement: Replacement | None = None
    operator: str = ""
    """Who runs it. Campaigns of one operator share proxies, client stacks, payment methods,
    e-mail domains and templates in every scenario (two providers it targets); empty: this
    scenario's own."""


class Scenario(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    description: str = ""
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    days: int = 7
    seed: int = 7
    models: list[Model] = msgspec.field(default_factory=list)
    populations: list[Population] = msgspec.field(default_factory=list)
    campaigns: list[Campaign] = msgspec.field(default_factory=list)
    response_text: Literal["none", "short"] = "none"


BUILTIN = ("default", "hard", "incident", "content")
REDTEAM = (
    "paraphrase",
    "multilingual",
    "curriculum",
    "reseller-majority",
    "ban-replace",
    "chat-hidden",
)
"""Red-team scenarios, built to beat the detector (``redteam/NAME``; docs/redteam.md)."""


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("distillguard.simulate") / "scenarios" / f"{name}.yaml"))


def _known(name: str) -> bool:
    return name in BUILTIN or (name.startswith("redteam/") and name[8:] in REDTEAM)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a YAML file by path."""
    text_name = str(name_or_path)
    path = builtin_path(text_name) if _known(text_name) else Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        names = ", ".join(BUILTIN)
        red = ", ".join(f"redteam/{n}" for n in REDTEAM)
        raise ScenarioError(
            f"{path}: cannot read scenario ({exc.strerror}); built-in: {names}; red team: {red}"
        ) from None
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    try:
        scenario = msgspec.convert(raw, Scenario, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = message.rsplit(" - at `", 1)[-1].rstrip("`") if " - at `" in message else "$"
        line = _line_of(node, field)
        raise ScenarioError(f"{path}:{line}: field {field}: {message.split(' - at ')[0]}") from None
    _check(scenario, path)
    return scenario


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is datetime and isinstance(obj, datetime):
        return obj if obj.tzinfo else obj.replace(tzinfo=UTC)
    raise NotImplementedError


def _line_of(node: yaml.Node | None, field: str) -> int:
    """Line (1-based) of a `$.a[0].b` path in the composed YAML, or of the deepest part found."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in field.replace("[", ".[").split(".")[1:]:
        if node is None:
            break
        child: yaml.Node | None = None
        if part.startswith("[") and isinstance(node, yaml.SequenceNode):
            index = int(part.strip("[]"))
            child = node.value[index] if index < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _check(s: Scenario, path: Path) -> None:
    """Cross-field rules msgspec cannot express."""
    from distillguard.simulate.lookalikes import ALL_KINDS as KINDS
    from distillguard.simulate.text import INTENTS

    def fail(field: str, message: str) -> None:
        raise ScenarioError(f"{path}: field {field}: {message}")

    if s.days < 1:
        fail("$.days", "must be at least 1")
    if not s.models:
        fail("$.models", "name at least one model")
    for i, p in enumerate(s.populations):
        if p.kind not in KINDS:
            fail(f"$.populations[{i}].kind", f"unknown kind {p.kind!r}; known: {', '.join(KINDS)}")
        if p.accounts < 1 or p.groups < 1:
            fail(f"$.populations[{i}]", "accounts and groups must be at least 1")
    names = [c.name for c in s.campaigns]
    if len(set(names)) != len(names):
        fail("$.campaigns", "campaign names must be unique")
    for i, c in enumerate(s.campaigns):
        for intent in c.workload:
            if intent not in INTENTS:
                fail(f"$.campaigns[{i}].workload", f"unknown intent {intent!r}")
        if c.pivot and c.pivot.model and c.pivot.model not in {m.name for m in s.models}:
            fail(f"$.campaigns[{i}].pivot.model", f"{c.pivot.model!r} is not in $.models")
        if c.accounts < 1:
            fail(f"$.campaigns[{i}].accounts", "must be at least 1")
        if c.conversation and c.pacing is None:
            fail(f"$.campaigns[{i}].conversation", "needs pacing (each account runs its chats)")
    campaigns = set(names)
    for i, p in enumerate(s.populations):
        if p.shares_exits_of and p.shares_exits_of not in campaigns:
            fail(f"$.populations[{i}].shares_exits_of", f"{p.shares_exits_of!r} is no campaign")
