"""The claims-based settlement path: canonical tables to per-entity population and expenditure.

Spending is measured by :mod:`apmkit.spending` under the contract's ``definitions:`` (the same rules the
benchmark's base years use): eligible member-months, claim lines in those months processed within the
run-out, truncation per member. This module adds who belongs to which entity (the ``attribution`` table:
``member_id``, ``entity_id``, optional ``cell``; unattributed rows are skipped), risk scores and tiers,
carve-outs and the stop-loss excess, and aggregates per entity in integer cents; the completion factor is
applied in Decimal afterwards. Without an attribution table every eligible member belongs to the contract's
default entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apmkit.contracts.spec import Contract, Period
from apmkit.money import cents_to_decimal, decimal_to_cents, from_cents
from apmkit.settlement.inputs import EntityInputs
from apmkit.spending import MeasurementYear, Spending, measure_spending, measurement_years
from apmkit.spending.measure import add_months
from apmkit.spending.spec import Definitions

SCORE_TYPE = "decimal(18, 6)"
"""Risk scores are read as exact decimals (6 places) so weighted averages agree on every engine."""

MEASURE_COLUMNS: tuple[str, ...] = (
    "entity_id",
    "population",
    "member_months",
    "members_with_claims",
    "claim_lines",
    "expenditure_cents",
    "truncated_expenditure_cents",
    "members_truncated",
    "stop_loss_excess_cents",
    "carved_out_cents",
    "risk_score_months",
    "scored_member_months",
)


@dataclass(frozen=True)
class ClaimsMeasureSpec:
    """What to measure: period, expenditure rules and the optional per-member thresholds."""

    period: Period
    rules: Definitions
    default_entity_id: str
    stop_loss_attachment: Decimal | None = None
    carve_outs: tuple[str, ...] = ()
    risk_tiers: tuple[tuple[Decimal, str], ...] = ()

    @classmethod
    def from_contract(cls, contract: Contract, period_name: str) -> ClaimsMeasureSpec:
        attachment: Decimal | None = None
        carve_outs: list[str] = []
        for component in contract.components:
            stop_loss = getattr(component, "stop_loss", None)
            if component.type == "capitation" and stop_loss is not None:
                attachment = stop_loss.attachment_point
            carve_outs.extend(getattr(component, "carve_outs", []) or [])
        return cls(
            period=contract.period(period_name),
            rules=contract.definitions,
            default_entity_id=contract.default_entity_id,
            stop_loss_attachment=attachment,
            carve_outs=tuple(carve_outs),
            risk_tiers=tuple((tier.min_score, tier.cell) for tier in contract.target.risk_tiers),
        )

    @property
    def runout_end(self) -> date:
        """Last processed date counted: period end plus the run-out months (end of month clamp)."""
        return add_months(self.period.end, self.rules.runout_months)

    @property
    def year(self) -> int:
        """The performance period's label in the spending marts (its start year)."""
        return self.period.start.year

    def measurement_years(self, base_years: tuple[int, ...] = ()) -> list[MeasurementYear]:
        return measurement_years(self.rules, base_years, (self.period.start, self.period.end))


def _with_scores(members: ir.Table, risk_scores: ir.Table | None, spec: ClaimsMeasureSpec) -> ir.Table:
    """Add each member's risk score (NULL when unscored) and fill ``cell`` from the contract's risk tiers."""
    if risk_scores is None:
        return members.mutate(score=ibis.null().cast(SCORE_TYPE))
    scores = risk_scores
    if "year" in scores.columns:
        scores = scores.filter(scores.year.cast("int32") == spec.period.start.year)
    scores = scores.group_by(member_id=scores.member_id.cast("string")).aggregate(
        score=scores.score.cast(SCORE_TYPE).max()
    )
    scored = members.left_join(scores, "member_id").select(
        "entity_id", "member_id", "cell", "member_months", "score"
    )
    if not spec.risk_tiers:
        return scored
    tier = ibis.null().cast("string")
    for min_score, cell in sorted(spec.risk_tiers):
        # highest tier whose minimum the score reaches wins (later, higher tiers overwrite)
        tier = ibis.ifelse(scored.score >= ibis.literal(min_score, type=SCORE_TYPE), ibis.literal(cell), tier)
    return scored.mutate(cell=ibis.coalesce(scored.cell, tier))


