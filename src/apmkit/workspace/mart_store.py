"""Write a run's marts once: each computed into the tables of ``run.duckdb``, then copied to Parquet from there.

A run's output holds every mart twice, as ``<name>.parquet`` and as a table of ``run.duckdb`` (reports and the
dashboard open the one database file; other tools read the Parquet). Writing the Parquet files first and
loading them into the database from a second connection computed each mart once but encoded it three times
(Parquet, Parquet read back, the database's storage). On DuckDB the run's own engine attaches the new database
file, computes each mart straight into its table (from the run's temp tables, no re-read), and copies that
table to Parquet: one computation, two encodings. The database holds real tables, not views over the Parquet
files, so the output folder stays movable. Spark keeps the generic path (Parquet parts, then a DuckDB load).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from apmkit.engines import Engine


def _quoted(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_PARQUET_AS: dict[str, str] = {"HUGEINT": "DOUBLE", "UHUGEINT": "DOUBLE"}
"""DuckDB types Parquet stores as another type (DuckDB's own writer converts them): the database's tables take
the type the Parquet file holds, so both copies of a mart read the same (a sum of integers is a HUGEINT)."""


def _as_in_parquet(backend: Any, sql: str) -> str:
    """``sql`` with each column whose type Parquet cannot hold cast to the type the Parquet file holds."""
    described = backend.raw_sql(f"DESCRIBE {sql}").fetchall()
    if not any(row[1] in _PARQUET_AS for row in described):
        return sql
    columns = []
    for row in described:
        name = '"' + str(row[0]).replace('"', '""') + '"'
        wanted = _PARQUET_AS.get(row[1])
        columns.append(f"CAST({name} AS {wanted}) AS {name}" if wanted else name)
    return f"SELECT {', '.join(columns)} FROM ({sql})"


def write_marts_duckdb(engine: Engine, folder: Path, marts: Mapping[str, ir.Table]) -> dict[str, Path]:
    """Compute each of ``marts`` once into a table of ``folder/run.duckdb`` and copy it to
    ``folder/<name>.parquet``; returns name -> Parquet path (``run.duckdb`` is not listed)."""
    assert engine.name == "duckdb"
    backend = engine.backend
    alias = f"apmkit_out_{uuid.uuid4().hex[:12]}"
    files: dict[str, Path] = {}
    backend.raw_sql(f"ATTACH {_quoted(str(folder / 'run.duckdb'))} AS {alias}")
    try:
        for name, table in marts.items():
            target = f'{alias}.main."{name}"'
            backend._run_pre_execute_hooks(table)  # registers in-memory tables the expression reads
            query = _as_in_parquet(backend, backend.compile(table))
            backend.raw_sql(f"CREATE TABLE {target} AS {query}")
            path = folder / f"{name}.parquet"
            backend.raw_sql(f"COPY {target} TO {_quoted(str(path))} (FORMAT 'parquet')")
            files[name] = path
    finally:
        backend.raw_sql(f"DETACH {alias}")  # checkpoints: the file is whole, with no write-ahead log
    return files


__all__ = ["write_marts_duckdb"]
