"""A tool-set signature that survives renaming: the shape of the schemas, not their names.

Attackers rename tools, parameters and descriptions per account; the number of tools, and for
each the types of its parameters and which are required, stay.

>>> from distillguard.contract.body import Tool
>>> def schema(name):
...     return {"type": "object", "properties": {name: {"type": "string"}}, "required": [name]}
>>> a = [Tool("read_file", "Read a file", schema("path"))]
>>> b = [Tool("getDoc", "Fetch a doc", schema("loc"))]
>>> tool_shape_digest(a) == tool_shape_digest(b)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distillguard.contract.body import Tool
from distillguard.contract.digest import digest64


def _shape(parameters: Any) -> str:
    if not isinstance(parameters, dict):
        return "?"
    props = parameters.get("properties")
    props = props if isinstance(props, dict) else {}
    required = parameters.get("required")
    req = set(required) if isinstance(required, list) else set()
    kinds = sorted(
        f"{p.get('type', '?') if isinstance(p, dict) else '?'}{'!' if k in req else ''}"
        for k, p in props.items()
        if isinstance(k, str)
    )
    return ",".join(str(k) for k in kinds)


def tool_shape_digest(tools: Sequence[Tool]) -> int | None:
    if not tools:
        return None
    return digest64("|".join(sorted(_shape(t.parameters) for t in tools)))
