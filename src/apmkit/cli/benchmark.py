"""``apmkit benchmark``: build a population benchmark (MSSP or general) from canonical tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.workspace.benchmark import build_benchmark


def benchmark_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML with a benchmark: section.")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the Parquet results.")],
    population: Annotated[
        Path | None, typer.Option(help="Parquet of assigned members (member_id [, year]); default: everyone.")
    ] = None,
    risk_scores: Annotated[
        Path | None,
        typer.Option("--risk-scores", help="Parquet or CSV of member_id, score[, year] (see --risk-year)."),
    ] = None,
    county_puf: Annotated[
        list[Path] | None, typer.Option("--county-puf", help="CMS county FFS benchmark PUF CSV (repeatable).")
    ] = None,
    attribution: Annotated[
        Path | None,
        typer.Option(help="Parquet of member_id, entity_id [, year, panel_key] (general method)."),
    ] = None,
    county_crosswalk: Annotated[
        Path | None,
        typer.Option(
            "--county-crosswalk", help="CSV or Parquet of county_fips, county_code (SSA) for the PUF."
        ),
    ] = None,
    risk_year: Annotated[
        int | None,
        typer.Option(
            "--risk-year",
            min=1990,
            max=2100,
            help="Year the --risk-scores file describes when it has no year column (apmkit risk score output).",
        ),
    ] = None,
) -> None:
    """Build the benchmark described in the contract and write its build-up.

    Writes benchmark_lines.parquet (the statement build-up, line by line) and, for MSSP,
    benchmark_by_type.parquet, benchmark_summary.parquet and member_year_expenditure.parquet; for the
    general method, benchmark_entities.parquet. Spending is measured as in `apmkit run` (the contract's
    definitions).
    """
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("benchmark", total=3)
        built = build_benchmark(
            engine,
            data,
            contract,
            out,
            population=population,
            risk_scores=risk_scores,
            risk_year=risk_year,
            county_puf=tuple(county_puf or ()),
            county_crosswalk=county_crosswalk,
            attribution=attribution,
            step=lambda: bar.advance(task),
        )
    for message in built.messages:
        state.console.print(message)
    state.console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
