"""Thresholds and weights as data (``default.yaml``), loaded into a typed config.

>>> cfg = load_config()
>>> cfg.thresholds.challenge, verdict_for(0.65, cfg)
(0.6, 'challenge')
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import msgspec
import yaml

VERDICTS = ("clear", "watch", "challenge", "block")


class ConfigError(ValueError):
    """A config file that cannot be used, with where and why."""


class _Loader(yaml.SafeLoader):
    """YAML as people write numbers: ``1e6`` is a float (YAML 1.1 wants ``1.0e+6``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> object:
    r"""Settings YAML, safely (no tags that run code).

    >>> load_yaml("a: 1e6\nb: 2.5E-3\nc: 12")
    {'a': 1000000.0, 'b': 0.0025, 'c': 12}
    """
    return yaml.load(text, Loader=_Loader)  # a SafeLoader


class Thresholds(msgspec.Struct, forbid_unknown_fields=True):
    watch: float = 0.4
    challenge: float = 0.6
    block: float = 0.8


class ClusterRules(msgspec.Struct, forbid_unknown_fields=True):
    min_accounts: int = 3
    young_hours: float = 72.0
    burst_hours: float = 24.0
    flat_entropy: float = 0.85
    content_full: float = 0.3
    rubric_weight: float = 0.5
    meaning_base: float = 0.15
    repetition_weight: float = 0.6
    pivot_full: float = 0.3
    rotation_ips: int = 10
    rotation_share: float = 0.3
    rotation_switch: float = 0.5
    curriculum_weight: float = 0.5


class AccountRules(msgspec.Struct, forbid_unknown_fields=True):
    solo_cap: float = 0.55
    content_full: float = 0.5
    min_evidence: float = 20.0
    member_floor: float = 0.4
    own_full: float = 0.4
    pattern_volume: float = 10.0


class LearnedRules(msgspec.Struct, forbid_unknown_fields=True):
    weight: float = 0.2  # a learned model (scan --model) moves risk by at most this


class Config(msgspec.Struct, forbid_unknown_fields=True):
    version: int = 1
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    cluster: ClusterRules = msgspec.field(default_factory=ClusterRules)
    account: AccountRules = msgspec.field(default_factory=AccountRules)
    learned: LearnedRules = msgspec.field(default_factory=LearnedRules)


def load_config(path: Path | None = None) -> Config:
    source = path or Path(str(resources.files("distillguard.verdicts") / "default.yaml"))
    try:
        raw = load_yaml(source.read_text(encoding="utf-8")) or {}
        return msgspec.convert(raw, Config)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config ({exc.strerror})") from None
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def verdict_for(risk: float, cfg: Config) -> str:
    t = cfg.thresholds
    if risk >= t.block:
        return "block"
    if risk >= t.challenge:
        return "challenge"
    if risk >= t.watch:
        return "watch"
    return "clear"
