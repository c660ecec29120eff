"""``distillguard serve`` and ``distillguard mock-model``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import msgspec
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
            help="Gateway settings (YAML); see docs/gateway.md. Read again when it changes "
            "(or on SIGHUP): actions, budgets and identity take effect without a restart.",
            exists=True,
            dir_okay=False,
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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the port; they count together (see --state), and each "
            "writes its own log segments.",
        ),
    ] = 1,
    state: Annotated[
        str | None,
        typer.Option(
            envvar="DISTILLGUARD_STATE",
            help="A Valkey or Redis server every worker and host shares (budgets, requests "
            "in flight, online windows, manual verdicts), e.g. redis://127.0.0.1:6379/0. "
            "Without it, the workers of one host share a SQLite file beside the log.",
        ),
    ] = None,
) -> None:
    """Run the inline gateway in front of a model server.

    Requests to OpenAI- and Anthropic-compatible endpoints are checked against the verdicts of
    the latest scan and the admin API, then allowed, throttled (429), degraded (reasoning
    stripped or summarised, length capped), challenged (403) or blocked (403). Every request is
    logged as a contract event that `distillguard ingest` reads.

      distillguard serve --upstream http://127.0.0.1:8000 --results results/
      distillguard serve --upstream ... --workers 4 --state redis://10.0.0.5:6379/0
    """
    import uvicorn

    from distillguard.gateway.config import load_gateway_config

    try:
        cfg = load_gateway_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if state:
        cfg.state.url = state
    if workers > 1 and not cfg.state.url:  # workers that count alone let N times a limit through
        logs = log_dir or Path(cfg.log.directory)
        cfg.state.url = f"sqlite:{logs.parent.resolve() / (logs.name + '-state.sqlite')}"
    if cfg.state.url and not cfg.state.url.startswith("sqlite:") and not _reachable(cfg.state.url):
        raise fail(f"--state {cfg.state.url}: no Valkey or Redis server answers there")
    args = {
        "upstream": upstream,
        "config": cfg,
        "results": str(results) if results else None,
        "admin_token": admin_token,
        "log_dir": str(log_dir) if log_dir else None,
        "config_path": str(config.resolve()) if config else None,
    }
    os.environ[_WORKER_ARGS] = msgspec.json.encode(args).decode()
    try:  # here, so that a bad setting fails the command, not each worker in turn
        app = worker_app() if workers == 1 else None
        if app is None:
            _check(cfg, results, log_dir)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    uvicorn.run(
        app or "distillguard.gateway.command:worker_app",
        factory=app is None,
        workers=workers if app is None else None,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",  # uvloop where installed: faster
        http="distillguard.gateway.server:Guarded",  # httptools, with header limits
        timeout_graceful_shutdown=cfg.limits.shutdown_grace_s,
    )


_WORKER_ARGS = "DISTILLGUARD_GATEWAY_WORKER"


def worker_app() -> Any:
    """The gateway app of one ``serve`` worker, from the arguments ``serve`` left for it."""
    from distillguard.gateway.app import Gateway
    from distillguard.gateway.config import GatewayConfig
    from distillguard.gateway.server import Guarded

    args = msgspec.json.decode(os.environ[_WORKER_ARGS])
    cfg = msgspec.convert(args["config"], GatewayConfig)
    Guarded.limits = cfg.limits
    results, log_dir = args["results"], args["log_dir"]
    gateway = Gateway(
        args["upstream"],
        cfg,
        Path(results) if results else None,
        args["admin_token"],
        Path(log_dir) if log_dir else None,
        Path(args["config_path"]) if args.get("config_path") else None,
    )
    return gateway.app()


def _check(cfg: Any, results: Path | None, log_dir: Path | None) -> None:
    """What a worker would refuse to start on: its identity keys and verdict files."""
    from distillguard.gateway.app import manual_verdicts_path
    from distillguard.gateway.identity import Identity
    from distillguard.gateway.verdicts import VerdictBook

    Identity.from_config(cfg.identity.header, cfg.identity.keys)
    VerdictBook(results, manual_verdicts_path(cfg, log_dir or Path(cfg.log.directory)))
    from distillguard.signup.partners import PartnerIndex

    salt = Path(cfg.signup.salt_file) if cfg.signup.salt_file else None
    PartnerIndex.load([Path(p) for p in cfg.signup.partners], salt)  # a bad bundle is named


def _reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except Exception:
        return False


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
