"""A scan stage as data: named tables, each one SELECT, that either engine can run.

The SQL is written once, in DuckDB's dialect. The embedded engine runs it as it is; the Spark
engine (``distillguard.spark``) transpiles the same text with sqlglot. A stage that needs a small
lookup table (a topic's words, a kind's weight) carries it as an Arrow table, which each engine
registers under its name before the SQL runs. Keep to SQL both engines share: no ``UNPIVOT``,
no DuckDB-only functions (a parity test runs every stage on both).

>>> import duckdb, pyarrow as pa
>>> con = duckdb.connect()
>>> stage = Stage(
...     (Table("doubled", "SELECT x * 2 AS y FROM numbers"),),
...     {"numbers": pa.table({"x": [1, 2]})},
... )
>>> stage.run(con)
>>> con.execute("SELECT sum(y) FROM doubled").fetchall()
[(6,)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Table:
    """One temp table of a stage: its name and the SELECT (DuckDB dialect) that fills it."""

    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class Stage:
    """Tables built in order (a later one may read an earlier one), and the inputs they read."""

    tables: tuple[Table, ...]
    inputs: Mapping[str, pa.Table] = field(default_factory=dict)

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        """Build the tables as temp tables in DuckDB (the embedded engine)."""
        for name, table in self.inputs.items():
            con.register(name, table)
        try:
            for t in self.tables:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {t.name} AS {t.sql}")
        finally:
            for name in self.inputs:
                con.unregister(name)
