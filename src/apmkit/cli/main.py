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


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes that mean "the command line was wrong" for the installed typer.

    typer before 0.16 raises click's own exceptions; later versions vendor click as ``typer._click`` and
    raise those classes instead (they derive from ``typer.TyperException``, not from ``click.ClickException``).
    Both are recognised so a user never sees a traceback for a missing or unknown option.
    """
    types: list[type[BaseException]] = []
    try:
        import click

        types.append(click.ClickException)
    except ImportError:  # pragma: no cover - click is optional once typer vendors it
        pass
    for module_name in ("typer._click.exceptions", "typer.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in ("ClickException", "TyperException"):
            cls = getattr(module, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                types.append(cls)
    return tuple(types)


def _abort_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [typer.Abort]
    try:
        import click

        types.append(click.exceptions.Abort)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _exit_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [typer.Exit]
    try:
        import click

        types.append(click.exceptions.Exit)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def run() -> None:
    """Entry point that turns user errors into a one-line message and exit status 2."""
    usage_errors = _usage_error_types()
    try:
        code = app(standalone_mode=False)  # returns the exit code of a typer.Exit raised by a command
    except ApmkitError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except _exit_types() as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except _abort_types():
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except usage_errors as exc:  # usage errors arrive here in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:  # pragma: no cover - every known class has show()
            typer.echo(f"Error: {exc}", err=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
