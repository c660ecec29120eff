"""Alerts as webhook payloads, and their delivery.

Two shapes: ``slack`` (an incoming webhook's ``text`` and ``blocks``; Mattermost and Teams'
Slack-compatible hooks read the same) and ``json`` (the alert's fields, for a SIEM or a
ticketing system). ``auto`` picks ``slack`` for hooks.slack.com. Delivery is retried on a
connection error, a timeout or a 5xx; a 4xx is the receiver refusing the payload and is not.

>>> from distillguard.alerts.changes import Alert
>>> a = Alert("new", "K3", 12, 4800, 0.9, {"agentic": 0.8}, None, None)
>>> payload(a, "json", "https://console.example")["link"]
'https://console.example/campaign/K3'
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from distillguard.alerts.changes import Alert

Format = Literal["auto", "slack", "json"]


def redacted(url: str) -> str:
    """A webhook's address without its path: a Slack hook's path is its secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "(an address that cannot be read)"
    return f"{parts.scheme}://{host}{'/…' if parts.path.strip('/') else ''}"


def link(console_url: str | None, campaign_id: str) -> str | None:
    if not console_url:
        return None
    return f"{console_url.rstrip('/')}/campaign/{quote(campaign_id, safe='')}"


def shape_of(url: str, fmt: Format) -> Literal["slack", "json"]:
    if fmt != "auto":
        return fmt
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # delivery says why
        host = ""
    return "slack" if host.endswith("hooks.slack.com") else "json"


def payload(alert: Alert, shape: Literal["slack", "json"], console_url: str | None) -> Any:
    where = link(console_url, alert.campaign_id)
    if shape == "json":
        return {"source": "distillguard", **alert.as_dict(), "link": where}
    text = alert.headline() + (f" <{where}|open in the console>" if where else "")
    return {
        "text": text,  # what notifications and older clients show
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    ok: bool
    status: int | None  # the receiver's last HTTP status; None when it never answered
    attempts: int
    error: str = ""


def deliver(
    url: str, body: Any, attempts: int = 3, timeout_s: float = 10.0, backoff_s: float = 1.0
) -> Delivery:
    """POST ``body`` as JSON to ``url``, retrying what may pass on a second try."""
    status, error = None, ""
    for attempt in range(1, attempts + 1):
        try:
            reply = httpx.post(url, json=body, timeout=timeout_s)
            status = reply.status_code
            if status < 300:
                return Delivery(url, True, status, attempt)
            error = f"HTTP {status}: {reply.text[:200]}"
            if status < 500 and status != 429:
                break  # the receiver refuses this payload: retrying sends the same
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            error = f"not a usable address ({type(exc).__name__})"
            break  # the same address fails the same way every time
        except httpx.HTTPError as exc:
            # Some messages carry the address: its path is a Slack hook's secret.
            error = f"{type(exc).__name__}: {exc}".replace(url, redacted(url))
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return Delivery(url, False, status, attempt, error)
