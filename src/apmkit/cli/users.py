"""``apmkit users add|list|remove|passwd``: the dashboard's users in its app-state database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from apmkit.errors import ConfigurationError

if TYPE_CHECKING:
    from apmkit.web.state import AppState

users_app = typer.Typer(help="Dashboard users (app-state database of `apmkit serve`).", no_args_is_help=True)

StateUrl = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL of the app state (default: sqlite file state.db in --workdir)"),
]
Workdir = Annotated[Path, typer.Option(help="The server's work folder (as `apmkit serve --workdir`)")]
DEFAULT_WORKDIR = Path("apmkit_web")


def _state(state_url: str | None, workdir: Path) -> AppState:
    from apmkit.web.state import AppState, default_state_url

    return AppState(state_url or default_state_url(workdir))


def _password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise ConfigurationError("the password is empty")
    return password


@users_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[str, typer.Option(help="admin, payer_analyst, provider, auditor, designer or viewer")],
    tin: Annotated[list[str] | None, typer.Option("--tin", help="A TIN a provider may see (repeat)")] = None,
    entity: Annotated[
        list[str] | None, typer.Option("--entity", help="An entity id a provider may see (repeat)")
    ] = None,
    npi: Annotated[list[str] | None, typer.Option("--npi", help="An NPI a provider may see (repeat)")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")
    ] = False,
    state_url: StateUrl = None,
    workdir: Workdir = DEFAULT_WORKDIR,
) -> None:
    """Add or replace a user (a replaced user's sessions end); only a salted scrypt hash is stored."""
    password = _password(password_stdin)
    state = _state(state_url, workdir)
    try:
        state.add_user(name, role, password, entity_ids=entity or (), tins=tin or (), npis=npi or ())
    finally:
        state.close()
    typer.echo(f"{name} ({role}) saved")


@users_app.command("list")
def list_command(state_url: StateUrl = None, workdir: Workdir = DEFAULT_WORKDIR) -> None:
    """List users: name, role and, for providers, what they may see."""
    state = _state(state_url, workdir)
    try:
        for user in state.list_users():
            scope = ""
            if user.scope is not None:
                parts = [
                    f"{kind} {','.join(sorted(values))}"
                    for kind, values in (
                        ("entities", user.scope.entity_ids),
                        ("tins", user.scope.tins),
                        ("npis", user.scope.npis),
                    )
                    if values
                ]
                scope = "  " + "; ".join(parts)
            typer.echo(f"{user.name}\t{user.role.value}{scope}")
    finally:
        state.close()


@users_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="User name")],
    state_url: StateUrl = None,
    workdir: Workdir = DEFAULT_WORKDIR,
) -> None:
    """Remove a user; its sessions end at once."""
    state = _state(state_url, workdir)
    try:
        if not state.remove_user(name):
            raise ConfigurationError(f"no user {name!r}")
    finally:
        state.close()
    typer.echo(f"{name} removed")


@users_app.command("passwd")
def passwd_command(
    name: Annotated[str, typer.Argument(help="User name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from the first line of stdin")
    ] = False,
    state_url: StateUrl = None,
    workdir: Workdir = DEFAULT_WORKDIR,
) -> None:
    """Set a new password; every session of the user ends."""
    password = _password(password_stdin)
    state = _state(state_url, workdir)
    try:
        state.set_password(name, password)
    finally:
        state.close()
    typer.echo(f"password of {name} changed; its sessions ended")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
