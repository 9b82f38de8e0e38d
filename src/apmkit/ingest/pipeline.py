"""The ingest pipeline shared by every format.

A format loader *stages* its input: it parses files into raw ibis tables with canonical column names (see
:class:`Staged`) and reports records it could not even parse. The pipeline then, for every table,
conforms the records to the schema, resolves final-action claims, writes ``OUT/<table>.parquet``, the
quarantine (``OUT/quarantine.parquet``) and ``OUT/ingest_report.json``, and optionally loads the tables
into a DuckDB database file. Counts reconcile exactly: read = loaded + quarantined, per table.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow.parquet as pq

from apmkit.engines import Engine, check_output, restrict_permissions, staged_output
from apmkit.errors import ConfigurationError
from apmkit.ingest.conform import conform, mark_duplicates, repeated_keys, split_checked
from apmkit.ingest.final_action import has_adjustments, resolve_final_action, without_adjustments
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
    records: dict[str, list[ibis.Table]] = field(default_factory=dict)
    """Per canonical table, the raw text of its records (``source_file``, ``source_line``, ``_record``) when
    the parts in ``tables`` leave ``_record`` out: only quarantined rows look their text up here, so the
    text of every record is not carried through conformance."""
    _scratch: Path | None = field(default=None, repr=False)

    def scratch(self) -> Path:
        """A private folder for the files the staged tables read (e.g. a CSV streamed to Parquet).

        Created on first use under ``APMKIT_TEMP_DIR`` (else the system temp folder); removed by
        :meth:`cleanup` or, at the latest, when this object is garbage collected.
        """
        if self._scratch is None:
            parent = os.environ.get("APMKIT_TEMP_DIR")
            if parent:
                Path(parent).mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix="apmkit-ingest-", dir=parent or None))
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        return self._scratch

    def cleanup(self) -> None:
        """Remove the scratch folder (after the pipeline has written its output)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

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


DEFAULT_MEMORY_LIMIT = "4GB"
"""DuckDB's memory limit during ingest unless the engine was created with one (``--memory-limit``)."""


def is_ingest_output(folder: Path) -> bool:
    """Folders written by an earlier ingest (before output folders carried a marker) may be replaced."""
    return (folder / "ingest_report.json").is_file()


def run(
    engine: Engine,
    staged: Staged,
    out: Path,
    *,
    database: Path | None = None,
    on_step: Progress | None = None,
    memory_limit: str | None = None,
) -> IngestReport:
    """Conform, resolve and write every staged table; return the reconciled report.

    Everything is written to a staging folder beside ``out`` that replaces ``out`` only when the whole
    ingest succeeded (:func:`apmkit.engines.staged_output`): a failed or interrupted ingest leaves the
    previous output as it was, and a new ingest never keeps an earlier run's tables. Each step is an
    engine query from Parquet to Parquet (no table passes through Python), under ``memory_limit``
    (default :data:`DEFAULT_MEMORY_LIMIT` on DuckDB) with spilling to the engine's temp folder.
    """
    out = Path(out)
    check_output(out, accept_existing=is_ingest_output)
    if database is not None:
        check_database(database)
    limit = memory_limit or (None if engine.memory_limit else DEFAULT_MEMORY_LIMIT)
    with (
        staged_output(out, accept_existing=is_ingest_output) as staging,
        engine.settings(memory_limit=limit, preserve_insertion_order=False),
    ):
        report = _write_tables(engine, staged, staging, on_step or (lambda _msg: None))
        if database is not None:
            (on_step or (lambda _msg: None))("load database")
            load_database(database, {name: staging / f"{name}.parquet" for name in report.written})
    return report


