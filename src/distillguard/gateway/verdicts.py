"""The verdicts the gateway enforces: the latest scan's, and an analyst's set by the admin API.

Scan verdicts are read from ``RESULTS/accounts.csv`` (the output contract) and read again when
the file changes, at most once a second, so a new scan takes effect without a restart. Manual
verdicts, for accounts or whole clusters, are kept in a JSON file beside the log and win over
the scan's: an account's own manual verdict first, then its cluster's, then the scan's. That
file is read again when it changes too: the console writes verdicts into it.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     book = VerdictBook(None, pathlib.Path(d) / "manual.json")
...     book.set_manual("account", "acct_1", "block")
...     book.lookup("acct_1"), book.lookup("acct_2")
(('block', 'manual account verdict'), ('clear', ''))
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Literal

from distillguard.verdicts.config import VERDICTS, ConfigError

Scope = Literal["account", "cluster"]
_UNKNOWN = ("clear", "", "")


class VerdictBook:
    def __init__(self, results: Path | None, manual_path: Path) -> None:
        self.results = results
        self.manual_path = manual_path
        self._lock = threading.Lock()
        # account -> (verdict, cluster id, campaign id)
        self._scan: dict[str, tuple[str, str, str]] = {}
        self._stamp: tuple[int, ...] | None = None
        self._checked = 0.0
        self.manual: dict[str, dict[str, str]] = {"account": {}, "cluster": {}}
        # Set through the shared state (serve --state): every worker's, over the file's.
        self.shared: dict[str, dict[str, str]] = {"account": {}, "cluster": {}}
        self._manual_stamp: tuple[int, ...] | None = None
        try:
            self._read_manual()
        except ValueError as exc:
            raise ConfigError(f"{manual_path}: not a manual verdicts file ({exc})") from None
        self.reload()

    def _read_manual(self, locked: bool = False) -> bool:
        """Read the manual verdicts again if the file changed; ValueError if it is broken."""
        try:
            st = os.stat(self.manual_path)
        except FileNotFoundError:
            return False
        stamp = _stamp(st)
        if stamp == self._manual_stamp:
            return False
        try:
            data = json.loads(self.manual_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(data, dict):
            raise ValueError('expected {"account": {...}, "cluster": {...}}')
        manual = {s: data.get(s) or {} for s in ("account", "cluster")}
        for scope, verdicts in manual.items():
            if not isinstance(verdicts, dict) or not set(verdicts.values()) <= set(VERDICTS):
                raise ValueError(f"{scope}: each value must be one of {VERDICTS}")
        fresh = {k: {str(a): str(v) for a, v in m.items()} for k, m in manual.items()}
        if locked:  # the caller holds self._lock
            self.manual, self._manual_stamp = fresh, stamp
        else:
            with self._lock:
                self.manual, self._manual_stamp = fresh, stamp
        return True

    def reload(self, force: bool = False) -> bool:
        """Read the scan's verdicts again if the file changed; True when it was read."""
        self._checked = time.monotonic()
        with contextlib.suppress(ValueError):  # broken or mid-write: keep what is in force
            self._read_manual()
        if self.results is None:
            return False
        path = self.results / "accounts.csv"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        stamp = _stamp(st)
        if stamp == self._stamp and not force:
            return False
        scan: dict[str, tuple[str, str, str]] = {}
        try:
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    verdict = row.get("verdict") or "clear"
                    if verdict in VERDICTS and row.get("account_id"):
                        scan[row["account_id"]] = (
                            verdict,
                            row.get("cluster_id") or "",
                            row.get("campaign_id") or "",
                        )
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
        if verdict := self._manual("account", account):
            return verdict, "manual account verdict"
        verdict, cluster, _ = self._scan.get(account, _UNKNOWN)
        if cluster and (manual := self._manual("cluster", cluster)):
            return manual, f"manual verdict on cluster {cluster}"
        return verdict, f"scan verdict (cluster {cluster})" if cluster else (
            "scan verdict" if account in self._scan else ""
        )

    def _manual(self, scope: Scope, key: str) -> str | None:
        """The shared state's manual verdict ("" where one was lifted), else the file's."""
        shared = self.shared[scope].get(key)
        return shared if shared is not None else self.manual[scope].get(key)

    def in_force(self) -> dict[str, dict[str, str]]:
        """The manual verdicts in force: the file's, and over them the shared state's."""
        return {
            s: {k: v for k, v in {**self.manual[s], **self.shared[s]}.items() if v}
            for s in ("account", "cluster")
        }

    def cluster_of(self, account: str) -> str:
        return self._scan.get(account, _UNKNOWN)[1]

    def campaign_of(self, account: str) -> str:
        return self._scan.get(account, _UNKNOWN)[2]

    def set_manual(self, scope: Scope, key: str, verdict: str | None) -> None:
        """Set (or with None, lift) a manual verdict, and keep it across restarts."""
        self.set_many(scope, {key: verdict})

    def set_many(
        self,
        scope: Scope,
        verdicts: dict[str, str | None],
        expect: dict[str, str | None] | None = None,
    ) -> dict[str, str | None]:
        """Set (or lift, None) several manual verdicts in one write; what each was before.
        With ``expect``, only the keys whose verdict is still the one expected are changed
        (checked under the lock: an undo never overwrites what someone set since)."""
        for verdict in verdicts.values():
            if verdict is not None and verdict not in VERDICTS:
                raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        lock = self.manual_path.with_name(self.manual_path.name + ".lock")
        with open(lock, "a") as held, self._lock:
            # The gateway and the console both write this file: take the lock, read what the
            # other wrote, change the entries, write it whole.
            fcntl.flock(held, fcntl.LOCK_EX)
            self._manual_stamp = None
            try:
                self._read_manual(locked=True)
            except ValueError as exc:  # overwriting it would lose what it holds
                message = f"{self.manual_path}: cannot be read ({exc}); fix it first"
                raise ConfigError(message) from None
            manual = {scope_: dict(m) for scope_, m in self.manual.items()}
            if expect is not None:
                verdicts = {
                    k: v for k, v in verdicts.items() if manual[scope].get(k) == expect.get(k)
                }
                if not verdicts:
                    return {}
            before = {key: manual[scope].get(key) for key in verdicts}
            for key, verdict in verdicts.items():
                if verdict is None:
                    manual[scope].pop(key, None)
                else:
                    manual[scope][key] = verdict
            tmp = self.manual_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(manual, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.manual_path)  # never half a file, also if killed here
            self.manual = manual  # in force only once saved
            self._manual_stamp = _stamp(os.stat(self.manual_path))
        return before


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    """A file's identity and change time: a rename makes a new inode, an edit a new ctime."""
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
