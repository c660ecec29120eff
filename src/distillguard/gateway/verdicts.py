"""The verdicts the gateway enforces: the latest scan's, and an analyst's set by the admin API.

Scan verdicts are read from ``RESULTS/accounts.csv`` (the output contract) and read again when
the file changes, at most once a second, so a new scan takes effect without a restart. Manual
verdicts, for accounts or whole clusters, are kept in a JSON file beside the log and win over
the scan's: an account's own manual verdict first, then its cluster's, then the scan's.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     book = VerdictBook(None, pathlib.Path(d) / "manual.json")
...     book.set_manual("account", "acct_1", "block")
...     book.lookup("acct_1"), book.lookup("acct_2")
(('block', 'manual account verdict'), ('clear', ''))
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path
from typing import Literal

from distillguard.verdicts.config import VERDICTS

Scope = Literal["account", "cluster"]


class VerdictBook:
    def __init__(self, results: Path | None, manual_path: Path) -> None:
        self.results = results
        self.manual_path = manual_path
        self._lock = threading.Lock()
        self._scan: dict[str, tuple[str, str]] = {}  # account -> (verdict, cluster id)
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self.manual: dict[str, dict[str, str]] = {"account": {}, "cluster": {}}
        if manual_path.exists():
            data = json.loads(manual_path.read_text(encoding="utf-8"))
            self.manual = {
                "account": dict(data.get("account", {})),
                "cluster": dict(data.get("cluster", {})),
            }
        self.reload()

    def reload(self, force: bool = False) -> bool:
        """Read the scan's verdicts again if the file changed; True when it was read."""
        self._checked = time.monotonic()
        if self.results is None:
            return False
        path = self.results / "accounts.csv"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp and not force:
            return False
        scan: dict[str, tuple[str, str]] = {}
        try:
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    verdict = row.get("verdict") or "clear"
                    if verdict in VERDICTS and row.get("account_id"):
                        scan[row["account_id"]] = (verdict, row.get("cluster_id") or "")
        except (OSError, csv.Error, UnicodeDecodeError, KeyError):
            return False  # half-written or broken: keep enforcing the verdicts we have
        if self._scan and not scan:
            return False  # an empty read of a file that had verdicts is a write in progress
        with self._lock:
            self._scan, self._stamp = scan, stamp
        return True

    def lookup(self, account: str) -> tuple[str, str]:
        """(verdict, why) for an account: manual first, then the scan; `clear` if unknown."""
        if time.monotonic() - self._checked > 1.0:
            self.reload()
        if verdict := self.manual["account"].get(account):
            return verdict, "manual account verdict"
        verdict, cluster = self._scan.get(account, ("clear", ""))
        if cluster and (manual := self.manual["cluster"].get(cluster)):
            return manual, f"manual verdict on cluster {cluster}"
        return verdict, f"scan verdict (cluster {cluster})" if cluster else (
            "scan verdict" if account in self._scan else ""
        )

    def cluster_of(self, account: str) -> str:
        return self._scan.get(account, ("clear", ""))[1]

    def set_manual(self, scope: Scope, key: str, verdict: str | None) -> None:
        """Set (or with None, lift) a manual verdict, and keep it across restarts."""
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        with self._lock:
            if verdict is None:
                self.manual[scope].pop(key, None)
            else:
                self.manual[scope][key] = verdict
            tmp = self.manual_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.manual, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.manual_path)  # never half a file, also if killed here