def _write_tables(engine: Engine, staged: Staged, staging: Path, step: Progress) -> IngestReport:
    report = IngestReport(
        format=staged.format,
        source=str(staged.source),
        schema_version=SCHEMA_VERSION,
        files=sorted(set(staged.files)),
        checks=list(staged.checks),
        warnings=list(staged.warnings),
    )
    work = staging / ".work"
    work.mkdir()
    quarantine_parts: list[Path] = []
    names = sorted(set(staged.tables) | set(staged.rejects), key=list(TABLES).index)
    for name in names:
        step(f"conform {name}")
        schema = TABLES[name]
        parse_rejects = staged.rejects.get(name, [])
        parts = staged.tables.get(name, [])
        counts = TableCounts()
        if parse_rejects:
            path = work / f"{name}.rejects.parquet"
            pq.write_table(rejects_to_arrow(parse_rejects, name), path)
            quarantine_parts.append(path)
        if parts:
            # 1. Every rule but the key, in one streaming pass from the input to Parquet.
            checked_path = engine.write_parquet(
                conform(union_raw(parts), schema, source_format=staged.format, check_key=False).checked,
                work / f"{name}.checked.parquet",
            )
            checked = engine.read_parquet(checked_path)
            counts.read = engine.count(checked)
            # 2. Duplicate keys over the written rows, then the split into loaded rows and quarantine.
            repeated = repeated_keys(checked, schema)
            if repeated is None or engine.count(repeated):
                repeated = repeated if repeated is None else engine.materialize(repeated)
                checked = mark_duplicates(checked, schema, repeated)
            conformed = split_checked(checked, schema, staged.format)
            rejected_path = engine.write_parquet(conformed.quarantined, work / f"{name}.quarantine.parquet")
            counts.quarantined = engine.count(engine.read_parquet(rejected_path))
            if counts.quarantined and staged.records.get(name):
                rejected_path = _with_records(engine, rejected_path, staged.records[name], work, name)
            quarantine_parts.append(rejected_path)
            loaded = conformed.loaded
            probe = schema.select_from(checked)  # every parsed row: a superset of the loaded ones
        else:
            loaded = probe = engine.empty(schema)
        counts.read += len(parse_rejects)
        counts.quarantined += len(parse_rejects)

        if name in CLAIM_HISTORY:
            step(f"final action {name}")
            history_name = CLAIM_HISTORY[name]
            if engine.execute(has_adjustments(probe)):
                # Families are resolved with several joins over the claims: read them from a file once.
                loaded = engine.read_table(_write(engine, loaded, work, f"{name}.loaded"), schema)
                resolved = resolve_final_action(loaded, TABLES[history_name], schema)
            else:
                resolved = without_adjustments(loaded, TABLES[history_name], schema)
            history_path = _write(engine, resolved.history, staging, history_name)
            report.written.append(history_name)
            history = engine.read_table(history_path, TABLES[history_name])
            counts.loaded = engine.count(history)
            final = schema.select_from(history.filter(history.is_final_action))
            step(f"write {name}")
            counts.final_action = engine.count(engine.read_parquet(_write(engine, final, staging, name)))
            counts.superseded = counts.loaded - counts.final_action
        else:
            step(f"write {name}")
            counts.loaded = engine.count(engine.read_parquet(_write(engine, loaded, staging, name)))
        report.written.append(name)
        report.tables[name] = counts
        if not counts.reconciles:  # pragma: no cover - guards the invariant, never expected
            raise AssertionError(
                f"{name}: read {counts.read} != loaded {counts.loaded} + {counts.quarantined}"
            )

    step("write quarantine")
    if quarantine_parts:
        parts = [QUARANTINE.select_from(engine.read_parquet(path)) for path in quarantine_parts]
        quarantine = ibis.union(*parts) if len(parts) > 1 else parts[0]
    else:
        quarantine = engine.empty(QUARANTINE)
    quarantine = quarantine.order_by(["table", "source_file", "source_line"])
    with engine.settings(preserve_insertion_order=True):  # the file is sorted by table, file and line
        quarantine_path = _write(engine, quarantine, staging, "quarantine")
        entries = engine.to_arrow(
            engine.read_parquet(quarantine_path).select(
                "table", "source_file", "source_line", "field", "reason"
            )
        ).to_pylist()
    # Sorted here too: a Spark folder of parts need not come back in the written order.
    entries.sort(
        key=lambda e: (
            e["table"],
            e["source_file"] is None,
            e["source_file"] or "",
            e["source_line"] is None,
            e["source_line"] or 0,
        )
    )
    report.quarantine = entries
    shutil.rmtree(work)
    report.write(staging / "ingest_report.json")
    return report


def _with_records(engine: Engine, path: Path, records: list[ibis.Table], work: Path, name: str) -> Path:
    """The quarantine rows of ``path`` with their raw text looked up by file and line in ``records``."""
    quarantined = engine.read_parquet(path)
    lines = union_raw([r.select(SOURCE_FILE, SOURCE_LINE, RECORD) for r in records])
    lines = lines.select(_file=lines[SOURCE_FILE], _line=lines[SOURCE_LINE], _text=lines[RECORD])
    joined = quarantined.left_join(
        lines, (quarantined.source_file == lines._file) & (quarantined.source_line == lines._line)
    )
    joined = joined.mutate(record=ibis.coalesce(joined.record, joined._text))
    return engine.write_parquet(QUARANTINE.select_from(joined), work / f"{name}.quarantine.records.parquet")


def _write(engine: Engine, table: ibis.Table, folder: Path, name: str) -> Path:
    return engine.write_parquet(table, folder / f"{name}.parquet")


def check_database(database: Path) -> None:
    """Check a ``--db`` target before anything is written: a DuckDB file that can be created or opened."""
    database = Path(database)
    if database.suffix.lower() in (".parquet", ".json", ".csv") or database.is_dir():
        raise ConfigurationError(f"--db {database}: expected a DuckDB database file (e.g. apmkit.duckdb)")
    if not database.parent.is_dir():
        raise ConfigurationError(f"--db {database}: folder {database.parent} does not exist")
    if database.exists():
        with open(database, "rb") as handle:
            header = handle.read(16)
        if len(header) < 12 or header[8:12] != b"DUCK":
            raise ConfigurationError(f"--db {database}: exists and is not a DuckDB database file")


def load_database(database: Path, written: dict[str, Path]) -> None:
    """Create or replace each written table in a DuckDB database file, in one transaction."""
    check_database(database)
    with Engine.duckdb(database) as db:
        con = db.backend.con
        con.execute("BEGIN TRANSACTION")
        try:
            for name, path in written.items():
                db.save_table(db.read_table(path, TABLES[name]), name)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    restrict_permissions(database)


__all__ = [
    "RECORD",
    "SOURCE_FILE",
    "SOURCE_LINE",
    "Staged",
    "check_database",
    "is_ingest_output",
    "run",
    "union_raw",
]
