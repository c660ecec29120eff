"""Turn validated records into the store's columns, a batch at a time (Arrow tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import msgspec
import pyarrow as pa
from msgspec.structs import astuple

from distillguard.contract.account import Account
from distillguard.contract.body import RequestView, view_request
from distillguard.contract.event import Event
from distillguard.ingest.validate import parse_asn, parse_ip
from distillguard.signals.derived import BANDS_AT, NO_BANDS, body_columns
from distillguard.signals.request import RequestSignals, score_request, score_requests
from distillguard.store.columns import ACCOUNT_COLUMNS, EVENT_COLUMNS, Column, arrow_schema

_NO_IP: tuple[None, None, None] = (None, None, None)

_encode = msgspec.json.Encoder().encode


class _Rows:
    columns: tuple[Column, ...]

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []  # row tuples, transposed once per batch: cheaper
        self.schema = arrow_schema(self.columns)

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        return rows_to_arrow(self.rows, self.schema)


def rows_to_arrow(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    if not rows:
        return schema.empty_table()
    columns = zip(*rows, strict=True)
    arrays = [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


Read = tuple[RequestView, RequestSignals]


def read_requests(events: Sequence[Event]) -> list[Read | Exception | None]:
    """Each event's request view and signals, scored as one batch (``score_requests``); None
    for an event that carries its derived columns, the exception for a body that cannot be
    read, so that one record never sinks the others."""
    out: list[Read | Exception | None] = [None] * len(events)
    views: dict[int, RequestView] = {}
    for i, event in enumerate(events):
        if event.derived is None:
            try:
                views[i] = view_request(event.request, event.endpoint)
            except Exception as exc:
                out[i] = exc
    try:
        signals = score_requests(list(views.values()))
    except Exception:  # some request breaks the batch: score each alone to find it
        for i, view in views.items():
            try:
                out[i] = view, score_request(view)
            except Exception as exc:
                out[i] = exc
        return out
    for (i, view), sig in zip(views.items(), signals, strict=True):
        out[i] = view, sig
    return out


class EventRows(_Rows):
    """Column lists for a batch of events; ``keep_text`` is the store's retention."""

    columns = EVENT_COLUMNS

    def __init__(self, keep_text: bool = True) -> None:
        super().__init__()
        self.keep_text = keep_text

    def add(
        self,
        event: Event,
        extra: dict[str, Any],
        source_file: str,
        source_line: int,
        read: Read | None = None,
    ) -> None:
        """One event's row; ``read`` is its request's view and signals when already computed
        (``read_requests``, for a chunk at once)."""
        if event.derived is not None:  # computed where the text was seen; the log has none
            body = astuple(event.derived)
            if None in body[BANDS_AT]:  # the bands come whole or not at all
                body = (*body[: BANDS_AT.start], *NO_BANDS, *body[BANDS_AT.stop :])
        else:
            if read is None:
                view = view_request(event.request, event.endpoint)
                read = view, score_request(view)
            body = body_columns(*read, event.response)
        network = parse_ip(event.client.ip) if event.client.ip is not None else None
        # No address in the log (some formats keep none): no network links for this event.
        ip, prefix, version = (network.ip, network.prefix, network.version) if network else _NO_IP
        usage = event.usage
        client = event.client
        asn = parse_asn(client.asn)
        keep_request = self.keep_text and event.derived is None
        values = (
            event.request_id,
            event.ts.astimezone(UTC),
            event.account_id,
            event.api_key_id,
            event.org_id,
            event.endpoint,
            event.model,
            body[0],
            ip,
            prefix,
            version,
            client.user_agent,
            asn if isinstance(asn, int) else None,
            client.country.upper() if client.country else None,
            client.tls_fingerprint,
            event.status,
            usage.input_tokens if usage else None,
            usage.output_tokens if usage else None,
            event.latency_ms,
            *body[1:],
            _encode(event.request).decode() if keep_request else None,
            _encode(event.response).decode()
            if self.keep_text and event.response is not None
            else None,
            _encode(extra).decode() if extra else None,
            source_file,
            source_line,
        )
        self.rows.append(values)


class AccountRows(_Rows):
    """Column lists for a batch of accounts.

    The same account twice in one batch: the later line wins, as it would across
    batches; ``repeats`` counts the earlier lines it replaced, so none goes uncounted.
    """

    columns = ACCOUNT_COLUMNS

    def add(self, account: Account, extra: dict[str, Any]) -> None:
        values = (
            account.account_id,
            account.created_at.astimezone(UTC) if account.created_at else None,
            account.tier.strip().lower() if account.tier else None,
            account.email_domain.strip().lower() if account.email_domain else None,
            account.payment_fingerprint,
            account.country.upper() if account.country else None,
            account.verified,
            account.org_id,
            _encode(extra).decode() if extra else None,
        )
        self.rows.append(values)

    @property
    def repeats(self) -> int:
        return len(self.rows) - len({row[0] for row in self.rows})

    def to_arrow(self) -> pa.Table:
        last = {row[0]: row for row in self.rows}
        return rows_to_arrow(list(last.values()), self.schema)
