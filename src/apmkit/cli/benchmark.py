"""``apmkit benchmark``: build a population benchmark (MSSP or general) from canonical tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import ibis
import ibis.expr.types as ir
import typer
from rich.progress import Progress

from apmkit.benchmark.spec import BenchmarkSpec, parse_spec_section
from apmkit.cli.common import open_engine, progress, state
from apmkit.documents import read_yaml
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.workspace.benchmark import load_county_puf, read_string_table


def _risk_scores(engine: Engine, path: Path, year: int | None) -> ir.Table:
    """Scores by member and year, from Parquet or from the CSV ``apmkit risk score`` writes (one payment year
    per file: ``--risk-year`` labels it)."""
    scores = read_string_table(engine, path)
    missing = {"member_id", "score"} - set(scores.columns)
    if missing:
        raise InputFileError(path, "missing required columns", field=", ".join(sorted(missing)))
    if year is not None:
        return scores.mutate(year=ibis.literal(year))
    if "year" not in scores.columns:
        raise InputFileError(
            path,
            "no year column: give --risk-year for a file of one year's scores (as apmkit risk score writes)",
            field="year",
        )
    return scores


def _run(
    engine: Engine,
    bar: Progress,
    spec: BenchmarkSpec,
    data: Path,
    out: Path,
    population: Path | None,
    risk_scores: Path | None,
    county_puf: list[Path] | None,
    attribution: Path | None,
    county_crosswalk: Path | None = None,
    risk_year: int | None = None,
) -> None:
    console = state.console
    tables = engine.canonical(data)
    task = bar.add_task("benchmark", total=3)
    out.mkdir(parents=True, exist_ok=True)
    pop = engine.read_parquet(population) if population else None
    scores = _risk_scores(engine, risk_scores, risk_year) if risk_scores else None
    if spec.method == "mssp":
        from apmkit.benchmark.mssp import mssp_benchmark

        if spec.mssp_spec is None:
            raise ConfigurationError(
                "benchmark.mssp is REQUIRED: give CMS's figures (base_years, performance_year, national_per_capita, "
                "update.national_growth, update.acpt) to build the MSSP benchmark (docs/benchmark.md)"
            )
        county = None
        if county_puf:
            parts, read, rejected = [], 0, 0
            for path in county_puf:
                regional, rejects, rows = load_county_puf(engine, path)
                parts.append(regional)
                read += rows
                rejected_here = engine.count(rejects)
                rejected += rejected_here
                if rejected_here:
                    engine.write_parquet(rejects, out / f"rejects_{path.stem}.parquet")
            county = engine.materialize(parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0])
            console.print(
                f"county PUF: read {read} rows, loaded {engine.count(county)} county/type rows, "
                f"rejected {rejected} cells"
            )
        bar.advance(task)
        crosswalk = read_string_table(engine, county_crosswalk) if county_crosswalk else None
        result = mssp_benchmark(
            tables,
            spec.mssp_spec,
            fetch=engine.rows,
            materialize=engine.materialize,
            population=pop,
            risk_scores=scores,
            county=county,
            county_crosswalk=crosswalk,
        )
        bar.advance(task)
        engine.write_parquet(engine.from_arrow(result.lines_arrow()), out / "benchmark_lines.parquet")
        engine.write_parquet(engine.from_arrow(result.by_type_arrow()), out / "benchmark_by_type.parquet")
        engine.write_parquet(engine.from_arrow(result.summary_arrow()), out / "benchmark_summary.parquet")
        engine.write_parquet(result.member_years, out / "member_year_expenditure.parquet")
        console.print(
            f"claim lines read {engine.count(tables['medical_claims']):,}; "
            f"member-years loaded {engine.count(result.member_years):,}"
        )
        console.print(
            f"MSSP benchmark: updated per capita {result.updated_per_capita:,.2f}, "
            f"total {result.total_benchmark:,.2f} ({result.guardrail_status})"
        )
    else:
        from apmkit.benchmark.general import general_benchmark

        assert spec.general is not None
        bar.advance(task)
        assign = engine.read_parquet(attribution) if attribution else None
        general = general_benchmark(
            tables,
            spec.general,
            fetch=engine.rows,
            attribution=assign,
            risk_scores=scores,
        )
        bar.advance(task)
        engine.write_parquet(engine.from_arrow(general.lines_arrow()), out / "benchmark_lines.parquet")
        engine.write_parquet(engine.from_arrow(general.entities_arrow()), out / "benchmark_entities.parquet")
        console.print(f"general benchmark: {len(general.entities)} entities")
    bar.advance(task)


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
    general method, benchmark_entities.parquet.
    """
    spec = parse_spec_section(read_yaml(contract), contract.name, "benchmark", BenchmarkSpec)
    if spec.general is not None and spec.general.performance_year is None:
        raise ConfigurationError(
            f"{contract}: benchmark.general uses base_year_offsets (relative years): set performance_year, "
            "or run the whole contract for a period with `apmkit run`"
        )
    with open_engine() as engine, progress() as bar:
        _run(
            engine,
            bar,
            spec,
            data,
            out,
            population,
            risk_scores,
            county_puf,
            attribution,
            county_crosswalk,
            risk_year,
        )
    state.console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
