"""Enforcement inside a LiteLLM proxy: distillguard's verdicts on LiteLLM's users, teams and keys.

A LiteLLM custom guardrail (docs/litellm.md). In the proxy's ``config.yaml``:

    guardrails:
      - guardrail_name: distillguard
        litellm_params:
          guardrail: distillguard.gateway.litellm_guard.DistillguardGuardrail
          mode: [pre_call, post_call]
          default_on: true
          distillguard_config: gateway.yaml    # optional: the gateway's settings
          distillguard_results: scan-results   # optional: the scan whose verdicts it enforces
          distillguard_log: gateway-log        # optional: the event log (default: the settings')

The account is LiteLLM's user, else its team, else its key hash: the account ``ingest --format
litellm`` reads LiteLLM's own logs into, so the scan's verdicts name it. Verdicts are looked up
for the account and for ``team:ID``, ``key:HASH`` and ``end_user:ID``, and the most severe
action wins, so an analyst can block a whole team or one key through the admin API or the
console (both write the manual verdicts file named in the gateway settings). Refusals are the
gateway's (``refusals.py``), raised as LiteLLM's own errors so the SDKs raise them; events are
the gateway's (``call.py``), appended to its segment log for ``ingest``.

The request's signals are read while LiteLLM waits for the model, as in the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import msgspec
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.proxy._types import ProxyException
from litellm.types.utils import ModelResponse, ModelResponseStream

from distillguard.formats.litellm import account_of, client_address, endpoint_of
from distillguard.gateway.app import manual_verdicts_path
from distillguard.gateway.call import Call, Clock, event_of, observe, tokens_of
from distillguard.gateway.config import GatewayConfig, load_gateway_config
from distillguard.gateway.degrade import (
    DEGRADED_FIELDS,
    REASONING_FIELDS,
    degrade_request,
    strip_response,
)
from distillguard.gateway.eventlog import EventLog
from distillguard.gateway.policy import Decision, Policy
from distillguard.gateway.refusals import REFUSING, refused_by
from distillguard.gateway.state import follow_shared_verdicts, shared_state
from distillguard.gateway.stream import StreamRecord
from distillguard.gateway.verdicts import VerdictBook

_log = logging.getLogger("distillguard.litellm")
_encode = msgspec.json.Encoder(enc_hook=lambda obj: None).encode  # their objects: null
_decode = msgspec.json.decode
SEVERITY = {"allow": 0, "degrade": 1, "throttle": 2, "challenge": 3, "block": 4}
_MAX_PENDING = 10_000  # calls between their hooks, each with its body
_ID_KEY = "distillguard_request_id"
_INTERNAL_KEYS = frozenset(
    {"metadata", "litellm_metadata", "proxy_server_request", "secret_fields", "user_api_key_dict",
     "api_key", "api_base", "headers", "extra_headers", "provider_specific_header"}
)  # fmt: skip
_SECRET_PARTS = ("secret", "credential", "password", "authorization", "api_key", "token_")


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's own bag on a request (``metadata``, or ``litellm_metadata`` on some routes):
    never sent to the model."""
    for name in ("metadata", "litellm_metadata"):
        bag = data.get(name)
        if isinstance(bag, dict):
            return bag
    bag = data["metadata"] = {}
    return bag


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """A copy in plain JSON types: LiteLLM keeps its own objects in the same dicts."""
    out: dict[str, Any] = _decode(_encode(value))
    return out


