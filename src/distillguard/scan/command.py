"""``distillguard scan``: the store (or log files) in, a results directory out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from distillguard.ingest.command import (
    AccountIdOption,
    FormatOption,
    checked_format,
    ingest_with_progress,
)
from distillguard.ingest.run import IngestOptions
from distillguard.ingest.sources import SourceError
from distillguard.scan.run import STAGES, ScanResult, scan
from distillguard.store import Store, StoreError
from distillguard.terminal import err, fail, out, silent
from distillguard.verdicts.config import Config, ConfigError, load_config
from distillguard.verdicts.decisions import carry, latest, read
from distillguard.verdicts.learned import Learned


class EngineName(StrEnum):
    """Where a scan's event-level stages run."""

    duckdb = "duckdb"
    spark = "spark"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_until(text: str | None) -> datetime | None:
    """An RFC 3339 time; one without an offset is read as UTC.

    >>> parse_until("2026-03-05T16:00:00Z").isoformat()
    '2026-03-05T16:00:00+00:00'
    """
    if text is None:
        return None
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        example = "2026-03-05T16:00:00Z"
        raise fail(f"--until {text!r}: not an RFC 3339 time (e.g. {example})", 2) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def parse_step(text: str | None) -> timedelta | None:
    """A replay step such as ``30m``, ``6h`` or ``1d``.

    >>> parse_step("6h")
    datetime.timedelta(seconds=21600)
    """
    if text is None:
        return None
    match = _DURATION.match(text)
    if not match or float(match[1]) <= 0:
        raise fail(f"--replay {text!r}: give a positive duration such as 30m, 6h or 1d", 2)
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def scan_command(
    events: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files or directories (JSONL, gzip, Parquet, Hive-style date=... lakes) to "
            "ingest first (into --store, or OUT/store.duckdb); with --engine spark, also any "
            "URI Spark's filesystems read (s3://, gs://, hdfs://...).",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Results directory to write.")] = Path(
        "results"
    ),
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar="DISTILLGUARD_STORE",
            help="DuckDB store to scan (and to ingest EVENTS into, when given).",
        ),
    ] = None,
    accounts: Annotated[
        list[Path] | None,
        typer.Option("--accounts", "-a", help="Account records to ingest with EVENTS."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Use only events before this RFC 3339 time.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Thresholds and weights (YAML); default: the bundled one."),
    ] = None,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            help="Also re-run the scan every STEP (30m, 6h, 1d) to record when each account "
            "was first flagged (accounts.csv flagged_at); costs one scan per step.",
        ),
    ] = None,
    engine: Annotated[
        EngineName,
        typer.Option(
            "--engine",
            help="Where the event-level stages run: duckdb (this process, a store) or spark "
            "(reading, signals, fingerprints and links on Spark; docs/spark.md).",
        ),
    ] = EngineName.duckdb,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL for --engine spark (local[4], spark://host:7077, yarn); "
            "default: what spark-submit set, else local[*] (every core here).",
        ),
    ] = None,
    log_format: FormatOption = None,
    account_id: AccountIdOption = None,
    decisions: Annotated[
        list[Path] | None,
        typer.Option(
            "--decisions",
            help="Analysts' labels from the console (an earlier RESULTS/labels.jsonl; may be "
            "given more than once): dismissed accounts stay clear while their evidence is "
            "unchanged, confirmed ones flagged; each says so in its reasons. They are carried "
            "into OUT/labels.jsonl, so the next scan needs only that one.",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="A model learned from analysts' decisions (`distillguard learn --out DIR`): "
            "moves the risk of accounts at watch or above by at most learned.weight (0.2), "
            "and says so in their reasons. Load only models you made (a pickle).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Find campaigns and give every account a risk, a verdict and its reasons.

    Reads the store (or ingests EVENTS first), computes account fingerprints, links accounts
    by what they share (weighed by rarity), clusters them, scores clusters and accounts,
    assembles campaigns with evidence, and writes OUT/accounts.csv, OUT/campaigns.json,
    OUT/report.html and OUT/manifest.json (docs/output-contract.md).

    Examples:

      distillguard scan --store dg.duckdb --out results/

      distillguard scan logs/ --accounts accounts.jsonl --out results/

      distillguard scan --store dg.duckdb --out results/ --until 2026-03-05T00:00:00Z --replay 6h

      distillguard scan lake/ --accounts accounts.jsonl --out results/ --engine spark

      distillguard scan litellm-spend-logs.jsonl --out results/   # format detected

      distillguard scan --store dg.duckdb --out results-2/ --decisions results-1/labels.jsonl

      distillguard learn --results results-1/ --out model/    # then, on the next week:

      distillguard scan --store dg.duckdb --out results-2/ --model model/
    """
    cutoff, step = parse_until(until), parse_step(replay)
    try:
        cfg = load_config(config)
        labelled, problems = read(decisions or [])
        model = Learned.load(model_dir) if model_dir is not None else None
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    for problem in problems:
        err.print(f"[yellow]{problem}[/yellow]", soft_wrap=True)
    decided = latest(labelled) if decisions else None
    if decisions:
        out_dir.mkdir(parents=True, exist_ok=True)
        carry(labelled, out_dir)
    if engine is EngineName.spark:
        if not events:
            raise fail(
                "--engine spark reads log files: give EVENTS (a store is scanned "
                "by the duckdb engine)",
                2,
            )
        if store is not None:
            raise fail("--store is for the duckdb engine; --engine spark keeps no store", 2)
        if log_format is not None or account_id is not None:
            raise fail(
                "--format and --account-id are for the duckdb engine for now; --engine spark"
                " detects each file's format and needs records that name their account",
                2,
            )
        _scan_spark(
            events,
            accounts or [],
            out_dir,
            cfg,
            spark_master,
            cutoff,
            step,
            quiet,
            decided,
            model,
        )
        return
    if spark_master is not None:
        raise fail("--spark-master needs --engine spark", 2)
    uris = [e for e in events or [] if "://" in e]
    if uris:
        raise fail(f"{uris[0]}: the duckdb engine reads local files; URIs need --engine spark", 2)
    if not events and store is None:
        raise fail("give log files to scan, or --store with an ingested store", 2)
    store_path = store or out_dir / "store.duckdb"
    if not events and not store_path.exists():
        raise fail(f"no store at {store_path} (run `distillguard ingest` first)")
    try:
        db = Store.open(store_path)
    except StoreError as exc:
        raise fail(str(exc)) from exc
    with db:
        if events:
            options = IngestOptions(
                workers=0, format=checked_format(log_format), account_id=account_id
            )
            report = ingest_with_progress(
                db, [Path(e) for e in events], accounts or [], options=options, quiet=quiet
            )
            if not report.clean and not quiet:
                err.print(
                    f"[yellow]{sum(report.quarantined.values()):,} record(s) quarantined[/yellow]"
                    f" (file, line, field, reason): {report.quarantine_path}",
                    soft_wrap=True,
                )
        with _stages(len(STAGES), quiet) as (on_stage, on_replay):
            result = scan(
                db.con,
                out_dir,
                cfg,
                until=cutoff,
                replay=step,
                store_path=str(store_path),
                on_stage=on_stage,
                on_replay=on_replay,
                decisions=decided,
                model=model,
            )
    _warn_model(result)
    if not quiet:
        _print_result(result)


def _warn_model(result: ScanResult) -> None:
    """A model that judged nothing is said even with -q: the scan is the rules' alone."""
    if result.model_set_aside:
        err.print(
            f"[yellow]learned model set aside[/yellow]: {result.model_set_aside}; the "
            "verdicts are the rules' alone (distillguard learn on decisions like these)",
            soft_wrap=True,
        )


@contextmanager
def _stages(
    total: int, quiet: bool
) -> Iterator[tuple[Callable[[str], None], Callable[[datetime], None]]]:
    """A bar that advances per stage, and names the replay step it is on."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=silent if quiet else err,
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("scanning", total=total)
        yield (
            lambda name: bar.update(task, advance=1, description=name),
            lambda t: bar.update(task, description=f"replay {t:%Y-%m-%d %H:%M}"),
        )


def _scan_spark(
    events: list[str],
    accounts: list[Path],
    out_dir: Path,
    cfg: Config,
    master: str | None,
    cutoff: datetime | None,
    step: timedelta | None,
    quiet: bool,
    decided: list[tuple[Any, ...]] | None = None,
    model: Learned | None = None,
) -> None:
    from distillguard.spark.session import SparkUnavailable, check

    try:
        check()  # before pyspark is imported: a missing pyspark or Java is named, not a traceback
    except SparkUnavailable as exc:
        raise fail(str(exc), 2) from exc
    from py4j.protocol import Py4JError  # type: ignore[import-untyped]
    from pyspark.errors import PySparkException

    from distillguard.spark.run import scan_on_spark

    started = time.monotonic()
    try:
        with _stages(len(STAGES) + 2, quiet) as (on_stage, on_replay):  # start, read, stages
            if not quiet:
                on_stage("starting Spark, reading and scoring the logs")
            result, read, q_path = scan_on_spark(
                events,
                accounts,
                out_dir,
                cfg,
                master=master,
                until=cutoff,
                replay=step,
                on_stage=on_stage,
                on_replay=on_replay,
                decisions=decided,
                model=model,
            )
    except SparkUnavailable as exc:
        raise fail(str(exc), 2) from exc
    except (PySparkException, Py4JError) as exc:  # Spark could not start, or a job failed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise fail(f"Spark failed: {first}") from exc
    except (SourceError, OSError) as exc:
        raise fail(str(exc)) from exc
    if quiet:
        return
    refused = sum(read.quarantined.values()) + read.accounts_quarantined
    err.print(
        f"read {read.files:,} file(s) on Spark: {read.stored:,} events stored, "
        f"{read.duplicates:,} duplicate(s)",
        soft_wrap=True,
    )
    for name in read.skipped:
        err.print(f"[yellow]skipped[/yellow] {name} (not a log file name)", soft_wrap=True)
    if refused:
        err.print(
            f"[yellow]{refused:,} record(s) quarantined[/yellow] (file, line, field, reason): "
            f"{q_path}",
            soft_wrap=True,
        )
    _warn_model(result)
    _print_result(result, seconds=time.monotonic() - started)


def _print_result(result: ScanResult, *, seconds: float | None = None) -> None:
    table = Table(title="scan", show_header=False, title_justify="left")
    table.add_row("events", f"{result.events:,}")
    table.add_row("accounts", f"{result.accounts:,}")
    for verdict, n in result.verdicts.items():
        table.add_row(f"  {verdict}", f"{n:,}")
    table.add_row("campaigns", f"{len(result.campaigns):,}")
    for c in result.campaigns[:5]:
        top = next(iter(c["capabilities"]), "-")
        table.add_row(
            f"  {c['campaign_id']}",
            f"{len(c['accounts']):,} accounts, {c['requests']:,} requests, {top}, "
            f"confidence {c['confidence']}",
        )
    total = sum(result.seconds.values()) if seconds is None else seconds
    table.add_row("time", f"{total:.1f} s")
    out.print(table)
    out.print(f"Results: {result.out}/ (report.html, accounts.csv, campaigns.json)", soft_wrap=True)
