"""Settings that change while the gateway runs: the config file and the API key map.

``serve --config FILE`` reads FILE again when it changes (checked once a second, and at once on
SIGHUP), without a restart and without dropping a connection: what enforcement reads (actions,
budgets, throttle, degrade, online rule, failure modes, identity) takes effect on the next
request. Settings the running server was built with (``limits``, ``state``, ``log``, ``otel``,
``manual_verdicts``) need a restart; a change to them is named in a warning. A broken file is
named in an error and the settings in force stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from distillguard.gateway.config import GatewayConfig, load_gateway_config
from distillguard.gateway.identity import Identity
from distillguard.verdicts.config import ConfigError

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway

_log = logging.getLogger("distillguard.gateway")
LIVE = (
    "actions",
    "budgets",
    "throttle",
    "degrade",
    "watermark",
    "online",
    "on_detector_error",
    "on_state_error",
    "identity",
)
AT_START = ("limits", "state", "log", "otel", "manual_verdicts")


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def apply(gateway: Gateway, fresh: GatewayConfig) -> list[str]:
    """Put ``fresh``'s live settings in force in place (the policy reads the same object);
    returns the settings that changed but wait for a restart."""
    identity = Identity.from_config(fresh.identity.header, fresh.identity.keys)  # may raise
    cfg = gateway.cfg
    for name in LIVE:
        setattr(cfg, name, getattr(fresh, name))
    gateway.identity = identity
    return [name for name in AT_START if getattr(fresh, name) != getattr(cfg, name)]


class ConfigFollower:
    """Reads the config file (and its key map) again when either changes."""

    def __init__(self, gateway: Gateway, path: Path) -> None:
        self.gateway, self.path = gateway, path
        self._stamps = self._now()
        self.reloads = 0

    def _now(self) -> tuple[tuple[int, ...] | None, ...]:
        keys = self.gateway.cfg.identity.keys
        return (_stamp(self.path), _stamp(Path(keys)) if keys else None)

    def check(self, force: bool = False) -> bool:
        """Reload if a file changed (or ``force``); True when new settings are in force."""
        stamps = self._now()
        if stamps == self._stamps and not force:
            return False
        self._stamps = stamps
        try:
            fresh = load_gateway_config(self.path)
            # What the command line set over the file stays as it was.
            fresh.state = self.gateway.cfg.state
            waiting = apply(self.gateway, fresh)
        except ConfigError as exc:
            _log.error("settings not reloaded, those in force stay: %s", exc)
            return False
        self.reloads += 1
        _log.warning("settings reloaded from %s", self.path)
        if waiting:
            _log.warning(
                "%s changed in %s: in force after a restart", ", ".join(waiting), self.path
            )
        return True

    async def follow(self, every_s: float = 1.0) -> None:
        """Check once every ``every_s`` and at once on SIGHUP, for as long as it runs."""
        hup = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, hup.set)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hup.wait(), every_s)
            force = hup.is_set()
            hup.clear()
            try:
                self.check(force)
            except Exception as exc:  # whatever the file holds, the follower keeps following
                _log.error("settings not reloaded, those in force stay: %r", exc)
