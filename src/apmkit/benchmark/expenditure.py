"""Per-member annual expenditure by Medicare enrollment type, truncated, on the engine.

This is the per-member part of the MSSP benchmark (42 CFR 425.652(a)(1)-(4)): eligible Medicare FFS
member-months are classified into the four enrollment types; claim payments are summed per member,
year and type; each member's annualized expenditure is truncated at the 99th percentile (a CMS figure
when supplied, else computed over the input population) and scaled back to the months enrolled.
Everything is an ibis expression over whole tables, money in integer cents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from apmkit.benchmark.spec import ENROLLMENT_TYPES, EnrollmentType
from apmkit.money import div_round_half_up, to_cents

# Medicare-Medicaid dual status codes that count as dual eligible (full and partial benefit, CMS
# dual status codes 01-08 as listed in the MBSF / CCLF8 documentation; 09 = other, 00/NA = none).
DUAL_CODES = ("01", "02", "03", "04", "05", "06", "08")


def _flag(value: ir.BooleanValue) -> ir.BooleanValue:
    return value.fill_null(False)


def eligible_member_months(enrollment: ir.Table, members: ir.Table, years: Sequence[int]) -> ir.Table:
    """Member-months of Medicare FFS coverage (Part A and Part B, not MA) with their enrollment type.

    Parameters
    ----------
    enrollment, members
        Canonical tables.
    years
        Calendar years to keep.

    Returns
    -------
    ir.Table
        ``member_id, month, year, enrollment_type``: one row per member-month. ESRD status takes
        precedence; otherwise members under 65 on the first of the month are ``disabled``, members 65+
        are ``aged_dual`` when their dual status code is 01-08, else ``aged_non_dual``.
    """
    eligible = enrollment.filter(
        _flag(enrollment.part_a),
        _flag(enrollment.part_b),
        ~_flag(enrollment.medicare_advantage),
        enrollment.month.year().isin(list(years)),
    )
    # Several payer/product rows for the same month collapse to one member-month.
    # Several payer/product rows for the same month collapse to one member-month; any dual code on
    # any of them makes the month dual (a max over the codes would let "NA" win over "02").
    months = eligible.group_by(["member_id", "month"]).aggregate(
        esrd=_flag(eligible.esrd).cast("int8").max(),
        month_dual=eligible.dual_status_code.isin(list(DUAL_CODES)).fill_null(False).cast("int8").max(),
        month_dual_known=eligible.dual_status_code.notnull().cast("int8").max(),
    )
    people = members.select("member_id", "birth_date", member_esrd="esrd", member_dual="dual_status_code")
    joined = months.left_join(people, "member_id")
    birth = joined.birth_date
    month = joined.month
    birthday_not_reached = (month.month() < birth.month()) | (
        (month.month() == birth.month()) & (month.day() < birth.day())
    )
    age = month.year() - birth.year() - birthday_not_reached.cast("int32")
    # The month's own dual status wins; the member's latest status fills months that carry none.
    is_dual = ibis.ifelse(
        joined.month_dual_known == 1, joined.month_dual == 1, joined.member_dual.isin(list(DUAL_CODES))
    ).fill_null(False)
    is_esrd = (joined.esrd == 1) | _flag(joined.member_esrd)
    enrollment_type = ibis.cases(
        (is_esrd, "esrd"),
        (age.fill_null(65) < 65, "disabled"),
        (is_dual, "aged_dual"),
        else_="aged_non_dual",
    )
    return joined.select(
        "member_id", "month", year=month.year().cast("int32"), enrollment_type=enrollment_type
    )


def member_year_expenditure(
    medical_claims: ir.Table,
    member_months: ir.Table,
    *,
    cost_basis: str = "paid_amount",
    truncation_percentile: Decimal = Decimal("0.99"),
    truncation_thresholds: Mapping[int, Mapping[EnrollmentType, Decimal]] | None = None,
) -> ir.Table:
    """Truncated annual expenditure per member, year and enrollment type.

    Parameters
    ----------
    medical_claims
        Canonical claim lines; voided versions are ignored, the line's service date (claim from date
        when absent) decides the month.
    member_months
        Output of :func:`eligible_member_months` (optionally restricted to an assigned population).
    cost_basis
        ``paid_amount`` (Medicare payment, MSSP) or ``allowed_amount``.
    truncation_percentile
        Percentile of annualized expenditure at which members are truncated, per year and type.
    truncation_thresholds
        CMS's annualized truncation amounts by year and type; they replace the computed percentile.

    Returns
    -------
    ir.Table
        ``member_id, year, enrollment_type, member_months, expenditure_cents, annualized_cents,
        threshold_cents, truncated_cents``. ``truncated_cents <= expenditure_cents`` always.
    """
    claims = medical_claims.filter(medical_claims.adjustment_type.fill_null("original") != "void")
    service = claims.service_date.fill_null(claims.claim_from_date)
    lines = claims.select(
        "member_id", month=service.truncate("M").cast("date"), cents=to_cents(claims[cost_basis].fill_null(0))
    )
    spend = lines.group_by(["member_id", "month"]).aggregate(cents=lines.cents.sum())
    monthly = member_months.left_join(spend, ["member_id", "month"]).select(
        member_months.member_id,
        member_months.year,
        member_months.enrollment_type,
        cents=spend.cents.fill_null(0),
    )
    per_member = monthly.group_by(["member_id", "year", "enrollment_type"]).aggregate(
        member_months=monthly.member_id.count().cast("int64"),
        expenditure_cents=monthly.cents.sum().cast("int64"),
    )
    per_member = per_member.mutate(
        annualized_cents=div_round_half_up(per_member.expenditure_cents * 12, per_member.member_months)
    )
    computed = per_member.group_by(["year", "enrollment_type"]).aggregate(
        computed_threshold=per_member.annualized_cents.quantile(float(truncation_percentile))
    )
    with_threshold = per_member.left_join(computed, ["year", "enrollment_type"])
    published = [
        ((with_threshold.year == year) & (with_threshold.enrollment_type == kind), int(amount * 100))
        for year, by_type in (truncation_thresholds or {}).items()
        for kind, amount in by_type.items()
        if kind in ENROLLMENT_TYPES
    ]
    computed_cents = with_threshold.computed_threshold.round(0).cast("int64")
    threshold = ibis.cases(*published, else_=computed_cents) if published else computed_cents
    result = with_threshold.select(
        "member_id",
        "year",
        "enrollment_type",
        "member_months",
        "expenditure_cents",
        "annualized_cents",
        threshold_cents=threshold.cast("int64"),
    )
    cap_for_months = div_round_half_up(result.threshold_cents * result.member_months, 12)
    return result.mutate(
        truncated_cents=ibis.least(
            result.expenditure_cents, cap_for_months.fill_null(result.expenditure_cents)
        )
    )


def per_capita_by_year_type(member_years: ir.Table) -> ir.Table:
    """Totals per year and type: ``year, enrollment_type, member_months, truncated_cents, members``."""
    return member_years.group_by(["year", "enrollment_type"]).aggregate(
        member_months=member_years.member_months.sum().cast("int64"),
        truncated_cents=member_years.truncated_cents.sum().cast("int64"),
        expenditure_cents=member_years.expenditure_cents.sum().cast("int64"),
        members=member_years.member_id.nunique().cast("int64"),
    )


def mean_risk_by_year_type(member_years: ir.Table, risk_scores: ir.Table) -> ir.Table:
    """Member-month-weighted risk per year and type: ``year, enrollment_type, weighted_score, months``.

    ``risk_scores`` has ``member_id, year, score``; members without a score are left out. The mean is
    ``weighted_score / months``, divided exactly by the caller (scores carried as decimal(18, 6)).
    """
    scores = risk_scores.select(
        "member_id", year=risk_scores.year.cast("int32"), score=risk_scores.score.cast("decimal(18, 6)")
    )
    joined = member_years.join(scores, ["member_id", "year"])
    return joined.group_by(["year", "enrollment_type"]).aggregate(
        weighted_score=(joined.score.cast("decimal(38, 6)") * joined.member_months).sum(),
        months=joined.member_months.sum().cast("int64"),
    )
