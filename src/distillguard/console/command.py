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
    users: Annotated[
        Path | None,
        typer.Option(
            help="Named users with roles (viewer, analyst, admin) and hashed passwords, "
            "made with `distillguard console-users add`; without it, one shared token with "
            "every right."
        ),
    ] = None,
    idle_minutes: Annotated[
        float, typer.Option(min=1, help="A session unused this long must log in again.")
    ] = 30,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="The scan before RESULTS: the review queue says what changed since (default: "
            "the one `distillguard alert` compared it with)."
        ),
    ] = None,
) -> None:
    """Serve the analyst console: campaigns, the accounts in them and why, the evidence.

    Analysts log in (with --users, by name and password, each with a role; else with the
    token), confirm or dismiss campaigns and accounts (kept with who and
    when in RESULTS/labels.jsonl), set verdicts the gateway enforces and, with --salt-file,
    export a campaign's indicators for a partner (logged in RESULTS/exports.jsonl).

      distillguard console --results .demo/results
    """
    import uvicorn

    from distillguard.console.app import Console
    from distillguard.console.data import Results
    from distillguard.console.users import Users
    from distillguard.intel.command import read_salt

    try:
        named = Users(users) if users is not None else None
        if users is not None and not users.exists():
            raise ConfigError(
                f"{users}: no users file; make one with `distillguard console-users add`"
            )
        found = Results.open(results, store)
        if previous is None and found.alerts_previous:
            previous = Path(found.alerts_previous)
        before = Results.open(previous) if previous is not None else None
        token = token or secrets.token_urlsafe(12)
        salt = read_salt(salt_file) if salt_file else None
        console = Console(
            found, token, verdicts or results / "manual-verdicts.json", salt=salt,
            producer=producer, users=named, idle_s=idle_minutes * 60, previous=before,
        )  # fmt: skip
    except (FileNotFoundError, ConfigError) as exc:
        raise fail(str(exc)) from None
    who = f"users: {users}" if named is not None else f"token: {token}"
    typer.echo(f"console: http://{host}:{port}/  {who}")
    uvicorn.run(console.app(), host=host, port=port, log_level="warning")


users_app = typer.Typer(
    name="console-users",
    help="The console's named users: each a role (viewer, analyst, admin) and a password, "
    "kept only as a slow hash.",
    no_args_is_help=True,
)
UsersFile = Annotated[Path, typer.Option("--file", help="The users file (made if missing).")]


@users_app.command("add")
def add_user(
    name: str,
    file: UsersFile,
    role: Annotated[str, typer.Option(help="viewer (reads), analyst (decides), admin (exports).")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input, not a prompt.")
    ] = False,
) -> None:
    """Add a user, or set an existing user's role and password (a new password ends the
    sessions made with the old one).

    distillguard console-users add ana --role analyst --file users.json
    """
    import sys

    from distillguard.console.users import Users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        Users(file).add(name, role, password)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{name}: {role} in {file}")


@users_app.command("role")
def set_role(
    name: str,
    file: UsersFile,
    role: Annotated[str, typer.Option(help="viewer (reads), analyst (decides), admin (exports).")],
) -> None:
    """Give a user another role, password kept; in force at their next request.

    distillguard console-users role ana --role viewer --file users.json
    """
    from distillguard.console.users import Users

    try:
        Users(file).set_role(name, role)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{name}: {role} in {file}")


@users_app.command("remove")
def remove_user(name: str, file: UsersFile) -> None:
    """Remove a user; their sessions end at their next request."""
    from distillguard.console.users import Users

    try:
        Users(file).remove(name)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{name}: removed from {file}")


@users_app.command("list")
def list_users(file: UsersFile) -> None:
    """Names and roles (never the hashes)."""
    from distillguard.console.users import Users

    try:
        for name, entry in sorted(Users(file).entries.items()):
            typer.echo(f"{name}\t{entry['role']}")
    except ConfigError as exc:
        raise fail(str(exc)) from None
