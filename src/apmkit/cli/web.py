"""``apmkit serve`` (the dashboard) and ``apmkit web add-user`` (the users file)."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import state
from apmkit.errors import ConfigurationError, InputFileError

SECRET_ENV = "APMKIT_WEB_SECRET"

web_app = typer.Typer(
    help="The older YAML users file (see `apmkit users` for the app-state database).", no_args_is_help=True
)


def serve_command(
    users: Annotated[
        Path | None,
        typer.Option(
            help="Older YAML users file (`apmkit web add-user`), imported into the app state at start"
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Canonical tables the design simulations run on (apmkit synth / ingest output)"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workdir: Annotated[
        Path, typer.Option(help="Server-side folder of saved designs, runs and the app state (state.db)")
    ] = Path("apmkit_web"),
    state_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL of the app state, e.g. postgresql+psycopg://... (default: WORKDIR/state.db)"
        ),
    ] = None,
    performance_year: Annotated[
        int, typer.Option(help="QP performance period for the Advanced APM test")
    ] = 2025,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark the session cookie Secure (serve behind TLS)")
    ] = False,
) -> None:
    """Serve the dashboard (/ui: runs, statements, attribution, the design worksheet) and its JSON API (/api/v1)."""
    import uvicorn

    from apmkit.web.app import WebSettings, create_app

    if data is not None and not data.is_dir():
        raise InputFileError(data, "not a folder of canonical tables (apmkit synth / ingest output)")
    if users is None and state_url is None and not (workdir / "state.db").is_file():
        # Checked before anything is created: a server nobody can sign in to is a mistake, not a default.
        raise ConfigurationError(
            f"no dashboard users in {workdir}: add one with `apmkit users add NAME --role ROLE --workdir {workdir}`"
        )
    secret = os.environ.get(SECRET_ENV, "")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("apmkit.web")
    if not secret:
        # Never printed: a per-process key just means sessions end when the server restarts.
        log.warning(
            "%s is not set: using a random key for this process (sign-ins end on restart)", SECRET_ENV
        )
    settings = WebSettings(
        users_file=users,
        workdir=workdir,
        data_dir=data,
        engine_name=state.engine_name,
        performance_year=performance_year,
        https_only=secure_cookies,
        state_url=state_url,
    )
    if secret:
        settings = dataclasses.replace(settings, secret=secret)
    app = create_app(settings)
    if not app.state.app_state.list_users():
        raise ConfigurationError("no dashboard users: add one with `apmkit users add NAME --role ROLE`")
    log.info("serving http://%s:%d/ui (designs and runs saved under %s)", host, port, workdir)
    uvicorn.run(app, host=host, port=port, log_level="info")


@web_app.command("add-user")
def add_user_command(
    users: Annotated[Path, typer.Option(help="Users file (YAML; created when missing)")],
    name: Annotated[str, typer.Option(help="User name")],
    role: Annotated[str, typer.Option(help="admin, payer_analyst, auditor, designer or viewer")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")
    ] = False,
) -> None:
    """Add or replace a user in a YAML users file, which `apmkit serve --users FILE` imports at start (prefer
    `apmkit users add`, which writes the app-state database directly and also knows providers)."""
    from apmkit.web.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise ConfigurationError("the password is empty")
    add_user(users, name, role, password)
    typer.echo(f"{name} ({role}) written to {users}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(web_app, name="web")
