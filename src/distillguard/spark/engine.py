"""The scan's event-level stages on Spark, behind the same ``Engine`` interface as the store.

``SparkEngine`` holds the parsed events as a cached DataFrame. Each stage runs its SQL on
Spark (sql.py) and copies its account-sized result (``fp``, ``links``, ``ev_hours``,
``ev_top``) into the driver's DuckDB connection, where ``scan.run`` goes on as it does for a
store: clusters, verdicts, campaigns, the files.

Partners' indicators are not matched here yet: a scan on Spark has no store to import them
into, so its ``partner`` factor is empty (docs/spark.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from distillguard.campaigns.evidence import evidence_stage
from distillguard.contract.errors import Reason, RecordError
from distillguard.coordination.links import link_stage
from distillguard.fingerprints.account import fingerprint_stage
from distillguard.ingest.quarantine import Quarantine
from distillguard.intel.match import match_partners
from distillguard.scan.enforcement import enforcement_stage
from distillguard.scan.run import window_events
from distillguard.spark.read import ERROR_FIELDS, Settings, read_events
from distillguard.spark.sql import Tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_ERRORS = [n for n, _ in ERROR_FIELDS]  # the quarantine's fields, then file_index


@dataclass
class SparkRead:
    """What reading the logs on Spark did (as ``IngestReport`` counts it for a store)."""

    files: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    accounts_quarantined: int = 0
    skipped: list[str] = field(default_factory=list)  # files in directories not read: not logs


class SparkEngine:
    """Event-level stages on ``spark`` over the logs in ``files``; accounts from ``accounts``."""

    name = "spark"

    def __init__(
        self,
        spark: SparkSession,
        files: list[str],
        accounts: pa.Table,
        settings: Settings,
        quarantine: Quarantine,
    ) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        self.spark = spark
        self.tables = Tables(spark)
        self.report = SparkRead(files=len(files))
        # Every record once, on disk: read again only to count and to collect refusals.
        parsed = read_events(spark, files, settings).persist(StorageLevel.DISK_ONLY)
        self._parsed = parsed
        events = parsed.where(F.col("q_reason").isNull()).drop(*_ERRORS[:-1])
        # A request id seen twice is stored once, the first read (file order, then line).
        first = Window.partitionBy("request_id").orderBy("file_index", "source_line")
        self._events = (
            events.withColumn("_k", F.row_number().over(first))
            .where(F.col("_k") == 1)
            .drop("_k", "file_index")
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        # Counted first so every file is read in parallel: collecting the refused records
        # alone would run one job per partition, one after the other.
        total = events.count()
        self.report.stored = self._events.count()
        self._quarantine(parsed, quarantine)
        self.report.duplicates = total - self.report.stored
        self.tables.view("accounts", spark.createDataFrame(accounts), cache=True)

    def _quarantine(self, parsed: DataFrame, quarantine: Quarantine) -> None:
        refused = (
            parsed.where(parsed.q_reason.isNotNull())
            .select(*_ERRORS)
            .orderBy("file_index", "q_line")  # the file reads as ingest's does
        )
        for row in refused.toLocalIterator():
            error = RecordError(
                file=row.q_file,
                line=row.q_line,
                field=row.q_field,
                reason=Reason(row.q_reason),
                message=row.q_message,
            )
            quarantine.add(error, record_bytes=row.q_bytes)
            self.report.quarantined[row.q_reason] += 1

    def span(self, con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
        from pyspark.sql import functions as F

        # Through Arrow: collect() would give naive times in the machine's zone.
        row = self._events.agg(F.min("ts").alias("a"), F.max("ts").alias("b")).toArrow()
        first, last = row.column("a")[0].as_py(), row.column("b")[0].as_py()
        return _utc(first), _utc(last)

    def window(self, con: duckdb.DuckDBPyConnection, until: datetime | None) -> None:
        from pyspark.sql import functions as F

        ev = self._events if until is None else self._events.where(F.col("ts") < F.lit(until))
        self.tables.view("ev", ev)
        window_events(con, until)  # the driver's (empty) store, for the stages that run there

    def fingerprints(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tables.run(fingerprint_stage())
        self.tables.pull(con, "fp")

    def partners(self, con: duckdb.DuckDBPyConnection) -> None:
        match_partners(con)  # no indicators in the driver's store: empty tables, no factor

    def links(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tables.run(link_stage(partners=False))
        self.tables.pull(con, "links")

    def evidence(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tables.push(con, "campaign_of")
        self.tables.run(evidence_stage())
        self.tables.pull(con, "ev_hours")
        self.tables.pull(con, "ev_top")

    def enforcement(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tables.run(enforcement_stage())
        self.tables.pull(con, "enforced")

    def events(self, con: duckdb.DuckDBPyConnection) -> int:
        return int(self.spark.table("ev").count())

    def close(self) -> None:
        """Release every cache the scan made (a notebook's session lives on)."""
        self.tables.release()
        self._events.unpersist()
        self._parsed.unpersist()


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
