"""Practice-finance loaders: general-ledger/P&L CSV, billing/remittance CSV and X12 835 ERA files.

This is finance's format layer (like :mod:`apmkit.ingest`): files are read with
:func:`apmkit.ingest.readers.read_delimited` or :func:`apmkit.ingest.x12_835.read_835`, handed to the engine as
Arrow, and conformed to :mod:`apmkit.schemas.finance` with :func:`apmkit.ingest.conform.conform`. Rows that
break a rule go to quarantine with file, line, field and every reason; counts reconcile (read = loaded +
rejected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.ingest.conform import conform, split_checked
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject, read_delimited, rejects_to_arrow
from apmkit.ingest.x12_835 import read_835
from apmkit.schemas import QUARANTINE, TableSchema
from apmkit.schemas.finance import BILLING, LEDGER, PROVIDER_ADJUSTMENTS, REMIT_ADJUSTMENTS, VISITS


@dataclass
class Loaded:
    """A conformed finance table, its quarantine and the read / loaded / rejected counts."""

    table: ibis.Table
    quarantine: ibis.Table
    read: int
    loaded: int
    rejected: int
    extra: dict[str, ibis.Table] = field(default_factory=dict)
    by_table: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """Read / loaded / rejected over every table of the input, and per table when there are several."""
        totals: dict[str, Any] = {"read": self.read, "loaded": self.loaded, "rejected": self.rejected}
        if self.by_table:
            totals["tables"] = self.by_table
        return totals


def _conform(
    engine: Engine, parts: list[pa.Table], rejects: list[Reject], schema: TableSchema, source_format: str
) -> Loaded:
    names = [c.name for c in schema.columns if c.name not in schema.provenance_columns]
    unified = []
    for part in parts:
        arrays = {}
        for name in names:
            arrays[name] = (
                part[name].cast(pa.string())
                if name in part.column_names
                else pa.nulls(part.num_rows, pa.string())
            )
        arrays[SOURCE_FILE] = part[SOURCE_FILE].cast(pa.string())
        arrays[SOURCE_LINE] = part[SOURCE_LINE].cast(pa.int64())
        arrays[RECORD] = (
            part[RECORD].cast(pa.string())
            if RECORD in part.column_names
            else pa.nulls(part.num_rows, pa.string())
        )
        unified.append(pa.table(arrays))
    raw_arrow = pa.concat_tables(unified) if unified else None
    if raw_arrow is None or raw_arrow.num_rows == 0:
        loaded_table = engine.empty(schema)
        bad = engine.empty(QUARANTINE)
        parsed = 0
    else:
        raw = engine.from_arrow(raw_arrow)
        # The checks run once: both sides are filters of the checked rows.
        checked = engine.materialize(conform(raw, schema, source_format=source_format).checked)
        result = split_checked(checked, schema, source_format)
        loaded_table = engine.materialize(result.loaded)
        bad = engine.materialize(result.quarantined)
        parsed = raw_arrow.num_rows
    if rejects:
        bad = bad.union(engine.from_arrow(rejects_to_arrow(rejects, schema.name)))
    loaded = engine.count(loaded_table)
    rejected = engine.count(bad)
    return Loaded(loaded_table, bad, read=parsed + len(rejects), loaded=loaded, rejected=rejected)


def _read_csvs(paths: Sequence[Path], required: Sequence[str]) -> tuple[list[pa.Table], list[Reject]]:
    parts, rejects = [], []
    for path in paths:
        records = read_delimited(Path(path), required_columns=required, normalize_header=True)
        parts.append(records.table)
        rejects.extend(records.rejects)
    return parts, rejects


def load_ledger(engine: Engine, paths: Sequence[Path]) -> Loaded:
    """General-ledger / P&L CSV files (header names as in :data:`apmkit.schemas.finance.LEDGER`)."""
    parts, rejects = _read_csvs(paths, ("posting_date", "account", "account_type", "amount"))
    return _conform(engine, parts, rejects, LEDGER, "ledger_csv")


def load_billing(engine: Engine, paths: Sequence[Path]) -> Loaded:
    """Billing / remittance CSV exports, one row per claim line (:data:`apmkit.schemas.finance.BILLING`)."""
    parts, rejects = _read_csvs(paths, ("claim_id", "line_number", "service_date", "payer", "billed_amount"))
    return _conform(engine, parts, rejects, BILLING, "billing_csv")


def load_visits(engine: Engine, paths: Sequence[Path]) -> Loaded:
    """Visit-count CSV files (:data:`apmkit.schemas.finance.VISITS`)."""
    parts, rejects = _read_csvs(paths, ("visit_month", "visits"))
    return _conform(engine, parts, rejects, VISITS, "visits_csv")


def load_835(engine: Engine, paths: Sequence[Path]) -> Loaded:
    """X12 835 ERA files: billing lines, with ``extra`` tables ``remit_adjustments`` and ``provider_adjustments``."""
    lines, adjustments, plb, rejects = [], [], [], []
    for path in paths:
        remit = read_835(Path(path))
        lines.append(remit.lines)
        adjustments.append(remit.adjustments)
        plb.append(remit.provider_adjustments)
        rejects.extend(remit.rejects)
    result = _conform(engine, lines, rejects, BILLING, "x12_835")
    adj = _conform(engine, adjustments, [], REMIT_ADJUSTMENTS, "x12_835")
    provider = _conform(engine, plb, [], PROVIDER_ADJUSTMENTS, "x12_835")
    result.by_table = {
        "billing_lines": {"read": result.read, "loaded": result.loaded, "rejected": result.rejected},
        "remit_adjustments": {"read": adj.read, "loaded": adj.loaded, "rejected": adj.rejected},
        "provider_adjustments": {
            "read": provider.read,
            "loaded": provider.loaded,
            "rejected": provider.rejected,
        },
    }
    result.quarantine = result.quarantine.union(adj.quarantine).union(provider.quarantine)
    result.rejected += adj.rejected + provider.rejected
    result.read += adj.read + provider.read
    result.loaded += adj.loaded + provider.loaded
    result.extra = {"remit_adjustments": adj.table, "provider_adjustments": provider.table}
    return result


def load_billing_files(engine: Engine, paths: Sequence[Path]) -> Loaded:
    """Billing lines from a mix of CSV exports and 835 files (chosen by content: an 835 starts with ISA)."""
    csvs = [p for p in paths if not _is_x12(Path(p))]
    eras = [p for p in paths if _is_x12(Path(p))]
    results = []
    if csvs:
        results.append(load_billing(engine, csvs))
    if eras:
        results.append(load_835(engine, eras))
    if not results:
        return _conform(engine, [], [], BILLING, "billing_csv")
    tables: dict[str, dict[str, int]] = {}
    for result in results:
        parts = result.by_table or {
            "billing_lines": {"read": result.read, "loaded": result.loaded, "rejected": result.rejected}
        }
        for name, counted in parts.items():
            into = tables.setdefault(name, {"read": 0, "loaded": 0, "rejected": 0})
            for key, value in counted.items():
                into[key] += value
    first = results[0]
    for other in results[1:]:
        first.table = first.table.union(other.table)
        first.quarantine = first.quarantine.union(other.quarantine)
        first.read += other.read
        first.loaded += other.loaded
        first.rejected += other.rejected
        first.extra.update(other.extra)
    if len(tables) > 1:
        first.by_table = tables
    return first


def _is_x12(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(16).lstrip().startswith(b"ISA")
