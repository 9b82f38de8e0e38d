"""Building blocks the cost and utilization reports share: scoped member-months with risk, spending joined to
them, PMPM in exact cents, per-1,000 rates and peer rows (docs/reference/analytics-definitions.md §1, §4)."""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents
from apmkit.reports.framework import (
    ReportInputs,
    ReportRequest,
    apply_scope,
    panel,
    ratio,
    scoped_months,
    tidy,
)


def member_risk(inputs: ReportInputs) -> ir.Table:
    """``member_id, score``: each member's risk score in the run (mean when several payment years)."""
    if not inputs.has("risk_scores"):
        months = inputs["member_months"]
        return months.select(member_id=months.member_id.cast("string"), score=ibis.literal(1.0)).distinct()
    scores = inputs["risk_scores"]
    return scores.group_by(member_id=scores.member_id.cast("string")).aggregate(
        score=scores.score.cast("float64").mean()
    )


def months_with_risk_of(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """``member_id, year, month, payer, person_id, entity_id, tin, npi, score``: the eligible member-months of
    ``request``'s scope and payer with each member's risk score (1.0 when it has none), from the run's marts."""
    months = scoped_months(inputs, request, panel(inputs, request))
    risk = member_risk(inputs)
    joined = tidy(months.left_join(risk, "member_id"))
    return joined.mutate(score=joined.score.fill_null(1.0))


def months_with_risk(inputs: ReportInputs, request: ReportRequest, *, scoped: bool = True) -> ir.Table:
    """Scoped eligible member-months (every measured year) with ``score`` (1.0 when a member has none).
    ``scoped=False``: the whole run (for peer figures), still restricted to the payer.

    Read from the ``member_month_panel`` report mart (the whole run's rows, built on first use) when the run
    folder has it — the scope and payer are then filters on it, the same rows as joining the marts again —
    else joined from the marts once per report (:meth:`ReportInputs.once`)."""
    from apmkit.reports.marts import MONTHS_PANEL

    chosen = request if scoped else replace(request, scope=None)
    if inputs.has(MONTHS_PANEL):
        mart = inputs[MONTHS_PANEL]
        rows = mart.select(
            member_id=mart.member_id.cast("string"),
            year=mart.year.cast("int32"),
            month=mart.month.cast("date"),
            entity_id=mart.entity_id.cast("string"),
            tin=mart.tin.cast("string"),
            npi=mart.npi.cast("string"),
            payer=mart.payer.cast("string"),
            person_id=mart.person_id.cast("string"),
            score=mart.score.cast("float64"),
        )
        rows = apply_scope(rows, chosen.scope)
        return rows if chosen.payer is None else rows.filter(rows.payer == chosen.payer)
    # every table of a report starts from these rows: computed once per report (scope and payer decide them)
    return inputs.once(
        ("months_with_risk", chosen.scope, chosen.payer), lambda: months_with_risk_of(inputs, chosen)
    )


def pmpm(cents: ir.IntegerValue, member_months: ir.IntegerValue) -> ir.DecimalValue:
    """Dollars per member-month, exact to the cent (half up); null for no member-months."""
    return from_cents(div_round_half_up(cents.cast("int64"), member_months.cast("int64")))


def per_1000(events: ir.NumericValue, member_months: ir.NumericValue) -> ir.NumericValue:
    """Events per 1,000 person-years: events / (member months / 12) x 1,000."""
    return ratio(events.cast("float64") * 12000, member_months, 2)


def spending_by_month(inputs: ReportInputs, months: ir.Table) -> ir.Table:
    """The expenditure mart (member x month x service category, cents) restricted to ``months`` and carrying
    their columns (group, payer, year)."""
    spend = inputs["expenditure"]
    spend = spend.select(
        member_id=spend.member_id.cast("string"),
        month=spend.month.cast("date"),
        service_category=spend.service_category.cast("string"),
        cents=spend.cents.cast("int64"),
    )
    return tidy(spend.inner_join(months, ["member_id", "month"]))


def data_through(inputs: ReportInputs, year: int) -> ir.Table:
    """One row, ``through``: the last month of ``year`` with any spending in the run (the whole run, so a scope
    cannot move it)."""
    spend = inputs["expenditure"]
    spend = spend.filter(spend.year == year)
    return spend.aggregate(through=spend.month.cast("date").max())


__all__ = [
    "data_through",
    "member_risk",
    "months_with_risk",
    "months_with_risk_of",
    "per_1000",
    "pmpm",
    "spending_by_month",
]
