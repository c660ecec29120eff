"""Log contract v1: one API request as the provider logged it.

This module is the single definition of an event; ``schemas/event.schema.json``
is generated from it (``distillguard schema``) and a test keeps the two equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from distillguard.contract.derived import Derived

CONTRACT_VERSION = "1"

Id = Annotated[str, Meta(min_length=1, max_length=512)]
Count = Annotated[int, Meta(ge=0, le=2**53)]
UtcTime = Annotated[
    datetime,
    Meta(
        tz=True,
        description="RFC 3339 timestamp with a UTC offset (Z or +00:00 preferred).",
        extra_json_schema={"format": "date-time"},
    ),
]


class Client(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where the request came from, as the API front end saw it."""

    ip: Annotated[
        str | None,
        Meta(description="Client IPv4 or IPv6 address; without it, no network links."),
    ] = None
    user_agent: str | None = None
    asn: Annotated[
        Annotated[int, Meta(ge=0, le=2**32 - 1)] | str | None,
        Meta(description="Autonomous system number: 15169 or 'AS15169'."),
    ] = None
    country: Annotated[str | None, Meta(description="ISO 3166-1 alpha-2 country code.")] = None
    tls_fingerprint: Annotated[
        str | None, Meta(description="TLS client fingerprint, e.g. JA3 or JA4.")
    ] = None


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Token counts billed for the request."""

    input_tokens: Count | None = None
    output_tokens: Count | None = None


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One API request: who sent it, from where, to which model, and the body as sent.

    ``request`` is the JSON body exactly as the client sent it, in the OpenAI
    (Chat Completions, Completions, Responses) or Anthropic Messages shape.
    Fields not named here are kept by ingest in an ``extra`` column, never rejected.

    >>> import msgspec
    >>> line = b'''{"ts": "2026-03-01T12:00:00Z", "request_id": "req_1",
    ...   "account_id": "acct_9", "endpoint": "/v1/messages", "model": "claude-x",
    ...   "client": {"ip": "203.0.113.7"},
    ...   "request": {"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}}'''
    >>> event = msgspec.json.decode(line, type=Event)
    >>> event.account_id, event.client.ip
    ('acct_9', '203.0.113.7')
    """

    ts: UtcTime
    request_id: Annotated[Id, Meta(description="Unique per request; ingest is idempotent on it.")]
    account_id: Id
    endpoint: Annotated[
        str,
        Meta(description="API path, e.g. /v1/chat/completions or /v1/messages; others kept."),
    ]
    model: str
    client: Annotated[
        Client, Meta(description="Where the request came from; {} when the log does not say.")
    ] = msgspec.field(default_factory=Client)
    request: Annotated[
        dict[str, Any],
        Meta(description="The JSON request body as sent; {} when the log keeps no text."),
    ]
    api_key_id: str | None = None
    org_id: str | None = None
    response: Annotated[
        dict[str, Any] | None, Meta(description="The JSON response body as returned.")
    ] = None
    status: Annotated[int, Meta(ge=100, le=599)] | None = None
    usage: Usage | None = None
    latency_ms: Annotated[float, Meta(ge=0)] | None = None
    derived: Annotated[
        Derived | None,
        Meta(
            description="What detection needs from the bodies, for a log that keeps no text "
            "(the gateway's log.retention: derived); ingest stores it instead of reading them."
        ),
    ] = None


EVENT_FIELDS = frozenset(Event.__struct_fields__)
CLIENT_FIELDS = frozenset(Client.__struct_fields__)
USAGE_FIELDS = frozenset(Usage.__struct_fields__)
