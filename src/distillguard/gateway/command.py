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
    uvicorn.run(
        gateway.app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
    )  # uvloop and httptools where installed: faster


def mock_model_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run a small mock model server (OpenAI and Anthropic shapes) for demos and benchmarks."""
    import uvicorn

    from distillguard.gateway.mock import mock_app

    uvicorn.run(mock_app(), host=host, port=port, log_level="warning", access_log=False)
