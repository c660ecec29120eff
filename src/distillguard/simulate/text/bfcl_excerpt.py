"""Make ``data/bfcl_live_multiple.json``: a compact excerpt of BFCL v4 live_multiple.

BFCL (Apache-2.0) cannot be a dependency (it pins an old numpy), so its real user requests and
function schemas are excerpted once. Functions are deduplicated, schemas are made plain JSON
schema (``dict`` -> ``object``, ``float`` -> ``number``), long descriptions are cut, and whole
function sets are kept (several real questions per app) until the byte budget is spent.

    python3 -m pip download --no-deps -d /tmp/bfcl bfcl-eval
    unzip -q /tmp/bfcl/bfcl_eval-*.whl -d /tmp/bfcl/x
    uv run python -m distillguard.simulate.text.bfcl_excerpt \\
        /tmp/bfcl/x/bfcl_eval/data/BFCL_v4_live_multiple.json

>>> s = _schema({"type": "dict", "properties": {"x": {"type": "float", "description": "a" * 300}}})
>>> s["type"], s["properties"]["x"]["type"], len(s["properties"]["x"]["description"])
('object', 'number', 200)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "data" / "bfcl_live_multiple.json"
BUDGET = 390_000
_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def _schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "type" and isinstance(v, str):
            if v == "any":
                continue
            out[k] = _TYPES.get(v, v)
        elif k == "description" and isinstance(v, str):
            out[k] = _cut(v, 200)
        elif k == "properties" and isinstance(v, dict):
            out[k] = {name: _schema(p) for name, p in v.items()}
        else:
            out[k] = _schema(v)
    return out


def _function(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f["name"],
        "description": _cut(f.get("description", ""), 300),
        "parameters": _schema(f.get("parameters", {"type": "object", "properties": {}})),
    }


def excerpt(rows: list[dict[str, Any]], budget: int = BUDGET) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        key = json.dumps(r["function"], sort_keys=True)
        groups.setdefault(key, []).append(r)
    # Apps with several real questions first, then the smaller schemas.
    order = sorted(
        groups.values(), key=lambda g: (-min(len(g), 4), len(json.dumps(g[0]["function"])))
    )
    functions: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    size = 0
    for group in order:
        fs = [_function(f) for f in group[0]["function"]]
        new = [f for f in fs if json.dumps(f, sort_keys=True) not in index]
        cost = sum(len(json.dumps(f)) for f in new) + sum(
            len(json.dumps(r["question"])) for r in group
        )
        if size + cost > budget:
            continue
        for f in new:
            index[json.dumps(f, sort_keys=True)] = len(functions)
            functions.append(f)
        ids = [index[json.dumps(f, sort_keys=True)] for f in fs]
        for r in group:
            turns = r["question"][0]
            rec: dict[str, Any] = {"q": turns[-1]["content"], "f": ids}
            if turns[0]["role"] == "system":
                rec["s"] = turns[0]["content"]
            records.append(rec)
        size += cost
    return {
        "source": "bfcl-eval 2026.3.23, bfcl_eval/data/BFCL_v4_live_multiple.json",
        "licence": "Apache-2.0",
        "functions": functions,
        "records": records,
    }


def main(argv: list[str]) -> None:
    rows = [json.loads(line) for line in Path(argv[0]).read_text().splitlines() if line.strip()]
    data = excerpt(rows)
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(
        f"{len(data['records'])} records, {len(data['functions'])} functions, "
        f"{OUT.stat().st_size} bytes -> {OUT}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
