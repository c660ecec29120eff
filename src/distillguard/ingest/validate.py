"""Check one record against the contract: a typed record, or a RecordError saying where and why.

>>> v = Validator("events.jsonl")
>>> err = v.event(3, b'{"ts": "2026-03-01T12:00:00Z", "request_id": "r1"}')
>>> err.line, err.field, err.reason.value
(3, 'account_id', 'missing_field')
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from distillguard.contract.account import ACCOUNT_FIELDS, Account
from distillguard.contract.derived import DIGESTS
from distillguard.contract.errors import Reason, RecordError
from distillguard.contract.event import CLIENT_FIELDS, EVENT_FIELDS, USAGE_FIELDS, Event

MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_FUTURE = timedelta(days=1)

_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")
_ASN = re.compile(r"^(?:AS)?(\d{1,10})$", re.I)
_TIME_FIELDS = frozenset({"ts", "created_at"})
FLOAT32_MAX = 3.4028234663852886e38  # latency_ms, temperature and top_p are FLOAT columns
_FLOAT32_FIELDS = ("latency_ms", "request.temperature", "request.top_p")
_OUT_OF_RANGE = ("Number out of range", "Integer value out of range")  # msgspec's words

S = TypeVar("S", bound=msgspec.Struct)


class Network(msgspec.Struct, frozen=True):
    """A client address normalised, with the network it belongs to."""

    ip: str
    prefix: str
    version: int


@lru_cache(maxsize=1 << 16)
def parse_ip(text: str) -> Network | None:
    """Normalise an IP address; its /24 (IPv4) or /48 (IPv6) prefix. None if not an address.

    >>> parse_ip("203.0.113.77")
    Network(ip='203.0.113.77', prefix='203.0.113.0/24', version=4)
    >>> parse_ip("2001:DB8::1").prefix
    '2001:db8::/48'
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is IPv4
        address = address.ipv4_mapped
    bits = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    return Network(str(address), str(network), address.version)


def parse_asn(value: int | str | None) -> int | str | None:
    """An ASN as an integer; the original string back when it is not an ASN."""
    if value is None or isinstance(value, int):
        return value
    match = _ASN.match(value.strip())
    return int(match.group(1)) if match else value


