"""Spending by member, month and service category under one set of definitions, as ibis expressions.

Every measurement year (each base year and the performance period) is measured with the same rules:

1. **eligible months**: a member-month counts when the member has an enrollment row that month (``enrolled``)
   or Part A and Part B without Medicare Advantage (``medicare_ffs_parts_ab``), optionally only for the listed
   lines of business;
2. **claim lines**: medical lines (voided versions dropped) dated by service date (claim from date when the
   line has none) and, when pharmacy is included, pharmacy fills by dispensing date; within the year's dates,
   processed by the year's end plus the run-out months (an unknown processed date counts), of the claim types
   counted; only lines falling in one of the member's eligible months count;
3. **truncation**: the member's spending in the year is capped (a fixed amount, or the percentile of
   annualized spending over every eligible member in the data that year, scaled to the member's months).

The completion factor is applied by the callers to the aggregate figures (exact Decimal). Money is integer
cents throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.money import decimal_to_cents, div_round_half_up, to_cents
from apmkit.spending.spec import Definitions

PHARMACY = "pharmacy"
SERVICE_CATEGORIES: tuple[str, ...] = (
    "inpatient",
    "outpatient",
    "professional",
    "snf",
    "hha",
    "hospice",
    "dme",
    PHARMACY,
)
"""Service categories of the spending mart: the canonical medical claim types, plus pharmacy."""


@dataclass(frozen=True)
class MeasurementYear:
    """One measured year: its label (the calendar year, or the performance period's start year), its dates and
    the last processed date counted (end plus the run-out months)."""

    year: int
    start: date
    end: date
    runout_end: date


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 31, 30, 29, 28):
        if candidate <= day.day:
            try:
                return date(year, month, candidate)
            except ValueError:
                continue
    raise AssertionError("unreachable")


def measurement_years(
    definitions: Definitions, base_years: Sequence[int], period: tuple[date, date]
) -> list[MeasurementYear]:
    """The base calendar years and the performance period, each with its run-out cut-off."""
    years = [
        MeasurementYear(
            y, date(y, 1, 1), date(y, 12, 31), add_months(date(y, 12, 31), definitions.runout_months)
        )
        for y in base_years
    ]
    start, end = period
    years.append(MeasurementYear(start.year, start, end, add_months(end, definitions.runout_months)))
    labels = [y.year for y in years]
    if len(set(labels)) != len(labels):
        raise ValueError(f"measurement years overlap: {labels}")
    return years


def _year_of(day: ir.DateValue, years: Sequence[MeasurementYear]) -> ir.IntegerValue:
    cases = [(day.between(ibis.literal(y.start), ibis.literal(y.end)), ibis.literal(y.year)) for y in years]
    return ibis.cases(*cases, else_=ibis.null().cast("int32")).cast("int32")


def _runout_of(year: ir.IntegerValue, years: Sequence[MeasurementYear]) -> ir.DateValue:
    cases = [(year == y.year, ibis.literal(y.runout_end)) for y in years]
    return ibis.cases(*cases, else_=ibis.null().cast("date"))


def eligible_months(
    enrollment: ir.Table, definitions: Definitions, years: Sequence[MeasurementYear]
) -> ir.Table:
    """``member_id, year, month``: one row per eligible member-month within a measurement year."""
    kept = enrollment
    if definitions.eligible_months == "medicare_ffs_parts_ab":
        kept = kept.filter(
            kept.part_a.fill_null(False),
            kept.part_b.fill_null(False),
            ~kept.medicare_advantage.fill_null(False),
        )
    if definitions.lines_of_business is not None:
        kept = kept.filter(kept.line_of_business.isin(list(definitions.lines_of_business)))
    month = kept.month.truncate("M").cast("date")
    dated = kept.select(member_id=kept.member_id.cast("string"), month=month)
    # a month counts in a year when its first day falls within the year's dates (periods start on the 1st)
    dated = dated.mutate(year=_year_of(dated.month, years))
    return dated.filter(dated.year.notnull()).select("member_id", "year", "month").distinct()


def spending_lines(
    tables: Mapping[str, ir.Table], definitions: Definitions, years: Sequence[MeasurementYear]
) -> ir.Table:
    """``member_id, year, month, service_category, cents``: claim lines counted under the definitions."""
    medical = tables["medical_claims"]
    medical = medical.filter(medical.adjustment_type.fill_null("original") != "void")
    if definitions.claim_types is not None:
        medical = medical.filter(medical.claim_type.isin(list(definitions.claim_types)))
    if definitions.exclude_claim_types:
        medical = medical.filter(~medical.claim_type.isin(list(definitions.exclude_claim_types)))
    if definitions.lines_of_business is not None:
        medical = medical.filter(medical.line_of_business.isin(list(definitions.lines_of_business)))
    service_day = ibis.coalesce(medical.service_date, medical.claim_from_date)
    lines = medical.select(
        member_id=medical.member_id.cast("string"),
        service_day=service_day,
        processed_date=medical.processed_date,
        service_category=medical.claim_type,
        cents=to_cents(medical[definitions.cost_basis].fill_null(0)),
    )
    if definitions.include_pharmacy:
        pharmacy = tables["pharmacy_claims"]
        if definitions.lines_of_business is not None and "line_of_business" in pharmacy.columns:
            pharmacy = pharmacy.filter(pharmacy.line_of_business.isin(list(definitions.lines_of_business)))
        lines = lines.union(
            pharmacy.select(
                member_id=pharmacy.member_id.cast("string"),
                service_day=pharmacy.dispensing_date,
                processed_date=pharmacy.processed_date,
                service_category=ibis.literal(PHARMACY),
                cents=to_cents(pharmacy[definitions.cost_basis].fill_null(0)),
            )
        )
    lines = lines.mutate(year=_year_of(lines.service_day, years))
    counted = lines.filter(
        lines.year.notnull()
        & (lines.processed_date.isnull() | (lines.processed_date <= _runout_of(lines.year, years)))
    )
    return counted.select(
        "member_id",
        "year",
        month=counted.service_day.truncate("M").cast("date"),
        service_category=counted.service_category,
        cents=counted.cents,
    )


def monthly_spending(lines: ir.Table, months: ir.Table) -> ir.Table:
    """``member_id, year, month, service_category, cents, claim_lines``: the spending mart, eligible months only."""
    # Summed first, then kept to the eligible months: the semi-join's keys are group keys, so the result is
    # the same, and the join probes one row per member, month and category instead of one per claim line.
    summed = lines.group_by(["member_id", "year", "month", "service_category"]).aggregate(
        cents=lines.cents.sum().cast("int64"), claim_lines=lines.count().cast("int64")
    )
    return summed.semi_join(months, ["member_id", "year", "month"])


def member_years(months: ir.Table, monthly: ir.Table, definitions: Definitions) -> ir.Table:
    """``member_id, year, member_months, cost_cents, truncated_cents, claim_lines`` per eligible member-year.

    ``months`` holds one row per eligible member-month (:func:`eligible_months`). Members with eligible months
    and no spending have a row with zero cents. ``truncated_cents <= cost_cents`` always.
    """
    # ``months`` holds each eligible member-month once (:func:`eligible_months`): its rows per member and year
    # are the distinct months, counted without a DISTINCT aggregate (a second hash table over every row).
    counts = months.group_by(["member_id", "year"]).aggregate(member_months=months.count().cast("int64"))
    spend = monthly.group_by(["member_id", "year"]).aggregate(
        spent=monthly.cents.sum(), lines=monthly.claim_lines.sum()
    )
    joined = counts.left_join(spend, ["member_id", "year"])
    t = joined.select(
        member_id=counts.member_id,
        year=counts.year,
        member_months=counts.member_months,
        cost_cents=joined.spent.fill_null(0).cast("int64"),
        claim_lines=joined.lines.fill_null(0).cast("int64"),
    )
    truncation = definitions.truncation
    if truncation.method == "amount":
        assert truncation.amount is not None
        cap = decimal_to_cents(truncation.amount)
        truncated = ibis.least(t.cost_cents, cap)
    elif truncation.method == "percentile":
        assert truncation.percentile is not None
        annualized = div_round_half_up(t.cost_cents * 12, t.member_months)
        t = t.mutate(annualized_cents=annualized)
        bounds = t.group_by("year").aggregate(
            threshold=t.annualized_cents.quantile(float(truncation.percentile))
        )
        t = t.join(bounds, "year")
        cap_cents = div_round_half_up(t.threshold.round(0).cast("int64") * t.member_months, 12)
        truncated = ibis.least(t.cost_cents, cap_cents)
    else:
        truncated = t.cost_cents
    return t.select(
        "member_id",
        "year",
        "member_months",
        "cost_cents",
        truncated_cents=truncated.cast("int64"),
        claim_lines=t.claim_lines,
    )


@dataclass(frozen=True)
class Spending:
    """The spending marts of one measurement (ibis tables, not yet executed)."""

    years: tuple[MeasurementYear, ...]
    months: ir.Table
    """``member_id, year, month``: eligible member-months."""
    monthly: ir.Table
    """``member_id, year, month, service_category, cents, claim_lines``."""
    member_years: ir.Table
    """``member_id, year, member_months, cost_cents, truncated_cents, claim_lines``."""


def measure_spending(
    tables: Mapping[str, ir.Table],
    definitions: Definitions,
    years: Sequence[MeasurementYear],
    *,
    materialize: object = None,
) -> Spending:
    """Measure every year under ``definitions``.

    Parameters
    ----------
    tables
        Canonical tables: ``enrollment``, ``medical_claims`` and, when pharmacy is included, ``pharmacy_claims``.
    materialize
        Called on the eligible months, the monthly mart and the member-years (each read several times);
        pass ``engine.materialize``.
    """
    keep = materialize if callable(materialize) else (lambda table: table)
    months = keep(eligible_months(tables["enrollment"], definitions, years))
    monthly = keep(monthly_spending(spending_lines(tables, definitions, years), months))
    return Spending(
        years=tuple(years),
        months=months,
        monthly=monthly,
        # read by the benchmark, the performance period's member rows and the marts: computed once
        member_years=keep(member_years(months, monthly, definitions)),
    )
