"""JSON Schema export of the contract, generated from the typed structs so there is one source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from distillguard.contract.account import Account
from distillguard.contract.event import CONTRACT_VERSION, Event

SCHEMAS: dict[str, type[msgspec.Struct]] = {"event": Event, "account": Account}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one contract record type: ``event`` or ``account``.

    >>> json_schema("event")["required"][:3]
    ['ts', 'request_id', 'account_id']
    """
    struct = SCHEMAS[name]
    generated = msgspec.json.schema(struct)
    defs = generated["$defs"]
    root = defs.pop(struct.__name__)
    for schema in (root, *defs.values()):
        # Docstrings carry doctests; the schema keeps only their first paragraph.
        if "description" in schema:
            schema["description"] = schema["description"].split("\n\n")[0]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:distillguard:contract:v{CONTRACT_VERSION}:{name}",
        **root,
        "additionalProperties": True,
        "$defs": defs,
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write every contract schema as ``NAME.schema.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / f"{name}.schema.json"
        text = msgspec.json.format(msgspec.json.encode(json_schema(name)), indent=2)
        path.write_bytes(text + b"\n")
        written.append(path)
    return written
