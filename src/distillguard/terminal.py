"""What the commands share on the terminal: two consoles, one-line errors, the store option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)
# Where a disabled progress bar draws: rich 13 (the LiteLLM extra pins it below 14) still ends
# a disabled bar with a newline, which must not reach a quiet command's output.
silent = Console(quiet=True)
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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error on one line (paths must stay greppable) and return the exit to raise."""
    err.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)
