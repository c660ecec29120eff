"""Verdicts: risk from evidence, and the thresholds that turn risk into an action (as data)."""

from distillguard.verdicts.config import VERDICTS, Config, ConfigError, load_config, verdict_for
from distillguard.verdicts.score import score

__all__ = ["VERDICTS", "Config", "ConfigError", "load_config", "score", "verdict_for"]
