"""``apmkit synth --members N --years Y --seed S --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apmkit.cli.common import progress, state


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth_command(
        members: Annotated[int, typer.Option("--members", help="Number of members.")] = 20_000,
        years: Annotated[int, typer.Option("--years", help="Calendar years of data.")] = 1,
        seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same data.")] = 42,
        out: Annotated[Path, typer.Option("--out", help="Output folder (canonical Parquet tables).")] = Path(
            "synth"
        ),
        end_year: Annotated[int, typer.Option("--end-year", help="Last calendar year generated.")] = 2025,
        chunk_size: Annotated[
            int, typer.Option("--chunk-size", help="Members generated per chunk.")
        ] = 25_000,
    ) -> None:
        """Generate a synthetic Medicare-like population as canonical tables."""
        from apmkit.synth import generate

        with progress() as bar:
            task = bar.add_task("generate members", total=members)
            report = generate(
                members,
                out,
                years=years,
                end_year=end_year,
                seed=seed,
                chunk_size=chunk_size,
                on_progress=lambda n: bar.advance(task, n),
            )
        table = Table(title=f"synth: {members:,} members, {report.years[0]}-{report.years[-1]}, seed {seed}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, rows in report.rows.items():
            table.add_row(name, f"{rows:,}")
        state.console.print(table)
        state.console.print(
            f"{sum(report.rows.values()):,} rows in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s) -> {out}/"
        )
