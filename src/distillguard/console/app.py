"""The analyst console: a campaign whole, why each account is in it, and acting on it.

Safe by default: named users with roles and scrypt-hashed passwords (``users.py``; or one
shared token, the name given recorded with every decision), failed logins braked, a signed
session cookie (SameSite strict, HttpOnly) that expires when idle, a CSRF token in every form,
templates that escape everything (prompts are attacker-controlled text), and a
Content-Security-Policy that allows no script at all: the pages are HTML and server-drawn SVG.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import duckdb
import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distillguard.console import pages, plots
from distillguard.console.actions import Actions
from distillguard.console.data import Results
from distillguard.console.labels import LABELS, TARGETS, Labels, append
from distillguard.console.queue import Assignments
from distillguard.console.users import NEEDS, LoginBrake, Users, allowed
from distillguard.gateway.verdicts import VerdictBook
from distillguard.verdicts.config import VERDICTS, ConfigError

T = TypeVar("T")

_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _when(value: object) -> str:
    """A timestamp (datetime or RFC 3339 text) as 2026-03-02 04:28 UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _shares(shares: dict[str, float], floor: float = 0.1) -> str:
    """{"coding": 0.39, "agentic": 0.36, "x": 0.01} as "coding 39%, agentic 36%"."""
    return ", ".join(f"{k} {v:.0%}" for k, v in shares.items() if v >= floor)