class Validator:
    """Validates records from one file, so every error names that file.

    ``now`` fixes the clock for the "not in the future" check (tests, replays).
    """

    def __init__(
        self,
        file: str,
        *,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        max_future: timedelta = DEFAULT_MAX_FUTURE,
        now: datetime | None = None,
        partition: dict[str, str] | None = None,
    ) -> None:
        self.file = file
        self.partition = partition or {}  # fields a partitioned lake dropped: sources.py
        self.max_record_bytes = max_record_bytes
        self.latest = (now or datetime.now(UTC)) + max_future
        self._decoder = msgspec.json.Decoder()

    def error(self, line: int, field: str, reason: Reason, message: str) -> RecordError:
        return RecordError(file=self.file, line=line, field=field, reason=reason, message=message)

    def decode(self, line: int, raw: bytes) -> dict[str, Any] | RecordError:
        """Parse one JSON line into an object, or say why it is not one."""
        if len(raw) > self.max_record_bytes:
            return self.oversized(line, len(raw))
        try:
            obj = self._decoder.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            return self.error(line, *explain_json_error(raw, exc))
        if not isinstance(obj, dict):
            return self.error(
                line, "", Reason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
            )
        return obj

    def oversized(self, line: int, size: int) -> RecordError:
        return self.error(
            line,
            "",
            Reason.OVERSIZED,
            f"record is {size} bytes, over the limit of {self.max_record_bytes}",
        )

    def event(
        self, line: int, record: bytes | dict[str, Any]
    ) -> tuple[Event, dict[str, Any]] | RecordError:
        """A valid event and its fields outside the contract, or the reason it is refused."""
        obj = self.decode(line, record) if isinstance(record, bytes) else record
        if isinstance(obj, RecordError):
            return obj
        for key, value in self.partition.items():
            if obj.get(key) is None:
                obj[key] = value
        event = self._convert(line, obj, Event)
        if isinstance(event, RecordError):
            return event
        problem = self._check_ts(line, "ts", event.ts)
        if problem:
            return problem
        network = parse_ip(event.client.ip) if event.client.ip is not None else None
        if event.client.ip is not None and network is None:
            return self.error(
                line, "client.ip", Reason.BAD_VALUE, f"not an IP address: {event.client.ip!r}"
            )
        asn = parse_asn(event.client.asn)
        if isinstance(asn, str):
            return self.error(line, "client.asn", Reason.BAD_VALUE, f"not an ASN: {asn!r}")
        problem = self._check_float32(line, event) or self._check_derived(line, event)
        return problem or (event, _extras(obj))

    def account(
        self, line: int, record: bytes | dict[str, Any]
    ) -> tuple[Account, dict[str, Any]] | RecordError:
        """A valid account and its fields outside the contract, or the reason it is refused."""
        obj = self.decode(line, record) if isinstance(record, bytes) else record
        if isinstance(obj, RecordError):
            return obj
        account = self._convert(line, obj, Account)
        if isinstance(account, RecordError):
            return account
        if account.created_at is not None:
            problem = self._check_ts(line, "created_at", account.created_at)
            if problem:
                return problem
        return account, {k: v for k, v in obj.items() if k not in ACCOUNT_FIELDS}

    def _convert(self, line: int, obj: dict[str, Any], kind: type[S]) -> S | RecordError:
        try:
            return msgspec.convert(obj, kind)
        except msgspec.ValidationError as exc:
            return self._explain(line, str(exc))

    def _check_ts(self, line: int, name: str, ts: datetime) -> RecordError | None:
        if ts < MIN_TS or ts > self.latest:
            return self.error(
                line,
                name,
                Reason.BAD_TIMESTAMP,
                f"{ts.isoformat()} is outside the plausible range "
                f"{MIN_TS.date()} .. {self.latest.isoformat(timespec='seconds')}",
            )
        return None

    def _check_float32(self, line: int, event: Event) -> RecordError | None:
        # Arrow would store an out-of-range value as inf without a word.
        values = (event.latency_ms, event.request.get("temperature"), event.request.get("top_p"))
        for name, value in zip(_FLOAT32_FIELDS, values, strict=True):
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if not abs(value) <= FLOAT32_MAX:  # also catches inf and NaN
                text = repr(value)
                shown = text if len(text) < 40 else f"{text[:20]}...({len(text)} digits)"
                message = f"{shown} is out of range: stored as a 32-bit float (up to ±3.4e38)"
                return self.error(line, name, Reason.BAD_VALUE, message)
        return None

    def _check_derived(self, line: int, event: Event) -> RecordError | None:
        derived = event.derived
        if derived is None:
            return None
        for name in DIGESTS:
            value = getattr(derived, name)
            if value is not None and value >= 2**64:
                message = f"{value} does not fit in 64 bits"
                return self.error(line, f"derived.{name}", Reason.BAD_VALUE, message)
        for name in ("temperature", "top_p"):
            value = getattr(derived, name)
            if value is not None and not abs(value) <= FLOAT32_MAX:
                message = f"{value!r} is out of range: stored as a 32-bit float"
                return self.error(line, f"derived.{name}", Reason.BAD_VALUE, message)
        return None

    def _explain(self, line: int, message: str) -> RecordError:
        """Turn a msgspec validation message into a field path and a reason."""
        match = _AT.match(message)
        assert match is not None  # the pattern matches any string
        what = match.group("what")
        path = (match.group("path") or "").lstrip(".")
        missing = _MISSING.search(what)
        if missing:
            field = f"{path}.{missing.group('name')}" if path else missing.group("name")
            return self.error(line, field, Reason.MISSING_FIELD, what)
        if path in _TIME_FIELDS:
            return self.error(line, path, Reason.BAD_TIMESTAMP, what)
        if ", got " in what:
            return self.error(line, path, Reason.WRONG_TYPE, what)
        return self.error(line, path, Reason.BAD_VALUE, what)


def explain_json_error(raw: bytes | str, exc: Exception) -> tuple[str, Reason, str]:
    """Field, reason and message for JSON text that did not decode (field "" for the whole)."""
    if isinstance(exc, RecursionError):
        return "", Reason.BAD_JSON, "JSON nested too deeply to read (the limit is ~1000 levels)"
    if str(exc).startswith(_OUT_OF_RANGE):  # 1e400 is valid JSON, but no float holds it
        return _huge_number_path(raw), Reason.BAD_VALUE, "number out of range: beyond ±1.8e308"
    return "", Reason.BAD_JSON, str(exc)


def _huge_number_path(raw: bytes | str) -> str:
    """Dotted path of the first number too large for a float (msgspec does not name it)."""
    huge = object()  # stands in for that number, so its place can be found
    decoder = msgspec.json.Decoder(float_hook=lambda s: x if math.isfinite(x := float(s)) else huge)
    try:
        todo: list[tuple[str, Any]] = [("", decoder.decode(raw))]
    except (msgspec.DecodeError, RecursionError):
        return ""
    while todo:  # depth-first, iterative: the JSON may be nested deeply
        path, value = todo.pop()
        if value is huge:
            return path.lstrip(".")
        if isinstance(value, dict):
            todo.extend((f"{path}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            todo.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return ""


def _extras(obj: dict[str, Any]) -> dict[str, Any]:
    """Fields outside the contract, top-level and inside client/usage, with dotted keys."""
    extra = {k: v for k, v in obj.items() if k not in EVENT_FIELDS}
    for name, known in (("client", CLIENT_FIELDS), ("usage", USAGE_FIELDS)):
        nested = obj.get(name)
        if isinstance(nested, dict):
            extra.update({f"{name}.{k}": v for k, v in nested.items() if k not in known})
    return extra
