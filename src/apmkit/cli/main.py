"""The ``apmkit`` command."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Annotated

import typer
from rich.console import Console

import apmkit
import apmkit.cli
from apmkit.cli.common import state
from apmkit.errors import ApmkitError

app = typer.Typer(
    name="apmkit",
    help="Open engine for healthcare Alternative Payment Models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    engine: Annotated[
        str,
        typer.Option(
            "--engine", envvar="APMKIT_ENGINE", help="Execution engine: duckdb (default) or pyspark."
        ),
    ] = "duckdb",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    state.engine_name = engine
    state.quiet = quiet


@app.command()
def version() -> None:
    """Print the apmkit version."""
    typer.echo(apmkit.__version__)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(apmkit.cli.__path__), key=lambda m: m.name):
        if module_info.name in ("main", "common") or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"apmkit.cli.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands()


def run() -> None:
    """Entry point that turns user errors into a one-line message and exit status 2."""
    try:
        code = app(standalone_mode=False)  # returns the exit code of a typer.Exit raised by a command
    except ApmkitError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
