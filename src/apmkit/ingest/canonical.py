"""The canonical layout loader: ``<table>.csv`` / ``<table>.parquet`` files as written by hand or exported
from a warehouse (``apmkit ingest csv|parquet PATH``).

PATH is a folder holding files named after canonical tables (``members.csv``, ``medical_claims.parquet``,
...) or a single such file. Columns are matched by name (case-insensitive); unknown columns are ignored
with a warning; a missing required column is an error for that file.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.pipeline import Staged
from apmkit.ingest.readers import RECORD, RESERVED_SUFFIX, SOURCE_FILE, SOURCE_LINE, stream_delimited
from apmkit.schemas import TABLES, TableSchema

INPUT_TABLES = [name for name in TABLES if not name.endswith("_history")]
SUFFIXES = {"csv": (".csv", ".txt"), "parquet": (".parquet",)}


def _find_files(path: Path, fmt: str) -> list[tuple[str, Path]]:
    suffixes = SUFFIXES[fmt]
    if path.is_file():
        table = path.name.split(".")[0].lower()
        if table not in INPUT_TABLES:
            raise InputFileError(
                path, f"file name must be a canonical table name ({', '.join(INPUT_TABLES)})"
            )
        return [(table, path)]
    if not path.is_dir():
        raise InputFileError(path, "no such file or folder")
    found = []
    for child in sorted(path.iterdir()):
        stem = child.name.split(".")[0].lower()
        if stem in INPUT_TABLES and child.name.lower().endswith(suffixes):
            found.append((stem, child))
    if not found:
        expected = ", ".join(f"{t}{suffixes[0]}" for t in INPUT_TABLES)
        raise InputFileError(path, f"no canonical {fmt} files found (expected any of: {expected})")
    return found


def _match_columns(table: ibis.Table, schema: TableSchema, path: Path, staged: Staged) -> ibis.Table:
    # Provenance columns of a re-exported table are replaced by this file's own.
    previous = [c for c in table.columns if c.endswith(RESERVED_SUFFIX)]
    table = table.drop(*previous) if previous else table
    by_lower = {c.lower(): c for c in table.columns}
    known = set(schema.names) | {"source_file", "source_line", "_record"}
    renames = {name: by_lower[name] for name in known if name in by_lower and by_lower[name] != name}
    table = table.rename(renames) if renames else table
    extra = [c for c in table.columns if c.lower() not in known]
    if extra:
        staged.warnings.append(
            f"{path.name}: ignored column(s) not in the {schema.name} schema: {', '.join(extra)}"
        )
        table = table.drop(*extra)
    missing = [c.name for c in schema.columns if c.required and c.name not in table.columns]
    if missing:
        raise InputFileError(
            path, f"missing required column(s) for {schema.name}: {', '.join(missing)}", line=1
        )
    return table


def stage(engine: Engine, path: Path, fmt: str = "csv") -> Staged:
    """Read canonical CSV or Parquet files into raw tables for the pipeline."""
    path = Path(path)
    staged = Staged(format=fmt, source=path)
    for table_name, file in _find_files(path, fmt):
        schema = TABLES[table_name]
        staged.files.append(file.name)
        if fmt == "csv":
            # Streamed to Parquet block by block (no whole file in memory), then read by the engine.
            target = staged.scratch() / f"{len(staged.files)}-{table_name}.parquet"
            records = stream_delimited(file, target)
            if records.rows == 0 and not records.rejects:
                # Loading it would replace the table with an empty one: fail, naming the file.
                raise InputFileError(file, "file has a header row but no data rows")
            raw = engine.read_parquet(records.parquet)
            # The raw text is looked up only for quarantined rows (Staged.records), not carried along.
            staged.records.setdefault(table_name, []).append(raw.select(SOURCE_FILE, SOURCE_LINE, RECORD))
            raw = raw.drop(RECORD)
            staged.add(table_name, _match_columns(raw, schema, file, staged), records.rejects)
        else:
            raw = engine.read_parquet_numbered(file)
            raw = raw.mutate(source_file=ibis.literal(file.name))
            staged.add(table_name, _match_columns(raw, schema, file, staged))
    return staged


def stage_csv(engine: Engine, path: Path) -> Staged:
    return stage(engine, path, "csv")


def stage_parquet(engine: Engine, path: Path) -> Staged:
    return stage(engine, path, "parquet")
