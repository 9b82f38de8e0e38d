"""Benchmark jobs of the application layer: CMS county rates, and the standalone benchmark build.

``apmkit run`` builds a contract's benchmark inside the run (``Workspace.run``); ``apmkit benchmark`` builds only
the benchmark, through the same spending measurement and general-benchmark build
(:meth:`apmkit.workspace.Workspace.benchmark`). This module holds what both read: the CMS county FFS benchmark PUF
(regional per capita and risk by county and enrollment type, 42 CFR 425.654) and small lookup tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from apmkit.benchmark.county_puf import conform_county_puf
from apmkit.documents import read_csv_header
from apmkit.engines import Engine
from apmkit.errors import InputFileError


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