class Enforcer:
    """The plugin's logic on plain dicts: which action a LiteLLM call gets, and its event."""

    def __init__(
        self, cfg: GatewayConfig, results: Path | None = None, log_dir: Path | None = None
    ) -> None:
        self.cfg = cfg
        self.log_dir = log_dir or Path(cfg.log.directory)
        self.log = EventLog(self.log_dir, cfg.log.segment_mb << 20, cfg.log.fsync)
        self.book = VerdictBook(results, manual_verdicts_path(cfg, self.log_dir))
        self.state = shared_state(cfg)
        self.policy = Policy(cfg, self.book, self.state)
        self._following: asyncio.Task[None] | None = None  # the shared verdicts, once a loop runs
        self.keep_text = cfg.log.retention == "full"
        self._clock = Clock()
        self._ids = itertools.count()
        self._prefix = os.urandom(8).hex()
        self.pending: OrderedDict[str, Call] = OrderedDict()

    async def begin(
        self, data: dict[str, Any], call_type: str, user_id: Any, team_id: Any, key_hash: Any
    ) -> Call:
        """A call as LiteLLM's pre-call hook sees it, decided; kept until its response."""
        if self._following is None:  # LiteLLM gives a plugin no start-up hook on its loop
            self._following = asyncio.create_task(follow_shared_verdicts(self.state, self.book))
        meta = data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        proxied = data.get("proxy_server_request")
        proxied = proxied if isinstance(proxied, dict) else {}
        sent = proxied.get("body")  # as the client sent it, if LiteLLM kept it
        body = _plain(
            {
                k: v
                for k, v in (sent if isinstance(sent, dict) else data).items()
                if k not in _INTERNAL_KEYS
                and not k.startswith("litellm_")
                and not any(part in k for part in _SECRET_PARTS)
            }
        )
        team = team_id or meta.get("user_api_key_team_id")
        key = key_hash or meta.get("user_api_key_hash")
        end_user = meta.get("user_api_key_end_user_id")
        headers = proxied.get("headers")
        headers = headers if isinstance(headers, dict) else {}
        client = {
            "ip": client_address(meta.get("requester_ip_address")),
            "user_agent": meta.get("user_agent") or headers.get("user-agent"),
        }
        # Our own id: LiteLLM takes litellm_call_id from a client's x-litellm-call-id header, and
        # a client that repeats one would pass its calls off as duplicates of the first.
        request_id = f"litellm_{self._prefix}{next(self._ids):010x}"
        extra: dict[str, Any] = {}
        if org := meta.get("user_api_key_org_id"):
            extra["org_id"] = str(org)
        litellm = {
            "team_id": team,
            "end_user": end_user,
            "call_type": call_type,
            "call_id": data.get("litellm_call_id"),
        }
        extra["litellm"] = {k: str(v) for k, v in litellm.items() if v}
        call = Call(
            time.perf_counter(),
            request_id,
            account_of(user_id or meta.get("user_api_key_user_id"), team, key) or "anonymous",
            endpoint_of(call_type, meta.get("user_api_key_request_route")),
            body,
            {k: v for k, v in client.items() if v},
            str(key) if key else None,
            extra=extra,
        )
        call.decision = await self.decide(call, team, key, end_user)
        return call

    def hold(self, call: Call, data: dict[str, Any]) -> None:
        """Keep a call until its response hook, its id in LiteLLM's metadata for that hook.
        Calls whose hook never came (a stream nobody read) are logged as unfinished (499) once
        older than the upstream timeout, or when too many wait."""
        _metadata(data)[_ID_KEY] = call.request_id
        self.pending[call.request_id] = call
        now = time.perf_counter()
        too_old = now - self.cfg.limits.upstream_timeout_s - 60
        while self.pending:
            first = next(iter(self.pending.values()))
            if first.started > too_old and len(self.pending) <= _MAX_PENDING:
                break
            self.finish(first.request_id, 499, None)

    def held(self, data: Any) -> Call | None:
        meta = _metadata(data) if isinstance(data, dict) else {}
        return self.pending.get(meta.get(_ID_KEY) or "")

    async def decide(self, call: Call, team: Any, key: Any, end_user: Any) -> Decision:
        """The most severe action among the account's and its team's, key's and end user's."""
        try:
            if self.cfg.on_detector_error == "closed":
                self.observe(call, strict=True)
            decision = await self.policy.decide(call.account)
            for scope, value in (("team", team), ("key", key), ("end_user", end_user)):
                if not value:
                    continue
                identity = f"{scope}:{value}"
                verdict, _ = self.book.lookup(identity)
                action = self.cfg.actions.get(verdict, "allow")
                if SEVERITY[action] > SEVERITY[decision.action]:
                    found = await self.policy.decide(identity)
                    if SEVERITY[found.action] > SEVERITY[decision.action]:
                        call.also.append(decision)  # its budgets hold until the call ends
                        found.why = f"{identity}: {found.why}"
                        decision = found
                    else:
                        call.also.append(found)
            return decision
        except Exception as exc:  # the detector must never be why a request is lost
            if self.cfg.on_detector_error == "closed":
                return Decision("error", "clear", f"detector error ({type(exc).__name__})")
            return Decision("allow", "clear", f"detector error ({type(exc).__name__}): let through")

    def observe(self, call: Call, strict: bool = False) -> None:
        observe(call, self.policy, strict)

    def finish(self, request_id: Any, status: int, response: Any) -> None:
        """Log a call that ended with ``status``; a second finish of one call does nothing.
        A failure here is reported, never raised: the log must not cost a customer's answer."""
        call = self.pending.pop(request_id, None) if isinstance(request_id, str) else None
        if call is None:
            return
        try:
            self.observe(call)
            answer = _plain(response) if isinstance(response, dict) else None
            event = event_of(call, status, answer, self.keep_text, self._clock.now())
            tokens = tokens_of(event, call.body, answer)
            for decision in (call.decision, *call.also):  # every budget it drew on
                self.policy.settle(decision, tokens)
            self.log.append(event)
        except Exception as exc:
            _log.error("distillguard: request %s not logged: %r", call.request_id, exc)


