"""Logging a test's HTTP client in through the console's form, CSRF token included."""

from __future__ import annotations

import httpx


def form_token(page: str) -> str:
    """The CSRF token a console page's form carries."""
    return page.split('name="csrf" value="')[1].split('"')[0]


def log_in(client: httpx.Client, fields: dict[str, str]) -> httpx.Response:
    """Open the login form, as a browser would, and send it filled with ``fields``."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={**fields, "csrf": token})
