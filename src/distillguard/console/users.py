"""Named console users with roles, their passwords as slow hashes, and a brake on guessing.

A users file (``distillguard console-users add``) holds each name's role and an scrypt hash
of the password (N=2^15, r=8, p=1: about 0.1 s and 32 MB to check one guess); no password is
stored. Roles, each allowed what the one before is and more:

- ``viewer``: reads every page;
- ``analyst``: confirms and dismisses, sets verdicts the gateway enforces;
- ``admin``: exports indicators to partners (what leaves the company).

>>> users = Users(Path("no-such-users.json"))  # none yet
>>> users.entries["ana"] = {"role": "analyst", "hash": hash_password("correct horse")}
>>> users.check("ana", "correct horse"), users.check("ana", "wrong"), users.check("bob", "x")
('analyst', None, None)
>>> allowed("viewer", "label"), allowed("analyst", "label"), allowed("analyst", "export")
(False, True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from distillguard.verdicts.config import ConfigError

ROLES = ("viewer", "analyst", "admin")
# The least role each action needs.
NEEDS = {"read": "viewer", "label": "analyst", "verdict": "analyst", "export": "admin"}
_N, _R, _P = 2**15, 8, 1


def allowed(role: str, action: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(NEEDS[action])


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def _verify(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
            maxmem=128 << 20, dklen=len(key) // 2,
        )  # fmt: skip
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(got.hex(), key)


# Checked against when the name is unknown, so that a wrong name costs what a wrong password
# does: response times do not tell which names exist.
_DECOY = hash_password(secrets.token_urlsafe(16))


class Users:
    """The users file: ``{"version": 1, "users": {name: {"role", "hash"}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, str]] = {}
        self._stamp = -1
        self.refresh()

    def refresh(self) -> None:
        """Read the file again if it changed: a user removed, or given another role, is so at
        their next request. A file broken meanwhile keeps the users as they were."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            return
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.entries = _read(self.path)
            except ConfigError:
                if not self.entries:
                    raise

    def role(self, name: str) -> str | None:
        entry = self.entries.get(name)
        return entry["role"] if entry else None

    def key(self, name: str) -> str:
        """Changes whenever the user's password does: a session made before it ends."""
        entry = self.entries.get(name)
        return hashlib.sha256(entry["hash"].encode()).hexdigest()[:16] if entry else ""

    def check(self, name: str, password: str) -> str | None:
        """The user's role if the password is theirs, else None."""
        entry = self.entries.get(name)
        ok = _verify(password, entry["hash"] if entry else _DECOY)
        return entry["role"] if entry and ok else None

    def add(self, name: str, role: str, password: str) -> None:
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not name or len(name) > 64 or not name.isprintable():
            raise ConfigError("a user name is 1 to 64 printable characters")
        if len(password) < 12:
            raise ConfigError("a password has at least 12 characters")
        self.entries[name] = {"role": role, "hash": hash_password(password)}
        self._write()

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if name not in self.entries:
            raise ConfigError(f"no user {name!r} in {self.path}")
        self.entries[name]["role"] = role
        self._write()

    def remove(self, name: str) -> None:
        if self.entries.pop(name, None) is None:
            raise ConfigError(f"no user {name!r} in {self.path}")
        self._write()

    def _write(self) -> None:
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps({"version": 1, "users": self.entries}, indent=1), "utf-8")
        temp.chmod(0o600)
        os.replace(temp, self.path)


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        users = data["users"]
        for name, entry in users.items():
            if entry.get("role") not in ROLES or not str(entry.get("hash", "")).startswith(
                "scrypt$"
            ):
                raise ValueError(f"user {name!r}: a role in {ROLES} and an scrypt hash")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the users file ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a users file ({exc})") from None
    return {str(k): {"role": v["role"], "hash": v["hash"]} for k, v in users.items()}


class LoginBrake:
    """Failed logins per name and per address: past ``limit`` in ``window_s``, every attempt
    is refused until the oldest failure leaves the window, right password or not."""

    def __init__(self, limit: int = 5, window_s: float = 900.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def wait(self, *keys: str) -> float:
        """Seconds until an attempt for these keys is heard again; 0 when it is now."""
        now = time.monotonic()
        worst = 0.0
        for key in keys:
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and now - failures[0] > self.window_s:
                failures.popleft()
            if len(failures) >= self.limit:
                worst = max(worst, failures[0] + self.window_s - now)
        return worst

    def attempt(self, *keys: str) -> tuple[float, float]:
        """Count an attempt before its password is checked, so that parallel guesses are
        braked as well as serial ones. Returns (wait, stamp): a wait > 0 refuses it uncounted;
        otherwise hand ``stamp`` to :meth:`succeeded` when the password was right."""
        if wait := self.wait(*keys):
            return wait, 0.0
        return 0.0, self.failed(*keys)

    def failed(self, *keys: str) -> float:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)
        if len(self._failures) > 100_000:  # a spray of names: forget those quiet for a window
            for key in [
                k for k, v in self._failures.items() if not v or now - v[-1] > self.window_s
            ]:
                del self._failures[key]
        return now

    def succeeded(self, name: str, stamp: float = 0.0, *keys: str) -> None:
        """A right password: the name's failures are forgotten, the attempt uncounted."""
        self._failures.pop(f"name:{name}", None)
        for key in keys:
            failures = self._failures.get(key)
            if failures and stamp in failures:
                failures.remove(stamp)
