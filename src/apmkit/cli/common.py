"""What CLI commands share: the chosen engine, progress bars, error-to-exit translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
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
from apmkit.errors import ConfigurationError


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


def __getattr__(name: str) -> Any:
    # STATEMENT_FORMATS (the run's statement formats) is looked up on first use: importing the run
    # layer here would make every command, even ``risk score``, pay for importing all of it.
    if name == "STATEMENT_FORMATS":
        from apmkit.workspace.run import FORMATS

        return FORMATS
    raise AttributeError(name)


FormatsOption = Annotated[
    str, typer.Option("--format", help="Comma-separated statement formats: json, parquet, html, xlsx.")
]
QualityRatesOption = Annotated[
    Path | None,
    typer.Option(
        "--quality-rates",
        help="CSV entity_id, measure, rate (or eligible, numerator)[, baseline_rate] for quality measures "
        "not computed from the data (CAHPS, CMS claims measures).",
    ),
]


def statement_formats(text: str) -> tuple[str, ...]:
    """The ``--format`` list, checked."""
    from apmkit.workspace.run import FORMATS as STATEMENT_FORMATS

    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = sorted(set(chosen) - set(STATEMENT_FORMATS))
    if unknown:
        raise ConfigurationError(
            f"--format: unknown {', '.join(unknown)} (choose from {', '.join(STATEMENT_FORMATS)})"
        )
    return chosen
