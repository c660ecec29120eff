"""``distillguard simulate``: labelled traffic from a scenario."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from distillguard.simulate.run import simulate
from distillguard.simulate.scenario import BUILTIN, ScenarioError, load_scenario

err = Console(stderr=True)
out = Console()


def simulate_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write events/, accounts.jsonl, labels.csv.")
    ],
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help=f"A built-in scenario ({', '.join(BUILTIN)}), a red-team one (redteam/NAME, "
            "docs/redteam.md) or a path to a scenario YAML file.",
        ),
    ] = "default",
    scale: Annotated[
        float,
        typer.Option("--scale", min=0.001, help="Multiply every population's and campaign's size."),
    ] = 1.0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the scenario's).")
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Days to simulate (default: the scenario's)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default: CPUs).")
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Write events as .jsonl.gz.")] = False,
) -> None:
    """Write labelled traffic: legitimate populations and distillation campaigns.

    Events and accounts follow the log contract (ready for `distillguard ingest`); ground truth
    goes to `labels.csv` (account_id, population, campaign, is_attack, campaign_start), never
    into the events. The same seed gives the same files.

    Examples:

      distillguard simulate --out sim/                      # the default week

      distillguard simulate --scenario hard --out sim-hard/ --seed 3

      distillguard simulate --scenario incident --scale 100 --out big/   # disclosed volumes
    """
    try:
        spec = load_scenario(scenario)
    except ScenarioError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    n_days = days or spec.days
    began = time.perf_counter()
    columns = (
        *Progress.get_default_columns()[:2],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"simulating {spec.name}: days", total=n_days)

        def on_day(name: str, events: int) -> None:
            progress.advance(task)

        try:
            report = simulate(
                spec,
                out_dir,
                scale=scale,
                seed=seed,
                days=days,
                workers=workers,
                compress=gzip,
                on_day=on_day,
            )
        except OSError as exc:
            err.print(f"[red]error:[/red] {out_dir}: {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(1) from None
    elapsed = time.perf_counter() - began
    table = Table(title=f"scenario {spec.name} ({n_days} days, scale {scale:g})", show_edge=False)
    table.add_column("population / campaign")
    table.add_column("events", justify="right")
    for key, count in report.by_label.items():
        table.add_row(key, f"{count:,}")
    out.print(table)
    out.print(
        f"{report.events:,} events from {report.accounts:,} accounts "
        f"({report.attack_accounts:,} attack) in {elapsed:.1f} s → {out_dir}\n"
        f"next: distillguard ingest {out_dir}/events --accounts {out_dir}/accounts.jsonl"
    )
