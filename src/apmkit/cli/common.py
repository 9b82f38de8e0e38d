"""What CLI commands share: the chosen engine, progress bars, error-to-exit translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from apmkit.engines import Engine


@dataclass
class CliState:
    engine_name: str = "duckdb"
    quiet: bool = False
    # soft_wrap: messages (paths, reasons) stay on one line even when stderr is not a terminal
    console: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))


state = CliState()


def open_engine(database: str | None = None) -> Engine:
    """The engine chosen with ``--engine`` (DuckDB by default), optionally on a DuckDB database file."""
    return Engine.connect(state.engine_name, database=database)


@contextmanager
def progress() -> Iterator[Progress]:
    """A rich progress display for long steps (silent with --quiet or when stderr is not a terminal)."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=state.console,
        disable=state.quiet,
        transient=False,
    )
    with bar:
        yield bar
