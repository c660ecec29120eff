"""Function calls against offered schemas: plausible arguments and API-like results.

Arguments come from the parameter's type, enum and name, and reuse words of the user's
request (as a model would); results echo the arguments the way real APIs do.

>>> import random
>>> from distillguard.simulate.text.tools import tool
>>> t = tool("get_weather", "Weather for a city.", ("city",), city="string", days="integer")
>>> sorted(arguments(t, random.Random(1), "weather in Lisbon tomorrow"))
['city']
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from distillguard.simulate.text.tools import Tool

_json = msgspec.json.Encoder()
_CITIES = ("Berlin", "San Francisco, CA", "Tokyo", "London", "New York, NY", "Lisbon", "Austin, TX")
_FILES = ("notes.md", "report.txt", "data.csv", "brief.md", "summary.json", "output/results.csv")


def _phrase(rng: random.Random, words: list[str]) -> str:
    if not words:
        return "details"
    n = min(len(words), rng.randint(2, 5))
    start = rng.randrange(len(words) - n + 1)
    return " ".join(words[start : start + n]).strip(".,?!:;\"'")


def _value(
    name: str, schema: dict[str, Any], rng: random.Random, words: list[str], depth: int
) -> Any:
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    kind, low = schema.get("type", "string"), name.lower()
    if kind == "integer":
        return rng.choice((1, 2, 3, 5, 10, 20, 50, rng.randint(1, 500)))
    if kind == "number":
        return round(rng.uniform(0.5, 500), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [_value(name, schema.get("items") or {"type": "string"}, rng, words, depth + 1)]
    if kind == "object":
        props = list((schema.get("properties") or {}).items())[:3] if depth < 2 else []
        return {k: _value(k, v, rng, words, depth + 1) for k, v in props}
    if "date" in low or "time" in low:
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if low.endswith("id") or "_id" in low:
        return f"{rng.getrandbits(28):07x}"
    if "city" in low or "location" in low or "place" in low:
        return rng.choice(_CITIES)
    if "url" in low or "link" in low:
        return f"https://example.com/{_phrase(rng, words).replace(' ', '-').lower()}"
    if "path" in low or "file" in low:
        return rng.choice(_FILES)
    if "email" in low or low == "to":
        return rng.choice(("team@example.com", "j.doe@example.org", "ops@example.net"))
    if "code" in low:
        return rng.choice(
            (
                "import pandas as pd\ndf = pd.read_csv('data.csv')\nprint(df.describe())",
                "print(sum(x * x for x in range(10)))",
                "import math\nprint(math.pi)",
            )
        )
    return _phrase(rng, words)


def arguments(t: Tool, rng: random.Random, request: str) -> dict[str, Any]:
    """Required parameters always, optional ones now and then."""
    params = t.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or ())
    words = request.split()
    return {
        k: _value(k, v, rng, words, 0)
        for k, v in props.items()
        if k in required or rng.random() < 0.25
    }


def result(name: str, args: dict[str, Any], rng: random.Random) -> str:
    """A JSON result shaped like the kind of function called."""
    low = name.lower()
    if rng.random() < 0.06:
        return _json.encode(
            {"error": rng.choice(("timeout", "rate limited", "not found", "invalid argument"))}
        ).decode()
    if "search" in low or low.startswith(("get", "list", "find", "fetch", "query")):
        items = [
            {
                "id": f"{rng.getrandbits(24):06x}",
                "title": f"{v} ({i + 1})" if isinstance(v, str) else f"result {i + 1}",
                "score": round(rng.random(), 3),
            }
            for i, v in enumerate([*args.values(), *range(rng.randint(0, 3))][:4])
        ]
        return _json.encode({"results": items, "total": rng.randint(len(items), 300)}).decode()
    if low in ("python", "run_code", "execute"):
        return rng.choice(
            ("285", "3.141592653589793", "count    120.0\nmean      42.7\nstd       9.1")
        )
    body = {
        "status": rng.choice(("success", "ok", "created", "confirmed")),
        "id": f"{rng.getrandbits(32):08x}",
        **{k: v for k, v in list(args.items())[:3]},
    }
    return _json.encode(body).decode()
