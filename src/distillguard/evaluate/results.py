"""Reading what is evaluated: a results directory (docs/output-contract.md) and ground truth.

Errors name the file, the line and the field, as ingest's do.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from distillguard.verdicts.config import VERDICTS

FLAGGED = ("challenge", "block")


class EvaluationError(ValueError):
    """An input that cannot be evaluated, with where and why."""


@dataclass(frozen=True, slots=True)
class Verdict:
    account_id: str
    risk: float
    verdict: str
    campaign_id: str
    flagged_at: datetime | None

    @property
    def flagged(self) -> bool:
        return self.verdict in FLAGGED

    @property
    def acted_on(self) -> bool:
        """Any verdict but clear: the gateway degrades `watch` by default (docs/gateway.md)."""
        return self.verdict != "clear"


@dataclass(frozen=True, slots=True)
class Label:
    account_id: str
    population: str
    campaign: str
    is_attack: bool
    campaign_start: datetime | None


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise EvaluationError(f"{path}: line 1: missing column {', '.join(missing)}")
            return [(n, row) for n, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read ({exc.strerror})") from None


def _time(path: Path, line: int, field: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise EvaluationError(f"{path}: line {line}: field {field}: not a time: {text!r}") from None


def read_verdicts(results: Path) -> dict[str, Verdict]:
    """``accounts.csv`` of a results directory, by account.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "accounts.csv").write_text(
    ...     "account_id,risk,verdict,cluster_id,campaign_id,reasons\\na,0.9,block,C1,K1,x\\n")
    >>> read_verdicts(d)["a"].flagged
    True
    """
    path = results / "accounts.csv"
    out: dict[str, Verdict] = {}
    for line, row in _rows(path, ("account_id", "risk", "verdict", "campaign_id")):
        try:
            risk = float(row["risk"])
        except (TypeError, ValueError):
            raise EvaluationError(
                f"{path}: line {line}: field risk: not a number: {row['risk']!r}"
            ) from None
        if row["verdict"] not in VERDICTS:
            raise EvaluationError(
                f"{path}: line {line}: field verdict: {row['verdict']!r} is not one of "
                f"{', '.join(VERDICTS)}"
            )
        out[row["account_id"]] = Verdict(
            row["account_id"],
            risk,
            row["verdict"],
            row["campaign_id"] or "",
            _time(path, line, "flagged_at", row.get("flagged_at") or ""),
        )
    return out


def read_labels(path: Path) -> dict[str, Label]:
    """Ground truth as ``distillguard simulate`` writes it (``labels.csv``)."""
    out: dict[str, Label] = {}
    columns = ("account_id", "population", "campaign", "is_attack")
    for line, row in _rows(path, columns):
        flag = row["is_attack"].strip().lower()
        if flag not in ("0", "1", "true", "false"):
            raise EvaluationError(
                f"{path}: line {line}: field is_attack: {row['is_attack']!r} is not 0/1/true/false"
            )
        out[row["account_id"]] = Label(
            row["account_id"],
            row["population"],
            row["campaign"] or "",
            flag in ("1", "true"),
            _time(path, line, "campaign_start", row.get("campaign_start") or ""),
        )
    return out


def read_analyst_labels(path: Path, results: Path) -> dict[str, Label]:
    """Analysts' decisions from the console (``RESULTS/labels.jsonl``) as ground truth: a
    confirmed account is an attack, a dismissed one is not; a campaign's label applies to its
    accounts (``campaigns.json``) unless an account has its own. Unlabelled accounts are left
    out, so the figures are over what analysts have decided."""
    from distillguard.console.labels import Labels

    if not path.exists():
        raise EvaluationError(f"{path}: no such file")
    latest = Labels(path).latest()
    if not latest:
        raise EvaluationError(f"{path}: no analyst labels yet")
    verdicts = read_verdicts(results)
    try:
        campaigns = json.loads((results / "campaigns.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        campaigns = []
    decided: dict[str, tuple[bool, str]] = {}
    for c in campaigns:
        entry = latest.get(("campaign", c.get("campaign_id", "")))
        if entry is None:
            continue
        for account in c.get("accounts", []):
            decided[account] = (entry["label"] == "confirmed", c["campaign_id"])
    for (target, key), entry in latest.items():
        if target == "account":
            found = verdicts.get(key)
            decided[key] = (entry["label"] == "confirmed", found.campaign_id if found else "")
    labels = {}
    for a, (attack, cid) in decided.items():
        population = "confirmed" if attack else "dismissed"
        labels[a] = Label(a, population, (cid or "confirmed") if attack else "", attack, None)
    return labels


def read_manifest(results: Path) -> dict[str, Any]:
    path = results / "manifest.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"{path}: not readable JSON ({exc})") from None
    return data if isinstance(data, dict) else {}
