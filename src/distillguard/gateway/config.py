"""The gateway's settings as data (``default.yaml``), loaded into a typed config.

>>> cfg = load_gateway_config()
>>> cfg.actions["block"], cfg.throttle.requests_per_minute
('block', 10.0)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec
import yaml

from distillguard.verdicts.config import VERDICTS, ConfigError, load_yaml

ACTIONS = ("allow", "throttle", "degrade", "challenge", "block")
Action = Literal["allow", "throttle", "degrade", "challenge", "block"]


class Identity(msgspec.Struct, forbid_unknown_fields=True):
    header: str | None = None  # trusted only when set: any client could send it otherwise
    keys: str | None = None


class Throttle(msgspec.Struct, forbid_unknown_fields=True):
    requests_per_minute: float = 10.0


class Budget(msgspec.Struct, forbid_unknown_fields=True):
    """One scope's budget; a limit left out does not apply."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None  # input + output, charged when the answer is in
    concurrent: int | None = None  # requests in flight at once


class Budgets(msgspec.Struct, forbid_unknown_fields=True):
    """A verdict's budgets: each account's own, and its cluster's and campaign's, shared by
    all their accounts (the scan's ``cluster_id`` and ``campaign_id``)."""

    account: Budget = msgspec.field(default_factory=Budget)
    cluster: Budget = msgspec.field(default_factory=Budget)
    campaign: Budget = msgspec.field(default_factory=Budget)


class WatermarkSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Which answers the model server is asked to watermark (docs/provenance.md)."""

    verdicts: list[str] = msgspec.field(default_factory=list)  # none by default
    header: str = "x-distillguard-watermark"  # sent with the key id; a client's is dropped
    key_by: Literal["cluster", "campaign", "account"] = "cluster"


SUMMARY_PROMPT = (
    "Summarise the reasoning below in at most two short sentences. Say what it concluded, "
    "not how: no steps, no intermediate results, no formulas."
)


class Summary(msgspec.Struct, forbid_unknown_fields=True):
    """Where a degraded answer's reasoning summary comes from (``degrade.reasoning: summary``)."""

    url: str | None = None  # an OpenAI-compatible server; None: the model server itself
    model: str | None = None  # None: the model the degraded request is served by
    api_key_env: str | None = None  # the variable holding ``url``'s key (never the client's)
    max_tokens: int = 160
    timeout_s: float = 10.0  # past it, the reasoning is stripped instead
    prompt: str = SUMMARY_PROMPT


class Degrade(msgspec.Struct, forbid_unknown_fields=True):
    max_tokens: int = 512
    model: str | None = None  # degraded requests are served by this model (smaller, slower)
    reasoning: Literal["strip", "summary"] = "strip"
    summary: Summary = msgspec.field(default_factory=Summary)


class Online(msgspec.Struct, forbid_unknown_fields=True):
    window: int = 50
    elicitation_share: float = 0.6


class Limits(msgspec.Struct, forbid_unknown_fields=True):
    max_body_bytes: int = 10 << 20
    compressed_bodies: Literal["decode", "refuse"] = "decode"
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 64 << 10
    max_headers: int = 100
    connections_per_address: int = 256
    shutdown_grace_s: int = 30
    upstream_timeout_s: float = 600.0
    connect_timeout_s: float = 10.0


class LogSettings(msgspec.Struct, forbid_unknown_fields=True):
    directory: str = "gateway-log"
    segment_mb: int = 256
    fsync: bool = False
    retention: Literal["full", "derived"] = "full"


class StateSettings(msgspec.Struct, forbid_unknown_fields=True):
    url: str | None = None  # redis://HOST:PORT/DB (Valkey or Redis); None: this process only
    prefix: str = "distillguard:"
    timeout_s: float = 0.05


class OtelSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    service_name: str = "distillguard-gateway"
    timeout_s: float = 10.0
    max_queue: int = 20_000


class SignupSettings(msgspec.Struct, forbid_unknown_fields=True):
    partners: list[str] = msgspec.field(default_factory=list)  # STIX 2.1 bundle files
    salt_file: str | None = None  # the partnership's salt: payment and e-mail digests


class GatewayConfig(msgspec.Struct, forbid_unknown_fields=True):
    version: int = 1
    actions: dict[str, Action] = msgspec.field(
        default_factory=lambda: {
            "clear": "allow",
            "watch": "degrade",
            "challenge": "challenge",
            "block": "block",
        }
    )
    identity: Identity = msgspec.field(default_factory=Identity)
    throttle: Throttle = msgspec.field(default_factory=Throttle)
    budgets: dict[str, Budgets] = msgspec.field(default_factory=dict)  # by verdict
    degrade: Degrade = msgspec.field(default_factory=Degrade)
    watermark: WatermarkSettings = msgspec.field(default_factory=WatermarkSettings)
    online: Online = msgspec.field(default_factory=Online)
    limits: Limits = msgspec.field(default_factory=Limits)
    on_detector_error: Literal["open", "closed"] = "open"
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    on_state_error: Literal["open", "closed"] = "open"
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    otel: OtelSettings = msgspec.field(default_factory=OtelSettings)
    signup: SignupSettings = msgspec.field(default_factory=SignupSettings)
    manual_verdicts: str | None = None  # default: LOG_DIR-manual-verdicts.json beside the log


def load_gateway_config(path: Path | None = None) -> GatewayConfig:
    source = path or Path(str(resources.files("distillguard.gateway") / "default.yaml"))
    try:
        raw = load_yaml(source.read_text(encoding="utf-8")) or {}
        cfg = msgspec.convert(raw, GatewayConfig)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if cfg.throttle.requests_per_minute < 1:  # a bucket that never holds one request
        raise ConfigError(f"{source}: throttle.requests_per_minute must be at least 1")
    marked = ("watermark.verdicts", cfg.watermark.verdicts)
    for section, names in (("actions", cfg.actions), ("budgets", cfg.budgets), marked):
        if unknown := set(names) - set(VERDICTS):
            message = f"{section}: unknown verdicts {sorted(unknown)}; use {VERDICTS}"
            raise ConfigError(f"{source}: {message}")
    if cfg.degrade.summary.url and not cfg.degrade.summary.url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: degrade.summary.url must be an http:// or https:// URL")
    for verdict, budgets in cfg.budgets.items():
        for scope in ("account", "cluster", "campaign"):
            budget = getattr(budgets, scope)
            for name in ("requests_per_minute", "tokens_per_minute", "concurrent"):
                value = getattr(budget, name)
                if value is not None and value < 1:
                    where = f"budgets.{verdict}.{scope}.{name}"
                    message = f"{where} must be at least 1 (leave it out for no limit)"
                    raise ConfigError(f"{source}: {message}")
    return cfg
