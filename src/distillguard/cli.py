"""The ``distillguard`` command line: one subcommand per stage of the loop."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from distillguard import __version__
from distillguard.contract.schema import SCHEMAS, json_schema, write_schemas
from distillguard.ingest import IngestOptions, IngestReport, SourceError, ingest
from distillguard.ingest.quarantine import default_path
from distillguard.ingest.sources import LOG_SUFFIXES, expand
from distillguard.ingest.validate import DEFAULT_MAX_RECORD_BYTES
from distillguard.simulate.command import simulate_command
from distillguard.store import DEFAULT_STORE, Retention, Store, StoreError

EXIT_QUARANTINED = 3
SMALL_INPUT = 8 * 1024 * 1024  # below this, worker processes cost more than they save

app = typer.Typer(
    name="distillguard",
    help=(
        "Detect and stop distillation attacks against a model API.\n\n"
        "The loop: ingest request logs into a store, compute per-request signals and "
        "account fingerprints, find coordinated clusters and campaigns, and issue verdicts "
        "with their evidence. Start with:\n\n"
        "  distillguard ingest logs/ --accounts accounts.jsonl\n\n"
        "  distillguard info"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="DISTILLGUARD_STORE",
        help="DuckDB store file (created if missing).",
        show_default=True,
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error on one line (paths must stay greppable) and return the exit to raise."""
    err.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        out.print(f"distillguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Detect and stop distillation attacks against a model API."""


@app.command("ingest")
def ingest_command(
    events: Annotated[
        list[Path],
        typer.Argument(
            help="Event log files or directories: JSON Lines (.jsonl, .jsonl.gz) or Parquet.",
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
    """
    try:
        event_files = expand(events)
        account_files = expand(accounts or [])
        total = sum(p.stat().st_size for p in [*event_files, *account_files])
        db = Store.open(store, retention=retention)
    except (SourceError, StoreError, OSError) as exc:
        raise _fail(str(exc)) from exc
    cpus = os.cpu_count() or 1
    options = IngestOptions(
        max_record_bytes=max_record_bytes,
        workers=workers or (min(cpus, 8) if total > SMALL_INPUT else 1),
    )
    quarantine_path = quarantine or default_path(db.path)
    with (
        db,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task(
            f"ingesting {len(event_files) + len(account_files)} file(s)", total=total
        )
        report = ingest(
            events,  # as given, so files skipped in directories are reported
            db,
            accounts=accounts or [],
            quarantine_path=quarantine_path,
            options=options,
            on_progress=lambda n: bar.advance(task, n),
        )
        summary = db.summary()
    if not quiet:
        _print_report(report, summary.events)
    if not report.clean:
        raise typer.Exit(EXIT_QUARANTINED)


def _print_report(report: IngestReport, stored_total: int) -> None:
    rate = report.records / report.seconds if report.seconds else 0.0
    table = Table(title="ingest", show_header=False, title_justify="left")
    table.add_row("files", str(report.files))
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


@app.command("info")
def info_command(store: StoreOption = DEFAULT_STORE) -> None:
    """Summarise a store: events, accounts, time range, API shapes and models."""
    if not store.exists():
        raise _fail(f"no store at {store} (run `distillguard ingest` first)")
    try:
        with Store.open(store) as db:
            summary = db.summary()
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"store {summary.path}", show_header=False, title_justify="left")
    table.add_row("retention", summary.retention)
    table.add_row("events", f"{summary.events:,}")
    table.add_row("accounts with events", f"{summary.event_accounts:,}")
    table.add_row("account records", f"{summary.accounts:,}")
    table.add_row("first event", _when(summary.first_ts))
    table.add_row("last event", _when(summary.last_ts))
    for name, n in summary.by_shape:
        table.add_row(f"shape {name}", f"{n:,}")
    for name, n in summary.by_model:
        table.add_row(f"model {name}", f"{n:,}")
    out.print(table)


def _when(ts: datetime | None) -> str:
    return ts.isoformat(timespec="seconds") if ts else "-"


@app.command("schema")
def schema_command(
    name: Annotated[
        str | None,
        typer.Argument(help=f"One of: {', '.join(SCHEMAS)}. Printed to standard output."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write every schema as NAME.schema.json here.")
    ] = None,
) -> None:
    """Print or write the JSON Schema of the log contract (events and accounts)."""
    if out_dir is not None:
        for path in write_schemas(out_dir):
            out.print(f"wrote {path}")
        return
    if name not in SCHEMAS:
        raise _fail(f"name one of: {', '.join(SCHEMAS)} (or use --out DIR)", code=2)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(json_schema(name))).decode() + "\n")


app.command("simulate")(simulate_command)


def main() -> None:
    app()
