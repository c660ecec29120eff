"""Run a stage (``store.sql.Stage``) on Spark: the same SQL, transpiled from DuckDB's dialect."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import sqlglot

from distillguard.store.sql import Stage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@lru_cache(maxsize=64)
def to_spark(sql: str) -> str:
    """DuckDB SQL as Spark SQL.

    >>> to_spark("SELECT x::VARCHAR AS v FROM t GROUP BY ALL")
    'SELECT CAST(x AS STRING) AS v FROM t GROUP BY ALL'
    """
    return str(sqlglot.transpile(sql, read="duckdb", write="spark")[0])


class Tables:
    """The temp views a scan has made on Spark; a view made again releases the old cache."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._cached: dict[str, DataFrame] = {}

    def view(self, name: str, df: DataFrame, *, cache: bool = False) -> None:
        old = self._cached.pop(name, None)
        if cache:
            df = df.cache()
            self._cached[name] = df
        df.createOrReplaceTempView(name)
        if old is not None:
            old.unpersist()

    def release(self) -> None:
        """Unpersist every cached view."""
        for df in self._cached.values():
            df.unpersist()
        self._cached.clear()

    def run(self, stage: Stage) -> None:
        """Build the stage's tables as cached temp views (later tables read earlier ones)."""
        for name, table in stage.inputs.items():
            self.view(name, self.spark.createDataFrame(table))
        for t in stage.tables:
            self.view(t.name, self.spark.sql(to_spark(t.sql)), cache=True)

    def pull(self, con: duckdb.DuckDBPyConnection, name: str) -> int:
        """Copy a Spark view into ``con`` as a temp table of the same name; returns its rows."""
        table = self.spark.table(name).toArrow()
        con.register("_from_spark", table)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _from_spark")
        finally:
            con.unregister("_from_spark")
        return int(table.num_rows)

    def push(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """Copy a (small) DuckDB table to Spark as a view of the same name."""
        table: pa.Table = con.sql(f"SELECT * FROM {name}").to_arrow_table()
        self.view(name, self.spark.createDataFrame(table), cache=True)
