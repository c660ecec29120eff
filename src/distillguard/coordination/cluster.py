"""Community detection over the account–indicator graph (igraph + leidenalg).

The graph is bipartite: accounts on one side, shared indicators on the other, edges weighted by
rarity (``links.py``). Clustering it directly, rather than an account–account projection, keeps
the edge count linear in the links: a value shared by n accounts is n edges, not n².
Each community gets a Fraudar-style density: the weight of its edges over its node count.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

SEED = 42


def cluster_accounts(con: duckdb.DuckDBPyConnection, resolution: float = 1.0) -> int:
    """Create temp table ``membership(account_id, cluster_id, density)``; returns cluster count.

    Accounts in a community of one get no row.
    """
    links = con.execute(
        "SELECT account_id, kind || ':' || value, weight FROM links ORDER BY ALL"
    ).fetchall()
    if not links:
        _empty(con)
        return 0
    names: dict[str, int] = {}
    edges, weights = [], []
    for account, indicator, weight in links:
        a = names.setdefault("a:" + account, len(names))
        i = names.setdefault("i:" + indicator, len(names))
        edges.append((a, i))
        weights.append(float(weight))
    import igraph as ig  # seconds to import: only when a scan clusters, not for every command
    import leidenalg

    graph = ig.Graph(n=len(names), edges=edges)
    graph.es["weight"] = weights
    partition = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        seed=SEED,
    )
    member = partition.membership
    inner: dict[int, float] = {}
    nodes: dict[int, int] = {}
    for (a, i), w in zip(edges, weights, strict=True):
        if member[a] == member[i]:
            inner[member[a]] = inner.get(member[a], 0.0) + w
    for node in range(len(names)):
        nodes[member[node]] = nodes.get(member[node], 0) + 1
    accounts = [(n[2:], member[v]) for n, v in names.items() if n.startswith("a:")]
    sizes: dict[int, int] = {}
    for _, c in accounts:
        sizes[c] = sizes.get(c, 0) + 1
    # Largest first, so cluster ids read as a ranking and stay stable for a given graph.
    order = sorted((c for c in sizes if sizes[c] > 1), key=lambda c: (-sizes[c], c))
    ids = {c: f"C{k + 1:04d}" for k, c in enumerate(order)}
    rows = [(acc, ids[c], inner.get(c, 0.0) / nodes[c]) for acc, c in accounts if c in ids]
    table = pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.string()),
            "cluster_id": pa.array([r[1] for r in rows], pa.string()),
            "density": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    con.register("_membership", table)
    con.execute("CREATE OR REPLACE TEMP TABLE membership AS SELECT * FROM _membership")
    con.unregister("_membership")
    return len(ids)


def _empty(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE membership "
        "(account_id VARCHAR, cluster_id VARCHAR, density DOUBLE)"
    )
