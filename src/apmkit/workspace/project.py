"""``apmkit project``: a mid-year projection of the year-end settlement (application job).

The contract runs once (:class:`~apmkit.workspace.Workspace`) for attribution, the benchmark and the settled
entities' inputs. Two small aggregates of the claims then come from the engine (ibis over the whole tables, the
contract's cost basis, claim types, lines of business and pharmacy rule): spending by incurred month and payment
month for the paid-lag triangle, and the attributed members' spending by entity, incurred month and payment month.
For the as-of date and every month end before it in the period, :mod:`apmkit.simulation.projection` completes the
months to date with chain-ladder factors of the triangle known at that date and projects the year-end settlement
with a band; the month-by-month table shows how the projection moved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine, check_output
from apmkit.errors import ConfigurationError
from apmkit.money import to_cents
from apmkit.simulation import charts
from apmkit.simulation.projection import (
    Development,
    EntityToDate,
    chain_ladder,
    month_ends,
    project_entity,
)
from apmkit.spending.spec import Definitions
from apmkit.workspace.run import Overrides, Workspace, read_contract
from apmkit.workspace.simulate import MONEY, _resolve, _write_tables

PROJECTION_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "as_of": pa.date32(),
    "paid_to_date": MONEY,
    "completed_to_date": MONEY,
    "member_months_to_date": pa.int64(),
    "remaining_months": pa.int64(),
    "projected_member_months": pa.int64(),
    "projected_benchmark": MONEY,
    "projected_expenditure": MONEY,
    "projected_expenditure_p05": MONEY,
    "projected_expenditure_p95": MONEY,
    "projected_net": MONEY,
    "projected_net_p05": MONEY,
    "projected_net_p95": MONEY,
    "prob_clear_msr": pa.float64(),
}
COMPLETION_COLUMNS: dict[str, pa.DataType] = {
    "age": pa.int64(),
    "ldf": pa.float64(),
    "cdf": pa.float64(),
    "completion_factor": pa.float64(),
}
TRIANGLE_COLUMNS: dict[str, pa.DataType] = {
    "incurred_month": pa.date32(),
    "lag": pa.int64(),
    "paid": MONEY,
}


@dataclass
class ProjectionResult:
    tables: dict[str, list[dict[str, Any]]]
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def claim_lines(tables: Any, definitions: Definitions) -> ir.Table:
    """``member_id, incurred_month, paid_month, cents``: claim lines under the contract's definitions (cost basis,
    claim types, lines of business, pharmacy), voids dropped; a line without a processed date counts as paid in its
    service month."""
    medical = tables["medical_claims"]
    medical = medical.filter(medical.adjustment_type.fill_null("original") != "void")
    if definitions.claim_types is not None:
        medical = medical.filter(medical.claim_type.isin(list(definitions.claim_types)))
    if definitions.exclude_claim_types:
        medical = medical.filter(~medical.claim_type.isin(list(definitions.exclude_claim_types)))
    if definitions.lines_of_business is not None:
        medical = medical.filter(medical.line_of_business.isin(list(definitions.lines_of_business)))
    day = ibis.coalesce(medical.service_date, medical.claim_from_date)
    lines = medical.select(
        member_id=medical.member_id.cast("string"),
        day=day,
        processed=ibis.coalesce(medical.processed_date, day),
        cents=to_cents(medical[definitions.cost_basis].fill_null(0)),
    )
    if definitions.include_pharmacy:
        pharmacy = tables["pharmacy_claims"]
        if definitions.lines_of_business is not None and "line_of_business" in pharmacy.columns:
            pharmacy = pharmacy.filter(pharmacy.line_of_business.isin(list(definitions.lines_of_business)))
        lines = lines.union(
            pharmacy.select(
                member_id=pharmacy.member_id.cast("string"),
                day=pharmacy.dispensing_date,
                processed=ibis.coalesce(pharmacy.processed_date, pharmacy.dispensing_date),
                cents=to_cents(pharmacy[definitions.cost_basis].fill_null(0)),
            )
        )
    lines = lines.filter(lines.day.notnull())
    return lines.select(
        "member_id",
        incurred_month=lines.day.truncate("M").cast("date"),
        paid_month=ibis.greatest(lines.processed, lines.day).truncate("M").cast("date"),
        cents=lines.cents,
    )


def _lag(incurred: date, paid: date) -> int:
    return (paid.year - incurred.year) * 12 + paid.month - incurred.month


def run_projection(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    as_of: date,
    scenarios: int,
    seed: int,
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ProjectionResult:
    """Project the year-end settlement of ``period`` as of ``as_of`` and how the projection moved month by month.

    Writes ``projection.parquet`` (per entity at the as-of date), ``movement.parquet`` (per entity and month end),
    ``completion.parquet`` (factors at the as-of date), ``triangle.parquet`` and ``charts/movement.vl.json``.
    """
    tell = progress or (lambda _s, _d, _t: None)
    if scenarios < 100:
        raise ConfigurationError("--scenarios: a projection band needs at least 100 scenarios")
    if out is not None:
        check_output(Path(out))
    document = read_contract(contract)
    resolved = _resolve(document, period)
    window = resolved.period(period)
    if not window.start <= as_of < window.end:
        raise ConfigurationError(
            f"--as-of {as_of.isoformat()}: must fall within period {period} ({window.start.isoformat()} to "
            f"{window.end.isoformat()}) and before its last day"
        )
    with Workspace(data, engine=engine) as workspace:
        active = workspace.engine
        with tempfile.TemporaryDirectory(prefix="apmkit-project-") as work:
            result = workspace.run(
                document,
                period,
                out=Path(work) / "run",
                inputs=inputs,
                formats=(),
                progress=lambda stage: tell(f"run: {stage}", 0, 0),
                overrides=overrides,
            )
            links = active.read_parquet(Path(work) / "run" / "member_detail.parquet").select(
                "entity_id", "member_id"
            )
            months_mart = active.read_parquet(Path(work) / "run" / "member_months.parquet")
            links = active.materialize(links)
            member_months = active.rows(
                months_mart.filter(
                    (months_mart.month >= ibis.literal(window.start))
                    & (months_mart.month <= ibis.literal(as_of))
                )
                .inner_join(links, "member_id")
                .group_by(["entity_id", "month"])
                .aggregate(member_months=ibis._.member_id.nunique().cast("int64"))
            )
        tell("paid-lag triangle", 0, 0)
        lines = claim_lines(workspace.engine.canonical(workspace.data), resolved.definitions)
        known = lines.filter(
            (lines.incurred_month <= ibis.literal(as_of)) & (lines.paid_month <= ibis.literal(as_of))
        )
        triangle = active.rows(
            known.group_by(["incurred_month", "paid_month"]).aggregate(cents=known.cents.sum().cast("int64"))
        )
        in_period = known.filter(known.incurred_month >= ibis.literal(window.start))
        by_entity = active.rows(
            in_period.inner_join(links, "member_id")
            .group_by(["entity_id", "incurred_month", "paid_month"])
            .aggregate(cents=ibis._.cents.sum().cast("int64"))
        )
    settled = {s.entity_id for s in result.settlement.statements}
    entities = {e.entity_id: e for e in result.entities if e.entity_id in settled}
    ends = month_ends(window.start, as_of)
    projection_rows: list[dict[str, Any]] = []
    movement: list[dict[str, Any]] = []
    final_development: Development | None = None
    notes: list[str] = [
        "attribution and the benchmark come from a run on the data as given; truncation and the contract's "
        "completion factor are not applied to the projected (ultimate) spending"
    ]
    for step, end in enumerate(ends):
        tell("projecting", step, len(ends))
        rows = [
            (r["incurred_month"], _lag(r["incurred_month"], r["paid_month"]), float(r["cents"]))
            for r in triangle
            if r["paid_month"] <= end
        ]
        development = chain_ladder(rows, grain="M")
        if end == as_of:
            final_development = development
            if development.ibnr_cv == 0.0:
                notes.append("Mack's standard error could not be estimated: the band has no completion part")
        for entity_id, entity in entities.items():
            months = sorted(
                {r["month"] for r in member_months if r["entity_id"] == entity_id and r["month"] <= end}
            )
            if not months or entity.benchmark is None or not entity.member_months:
                continue
            mm = {r["month"]: int(r["member_months"]) for r in member_months if r["entity_id"] == entity_id}
            paid: dict[date, int] = {}
            for r in by_entity:
                if r["entity_id"] == entity_id and r["paid_month"] <= end and r["incurred_month"] <= end:
                    paid[r["incurred_month"]] = paid.get(r["incurred_month"], 0) + int(r["cents"])
            to_date = EntityToDate(
                fixed=entity,
                months=tuple(months),
                paid_cents=tuple(paid.get(m, 0) for m in months),
                member_months=tuple(mm[m] for m in months),
                population=int(entity.population or 0),
                benchmark_pmpm=Decimal(entity.benchmark) / Decimal(entity.member_months),
                recalculated_pmpm=None
                if entity.recalculated_benchmark is None
                else Decimal(entity.recalculated_benchmark) / Decimal(entity.member_months),
            )
            row = project_entity(
                resolved,
                to_date,
                development,
                as_of=end,
                period_end=window.end,
                scenarios=scenarios,
                seed=seed,
            )
            movement.append(row)
            if end == as_of:
                projection_rows.append(row)
    assert final_development is not None
    completion = final_development.rows()
    triangle_rows = [
        {
            "incurred_month": r["incurred_month"],
            "lag": _lag(r["incurred_month"], r["paid_month"]),
            "paid": Decimal(int(r["cents"])).scaleb(-2),
        }
        for r in sorted(triangle, key=lambda r: (r["incurred_month"], r["paid_month"]))
    ]
    files: dict[str, Path] = {}
    if out is not None:
        chart = charts.line_chart(
            [
                {
                    "as_of": r["as_of"].isoformat(),
                    "projected_net": r["projected_net"],
                    "entity_id": r["entity_id"],
                }
                for r in movement
            ],
            "as_of",
            "projected_net",
            "entity_id",
            f"Projected year-end net settlement by as-of month ({resolved.id}, period {period})",
        )
        with Engine.duckdb() if engine is None else _borrow(engine) as writer:
            files = _write_tables(
                writer,
                Path(out),
                {
                    "projection": (projection_rows, PROJECTION_COLUMNS),
                    "movement": (movement, PROJECTION_COLUMNS),
                    "completion": (completion, COMPLETION_COLUMNS),
                    "triangle": (triangle_rows, TRIANGLE_COLUMNS),
                },
                {"movement": chart},
                {
                    "contract_id": resolved.id,
                    "period": period,
                    "as_of": as_of.isoformat(),
                    "scenarios": scenarios,
                    "seed": seed,
                    "ibnr_cv": final_development.ibnr_cv,
                    "notes": notes,
                },
            )
    return ProjectionResult(
        {
            "projection": projection_rows,
            "movement": movement,
            "completion": completion,
            "triangle": triangle_rows,
        },
        None if out is None else Path(out),
        files,
        notes,
    )


class _borrow:
    """An engine the caller owns, used in a ``with`` block without closing it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = ["ProjectionResult", "claim_lines", "run_projection"]
