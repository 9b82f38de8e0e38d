"""Ingestion: read source formats into the canonical tables, quarantining what cannot be loaded.

Each format has a *stage* function ``stage(engine, path) -> Staged`` registered in :data:`FORMATS`; the
shared :func:`apmkit.ingest.pipeline.run` conforms, resolves final-action claims and writes the output.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

from apmkit.engines import Engine, check_output
from apmkit.errors import ConfigurationError
from apmkit.ingest import multi_payer
from apmkit.ingest.pipeline import DEFAULT_MEMORY_LIMIT, Staged, check_database, is_ingest_output, run
from apmkit.ingest.report import IngestReport, TableCounts

StageFunction = Callable[[Engine, Path], Staged]

# format name -> "module:function"; imported lazily so one format's dependencies never slow another.
FORMATS: dict[str, str] = {
    "csv": "apmkit.ingest.canonical:stage_csv",
    "parquet": "apmkit.ingest.canonical:stage_parquet",
    "cclf": "apmkit.ingest.cclf:stage",
    "ccw-rif": "apmkit.ingest.ccw_rif:stage",
    "fhir": "apmkit.ingest.fhir:stage",
    "synthea": "apmkit.ingest.synthea:stage",
    "hl7-adt": "apmkit.ingest.hl7_adt:stage",
}


def available_formats() -> list[str]:
    names = []
    for name, target in FORMATS.items():
        module = target.split(":")[0]
        if importlib.util.find_spec(module) is not None:
            names.append(name)
    return names


def stage_function(fmt: str) -> StageFunction:
    target = FORMATS.get(fmt.lower())
    if target is None or fmt.lower() not in available_formats():
        raise ConfigurationError(f"unknown format {fmt!r}: choose one of {', '.join(available_formats())}")
    module_name, function = target.split(":")
    stage: StageFunction = getattr(importlib.import_module(module_name), function)
    return stage


def ingest(
    engine: Engine,
    fmt: str,
    path: str | Path,
    out: str | Path,
    *,
    database: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
    memory_limit: str | None = None,
    payer: str | None = None,
    into: bool = False,
) -> IngestReport:
    """Load ``path`` in format ``fmt`` into canonical Parquet tables under ``out``.

    ``out`` and ``database`` are checked before any input is read; ``out`` is replaced whole only when
    the ingest succeeds (see :func:`apmkit.ingest.pipeline.run`). ``memory_limit`` bounds DuckDB's
    memory (default :data:`~apmkit.ingest.pipeline.DEFAULT_MEMORY_LIMIT` unless the engine has one).

    ``payer`` sets the payer of every row of the tables that have one. With ``into``, ``out`` is a
    multi-payer folder in which only ``payer``'s rows are replaced (:mod:`apmkit.ingest.multi_payer`).
    """
    stage = stage_function(fmt)
    out, db = Path(out), Path(database) if database else None
    if into:
        if payer is None:
            raise ConfigurationError("--into needs --payer: the payer whose rows the load replaces")
        multi_payer.check_payer(payer)
        multi_payer.check_into(out)
    else:
        if payer is not None:
            multi_payer.check_payer(payer)
        check_output(out, accept_existing=is_ingest_output)
    if db is not None:
        check_database(db)
    limit = memory_limit or (None if engine.memory_limit else DEFAULT_MEMORY_LIMIT)
    with engine.settings(memory_limit=limit, preserve_insertion_order=False):
        staged = stage(engine, Path(path))
        try:
            if into:
                assert payer is not None
                return multi_payer.load_into(
                    engine, staged, payer, out, database=db, on_step=on_step, memory_limit=limit
                )
            if payer is not None:
                multi_payer.stamp_payer(staged, payer)
            return run(engine, staged, out, database=db, on_step=on_step, memory_limit=limit)
        finally:
            staged.cleanup()


__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "FORMATS",
    "IngestReport",
    "Staged",
    "TableCounts",
    "available_formats",
    "ingest",
    "run",
]
