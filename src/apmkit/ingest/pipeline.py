"""The ingest pipeline shared by every format.

A format loader *stages* its input: it parses files into raw ibis tables with canonical column names (see
:class:`Staged`) and reports records it could not even parse. The pipeline then, for every table,
conforms the records to the schema, resolves final-action claims, writes ``OUT/<table>.parquet``, the
quarantine (``OUT/quarantine.parquet``) and ``OUT/ingest_report.json``, and optionally loads the tables
into a DuckDB database file. Counts reconcile exactly: read = loaded + quarantined, per table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError
from apmkit.ingest.conform import conform
from apmkit.ingest.final_action import resolve_final_action
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject, rejects_to_arrow
from apmkit.ingest.report import Check, IngestReport, TableCounts
from apmkit.schemas import QUARANTINE, SCHEMA_VERSION, TABLES

CLAIM_HISTORY = {"medical_claims": "medical_claims_history", "pharmacy_claims": "pharmacy_claims_history"}
Progress = Callable[[str], None]


@dataclass
class Staged:
    """What a loader hands to the pipeline.

    Attributes
    ----------
    format
        Loader name (``csv``, ``cclf``, ...), written to ``source_format``.
    source
        The path the user gave.
    tables
        Per canonical table, the raw record tables (canonical column names; strings or typed values;
        ``source_file``, ``source_line`` and optionally ``_record``). Several parts are unioned.
    rejects
        Per canonical table, records rejected while parsing (wrong width, wrong field count, bad bytes).
    checks
        File-level checks (e.g. CCLF0 record counts) and their outcome.
    """

    format: str
    source: Path
    files: list[str] = field(default_factory=list)
    tables: dict[str, list[ibis.Table]] = field(default_factory=dict)
    rejects: dict[str, list[Reject]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, table: str, raw: ibis.Table | None, rejects: list[Reject] | None = None) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown canonical table {table!r}")
        if raw is not None:
            self.tables.setdefault(table, []).append(raw)
        else:
            self.tables.setdefault(table, [])
        if rejects:
            self.rejects.setdefault(table, []).extend(rejects)


def union_raw(parts: list[ibis.Table]) -> ibis.Table:
    """Union raw parts whose columns differ: missing columns become NULL, mixed types become strings."""
    if len(parts) == 1:
        return parts[0]
    names: list[str] = []
    types: dict[str, ibis.DataType] = {}
    for part in parts:
        for name, dtype in part.schema().items():
            if name not in types:
                names.append(name)
                types[name] = dtype
            elif types[name] != dtype:
                types[name] = ibis.dtype("string")
    aligned = [
        part.select(
            [(part[n].cast(types[n]) if n in part.columns else ibis.null(types[n])).name(n) for n in names]
        )
        for part in parts
    ]
    return ibis.union(*aligned)


def run(
    engine: Engine,
    staged: Staged,
    out: Path,
    *,
    database: Path | None = None,
    on_step: Progress | None = None,
) -> IngestReport:
    """Conform, resolve and write every staged table; return the reconciled report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step = on_step or (lambda _msg: None)
    report = IngestReport(
        format=staged.format,
        source=str(staged.source),
        schema_version=SCHEMA_VERSION,
        files=sorted(set(staged.files)),
        checks=list(staged.checks),
        warnings=list(staged.warnings),
    )
    quarantine_parts: list[pa.Table] = []
    written: dict[str, Path] = {}
    names = sorted(set(staged.tables) | set(staged.rejects), key=list(TABLES).index)
    for name in names:
        step(f"conform {name}")
        schema = TABLES[name]
        parse_rejects = staged.rejects.get(name, [])
        parts = staged.tables.get(name, [])
        counts = TableCounts()
        if parts:
            raw = engine.materialize(union_raw(parts))
            conformed = conform(raw, schema, source_format=staged.format)
            loaded = engine.materialize(conformed.loaded)
            rejected = engine.to_arrow(conformed.quarantined)
            counts.read = engine.count(raw)
            counts.loaded = engine.count(loaded)
        else:
            loaded = engine.empty(schema)
            rejected = QUARANTINE.empty_arrow()
        counts.read += len(parse_rejects)
        counts.quarantined = rejected.num_rows + len(parse_rejects)
        quarantine_parts.extend([rejects_to_arrow(parse_rejects, name), rejected])

        if name in CLAIM_HISTORY:
            step(f"final action {name}")
            history_name = CLAIM_HISTORY[name]
            resolved = resolve_final_action(loaded, TABLES[history_name], schema)
            history = engine.materialize(resolved.history)
            written[history_name] = engine.write_parquet(history, out / f"{history_name}.parquet")
            final = resolved.final
            counts.final_action = engine.count(final)
            counts.superseded = counts.loaded - counts.final_action
            loaded = final
        step(f"write {name}")
        written[name] = engine.write_parquet(loaded, out / f"{name}.parquet")
        report.tables[name] = counts
        if not counts.reconciles:  # pragma: no cover - guards the invariant, never expected
            raise AssertionError(
                f"{name}: read {counts.read} != loaded {counts.loaded} + {counts.quarantined}"
            )

    quarantine = pa.concat_tables(quarantine_parts) if quarantine_parts else QUARANTINE.empty_arrow()
    quarantine = quarantine.sort_by(
        [("table", "ascending"), ("source_file", "ascending"), ("source_line", "ascending")]
    )
    import pyarrow.parquet as pq

    pq.write_table(
        quarantine.replace_schema_metadata(QUARANTINE.arrow_schema().metadata), out / "quarantine.parquet"
    )
    entries = quarantine.select(["table", "source_file", "source_line", "field", "reason"]).to_pylist()
    report.quarantine = entries
    report.write(out / "ingest_report.json")

    if database is not None:
        step("load database")
        load_database(database, written)
    return report


def load_database(database: Path, written: dict[str, Path]) -> None:
    """Create or replace each written table in a DuckDB database file."""
    if str(database).endswith((".parquet", ".json")):
        raise ConfigurationError(f"--db {database}: expected a DuckDB database file (e.g. apmkit.duckdb)")
    with Engine.duckdb(database) as db:
        for name, path in written.items():
            db.save_table(db.read_table(path, TABLES[name]), name)


__all__ = ["RECORD", "SOURCE_FILE", "SOURCE_LINE", "Staged", "run", "union_raw"]
