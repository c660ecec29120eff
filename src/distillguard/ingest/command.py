"""``distillguard ingest``: log files into the store, with a progress bar and a summary."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from distillguard.formats import FORMATS
from distillguard.formats import get as get_format
from distillguard.ingest.quarantine import default_path
from distillguard.ingest.run import IngestOptions, IngestReport, ingest
from distillguard.ingest.sources import LOG_SUFFIXES, SourceError, expand
from distillguard.ingest.validate import DEFAULT_MAX_RECORD_BYTES
from distillguard.store import DEFAULT_STORE, Retention, Store, StoreError
from distillguard.terminal import StoreOption, err, fail, out, silent

EXIT_QUARANTINED = 3
SMALL_INPUT = 8 * 1024 * 1024  # below this, worker processes cost more than they save


# Shared with `scan EVENTS`, which ingests the same way.
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Log format of EVENTS: " + ", ".join(FORMATS) + " (docs/log-formats.md)."
        " (default: detected per file from its first records)",
        show_default=False,
    ),
]
AccountIdOption = Annotated[
    str | None,
    typer.Option(
        help="Account for records that name none (an OpenAI batch's owner, spans without user.id).",
        show_default=False,
    ),
]


def ingest_command(
    events: Annotated[
        list[Path],
        typer.Argument(
            help="Event log files or directories: JSON Lines (.jsonl, .jsonl.gz) or Parquet;"
            " a Hive-partitioned lake (model=.../part-0.parquet) gives back the fields its"
            " directories name.",
            show_default=False,
        ),
    ],
    accounts: Annotated[
        list[Path] | None,
        typer.Option("--accounts", "-a", help="Account records (JSON Lines); repeatable."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            help="Where refused records go, one JSON line each. "
            "(default: STORE_NAME.quarantine.jsonl beside the store)"
        ),
    ] = None,
    retention: Annotated[
        Retention | None,
        typer.Option(
            help="full: keep request/response text; derived: keep only derived columns. "
            "Fixed when the store is created (default: full, or the store's setting)."
        ),
    ] = None,
    max_record_bytes: Annotated[
        int, typer.Option(min=1024, help="Records larger than this are quarantined as oversized.")
    ] = DEFAULT_MAX_RECORD_BYTES,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Parser processes (default: one per CPU for large inputs)."),
    ] = None,
    log_format: FormatOption = None,
    account_id: AccountIdOption = None,
    follow_logs: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep reading EVENTS (one directory) as files grow and arrive, until"
            " interrupted; positions are kept in the store, so a restart loses and repeats"
            " nothing. Run `scan --store` on a schedule beside it.",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option(min=0.05, help="With --follow: seconds between looks at the files.")
    ] = 1.0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
) -> None:
    """Validate log files and store them; refuse bad records into a quarantine file.

    Every record ends up stored, counted as a duplicate (its request_id is already
    stored, so re-ingesting is safe), or quarantined with its file, line, field and
    reason. Nothing good is dropped because of a bad neighbour.

    Exit status: 0 when every record was good, 3 when some were quarantined,
    1 when the store or an input path cannot be used at all.

    Examples:

      distillguard ingest logs/2026-03-*.jsonl.gz --accounts accounts.jsonl

      distillguard ingest export.parquet --store /data/dg.duckdb --retention derived

      distillguard ingest lake/events/   # Hive-partitioned Parquet, as Spark writes

      distillguard ingest litellm-spend-logs.jsonl   # LiteLLM, OTel, Langfuse: detected

      distillguard ingest batch_in.jsonl batch_out.jsonl --account-id org_77
    """
    if follow_logs and (len(events) != 1 or not events[0].is_dir() or accounts):
        raise fail(
            "--follow reads one directory of event logs (account files: ingest them apart)", 2
        )
    try:
        db = Store.open(store, retention=retention)
    except (StoreError, OSError) as exc:
        raise fail(str(exc)) from exc
    if follow_logs:
        options = IngestOptions(format=checked_format(log_format), account_id=account_id)
        with db:
            report = _follow(db, events[0], quarantine, options, poll, quiet)
            summary = db.summary()
        if not quiet:
            print_report(report, summary.events)
        return
    with db:
        report = ingest_with_progress(
            db,
            events,
            accounts or [],
            quarantine=quarantine,
            options=IngestOptions(
                max_record_bytes=max_record_bytes,
                workers=workers or 0,
                format=checked_format(log_format),
                account_id=account_id,
            ),
            quiet=quiet,
        )
        summary = db.summary()
    if not quiet:
        print_report(report, summary.events)
    if not report.clean:
        raise typer.Exit(EXIT_QUARANTINED)


def _follow(
    db: Store,
    directory: Path,
    quarantine: Path | None,
    options: IngestOptions,
    poll: float,
    quiet: bool,
) -> IngestReport:
    from distillguard.ingest.follow import follow

    shown = err.status(f"following {directory}", spinner="dots") if not quiet else None
    if shown is not None:
        shown.start()

    def step(report: IngestReport) -> None:
        if shown is not None:
            shown.update(
                f"following {directory}: {report.files:,} file(s), {report.stored:,} stored,"
                f" {sum(report.quarantined.values()):,} quarantined (Ctrl-C to stop)"
            )

    report = IngestReport()
    try:
        report = follow(
            directory,
            db,
            quarantine_path=quarantine or default_path(db.path),
            options=options,
            poll_seconds=poll,
            on_step=step,
            stop=lambda r: _keep(report, r),
        )
    except KeyboardInterrupt:
        pass
    finally:
        if shown is not None:
            shown.stop()
    return report


def _keep(holder: IngestReport, report: IngestReport) -> bool:
    """Keep the latest report where an interrupt can still find it; never stop by itself."""
    holder.__dict__.update(report.__dict__)
    return False


def checked_format(name: str | None) -> str | None:
    """``--format`` as given, or a usage error naming the formats there are."""
    if name is None:
        return None
    try:
        return get_format(name.strip().lower()).name
    except ValueError as exc:
        raise fail(str(exc), 2) from exc


def ingest_with_progress(
    db: Store,
    events: list[Path],
    accounts: list[Path],
    *,
    quarantine: Path | None = None,
    options: IngestOptions | None = None,
    quiet: bool = False,
) -> IngestReport:
    """Ingest with a progress bar on stderr; raises ``typer.Exit`` on an unusable path.

    ``options.workers`` 0 means one parser process per CPU for large inputs, else one.
    """
    try:
        event_files = expand(events)
        account_files = expand(accounts)
        total = sum(p.stat().st_size for p in [*event_files, *account_files])
    except (SourceError, OSError) as exc:
        raise fail(str(exc)) from exc
    options = options or IngestOptions(workers=0)
    if not options.workers:
        cpus = os.cpu_count() or 1
        options = replace(options, workers=min(cpus, 8) if total > SMALL_INPUT else 1)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=silent if quiet else err,
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task(
            f"ingesting {len(event_files) + len(account_files)} file(s)", total=total
        )
        return ingest(
            events,  # as given, so files skipped in directories are reported
            db,
            accounts=accounts,
            quarantine_path=quarantine or default_path(db.path),
            options=options,
            on_progress=lambda n: bar.advance(task, n),
        )


def print_report(report: IngestReport, stored_total: int) -> None:
    rate = report.records / report.seconds if report.seconds else 0.0
    table = Table(title="ingest", show_header=False, title_justify="left")
    table.add_row("files", str(report.files))
    if set(report.formats) - {"contract"}:
        shown = ", ".join(f"{name} {n}" for name, n in report.formats.most_common())
        table.add_row("log formats (files)", shown)
    if report.skipped:
        table.add_row("files skipped (not logs)", f"[yellow]{len(report.skipped):,}[/yellow]")
    table.add_row("event records", f"{report.records:,}")
    table.add_row("stored", f"[green]{report.stored:,}[/green]")
    table.add_row("duplicates (already stored)", f"{report.duplicates:,}")
    quarantined = sum(report.quarantined.values())
    style = "red" if quarantined else "green"
    table.add_row("quarantined", f"[{style}]{quarantined:,}[/{style}]")
    for reason, n in report.quarantined.most_common():
        table.add_row(f"  {reason}", f"{n:,}")
    skipped_records = sum(report.skipped_records.values())
    if skipped_records:
        table.add_row("records skipped (not model calls)", f"{skipped_records:,}")
    if report.accounts_new or report.accounts_updated or report.accounts_quarantined:
        table.add_row(
            "accounts new / updated", f"{report.accounts_new:,} / {report.accounts_updated:,}"
        )
        table.add_row("accounts quarantined", f"{report.accounts_quarantined:,}")
    table.add_row("events in store", f"{stored_total:,}")
    table.add_row("time", f"{report.seconds:.1f} s ({rate:,.0f} records/s)")
    out.print(table)
    if report.skipped:
        more = f" and {len(report.skipped) - 10:,} more" if len(report.skipped) > 10 else ""
        out.print(
            f"Skipped, not named {', '.join(LOG_SUFFIXES)}: {', '.join(report.skipped[:10])}{more}",
            soft_wrap=True,
            highlight=False,
        )
    if not report.clean:
        out.print(
            f"Refused records, with file, line, field and reason: {report.quarantine_path}",
            soft_wrap=True,
        )
