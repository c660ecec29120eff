"""The ``distillguard`` command line: one subcommand per stage of the loop."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.table import Table

from distillguard import __version__
from distillguard.alerts.command import alert_command
from distillguard.console.command import console_command, users_app
from distillguard.contract.schema import SCHEMAS, json_schema, write_schemas
from distillguard.evaluate.command import evaluate_command
from distillguard.gateway.command import gateway_demo_command, mock_model_command, serve_command
from distillguard.ingest.command import ingest_command
from distillguard.intel.command import intel_app
from distillguard.provenance.command import provenance_app
from distillguard.scan.command import scan_command
from distillguard.signals.command import signals_command
from distillguard.simulate.command import simulate_command
from distillguard.store import DEFAULT_STORE, Store, StoreError
from distillguard.terminal import StoreOption, fail, out
from distillguard.verdicts.command import learn_command

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


@app.command("info")
def info_command(store: StoreOption = DEFAULT_STORE) -> None:
    """Summarise a store: events, accounts, time range, API shapes and models."""
    if not store.exists():
        raise fail(f"no store at {store} (run `distillguard ingest` first)")
    try:
        with Store.open(store) as db:
            summary = db.summary()
    except StoreError as exc:
        raise fail(str(exc)) from exc
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
        raise fail(f"name one of: {', '.join(SCHEMAS)} (or use --out DIR)", code=2)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(json_schema(name))).decode() + "\n")


app.command("ingest")(ingest_command)
app.command("scan")(scan_command)
app.command("signals")(signals_command)
app.command("simulate")(simulate_command)
app.command("evaluate")(evaluate_command)
app.command("learn")(learn_command)
app.command("serve")(serve_command)
app.command("mock-model")(mock_model_command)
app.command("gateway-demo")(gateway_demo_command)
app.command("console")(console_command)
app.command("alert")(alert_command)
app.add_typer(intel_app, name="intel")
app.add_typer(provenance_app, name="provenance")
app.add_typer(users_app, name="console-users")


def main() -> None:
    app()
