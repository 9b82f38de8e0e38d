"""Reconciliation jobs over written statements (``apmkit settle diff | true-up | breakdown``): read our
statement (``statement.json`` or a run/settle folder), a payer's report or an earlier statement, and call the
pure functions of :mod:`apmkit.settlement.reconcile`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis

from apmkit.documents import read_csv_rows, read_text
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.settlement.reconcile import (
    BASES,
    SettlementDiff,
    TrueUp,
    diff_statement,
    participant_breakdown,
    read_payer_rows,
    rows_from_statement_json,
    rows_from_summary_table,
    true_up,
)


def statement_rows(engine: Engine, path: Path) -> list[dict[str, Any]]:
    """Our statement's per-entity rows, from ``statement.json`` or a folder with ``summary.parquet`` (and
    ``lines.parquet``) as ``apmkit run`` / ``apmkit settle`` write them."""
    if path.is_dir():
        summary = path / "summary.parquet"
        if not summary.exists():
            if (path / "statement.json").exists():
                return statement_rows(engine, path / "statement.json")
            raise InputFileError(path, "no summary.parquet or statement.json in the folder")
        lines = path / "lines.parquet"
        return rows_from_summary_table(
            engine.to_arrow(engine.read_parquet(summary)),
            engine.to_arrow(engine.read_parquet(lines)) if lines.exists() else None,
        )
    return rows_from_statement_json(read_text(path, "statement", max_bytes=512 * 1024 * 1024), path.name)


def diff_payer_report(
    engine: Engine,
    ours: Path,
    payer: Path,
    *,
    columns: Mapping[str, str] | None = None,
    money_tolerance: Decimal = Decimal(0),
) -> SettlementDiff:
    """Our statement against a payer's reconciliation CSV, entity by entity (see
    :func:`apmkit.settlement.reconcile.diff_statement`)."""
    _, rows = read_csv_rows(payer, required=("entity_id",) if not columns else ())
    report = read_payer_rows(rows, payer.name, columns=columns)
    return diff_statement(statement_rows(engine, ours), report, money_tolerance=money_tolerance)


def true_up_statements(engine: Engine, earlier: Path, later: Path) -> TrueUp:
    """The same period settled again (after run-out) against the earlier statement."""
    return true_up(statement_rows(engine, earlier), statement_rows(engine, later))


def participant_rows(engine: Engine, run: Path, level: str) -> list[dict[str, Any]]:
    """Per entity and participant (TIN, or TIN and NPI): attributed member months and spending, from a run's
    ``member_detail`` and ``attribution`` marts."""
    if level not in ("tin", "npi"):
        raise ConfigurationError("--by: choose tin or npi")
    needed = [run / "member_detail.parquet", run / "attribution.parquet"]
    for path in needed:
        if not path.exists():
            raise InputFileError(
                path, "not found: give the output folder of `apmkit run` with an attribution"
            )
    members = engine.read_parquet(needed[0])
    attribution = engine.read_parquet(needed[1])
    if "tin" not in attribution.columns:
        raise InputFileError(needed[1], "the attribution has no tin column", field="tin")
    attributed = (
        attribution.filter(attribution.attributed) if "attributed" in attribution.columns else attribution
    )
    who = attributed.select(
        "member_id",
        tin=attributed.tin.cast("string"),
        npi=(
            attributed.npi.cast("string")
            if level == "npi" and "npi" in attributed.columns
            else ibis.literal("")
        ),
    ).distinct()
    joined = members.inner_join(who, "member_id")
    grouped = joined.group_by(["entity_id", "tin", "npi"]).aggregate(
        member_months=joined.member_months.sum().cast("int64"),
        spending=joined.truncated_expenditure.sum().cast("decimal(18, 2)"),
    )
    return engine.rows(grouped.order_by(["entity_id", "tin", "npi"]))


def breakdown(
    engine: Engine, run: Path, *, level: str, basis: str, amount_column: str = "net_settlement"
) -> Any:
    """Each entity's settlement distributed to its participants pro rata by ``basis`` (parts sum to the cent)."""
    if basis not in BASES:
        raise ConfigurationError(f"--basis: choose one of {', '.join(BASES)}")
    summary = (
        engine.rows(engine.read_parquet(run / "summary.parquet"))
        if (run / "summary.parquet").exists()
        else []
    )
    if not summary:
        raise InputFileError(run / "summary.parquet", "no settled entity to distribute")
    if amount_column not in summary[0]:
        raise InputFileError(run / "summary.parquet", "no such column", field=amount_column)
    amounts = {str(r["entity_id"]): Decimal(str(r[amount_column] or 0)) for r in summary}
    return participant_breakdown(amounts, participant_rows(engine, run, level), basis, source=str(run))  # type: ignore[arg-type]


__all__ = ["breakdown", "diff_payer_report", "participant_rows", "statement_rows", "true_up_statements"]
