"""What analysts decided: confirmed or dismissed campaigns and accounts, with who and when.

Labels are appended to ``RESULTS/labels.jsonl``, one JSON object a line, never rewritten: the
history is the audit trail, and the latest line for a target is its label.

>>> import tempfile, pathlib
>>> book = Labels(pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl")
>>> _ = book.add("ana", "account", "acct_1", "confirmed", "same template as K0003")
>>> book.latest()[("account", "acct_1")]["label"]
'confirmed'
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGETS = ("campaign", "account")
LABELS = ("confirmed", "dismissed")


class Labels:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(
        self,
        who: str,
        target: str,
        key: str,
        label: str,
        note: str = "",
        evidence: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Append a label; ``evidence`` is each account's risk when it was given (a
        campaign's: all its accounts'), so that the next scan can tell whether it changed."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}")
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}")
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "who": who,
            "target": target,
            "id": key,
            "label": label,
            "note": note[:2000],
            "evidence": evidence or {},
        }
        with self._lock:
            append(self.path, entry)
        return entry

    def history(self) -> list[dict[str, Any]]:
        return [e for e in entries(self.path) if e.get("target") in TARGETS]

    def latest(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(e["target"], e["id"]): e for e in self.history()}


def entries(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of an append-only file (labels, actions, the queue), oldest first; a
    torn line left by a crash is skipped, the rest still counts."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def append(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line in one write: a reader never sees half an entry."""
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
