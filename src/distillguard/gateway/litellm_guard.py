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

from distillguard.contract.body import view_request
from distillguard.formats.litellm import account_of, client_address, endpoint_of
from distillguard.gateway.app import manual_verdicts_path
from distillguard.gateway.call import Call, Clock, event_of
from distillguard.gateway.config import GatewayConfig, load_gateway_config
from distillguard.gateway.degrade import StreamStripper, degrade_request, strip_response
from distillguard.gateway.eventlog import EventLog
from distillguard.gateway.policy import Decision, Policy
from distillguard.gateway.refusals import REFUSING, refused_by
from distillguard.gateway.stream import StreamRecord
from distillguard.gateway.verdicts import VerdictBook
from distillguard.signals.request import score_request

_log = logging.getLogger("distillguard.litellm")
_encode = msgspec.json.Encoder(enc_hook=lambda obj: None).encode  # their objects: null
_decode = msgspec.json.decode
SEVERITY = {"allow": 0, "degrade": 1, "throttle": 2, "challenge": 3, "block": 4}
_MAX_PENDING = 100_000  # calls between their hooks; the oldest go first if a hook never came
_INTERNAL_KEYS = ("metadata", "proxy_server_request", "secret_fields", "user_api_key_dict")


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
        self.policy = Policy(cfg, self.book)
        self.keep_text = cfg.log.retention == "full"
        self._clock = Clock()
        self._ids = itertools.count()
        self._prefix = os.urandom(8).hex()
        self.pending: OrderedDict[str, Call] = OrderedDict()

    def begin(
        self, data: dict[str, Any], call_type: str, user_id: Any, team_id: Any, key_hash: Any
    ) -> Call:
        """A call as LiteLLM's pre-call hook sees it, decided; kept until its response."""
        meta = data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        proxied = data.get("proxy_server_request")
        proxied = proxied if isinstance(proxied, dict) else {}
        sent = proxied.get("body")  # as the client sent it, if LiteLLM kept it
        body = _plain(
            {
                k: v
                for k, v in (sent if isinstance(sent, dict) else data).items()
                if k not in _INTERNAL_KEYS and not k.startswith("litellm_")
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
        request_id = data.get("litellm_call_id")
        if not isinstance(request_id, str) or not request_id:
            request_id = f"litellm_{self._prefix}{next(self._ids):010x}"
        extra: dict[str, Any] = {}
        if org := meta.get("user_api_key_org_id"):
            extra["org_id"] = str(org)
        litellm = {"team_id": team, "end_user": end_user, "call_type": call_type}
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
        call.decision = self.decide(call, team, key, end_user)
        self.pending[request_id] = call
        if len(self.pending) > _MAX_PENDING:
            self.pending.popitem(last=False)
        return call

    def decide(self, call: Call, team: Any, key: Any, end_user: Any) -> Decision:
        """The most severe action among the account's and its team's, key's and end user's."""
        try:
            if self.cfg.on_detector_error == "closed":
                self.observe(call, strict=True)
            decision = self.policy.decide(call.account)
            for scope, value in (("team", team), ("key", key), ("end_user", end_user)):
                if not value:
                    continue
                identity = f"{scope}:{value}"
                verdict, _ = self.book.lookup(identity)
                action = self.cfg.actions.get(verdict, "allow")
                if SEVERITY[action] > SEVERITY[decision.action]:
                    found = self.policy.decide(identity)
                    if SEVERITY[found.action] > SEVERITY[decision.action]:
                        decision = Decision(
                            found.action,
                            found.verdict,
                            f"{identity}: {found.why}",
                            found.retry_after,
                        )
            return decision
        except Exception as exc:  # the detector must never be why a request is lost
            if self.cfg.on_detector_error == "closed":
                return Decision("error", "clear", f"detector error ({type(exc).__name__})")
            return Decision("allow", "clear", f"detector error ({type(exc).__name__}): let through")

    def observe(self, call: Call, strict: bool = False) -> None:
        """Read the request's signals and count them for its account; once per call."""
        if call.observed or not call.body:
            call.observed = True
            return
        call.observed = True
        try:
            call.view = view_request(call.body, call.path)
            call.signals = score_request(call.view)
            self.policy.observe(call.account, call.signals)
        except Exception as exc:
            if strict:
                raise
            if call.decision is not None:
                call.decision.why += f"; detector error ({type(exc).__name__})"

    def finish(self, request_id: Any, status: int, response: Any) -> None:
        """Log a call that ended with ``status``; a second finish of one call does nothing.
        A failure here is reported, never raised: the log must not cost a customer's answer."""
        call = self.pending.pop(request_id, None) if isinstance(request_id, str) else None
        if call is None:
            return
        try:
            self.observe(call)
            answer = _plain(response) if isinstance(response, dict) else None
            self.log.append(event_of(call, status, answer, self.keep_text, self._clock.now()))
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
        # A key's or team's own settings must not switch enforcement off for itself.
        return True

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        enforcer = self.enforcer
        call = enforcer.begin(
            data,
            str(getattr(call_type, "value", call_type) or ""),
            getattr(user_api_key_dict, "user_id", None),
            getattr(user_api_key_dict, "team_id", None),
            getattr(user_api_key_dict, "api_key", None),
        )
        decision = call.decision
        assert decision is not None
        if decision.action == "error":
            enforcer.finish(call.request_id, 503, None)
            raise ProxyException(
                "the request could not be checked; try again", "detector_unavailable", None, 503
            )
        if decision.action in REFUSING:
            status, code, message = refused_by(decision.action, decision.retry_after)
            enforcer.finish(call.request_id, status, None)
            headers = {"retry-after": str(decision.retry_after)} if decision.retry_after else {}
            raise ProxyException(message, code, None, status, headers=headers)
        if decision.action == "degrade":
            data.update(degrade_request(call.body, self.enforcer.cfg.degrade.max_tokens, call.path))
        if not call.observed:  # while LiteLLM waits for the model
            asyncio.get_running_loop().call_soon(enforcer.observe, call)
        return data

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        call = self.enforcer.pending.get(data.get("litellm_call_id") or "")
        if call is None:
            return None
        dump = getattr(response, "model_dump", None)
        answer = dump() if callable(dump) else response
        replaced = None
        if call.decision is not None and call.decision.action == "degrade" and answer:
            answer = strip_response(answer)
            if isinstance(response, ModelResponse):
                replaced = ModelResponse(**answer)
        self.enforcer.finish(call.request_id, 200, answer if isinstance(answer, dict) else None)
        return replaced

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> Any:
        call = self.enforcer.pending.get(request_data.get("litellm_call_id") or "")
        degrade = (
            call is not None and call.decision is not None and call.decision.action == "degrade"
        )
        stripper, record, status = StreamStripper(), StreamRecord(), 200
        try:
            async for chunk in response:
                if call is None or not isinstance(chunk, ModelResponseStream):
                    yield chunk
                    continue
                data = chunk.model_dump()
                record.add(data)
                if degrade:
                    kept = stripper.event(data)
                    if kept is None:
                        continue
                    if kept != data:
                        chunk = ModelResponseStream(**kept)
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
        status = getattr(original_exception, "status_code", None) or getattr(
            original_exception, "code", None
        )
        try:
            code = int(status)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            code = 500
        self.enforcer.finish(
            request_data.get("litellm_call_id"), code if code >= 400 else 500, None
        )