class _SecurityHeaders:
    """No script, no framing, no sniffing, no caching, no referrer: on every response."""

    _HEADERS = (
        (b"content-security-policy", _CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class Console:
    def __init__(
        self,
        results: Results,
        token: str,
        verdicts_file: Path,
        secret: str | None = None,
        salt: bytes | None = None,
        producer: str = "distillguard",
        users: Users | None = None,
        idle_s: float = 1800.0,
        previous: Results | None = None,
    ) -> None:
        self.results = results
        self.token = token  # with no users file: one shared token, every right
        self.users = users
        self.idle_s = idle_s  # a session unused this long is over
        self.brake = LoginBrake()
        self.salt = salt  # the partnership's, for exports; none: exporting is refused
        self.producer = producer
        self.labels = Labels(results.directory / "labels.jsonl")
        self.actions = Actions(results.directory / "actions.jsonl")
        self.assignments = Assignments(results.directory / "queue.jsonl")
        self.previous = previous  # the scan before, for what changed since
        self.book = VerdictBook(results.directory, verdicts_file)
        self.secret = secret or secrets.token_urlsafe(32)
        folder = resources.files("distillguard.console") / "templates"
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            autoescape=True,  # every value from a log is text, never markup
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["url"] = lambda v: quote(str(v), safe="")
        self.env.filters["when"] = _when
        self.env.filters["shares"] = _shares
        self._cache: dict[tuple[Any, ...], Any] = {}
        plots.warm()

    def cached(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """Pictures and population figures, kept until the scan's results change."""
        full = (self.results.stamp, *key)
        if full not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[full] = make()
        value: T = self._cache[full]
        return value

    def app(self) -> Starlette:
        static = str(resources.files("distillguard.console") / "static")
        routes = [
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.page(pages.overview)),
            Route("/campaign/{key:path}", self.page(pages.campaign)),
            Route("/account/{key:path}", self.page(pages.account)),
            Route("/label", self.label, methods=["POST"]),
            Route("/verdict", self.verdict, methods=["POST"]),
            Route("/verdicts", self.bulk_verdict, methods=["POST"]),
            Route("/actions", self.page(pages.actions)),
            Route("/search", self.page(pages.search)),
            Route("/queue", self.page(pages.queue)),
            Route("/queue/assign", self.assign, methods=["POST"]),
            Route("/request/{key:path}", self.page(pages.stored_request)),
            Route("/undo", self.undo, methods=["POST"]),
            Route("/export", self.export, methods=["POST"]),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ]
        middleware = [
            Middleware(
                SessionMiddleware,
                secret_key=self.secret,
                session_cookie="distillguard_console",
                same_site="strict",
                max_age=12 * 3600,
            )
        ]
        return Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders), *middleware])

    # -- pages -----------------------------------------------------------------------------

    def render(self, request: Request, template: str, **values: Any) -> HTMLResponse:
        session = request.session
        role = session.get("role", "")
        html = self.env.get_template(template).render(
            user=session.get("user"),
            role=role,
            can={action: allowed(role, action) for action in NEEDS},
            csrf=session.get("csrf", ""),
            login_csrf=session.get("login_csrf", ""),
            **values,
        )
        return HTMLResponse(html)

    def page(self, build: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if not self._session(request):
                raw = request.scope.get("raw_path") or request.url.path.encode()
                return RedirectResponse(f"/login?next={quote(raw.decode('latin-1'))}", 303)
            self.results.refresh()
            self.book.reload()  # verdicts set through the gateway's admin API show here too
            began = time.perf_counter()
            try:
                template, values = build(self, request)
            except duckdb.IOException:
                # ingest or scan is writing: DuckDB lets no one else open the file meanwhile
                response = self.render(request, "busy.html.j2")
                response.status_code = 503
                response.headers["retry-after"] = "10"
                return response
            if template is None:
                return self.render(request, "missing.html.j2", **values)
            values["took_ms"] = round((time.perf_counter() - began) * 1000)
            return self.render(request, template, **values)

        return endpoint

    # -- login -----------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        target = request.query_params.get("next", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # never send a user elsewhere after login
        named = self.users is not None

        def form_page(error: str = "", status: int = 200) -> HTMLResponse:
            # A token for the login form too: no other site can log a browser in as its own
            # user (whose decisions the victim would then make). Kept across failed tries.
            request.session.setdefault("login_csrf", secrets.token_urlsafe(24))
            response = self.render(request, "login.html.j2", error=error, next=target, named=named)
            response.status_code = status
            return response

        if request.method == "GET":
            return form_page()
        form = await request.form()
        if not _same_token(request.session.get("login_csrf"), form.get("csrf")):
            return form_page(
                "the login form had expired or came from another page; log in again", 403
            )
        name = str(form.get("name", "")).strip()[:64]
        given = str(form.get("password" if named else "token", ""))
        keys = (f"name:{name}", f"ip:{request.client.host if request.client else '?'}")
        wait, stamp = self.brake.attempt(*keys)  # counted before hashing: parallel guesses too
        if wait:
            response = form_page(f"too many failed logins; try again in {int(wait) + 1} s", 429)
            response.headers["retry-after"] = str(int(wait) + 1)
            return response
        if self.users is not None:
            self.users.refresh()  # a user added or given a new password since: heard now
            # About 0.1 s of scrypt: off the event loop, so other pages are not held up.
            role = await asyncio.to_thread(self.users.check, name, given) if name else None
        else:
            role = "admin" if hmac.compare_digest(given.encode(), self.token.encode()) else None
        if not name or role is None:
            return form_page("wrong name or password" if named else "name and token, please", 401)
        self.brake.succeeded(name, stamp, *keys)
        now = time.time()
        request.session.clear()  # a new session id for a new login: no fixation
        key = self.users.key(name) if self.users is not None else ""
        request.session.update(
            user=name, role=role, csrf=secrets.token_urlsafe(24), since=now, seen=now, key=key
        )
        return RedirectResponse(target, 303)

    def _session(self, request: Request) -> bool:
        """Whether the request is logged in, its session neither idle nor too old."""
        session = request.session
        if not session.get("user"):
            return False
        now = time.time()
        if (
            now - float(session.get("seen", 0)) > self.idle_s
            or now - float(session.get("since", 0)) > 12 * 3600
        ):
            session.clear()
            return False
        if self.users is not None:  # removed, or given another role, since logging in
            self.users.refresh()
            role = self.users.role(str(session["user"]))
            if role is None or session.get("key") != self.users.key(str(session["user"])):
                session.clear()  # removed, or the password was changed: sessions end
                return False
            if role != session.get("role"):
                session["role"] = role
        if now - float(session["seen"]) > 30:  # not every request: the cookie is rewritten
            session["seen"] = now
        return True

    async def logout(self, request: Request) -> Response:
        if await self._checked(request) is None:
            return Response("bad or missing CSRF token", 403)
        request.session.clear()
        return RedirectResponse("/login", 303)

    async def _form(self, request: Request, action: str) -> dict[str, str] | Response:
        """The form's fields, or the 403 to answer: not logged in, a bad CSRF token, or a role
        that may not do ``action``."""
        fields = await self._checked(request)
        if fields is None:
            return Response("bad or missing CSRF token, or not logged in", 403)
        return _refused(request, action) or fields

    async def _checked(self, request: Request) -> dict[str, str] | None:
        """The form's fields if the user is logged in and its CSRF token is the session's."""
        if not self._session(request):
            return None
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        return fields if _same_token(request.session.get("csrf"), fields.get("csrf")) else None

    # -- actions ---------------------------------------------------------------------------

    async def label(self, request: Request) -> Response:
        fields = await self._form(request, "label")
        if isinstance(fields, Response):
            return fields
        target, key, label = fields.get("target", ""), fields.get("id", ""), fields.get("label")
        if label not in LABELS or target not in TARGETS or not key:
            return Response(f"label one of {TARGETS} as one of {LABELS}", 400)
        self.results.refresh()
        if target == "campaign":
            found = self.results.campaign(key)
            members = found["accounts"] if found else []
        else:
            members = [key]
        evidence = {
            # The evidence's risk, not the one a decision capped: what the next scan compares.
            a: float(
                self.results.accounts[a].get("evidence_risk")
                or self.results.accounts[a].get("risk")
                or 0
            )
            for a in members
            if a in self.results.accounts
        }
        user = request.session["user"]
        self.labels.add(user, target, key, label, fields.get("note", ""), evidence)
        return RedirectResponse(f"/{target}/{quote(key, safe='')}", 303)

    async def verdict(self, request: Request) -> Response:
        fields = await self._form(request, "verdict")
        if isinstance(fields, Response):
            return fields
        key, verdict = fields.get("id", ""), fields.get("verdict", "")
        if not key or verdict not in (*VERDICTS, "lift"):
            return Response("unknown verdict", 400)
        try:
            self.actions.apply(
                self.book, request.session["user"], None if verdict == "lift" else verdict,
                [key], fields.get("why", ""),
            )  # fmt: skip
        except ConfigError as exc:
            return Response(f"verdict not saved: {exc}", 409)
        return RedirectResponse(f"/account/{quote(key, safe='')}", 303)

    async def assign(self, request: Request) -> Response:
        """Take a queue item (``assignee`` me), give it to someone, or release it (empty)."""
        fields = await self._form(request, "label")
        if isinstance(fields, Response):
            return fields
        target, key = fields.get("target", ""), fields.get("id", "")
        assignee = fields.get("assignee", "").strip()[:64]
        if assignee == "me":
            assignee = request.session["user"]
        if target not in TARGETS or not key:
            return Response(f"assign a {' or '.join(TARGETS)} by its id", 400)
        if self.users is not None and assignee and self.users.role(assignee) is None:
            return Response(f"no user {assignee!r}", 400)
        self.assignments.set(request.session["user"], target, key, assignee)
        return RedirectResponse("/queue", 303)

    async def bulk_verdict(self, request: Request) -> Response:
        """One verdict on many accounts: a whole campaign's, or those ticked in a list. One
        action in the audit trail, with why (required) and what each was before."""
        fields = await self._form(request, "verdict")
        if isinstance(fields, Response):
            return fields
        verdict, why = fields.get("verdict", ""), fields.get("why", "").strip()
        if verdict not in (*VERDICTS, "lift"):
            return Response("unknown verdict", 400)
        if not why:
            return Response("say why: a verdict on many accounts needs a reason", 400)
        self.results.refresh()
        if campaign := fields.get("campaign"):
            found = self.results.campaign(campaign)
            if found is None:
                return Response(f"no campaign {campaign[:80]!r} in these results", 404)
            accounts = list(found["accounts"])
        else:
            accounts = [str(a) for a in (await request.form()).getlist("account") if a]
        if not accounts:
            return Response("no accounts chosen", 400)
        try:
            done = self.actions.apply(
                self.book, request.session["user"], None if verdict == "lift" else verdict,
                accounts, why, campaign=campaign or None,
            )  # fmt: skip
        except ConfigError as exc:
            return Response(f"verdicts not saved: {exc}", 409)
        except ValueError as exc:
            return Response(str(exc), 400)
        return RedirectResponse(f"/actions#{done['id']}", 303)

    async def undo(self, request: Request) -> Response:
        fields = await self._form(request, "verdict")
        if isinstance(fields, Response):
            return fields
        key, why = fields.get("id", ""), fields.get("why", "").strip() or "undone"
        try:
            done = self.actions.undo(self.book, request.session["user"], key, why)
        except KeyError:
            return Response(f"no action {key[:80]!r}", 404)
        except ValueError as exc:
            return Response(str(exc), 409)
        except ConfigError as exc:
            return Response(f"verdicts not saved: {exc}", 409)
        return RedirectResponse(f"/actions#{done['id']}", 303)

    async def export(self, request: Request) -> Response:
        """A campaign's indicators as a STIX 2.1 bundle to download; every export is logged
        (who, when, which campaign, which TLP) in RESULTS/exports.jsonl."""
        from distillguard.intel.export import TLP, bundle

        fields = await self._form(request, "export")
        if isinstance(fields, Response):
            return fields
        key, tlp = fields.get("id", ""), fields.get("tlp", "amber")
        if tlp not in TLP:
            return Response(f"TLP must be one of {', '.join(TLP)}", 400)
        if self.salt is None:
            return Response(
                "exporting needs the partnership's salt: start the console with --salt-file "
                "(customer values are shared only as digests under it)",
                409,
            )
        self.results.refresh()
        self.book.reload()
        try:
            made = bundle(
                self.results, [key], self.salt, tlp, self.producer,
                manual=self.book.manual["account"],
            )  # fmt: skip
        except KeyError:
            return Response(f"no campaign {key[:80]!r} in these results", 404)
        except ValueError as exc:  # dismissed, or no flagged account: nothing to share
            return Response(str(exc), 409)
        append(
            self.results.directory / "exports.jsonl",
            {
                "ts": datetime.now(UTC).isoformat(timespec="seconds"),
                "who": request.session["user"],
                "campaign": key,
                "tlp": tlp,
                "objects": len(made.objects),
            },
        )
        name = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:64]
        return Response(
            made.serialize(pretty=True),
            media_type="application/json",
            headers={"content-disposition": f'attachment; filename="{name}-{tlp}.stix.json"'},
        )


def _same_token(expected: Any, given: Any) -> bool:
    """Whether a form's CSRF token is the session's; none in the session matches nothing."""
    want = str(expected or "").encode()  # bytes: any text compares, none raises
    return bool(want) and hmac.compare_digest(str(given or "").encode(), want)


def _refused(request: Request, action: str) -> Response | None:
    """403 when the session's role may not do ``action``; None when it may."""
    role = str(request.session.get("role", ""))
    if allowed(role, action):
        return None
    return Response(f"the {role or 'unknown'} role cannot {action}: it needs {NEEDS[action]}", 403)
