"""What a log format is: a way to read another tool's records as contract events.

A format is small and stateless (pySigma's processing pipelines are the model): ``sniff``
says whether a decoded record looks like it, ``events`` maps one record onto zero or more
contract event dicts. The contract's own validator then checks them, so a record read
through a format meets exactly the rules a contract line meets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

from distillguard.contract.errors import Reason


class Unreadable(Exception):
    """One record, or one event inside it, that the format cannot map onto the contract.

    ``field`` is the path in the *source* record (``metadata.user_api_key_hash``), so the
    quarantine names what the user's own tool wrote.
    """

    def __init__(self, field: str, message: str, reason: Reason = Reason.BAD_VALUE) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


class Skip:
    """A record that is valid in its format but is not a model call (an HTTP span, a
    database span, a batch's bookkeeping): counted, neither stored nor quarantined."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


@dataclass(frozen=True)
class Defaults:
    """What the user says for records that do not: ``--account-id``, and the time to give
    a record that carries none (a batch input line's file time)."""

    account_id: str | None = None
    file_time: datetime | None = None
    source: str = ""  # the file's name, for ids a format must make up


Item = dict[str, Any] | Unreadable | Skip


class Format(ABC):
    """Read one tool's log records as contract events."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def sniff(self, record: dict[str, Any]) -> bool:
        """Does this decoded record look like this format?"""

    @abstractmethod
    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        """The contract events in one record (a dict each), or why one cannot be read."""


def iso(value: Any, field: str) -> str:
    """A timestamp as the contract wants it (RFC 3339, UTC), from the forms tools write:
    Unix seconds (LiteLLM's ``startTime``), ISO text with or without an offset (naive text,
    as Postgres exports ``timestamp`` columns, is taken as UTC).

    >>> iso(1772409600.25, "startTime")
    '2026-03-02T00:00:00.250000Z'
    >>> iso("2026-03-02 08:00:00.123", "startTime")
    '2026-03-02T08:00:00.123000Z'
    """
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, bool) or value is None:
        raise Unreadable(field, f"no timestamp ({value!r})", Reason.BAD_TIMESTAMP)
    try:
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            raise TypeError(type(value).__name__)
    except (ValueError, OverflowError, OSError, TypeError) as exc:
        raise Unreadable(
            field, f"not a timestamp: {value!r} ({exc})", Reason.BAD_TIMESTAMP
        ) from exc
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_value(value: Any, field: str) -> Any:
    """A value some tools store as JSON text (LiteLLM's spend logs, OTel attributes)."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return msgspec.json.decode(text)
            except msgspec.DecodeError as exc:
                raise Unreadable(field, f"not valid JSON text: {exc}", Reason.BAD_JSON) from exc
    return value


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one: for optional nested fields."""
    return value if isinstance(value, dict) else {}


def first(*values: Any) -> Any:
    """The first value that is neither None nor empty text.

    >>> first(None, "", "team_1", "user_2")
    'team_1'
    """
    for value in values:
        if value is not None and value != "":
            return value
    return None


def drop_none(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its None values, one level down into ``client`` and ``usage`` too."""
    out = {}
    for key, value in record.items():
        if isinstance(value, dict) and key in ("client", "usage"):
            value = {k: v for k, v in value.items() if v is not None}
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out
