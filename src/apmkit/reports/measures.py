"""Building blocks the cost and utilization reports share: scoped member-months with risk, spending joined to
them, PMPM in exact cents, per-1,000 rates and peer rows (docs/reference/analytics-definitions.md §1, §4)."""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents
from apmkit.reports.framework import ReportInputs, ReportRequest, panel, ratio, scoped_months, tidy


def member_risk(inputs: ReportInputs) -> ir.Table:
    """``member_id, score``: each member's risk score in the run (mean when several payment years)."""
    if not inputs.has("risk_scores"):
        months = inputs["member_months"]
        return months.select(member_id=months.member_id.cast("string"), score=ibis.literal(1.0)).distinct()
    scores = inputs["risk_scores"]
    return scores.group_by(member_id=scores.member_id.cast("string")).aggregate(
        score=scores.score.cast("float64").mean()
    )


def months_with_risk(inputs: ReportInputs, request: ReportRequest, *, scoped: bool = True) -> ir.Table:
    """Scoped eligible member-months (every measured year) with ``score`` (1.0 when a member has none).
    ``scoped=False``: the whole run (for peer figures), still restricted to the payer."""
    chosen = request if scoped else replace(request, scope=None)

    def build() -> ir.Table:
        months = scoped_months(inputs, chosen, panel(inputs, chosen))
        risk = member_risk(inputs)
        joined = tidy(months.left_join(risk, "member_id"))
        return joined.mutate(score=joined.score.fill_null(1.0))

    # every table of a report starts from these rows: computed once per report (scope and payer decide them)
    return inputs.once(("months_with_risk", chosen.scope, chosen.payer), build)


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


__all__ = ["data_through", "member_risk", "months_with_risk", "per_1000", "pmpm", "spending_by_month"]
