"""``distillguard serve`` and ``distillguard mock-model``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distillguard.terminal import fail
from distillguard.verdicts.config import ConfigError


def serve_command(
    upstream: Annotated[
        str, typer.Option(help="The model server to protect, e.g. http://127.0.0.1:8000.")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Gateway settings (YAML); see docs/gateway.md.", exists=True, dir_okay=False
        ),
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option(
            help="A scan's output directory: its accounts.csv verdicts are enforced, "
            "and read again when it changes."
        ),
    ] = None,
    log_dir: Annotated[
        Path | None,
        typer.Option(help="Where events are appended (default: the config's log.directory)."),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="DISTILLGUARD_ADMIN_TOKEN",
            help="Bearer token for the admin API; without one it is off.",
        ),
    ] = None,
) -> None:
    """Run the inline gateway in front of a model server.

    Requests to OpenAI- and Anthropic-compatible endpoints are checked against the verdicts of
    the latest scan and the admin API, then allowed, throttled (429), degraded (reasoning
    stripped, length capped), challenged (403) or blocked (403). Every request is logged as a
    contract event that `distillguard ingest` reads.

      distillguard serve --upstream http://127.0.0.1:8000 --results results/
    """
    import uvicorn

    from distillguard.gateway.app import Gateway
    from distillguard.gateway.config import load_gateway_config

    try:
        cfg = load_gateway_config(config)
        gateway = Gateway(upstream, cfg, results, admin_token, log_dir)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    from distillguard.gateway.server import server_options

    uvicorn.run(
        gateway.app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",  # uvloop where installed: faster
        **server_options(cfg.limits),  # httptools, with header timeouts and limits
    )


def mock_model_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run a small mock model server (OpenAI and Anthropic shapes) for demos and benchmarks."""
    import uvicorn

    from distillguard.gateway.mock import mock_app

    uvicorn.run(mock_app(), host=host, port=port, log_level="warning", access_log=False)


def gateway_demo_command(
    results: Annotated[
        Path | None,
        typer.Option(help="A scan's output directory: its verdicts are enforced too."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Where the gateway's log and the demo's key map go.")
    ] = Path("gateway-demo"),
) -> None:
    """Watch the gateway act on one account as its verdict changes.

    Starts the mock model server and the gateway on 127.0.0.1, then sends chat completions as a
    customer while an analyst changes the account's verdict through the admin API: allowed,
    degraded (reasoning stripped), throttled (429), blocked (403), lifted. With --results, an
    account the scan blocked is refused too. Read the log with `distillguard ingest OUT/log`.

      distillguard gateway-demo --results .demo/results --out .demo/gateway
    """
    from rich.console import Console

    from distillguard.gateway.walkthrough import Step, walk

    console = Console(highlight=False)
    header = f"  [bold]{'account':<18} {'verdict':<9} {'action':<8} status answer[/bold]"

    def show(item: Step | str) -> None:
        nonlocal header
        if isinstance(item, str):
            console.print(f"[dim]{item}[/dim]")
            return
        if header:
            console.print(header)
            header = ""
        colour = "green" if item.status == 200 else "red"
        console.print(
            f"  {item.account:<18} {item.verdict:<9} {item.action:<8} "
            f"[{colour}]{item.status}[/{colour}]    {item.said}"
        )

    console.print("[bold]Gateway walkthrough[/bold]: one account, its verdict changing")
    walk(results, out, show)
    console.print(f"Every request is in {out / 'log'}: distillguard ingest {out / 'log'} ...")
