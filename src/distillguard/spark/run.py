"""``scan --engine spark``: log files in, the same results directory out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from distillguard.contract.errors import Reason
from distillguard.ingest.quarantine import Quarantine
from distillguard.ingest.run import IngestOptions, ingest
from distillguard.ingest.sources import SourceError
from distillguard.ingest.validate import DEFAULT_MAX_RECORD_BYTES
from distillguard.scan.run import ScanResult, scan
from distillguard.spark.engine import SparkEngine, SparkRead
from distillguard.spark.read import Settings, list_files
from distillguard.spark.session import start
from distillguard.store import Retention, Store
from distillguard.verdicts.config import Config
from distillguard.verdicts.learned import Learned


def scan_on_spark(
    events: Sequence[str],
    accounts: Sequence[Path],
    out: Path,
    cfg: Config,
    *,
    master: str | None = None,
    until: datetime | None = None,
    replay: timedelta | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    now: datetime | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_replay: Callable[[datetime], None] | None = None,
    decisions: list[tuple[Any, ...]] | None = None,
    model: Learned | None = None,
) -> tuple[ScanResult, SparkRead, Path]:
    """Scan ``events`` (paths or URIs) on Spark; returns the result, what was read, and the
    quarantine file (``OUT/quarantine.jsonl``, written only when a record is refused).

    Raises ``SourceError`` before starting Spark when a path does not exist.
    """
    files, skipped = list_files(list(events))
    clock = now or datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    q_path = out / "quarantine.jsonl"
    # Account records are small: the driver reads them into a throwaway store, as ingest does.
    with Store.open(":memory:", retention=Retention.DERIVED) as db:  # no text in quarantine
        read = ingest(
            [],
            db,
            accounts=accounts,
            quarantine_path=q_path,
            options=IngestOptions(max_record_bytes=max_record_bytes, now=clock),
        )
        table = db.con.sql("SELECT * FROM accounts").to_arrow_table()
        spark = start(master)
        quarantine = Quarantine(q_path, keep_text=False, run=clock.isoformat(timespec="seconds"))
        try:
            engine = SparkEngine(spark, files, table, Settings(max_record_bytes, clock), quarantine)
        finally:
            quarantine.close()
        unreadable = engine.report.quarantined[Reason.UNREADABLE_FILE.value]
        if files and not engine.report.stored and unreadable == len(files):
            engine.close()
            raise SourceError(
                f"the Spark tasks could read none of the {len(files):,} file(s) (first: "
                f"{files[0]}); on a cluster a local path must exist on every worker: use a "
                f"shared filesystem or a URI (details: {q_path})"
            )
        if on_stage:
            on_stage("read")
        engine.report.skipped = skipped
        engine.report.accounts_quarantined = read.accounts_quarantined
        try:
            result = scan(
                db.con,
                out,
                cfg,
                until=until,
                replay=replay,
                store_path="",
                on_stage=on_stage,
                on_replay=on_replay,
                engine=engine,
                decisions=decisions,
                model=model,
            )
        finally:
            engine.close()
    return result, engine.report, q_path