def attributed_links(attribution: ir.Table) -> ir.Table:
    """``entity_id, member_id, cell`` of attributed members (``apmkit attribute``'s unattributed rows dropped)."""
    if "attributed" in attribution.columns:
        attribution = attribution.filter(attribution.attributed)
    attribution = attribution.filter(attribution.entity_id.notnull())
    cell = attribution.cell.cast("string") if "cell" in attribution.columns else ibis.null().cast("string")
    return attribution.select(
        entity_id=attribution.entity_id.cast("string"),
        member_id=attribution.member_id.cast("string"),
        cell=cell,
    ).distinct()


def population(performance_year: ir.Table, attribution: ir.Table | None, spec: ClaimsMeasureSpec) -> ir.Table:
    """Members of each entity with eligible months in the period: ``entity_id, member_id, cell, member_months``.

    ``performance_year`` is the performance period's rows of :func:`apmkit.spending.member_years`.
    """
    per_member = performance_year.select("member_id", "member_months")
    if attribution is None:
        return per_member.mutate(
            entity_id=ibis.literal(spec.default_entity_id), cell=ibis.null().cast("string")
        ).select("entity_id", "member_id", "cell", "member_months")
    joined = attributed_links(attribution).inner_join(per_member, "member_id")
    return joined.select("entity_id", "member_id", "cell", "member_months")


def member_measures(
    tables: Mapping[str, ir.Table],
    attribution: ir.Table | None,
    spec: ClaimsMeasureSpec,
    risk_scores: ir.Table | None = None,
    *,
    spending: Spending | None = None,
) -> ir.Table:
    """One row per (entity, member): months, cell, score and spend in cents (raw, truncated, stop-loss excess,
    carved out). The source rows behind every entity figure; :func:`measure` aggregates it.

    ``spending`` is the measurement that includes the performance period (the run passes the one shared with
    the benchmark); without it the period alone is measured.
    """
    if spending is None:
        spending = measure_spending(tables, spec.rules, spec.measurement_years())
    year = spec.year
    performance = spending.member_years.filter(spending.member_years.year == year)
    members = _with_scores(population(performance, attribution, spec), risk_scores, spec)
    carved = list(spec.carve_outs)
    monthly = spending.monthly.filter(spending.monthly.year == year)
    carved_spend = monthly.group_by("member_id").aggregate(
        carved_cents=(
            monthly.cents.sum(where=monthly.service_category.isin(carved)) if carved else ibis.literal(0)
        )
        .fill_null(0)
        .cast("int64")
    )
    spend = performance.select(
        "member_id",
        cents=performance.cost_cents,
        truncated_cents=performance.truncated_cents,
        line_count=performance.claim_lines,
    ).left_join(carved_spend, "member_id")
    member = members.left_join(spend, "member_id").select(
        "entity_id",
        "member_id",
        "cell",
        "member_months",
        "score",
        cents=ibis._.cents.fill_null(0),
        truncated_cents=ibis._.truncated_cents.fill_null(0),
        carved_cents=ibis._.carved_cents.fill_null(0),
        line_count=ibis._.line_count.fill_null(0),
    )
    covered = member.cents - member.carved_cents
    if spec.stop_loss_attachment is not None:
        excess = ibis.greatest(covered - decimal_to_cents(spec.stop_loss_attachment), 0)
    else:
        excess = ibis.literal(0)
    return member.mutate(excess_cents=excess.cast("int64"))


def member_detail(members: ir.Table) -> ir.Table:
    """The member rows of :func:`member_measures` for people: money as ``decimal(18,2)``, ordered."""
    return members.select(
        "entity_id",
        "member_id",
        "cell",
        "member_months",
        risk_score=members.score,
        claim_lines=members.line_count.cast("int64"),
        expenditure=from_cents(members.cents),
        truncated_expenditure=from_cents(members.truncated_cents),
        stop_loss_excess=from_cents(members.excess_cents),
        carved_out_expenditure=from_cents(members.carved_cents),
    ).order_by(["entity_id", "member_id"])


