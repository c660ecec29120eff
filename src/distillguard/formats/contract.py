"""The project's own log contract (``docs/log-contract.md``): records pass through as they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from distillguard.formats.base import Defaults, Format, Item


class Contract(Format):
    name = "contract"
    summary = "distillguard's log contract (what the gateway writes; docs/log-contract.md)"

    def sniff(self, record: dict[str, Any]) -> bool:
        return "request_id" in record and "account_id" in record and "call_type" not in record

    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        if defaults.account_id is not None and record.get("account_id") is None:
            record["account_id"] = defaults.account_id
        yield record