class DistillguardGuardrail(CustomGuardrail):  # type: ignore[misc]  # LiteLLM is untyped here
    """The LiteLLM hooks around ``Enforcer``. Its keyword arguments come from the guardrail's
    ``litellm_params`` in the proxy config, prefixed so that no LiteLLM parameter is taken:
    ``distillguard_config``, ``distillguard_results`` and ``distillguard_log`` (paths)."""

    def __init__(
        self,
        distillguard_config: str | None = None,
        distillguard_results: str | None = None,
        distillguard_log: str | None = None,
        **kwargs: Any,
    ) -> None:
        cfg = load_gateway_config(Path(distillguard_config) if distillguard_config else None)
        results, log = distillguard_results, distillguard_log
        self.enforcer = Enforcer(
            cfg, Path(results) if results else None, Path(log) if log else None
        )
        super().__init__(**kwargs)

    def should_run_guardrail(self, data: Any, event_type: Any) -> bool:
        # Model calls only (not MCP tools, not logging-only passes). A key's or team's own
        # guardrail settings must not switch enforcement off for itself: hence no opt-out.
        return str(getattr(event_type, "value", event_type)) in ("pre_call", "post_call")

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        enforcer = self.enforcer
        try:
            call = await enforcer.begin(
                data,
                str(getattr(call_type, "value", call_type) or ""),
                getattr(user_api_key_dict, "user_id", None),
                getattr(user_api_key_dict, "team_id", None),
                getattr(user_api_key_dict, "api_key", None),
            )
        except Exception as exc:  # never why a customer's call is lost, unless told to be
            _log.error("distillguard: call not checked: %r", exc)
            if enforcer.cfg.on_detector_error == "closed":
                raise ProxyException(
                    "the request could not be checked; try again", "detector_unavailable", None, 503
                ) from None
            return data
        # A batch file's records are checked here too, but served elsewhere: no call to log.
        served = bool(data.get("litellm_call_id"))
        decision = call.decision
        assert decision is not None
        if decision.action == "error" or decision.action in REFUSING:
            if decision.action == "error":
                status, code = 503, "detector_unavailable"
                message = "the request could not be checked; try again"
            else:
                status, code, message = refused_by(decision.action, decision.retry_after)
            if served:
                enforcer.pending[call.request_id] = call
                enforcer.finish(call.request_id, status, None)
            headers = {"retry-after": str(decision.retry_after)} if decision.retry_after else {}
            raise ProxyException(message, code, None, status, headers=headers)
        if not served:  # no hook will say when it ends: its budgets are given back now
            for held in (decision, *call.also):
                enforcer.policy.settle(held, 0)
            return data
        enforcer.hold(call, data)
        if decision.action == "degrade":
            try:
                _degrade_in_place(data, enforcer.cfg.degrade.max_tokens, call.path)
            except Exception as exc:
                _log.error("distillguard: call %s not degraded: %r", call.request_id, exc)
        if not call.observed:  # while LiteLLM waits for the model
            asyncio.get_running_loop().call_soon(enforcer.observe, call)
        return data

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        call = self.enforcer.held(data)
        if call is None:
            return None
        replaced, answer = None, None
        try:
            degrade = call.decision is not None and call.decision.action == "degrade"
            if isinstance(response, dict):
                answer = strip_response(response) if degrade else response
                replaced = answer if degrade else None
            else:
                if degrade and isinstance(response, ModelResponse):
                    _strip_in_place(response, "message")
                dump = getattr(response, "model_dump", None)
                answer = dump() if callable(dump) else None
        except Exception as exc:
            _log.error("distillguard: response of %s not read: %r", call.request_id, exc)
        self.enforcer.finish(call.request_id, 200, answer)
        return replaced

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> Any:
        call = self.enforcer.held(request_data)
        degrade = (
            call is not None and call.decision is not None and call.decision.action == "degrade"
        )
        record, status = StreamRecord(), 200
        try:
            async for chunk in response:
                if call is not None and isinstance(chunk, ModelResponseStream):
                    try:
                        if degrade:
                            _strip_in_place(chunk, "delta")
                        record.add(_chunk_fields(chunk))
                    except Exception as exc:  # the chunk goes on as it came
                        _log.error("distillguard: chunk of %s not read: %r", call.request_id, exc)
                yield chunk
        except (asyncio.CancelledError, GeneratorExit):
            status = 499
            raise
        except Exception:
            status = 502
            raise
        finally:
            if call is not None:
                self.enforcer.finish(call.request_id, status, record.response())

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> None:
        call = self.enforcer.held(request_data)
        if call is None:  # refused here, or not held
            return
        status = getattr(original_exception, "status_code", None) or getattr(
            original_exception, "code", None
        )
        try:
            code = int(status)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            code = 500
        self.enforcer.finish(call.request_id, code if code >= 400 else 500, None)