def measure(
    tables: Mapping[str, ir.Table],
    attribution: ir.Table | None,
    spec: ClaimsMeasureSpec,
    risk_scores: ir.Table | None = None,
    *,
    members: ir.Table | None = None,
) -> tuple[ir.Table, ir.Table]:
    """Per-entity measures and member months by cell.

    Parameters
    ----------
    tables
        Canonical tables (``enrollment``, ``medical_claims`` and, when pharmacy is included,
        ``pharmacy_claims``).
    attribution
        ``member_id, entity_id[, cell]`` or None (everyone to the default entity).
    spec
        Period, expenditure rules, stop-loss attachment, carve-outs and risk tiers.
    risk_scores
        ``member_id, score[, year]`` (e.g. from apmkit.risk), or None. Scores give each entity's
        member-month-weighted risk score and, with ``target.risk_tiers``, each member's cell.
    members
        The result of :func:`member_measures` when already computed (materialized), to avoid recomputing it.

    Returns
    -------
    (measures, cells)
        ``measures`` has :data:`MEASURE_COLUMNS`; ``cells`` has ``entity_id, cell, member_months``.
    """
    member = members if members is not None else member_measures(tables, attribution, spec, risk_scores)
    measures = member.group_by("entity_id").aggregate(
        population=member.member_id.nunique().cast("int64"),
        member_months=member.member_months.sum().cast("int64"),
        members_with_claims=(member.line_count > 0).sum().cast("int64"),
        claim_lines=member.line_count.sum().cast("int64"),
        expenditure_cents=member.cents.sum().cast("int64"),
        truncated_expenditure_cents=member.truncated_cents.sum().cast("int64"),
        members_truncated=(member.truncated_cents < member.cents).sum().cast("int64"),
        stop_loss_excess_cents=member.excess_cents.sum().cast("int64"),
        carved_out_cents=member.carved_cents.sum().cast("int64"),
        risk_score_months=(member.score * member.member_months.cast(SCORE_TYPE))
        .sum()
        .fill_null(0)
        .cast("decimal(38, 6)"),
        scored_member_months=member.member_months.sum(where=member.score.notnull())
        .fill_null(0)
        .cast("int64"),
    )
    with_cell = member.filter(member.cell.notnull())
    cells = with_cell.group_by(["entity_id", "cell"]).aggregate(
        member_months=with_cell.member_months.sum().cast("int64")
    )
    return measures.select(*MEASURE_COLUMNS).order_by("entity_id"), cells.order_by(["entity_id", "cell"])


def entity_inputs(
    measures: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    spec: ClaimsMeasureSpec,
    contract: Contract,
    given: Mapping[str, EntityInputs] | None = None,
    *,
    source: str = "claims",
) -> list[EntityInputs]:
    """Combine measured rows with inputs given per entity (benchmark, quality, ...) into EntityInputs.

    Measured values (population, member months, expenditure, stop-loss excess) replace given ones; given
    values fill everything claims cannot measure. Without a given benchmark, the contract's
    ``target.benchmark_per_person_year`` × person-years is used.
    """
    given = given or {}
    by_entity_cells: dict[str, dict[str, int]] = {}
    for row in cells:
        by_entity_cells.setdefault(str(row["entity_id"]), {})[str(row["cell"])] = int(row["member_months"])
    completion = spec.rules.completion_factor
    out: list[EntityInputs] = []
    for row in measures:
        entity_id = str(row["entity_id"])
        base = given.get(entity_id)
        values: dict[str, Any] = base.model_dump() if base is not None else {"entity_id": entity_id}
        member_months = int(row["member_months"])
        raw = cents_to_decimal(int(row["expenditure_cents"]))
        truncated = cents_to_decimal(int(row["truncated_expenditure_cents"]))
        expenditure = truncated * completion
        person_years = Decimal(member_months) / Decimal(12) if member_months else None
        scored_months = int(row["scored_member_months"])
        if scored_months:
            values["risk_score"] = Decimal(str(row["risk_score_months"])) / Decimal(scored_months)
        values.update(
            population=int(row["population"]),
            member_months=member_months,
            person_years=person_years,
            expenditure=expenditure,
            stop_loss_excess=cents_to_decimal(int(row["stop_loss_excess_cents"])),
            carved_out_expenditure=cents_to_decimal(int(row["carved_out_cents"])),
        )
        if entity_id in by_entity_cells:
            values["months_by_cell"] = by_entity_cells[entity_id]
        if values.get("benchmark") is None and contract.target.benchmark_per_person_year and person_years:
            values["benchmark"] = contract.target.benchmark_per_person_year * person_years
        values["source"] = f"{source}: {row['claim_lines']} claim lines, {row['population']} members" + (
            f"; {base.source}" if base is not None and base.source else ""
        )
        values["detail"] = {
            "expenditure_before_truncation": str(raw),
            "expenditure_truncated": str(truncated),
            "members_truncated": str(row["members_truncated"]),
            "completion_factor": str(completion),
            "runout_end": spec.runout_end.isoformat(),
        }
        out.append(EntityInputs.model_validate(values))
    return out
