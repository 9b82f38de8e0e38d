"""Benchmark jobs of the application layer: CMS county rates, and the standalone benchmark build.

``apmkit run`` builds a contract's benchmark inside the run (``Workspace.run``); ``apmkit benchmark`` builds only
the benchmark, through the same spending measurement and general-benchmark build
(:meth:`apmkit.workspace.Workspace.benchmark`). This module holds what both read: the CMS county FFS benchmark PUF
(regional per capita and risk by county and enrollment type, 42 CFR 425.654) and small lookup tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from apmkit.benchmark.county_puf import conform_county_puf
from apmkit.benchmark.general import GeneralBenchmarkResult, general_benchmark
from apmkit.benchmark.spec import BenchmarkSpec, GeneralBenchmarkSpec, parse_spec_section
from apmkit.contracts import parse_contract
from apmkit.documents import read_csv_header, read_text, read_yaml
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.spending import measure_spending, measurement_years
from apmkit.spending.spec import Definitions


def read_string_table(engine: Engine, path: Path) -> ir.Table:
    """A small lookup table from Parquet, or from CSV with every column read as text (codes keep zeros)."""
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.suffix.lower() != ".csv":
        return engine.read_parquet(path)
    names = read_csv_header(path)
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding="utf-8-sig"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    return engine.from_arrow(table)


def load_county_puf(engine: Engine, path: Path) -> tuple[ir.Table, ir.Table, int]:
    """Read a county FFS benchmark PUF (CSV) as strings and conform it; returns (regional, rejects, rows read)."""
    if not path.is_file():
        raise InputFileError(path, "no such file")
    names = read_csv_header(path)
    raw = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding="utf-8-sig"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    raw = raw.append_column("source_line", pa.array(range(2, raw.num_rows + 2), pa.int64()))
    regional, rejects = conform_county_puf(engine.from_arrow(raw), path.name)
    return regional, rejects, raw.num_rows


@dataclass(frozen=True)
class CountyRates:
    """County PUF rows of every file given (one per year), with the cells refused per file."""

    regional: ir.Table
    rejects: dict[str, ir.Table]
    rows_read: int
    rows_rejected: int


def county_rates(engine: Engine, paths: Sequence[Path]) -> CountyRates:
    """The regional inputs of several county PUF files (one per year), materialized once."""
    parts: list[ir.Table] = []
    rejects: dict[str, ir.Table] = {}
    read = rejected = 0
    for path in paths:
        regional, refused, rows = load_county_puf(engine, path)
        parts.append(regional)
        read += rows
        count = engine.count(refused)
        rejected += count
        if count:
            rejects[path.stem] = refused
    table = engine.materialize(parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0])
    return CountyRates(regional=table, rejects=rejects, rows_read=read, rows_rejected=rejected)


def risk_scores_file(engine: Engine, path: Path, year: int | None) -> ir.Table:
    """Scores by member and year, from Parquet or from the CSV ``apmkit risk score`` writes (one payment year
    per file: ``year`` labels it)."""
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


def benchmark_document(path: Path) -> tuple[BenchmarkSpec, Definitions]:
    """The benchmark section of ``path`` and the spending definitions it is measured under.

    A contract (a document with ``components:``) gives its own ``definitions:`` (the contract's rules refuse a
    benchmark with spending rules of its own). A standalone benchmark document has no definitions: spending is
    measured with the default definitions (docs/run.md) and the general method's ``cost_basis``,
    ``lines_of_business`` and ``outliers`` (``none`` or ``truncate`` at a percentile: the definitions' truncation).

    Raises
    ------
    ConfigurationError
        The section is invalid, or asks for an outlier rule the spending definitions do not have.
    """
    document = read_yaml(path)
    if isinstance(document, dict) and "components" in document:
        contract = parse_contract(read_text(path, "contract file"), source=str(path))
        if contract.benchmark is None:
            raise ConfigurationError(f"{path.name}, field benchmark: required for `apmkit benchmark`")
        return contract.benchmark, contract.definitions
    spec = parse_spec_section(document, path.name, "benchmark", BenchmarkSpec)
    if spec.general is None:
        return spec, Definitions()
    return spec, general_definitions(spec.general, path.name)


def general_definitions(general: GeneralBenchmarkSpec, source: str = "benchmark") -> Definitions:
    """The spending definitions of a standalone general benchmark: the default definitions with its
    ``cost_basis``, ``lines_of_business`` and ``outliers`` (``truncate`` = a percentile truncation).

    Raises
    ------
    ConfigurationError
        ``outliers.method`` is ``exclude`` or ``winsorize``, which the spending definitions do not have.
    """
    outliers = general.outliers
    if outliers.method in ("exclude", "winsorize"):
        raise ConfigurationError(
            f"{source}, field benchmark.general.outliers.method: {outliers.method} is not a spending rule; the "
            "benchmark is measured like the actual spending (definitions.truncation: none, amount or percentile): "
            "use none or truncate"
        )
    truncation: dict[str, object] = {"method": "none"}
    if outliers.method == "truncate":
        truncation = {"method": "percentile", "percentile": outliers.upper_percentile}
    return Definitions.model_validate(
        {
            "cost_basis": general.cost_basis,
            "lines_of_business": None
            if general.lines_of_business is None
            else list(general.lines_of_business),
            "truncation": truncation,
        }
    )


def general_benchmark_from_claims(
    engine: Engine,
    tables: Mapping[str, ir.Table],
    spec: GeneralBenchmarkSpec,
    definitions: Definitions,
    *,
    links: ir.Table | None = None,
    risk_scores: ir.Table | None = None,
) -> GeneralBenchmarkResult:
    """The general benchmark as a contract run builds it: spending measured once under ``definitions`` for the
    base years and the performance year (:func:`apmkit.spending.measure_spending`), then the entity build-up
    (:func:`apmkit.benchmark.general.general_benchmark`)."""
    base_years, performance_year = spec.years
    years = measurement_years(
        definitions, base_years, (date(performance_year, 1, 1), date(performance_year, 12, 31))
    )
    spending = measure_spending(tables, definitions, years, materialize=engine.materialize)
    return general_benchmark(
        spending.member_years,
        spec,
        fetch=engine.rows,
        links=links,
        risk_scores=risk_scores,
        completion_factor=definitions.completion_factor,
    )


@dataclass
class BenchmarkFiles:
    """What ``apmkit benchmark`` wrote and the figures it reports."""

    files: dict[str, Path]
    messages: list[str]


def build_benchmark(
    engine: Engine,
    data: Path,
    contract: Path,
    out: Path,
    *,
    population: Path | None = None,
    risk_scores: Path | None = None,
    risk_year: int | None = None,
    county_puf: Sequence[Path] = (),
    county_crosswalk: Path | None = None,
    attribution: Path | None = None,
    step: Callable[[], None] = lambda: None,
) -> BenchmarkFiles:
    """``apmkit benchmark``: the contract's benchmark alone, written as Parquet to ``out`` (benchmark_lines and,
    for MSSP, benchmark_by_type, benchmark_summary and member_year_expenditure; for the general method,
    benchmark_entities).

    Raises
    ------
    ConfigurationError
        The benchmark section is missing, still ``REQUIRED``, or the general method uses relative base years.
    """
    spec, definitions = benchmark_document(contract)
    if spec.general is not None and spec.general.performance_year is None:
        raise ConfigurationError(
            f"{contract}: benchmark.general uses base_year_offsets (relative years): set performance_year, "
            "or run the whole contract for a period with `apmkit run`"
        )
    tables = engine.canonical(data)
    out.mkdir(parents=True, exist_ok=True)
    scores = risk_scores_file(engine, risk_scores, risk_year) if risk_scores else None
    files: dict[str, Path] = {}
    messages: list[str] = []

    def write(name: str, table: ir.Table) -> None:
        files[name] = engine.write_parquet(table, out / f"{name}.parquet")

    if spec.method == "mssp":
        from apmkit.benchmark.mssp import mssp_benchmark

        mssp = spec.mssp_spec
        if mssp is None:
            raise ConfigurationError(
                "benchmark.mssp is REQUIRED: give CMS's figures (base_years, performance_year, national_per_capita, "
                "update.national_growth, update.acpt) to build the MSSP benchmark (docs/benchmark.md)"
            )
        county = None
        if county_puf:
            rates = county_rates(engine, county_puf)
            county = rates.regional
            for stem, refused in rates.rejects.items():
                write(f"rejects_{stem}", refused)
            messages.append(
                f"county PUF: read {rates.rows_read} rows, loaded {engine.count(county)} county/type rows, "
                f"rejected {rates.rows_rejected} cells"
            )
        step()
        result = mssp_benchmark(
            tables,
            mssp,
            fetch=engine.rows,
            materialize=engine.materialize,
            population=engine.read_parquet(population) if population else None,
            risk_scores=scores,
            county=county,
            county_crosswalk=read_string_table(engine, county_crosswalk) if county_crosswalk else None,
        )
        step()
        write("benchmark_lines", engine.from_arrow(result.lines_arrow()))
        write("benchmark_by_type", engine.from_arrow(result.by_type_arrow()))
        write("benchmark_summary", engine.from_arrow(result.summary_arrow()))
        write("member_year_expenditure", result.member_years)
        messages.append(
            f"claim lines read {engine.count(tables['medical_claims']):,}; "
            f"member-years loaded {engine.count(result.member_years):,}"
        )
        messages.append(
            f"MSSP benchmark: updated per capita {result.updated_per_capita:,.2f}, "
            f"total {result.total_benchmark:,.2f} ({result.guardrail_status})"
        )
    else:
        assert spec.general is not None
        step()
        general = general_benchmark_from_claims(
            engine,
            tables,
            spec.general,
            definitions,
            links=engine.read_parquet(attribution) if attribution else None,
            risk_scores=scores,
        )
        step()
        write("benchmark_lines", engine.from_arrow(general.lines_arrow()))
        write("benchmark_entities", engine.from_arrow(general.entities_arrow()))
        messages.append(f"general benchmark: {len(general.entities)} entities ({definitions.describe()})")
    step()
    return BenchmarkFiles(files=files, messages=messages)
