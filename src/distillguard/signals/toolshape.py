"""A tool-set signature that survives renaming: the shape of the schemas, not their names.

Attackers rename tools, parameters and descriptions per account; the number of tools, and for
each the types of its parameters and which are required, stay. Agents resend the same tool set
on every call of a loop, so both signatures are remembered per tool set.

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

import msgspec

from distillguard.contract.body import Tool
from distillguard.contract.digest import digest64, tool_schema_digest
from distillguard.signals.memo import Memo


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
    """The digest of a tool set's shape: names, descriptions and order do not count."""
    if not tools:
        return None
    return digest64("|".join(sorted(_shape(t.parameters) for t in tools)))


_encode = msgspec.json.Encoder().encode


def _signatures_of(tools: Sequence[Tool]) -> tuple[int | None, int | None]:
    return tool_schema_digest(tools), tool_shape_digest(tools)


# Keyed by a digest of the tool set's encoding: equal tool sets, however often resent, are
# read once, and the memo holds two integers per set, not the set.
_by_tool_set: Memo[int, tuple[int | None, int | None]] = Memo()


def tool_signatures(tools: Sequence[Tool]) -> tuple[int | None, int | None]:
    """The exact schema digest and the shape digest of a tool set, remembered per tool set.

    >>> tool_signatures([]), tool_signatures([Tool("f", "", {})])[0] is not None
    ((None, None), True)
    """
    if not tools:
        return None, None
    key = digest64(_encode(tools))
    found = _by_tool_set.get(key)
    if found is None:
        found = _signatures_of(tools)
        _by_tool_set.put(key, found)
    return found
