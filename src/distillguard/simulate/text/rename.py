"""Per-account tool renaming: attackers rename tools so schema matching misses them.

>>> import random
>>> from distillguard.simulate.text.tools import AGENTS
>>> tools = AGENTS["forge"]
>>> renamed = rename_tools(tools, random.Random(7))
>>> len(renamed) == len(tools), [t["name"] for t in tools] != [t["name"] for t in renamed]
(True, True)
"""

from __future__ import annotations

import random
import zlib

from distillguard.simulate.text.tools import Tool

_SYNONYMS = {
    "read": "get",
    "file": "doc",
    "run": "exec",
    "shell": "terminal",
    "search": "find",
    "list": "ls",
    "edit": "patch",
    "write": "save",
    "execute": "run",
    "command": "cmd",
    "path": "location",
    "get": "fetch",
    "create": "new",
    "computer": "desktop",
    "replace": "swap",
    "bash": "sh",
    "content": "body",
    "query": "q",
    "to": "into",
}


def _case(words: list[str], style: int) -> str:
    if style == 0:
        return "_".join(words)
    if style == 1:
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == 2:
        return "".join(w.capitalize() for w in words)
    return "-".join(words)


def _rename(name: str, prefix: str, suffix: str, style: int, swap: float, salt: int) -> str:
    words = [w for w in name.replace(".", "_").replace("-", "_").split("_") if w]
    # The same original name gets the same new name for one account, whatever list it is in.
    words = [
        _SYNONYMS.get(w.lower(), w.lower())
        if (zlib.crc32(f"{w}:{salt}".encode()) & 0xFF) / 256 < swap
        else w.lower()
        for w in words
    ] or ["tool"]
    return _case([*prefix.split(), *words, *suffix.split()], style)


def rename_tools(tools: list[Tool], rng: random.Random) -> list[Tool]:
    """The same tools, renamed in one account's style: names, descriptions and parameters.

    Attackers rename tools per account so schema matching misses them; the structure (count,
    types, required-ness) stays, and one account renames a given name the same way every time.
    """
    prefix = rng.choice(("", "", "tool ", "fn ", "do ", "agent ", "x "))
    suffix = rng.choice(("", "", "", "v2", "tool", "op", "fn"))
    style, swap, salt = rng.randrange(4), rng.choice((0.3, 0.6, 1.0)), rng.getrandbits(30)
    pstyle = rng.randrange(3)
    lead = rng.choice(("", "", "Tool: ", "Use this to ", "Function that will "))
    out = []
    for t in tools:
        params = t.get("parameters") or {}
        props = params.get("properties") or {}
        names = {k: _rename(k, "", "", pstyle, swap, salt) for k in props}
        desc = str(t.get("description", ""))
        new_params = {
            **params,
            "properties": {names[k]: v for k, v in props.items()},
            "required": [names.get(r, r) for r in params.get("required") or []],
        }
        out.append(
            {
                **t,
                "name": _rename(str(t["name"]), prefix, suffix, style, swap, salt),
                "description": (lead + desc[:1].lower() + desc[1:]) if lead else desc,
                "parameters": new_params,
            }
        )
    return out