def _degrade_in_place(data: dict[str, Any], max_tokens: int, path: str) -> None:
    """Degrade the request LiteLLM will send, field by field: the rest of ``data`` holds what
    LiteLLM and other guardrails made of the body (aliases, masking), which must stay."""
    before = {k: data[k] for k in DEGRADED_FIELDS if k in data}
    after = degrade_request(before, max_tokens, path)
    for name in before.keys() - after.keys():
        del data[name]
    data.update(after)


def _strip_in_place(response: Any, part: str) -> None:
    """Reasoning out of a LiteLLM response or chunk, in place: a rebuilt one would lose the
    hidden parameters LiteLLM reads after the hook (cost and rate-limit headers)."""
    for choice in getattr(response, "choices", None) or []:
        if getattr(choice, "logprobs", None) is not None:
            choice.logprobs = None
        message = getattr(choice, part, None)
        if message is None:
            continue
        for name in REASONING_FIELDS:
            if getattr(message, name, None) is not None:
                try:
                    delattr(message, name)
                except AttributeError:
                    setattr(message, name, None)
        extra = getattr(message, "provider_specific_fields", None)
        if isinstance(extra, dict):
            for name in REASONING_FIELDS:
                extra.pop(name, None)


def _chunk_fields(chunk: Any) -> dict[str, Any]:
    """What StreamRecord reads of a chunk, without dumping the whole model."""
    usage = getattr(chunk, "usage", None)
    dump = getattr(usage, "model_dump", None)
    return {
        "id": chunk.id,
        "model": chunk.model,
        "choices": [
            {"delta": {"content": getattr(getattr(c, "delta", None), "content", None)}}
            for c in chunk.choices or []
        ],
        "usage": dump() if callable(dump) else None,
    }
