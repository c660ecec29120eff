"""Verdicts set from the console, one account or many at once, with their audit trail and undo.

Every verdict an analyst sets, for one account, a selection or a whole campaign, is one action
appended to ``RESULTS/actions.jsonl``: who, when, the verdict, the accounts, why, and what each
account's manual verdict was before. Undoing an action is an action too: it puts back what was
before, for the accounts no later action has changed since, and names the one it undoes.

>>> import tempfile, pathlib
>>> from distillguard.gateway.verdicts import VerdictBook
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> book, log = VerdictBook(None, d / "manual.json"), Actions(d / "actions.jsonl")
>>> first = log.apply(book, "ana", "block", ["a1", "a2"], "same template as K0003")
>>> book.manual["account"]
{'a1': 'block', 'a2': 'block'}
>>> _ = log.undo(book, "ana", first["id"], "wrong campaign")
>>> book.manual["account"], log.undone() == {first["id"]}
({}, True)
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillguard.console.labels import append, entries
from distillguard.gateway.verdicts import VerdictBook

MAX_TARGETS = 100_000


class Actions:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def apply(
        self,
        book: VerdictBook,
        who: str,
        verdict: str | None,
        accounts: list[str],
        why: str,
        campaign: str | None = None,
    ) -> dict[str, Any]:
        """Set ``verdict`` (None: lift) on ``accounts`` (``campaign``'s, when it is all of
        them), in force for the gateway on return."""
        targets = list(dict.fromkeys(a for a in accounts if a))[:MAX_TARGETS]
        if not targets:
            raise ValueError("no accounts to set a verdict on")
        with self._lock:
            before = book.set_many("account", dict.fromkeys(targets, verdict))
            entry = self._record(who, verdict or "lift", targets, before, why, None, campaign)
            return entry

    def undo(self, book: VerdictBook, who: str, action_id: str, why: str) -> dict[str, Any]:
        """Put back what ``action_id`` changed, where no later action changed it again."""
        with self._lock:
            history = self.history()
            found = next((a for a in history if a["id"] == action_id), None)
            if found is None:
                raise KeyError(action_id)
            if found.get("undoes"):
                raise ValueError(f"{action_id} is an undo; set the verdict again instead")
            if action_id in self.undone(history):
                raise ValueError(f"{action_id} is undone already")
            later = history[history.index(found) + 1 :]
            touched = {acct for a in later for acct in a["accounts"]}
            back = {a: v for a, v in found["previous"].items() if a not in touched}
            # Only where the verdict is still the one this action set: not one set since
            # through the gateway's admin API or by hand in the file.
            was = None if found["verdict"] == "lift" else found["verdict"]
            before = book.set_many("account", back, expect=dict.fromkeys(back, was))
            if not before:
                raise ValueError(f"every account of {action_id} was changed since")
            return self._record(who, "undo", list(before), before, why, action_id)

    def _record(
        self,
        who: str,
        verdict: str,
        accounts: list[str],
        before: dict[str, str | None],
        why: str,
        undoes: str | None,
        campaign: str | None = None,
    ) -> dict[str, Any]:
        entry = {
            "id": "act-" + secrets.token_hex(6),
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "who": who,
            "verdict": verdict,
            "accounts": accounts,
            "previous": before,
            "why": why[:2000],
            "undoes": undoes,
            "campaign": campaign,
        }
        append(self.path, entry)
        return entry

    def history(self) -> list[dict[str, Any]]:
        return [e for e in entries(self.path) if {"id", "accounts", "previous"} <= set(e)]

    def decided_campaigns(self) -> set[str]:
        """Campaigns given a verdict whole, and not undone since."""
        history = self.history()
        undone = self.undone(history)
        return {a["campaign"] for a in history if a.get("campaign") and a["id"] not in undone}

    def undone(self, history: list[dict[str, Any]] | None = None) -> set[str]:
        return {a["undoes"] for a in (history or self.history()) if a.get("undoes")}
