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

web_app = typer.Typer(help="Dashboard administration: the users file.", no_args_is_help=True)


def serve_command(
    users: Annotated[Path, typer.Option(help="Users file (YAML; write it with `apmkit web add-user`)")],
    data: Annotated[
        Path | None,
        typer.Option(help="Canonical tables the design simulations run on (apmkit synth / ingest output)"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workdir: Annotated[Path, typer.Option(help="Server-side folder of saved designs")] = Path("apmkit_web"),
    performance_year: Annotated[
        int, typer.Option(help="QP performance period for the Advanced APM test")
    ] = 2025,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark the session cookie Secure (serve behind TLS)")
    ] = False,
) -> None:
    """Serve the APM design dashboard (/ui) and its JSON API (/api/v1)."""
    import uvicorn

    from apmkit.web.app import WebSettings, create_app

    if data is not None and not data.is_dir():
        raise InputFileError(data, "not a folder of canonical tables (apmkit synth / ingest output)")
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
    )
    if secret:
        settings = dataclasses.replace(settings, secret=secret)
    app = create_app(settings)
    log.info("serving http://%s:%d/ui/design (designs saved under %s)", host, port, workdir)
    uvicorn.run(app, host=host, port=port, log_level="info")


@web_app.command("add-user")
def add_user_command(
    users: Annotated[Path, typer.Option(help="Users file (YAML; created when missing)")],
    name: Annotated[str, typer.Option(help="User name")],
    role: Annotated[str, typer.Option(help="designer (runs designs) or viewer (reads saved designs)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")
    ] = False,
) -> None:
    """Add or replace a user; only a salted scrypt hash of the password is written."""
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
