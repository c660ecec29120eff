"""``distillguard console``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from distillguard.terminal import fail
from distillguard.verdicts.config import ConfigError


def console_command(
    results: Annotated[
        Path, typer.Option(help="A scan's output directory (accounts.csv, campaigns.json).")
    ],
    store: Annotated[
        Path | None,
        typer.Option(help="The store that scan read (default: the one its manifest names)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; keep it local.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="DISTILLGUARD_CONSOLE_TOKEN",
            help="The login token; without one a random token is made and printed.",
        ),
    ] = None,
    verdicts: Annotated[
        Path | None,
        typer.Option(
            help="Where verdicts set here are written: the gateway's manual verdicts file "
            "(serve's manual_verdicts), so that it enforces them. Default: RESULTS/"
            "manual-verdicts.json."
        ),
    ] = None,
    salt_file: Annotated[
        Path | None,
        typer.Option(
            help="The partnership's secret (as for `intel export`): enables exporting a "
            "campaign's indicators as STIX 2.1 from its page."
        ),
    ] = None,
    producer: Annotated[str, typer.Option(help="Who exports say produced them.")] = "distillguard",
) -> None:
    """Serve the analyst console: campaigns, the accounts in them and why, the evidence.

    Analysts log in with the token, confirm or dismiss campaigns and accounts (kept with who and
    when in RESULTS/labels.jsonl), set verdicts the gateway enforces and, with --salt-file,
    export a campaign's indicators for a partner (logged in RESULTS/exports.jsonl).

      distillguard console --results .demo/results
    """
    import uvicorn

    from distillguard.console.app import Console
    from distillguard.console.data import Results
    from distillguard.intel.command import read_salt

    try:
        found = Results.open(results, store)
        token = token or secrets.token_urlsafe(12)
        salt = read_salt(salt_file) if salt_file else None
        console = Console(
            found, token, verdicts or results / "manual-verdicts.json", salt=salt,
            producer=producer,
        )  # fmt: skip
    except (FileNotFoundError, ConfigError) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"console: http://{host}:{port}/  token: {token}")
    uvicorn.run(console.app(), host=host, port=port, log_level="warning")
