"""The ``apmkit`` command."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
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


def _command_module(argv: list[str]) -> str | None:
    """The first word of a command line after the global options (``--engine pyspark risk score`` → ``risk``)."""
    words = iter(argv)
    for word in words:
        if word == "--engine":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _running_as_program() -> bool:
    """True for the ``apmkit`` script and ``python -m apmkit``; False when imported (tests, the web)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "apmkit" or (program.name == "__main__.py" and program.parent.name == "apmkit")


def _register_commands(only: str | None = None) -> None:
    """Register every command module's commands; with ``only`` (a module's name), that module's alone.

    A command line that names its command's module (``apmkit risk score ...`` → ``apmkit.cli.risk``) then
    imports that command's library only, not every other command's (about 1 s of startup saved).
    """
    modules = sorted(pkgutil.iter_modules(apmkit.cli.__path__), key=lambda m: m.name)
    if only is not None and only not in {m.name for m in modules}:
        only = None
    for module_info in modules:
        if module_info.name in ("main", "common") or module_info.name.startswith("_"):
            continue
        if only is not None and module_info.name != only:
            continue
        module = importlib.import_module(f"apmkit.cli.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands(_command_module(sys.argv[1:]) if _running_as_program() else None)


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
