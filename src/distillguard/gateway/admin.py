"""The admin API: read and set verdicts for accounts and clusters (bearer token).

GET    /admin/verdicts                      manual verdicts in force
GET    /admin/verdicts/account/ACCOUNT      the verdict enforced, and why
PUT    /admin/verdicts/{account|cluster}/ID {"verdict": "block"}
DELETE /admin/verdicts/{account|cluster}/ID lift a manual verdict
POST   /admin/reload                        read the scan's results now
POST   /admin/v1/signup-risk                {"account_id": ..., "email_domain": ..., ...}:
                                            risk, action (allow, verify, refuse), reasons
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from distillguard.contract.account import Account
from distillguard.gateway.state import StateDown
from distillguard.verdicts.config import VERDICTS, ConfigError

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway

_SCOPES = ("account", "cluster")


def admin_routes(gw: Gateway) -> list[Route]:
    def guard(request: Request) -> Response | None:
        if not gw.admin_token:
            return JSONResponse(
                {"error": "admin API disabled: start serve with --admin-token"}, 403
            )
        if not gw.authorised(request):
            return JSONResponse({"error": "missing or wrong admin token"}, 401)
        return None

    async def manual(request: Request) -> Response:
        return guard(request) or JSONResponse(gw.book.in_force())

    async def one(request: Request) -> Response:
        if denied := guard(request):
            return denied
        scope, key = request.path_params["scope"], request.path_params["key"]
        if scope not in _SCOPES:
            return JSONResponse({"error": f"scope must be one of {_SCOPES}"}, 404)
        body: dict[str, Any] = {
            "scope": scope,
            "id": key,
            "manual": gw.book.in_force()[scope].get(key),
        }
        if scope == "account":
            enforced, why = gw.book.lookup(key)
            action = gw.cfg.actions.get(enforced, "allow")
            body.update(verdict=enforced, why=why, action=action, cluster=gw.book.cluster_of(key))
        if request.method == "GET":
            return JSONResponse(body)
        verdict: object = None
        if request.method == "PUT":
            with contextlib.suppress(msgspec.DecodeError, AttributeError):
                verdict = msgspec.json.decode(await request.body()).get("verdict")
            if verdict not in VERDICTS:
                return JSONResponse({"error": f'send {{"verdict": one of {list(VERDICTS)}}}'}, 400)
        value = None if verdict is None else str(verdict)
        try:
            await gw.set_manual(scope, key, value)
        except ConfigError as exc:  # the file is broken: saving would lose what it holds
            return JSONResponse({"error": str(exc)}, 409)
        except StateDown as exc:  # not set everywhere: say so rather than half-apply
            return JSONResponse({"error": f"{exc}: verdict not set; try again"}, 503)
        return JSONResponse({**body, "manual": verdict})

    async def reload(request: Request) -> Response:
        return guard(request) or JSONResponse({"reloaded": gw.book.reload(force=True)})

    async def signup_risk(request: Request) -> Response:
        if denied := guard(request):
            return denied
        try:
            record = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            return JSONResponse({"error": f"body: not JSON ({exc})"}, 400)
        if not isinstance(record, dict) or not isinstance(record.get("account_id"), str):
            return JSONResponse({"error": "field account_id: expected a string"}, 400)
        created = None
        if "created_at" in record:  # the contract's field, checked as ingest checks it
            try:
                when = {"account_id": record["account_id"], "created_at": record["created_at"]}
                created = msgspec.convert(when, Account).created_at
            except msgspec.ValidationError as exc:
                return JSONResponse({"error": f"field created_at: {exc}"}, 400)
        found = await gw.signups.assess_shared(record, created)  # timed by created_at: replays
        return JSONResponse(
            {
                "account_id": found.account_id,
                "risk": found.risk,
                "action": found.action,
                "reasons": found.reasons,
                "campaigns": found.campaigns,
            }
        )

    return [
        Route("/admin/verdicts", manual, methods=["GET"]),
        Route("/admin/verdicts/{scope}/{key:path}", one, methods=["GET", "PUT", "DELETE"]),
        Route("/admin/reload", reload, methods=["POST"]),
        Route("/admin/v1/signup-risk", signup_risk, methods=["POST"]),
    ]
