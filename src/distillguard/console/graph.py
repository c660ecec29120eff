"""A campaign as a picture: its accounts and the indicators that link them.

Accounts are circles (coloured by verdict, each a link to its page), indicator values are
squares (coloured by kind), a line joins an account to each value it holds (the scan's
``links`` in campaigns.json). The layout is igraph's force-directed one, started from a
circle so that the same campaign is drawn the same way every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KIND_COLOURS = {
    "ip": "#4269d0",
    "prefix": "#97bbf5",
    "asn": "#6cc5b0",
    "client": "#a463f2",
    "tls": "#ff8ab7",
    "payment": "#ff725c",
    "email": "#efb118",
    "tools": "#3ca951",
    "system": "#9c6b4e",
    "template": "#1d2430",
    "sync": "#9498a0",
    "curriculum": "#6cc5b0",
}
VERDICT_COLOURS = {
    "block": "#b42318",
    "challenge": "#f79009",
    "watch": "#fdb022",
    "clear": "#98a2b3",
}


_RANK = {"block": 0, "challenge": 1, "watch": 2, "clear": 3}


@dataclass
class Node:
    x: float
    y: float
    kind: str  # "account" or an indicator kind
    label: str
    colour: str


@dataclass
class Picture:
    width: int
    height: int
    nodes: list[Node]
    edges: list[tuple[float, float, float, float]]
    kinds: list[tuple[str, str]]  # (kind, colour) for the legend
    shown: int  # accounts drawn: the riskiest first
    total: int


def draw(campaign: dict[str, Any], verdicts: dict[str, str], max_accounts: int = 100) -> Picture:
    import igraph

    ranked = sorted(campaign["accounts"], key=lambda a: _RANK.get(verdicts.get(a, ""), 4))
    accounts = ranked[:max_accounts]
    shown = set(accounts)
    links = [(a, k, v) for a, k, v in campaign.get("links", []) if a in shown]
    values = sorted({(k, v) for _, k, v in links})
    index = {a: i for i, a in enumerate(accounts)}
    index.update({kv: len(accounts) + i for i, kv in enumerate(values)})
    n = len(index)
    graph = igraph.Graph(n=n, edges=[(index[a], index[(k, v)]) for a, k, v in links])
    start = [[math.cos(2 * math.pi * i / max(n, 1)), math.sin(2 * math.pi * i / max(n, 1))]
             for i in range(n)]  # fmt: skip
    coords = graph.layout_fruchterman_reingold(seed=start, niter=200).coords if n else []
    width, height, pad = 900, 520, 16
    xs, ys = [c[0] for c in coords] or [0.0], [c[1] for c in coords] or [0.0]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0

    def at(i: int) -> tuple[float, float]:
        x = pad + (coords[i][0] - min(xs)) / span_x * (width - 2 * pad)
        y = pad + (coords[i][1] - min(ys)) / span_y * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    nodes = [
        Node(*at(index[a]), "account", a, VERDICT_COLOURS.get(verdicts.get(a, "clear"), "#98a2b3"))
        for a in accounts
    ]
    nodes += [
        Node(*at(index[(k, v)]), k, f"{k}: {v}", KIND_COLOURS.get(k, "#667085")) for k, v in values
    ]
    edges = [(*at(index[a]), *at(index[(k, v)])) for a, k, v in links]
    kinds = [(k, KIND_COLOURS.get(k, "#667085")) for k in sorted({k for k, _ in values})]
    return Picture(width, height, nodes, edges, kinds, len(accounts), len(campaign["accounts"]))
