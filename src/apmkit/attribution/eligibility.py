"""Eligibility: which members can be attributed in a window, and why the others cannot."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from apmkit.attribution.spec import EligibilitySpec
from apmkit.attribution.windows import Window, month_start
from apmkit.portable import trim_text

US_STATES_AND_TERRITORIES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
    "VI",
    "GU",
    "AS",
    "MP",
]
"""USPS codes of the 50 states, DC and the US territories (42 CFR 425.401(a)(4): US or territories)."""


def member_universe(members: ir.Table, enrollment: ir.Table) -> ir.Table:
    """Every member known to the run: the members table plus anyone with enrollment."""
    return (
        members.select(member_id=members.member_id)
        .union(enrollment.select(member_id=enrollment.member_id))
        .distinct()
    )


def eligibility(
    members: ir.Table,
    enrollment: ir.Table,
    rules: EligibilitySpec,
    window: Window,
    *,
    payer: str | None = None,
    check_from: dt.date | None = None,
    check_to: dt.date | None = None,
) -> ir.Table:
    """One row per member: ``member_id``, ``eligible`` and ``ineligible_reason``.

    Parameters
    ----------
    members, enrollment
        Canonical tables.
    rules
        The eligibility filters.
    window
        Enrollment months from ``check_from`` (default: window start) to ``check_to`` (default: window
        end) are judged.
    payer
        The contract's payer, combined with ``rules.payers``.
    """
    first = month_start(check_from or window.start)
    last = check_to or window.end
    enr = enrollment.filter(enrollment.month.between(first, last))
    payers = list(rules.payers) + ([payer] if payer else [])
    if payers:
        enr = enr.filter(enr.payer.isin(payers))
    if rules.lines_of_business:
        enr = enr.filter(enr.line_of_business.isin(list(rules.lines_of_business)))
    part_a = enr.part_a.fill_null(False)
    part_b = enr.part_b.fill_null(False)
    ma = enr.medicare_advantage.fill_null(False)
    qualifying = enr.member_id.notnull()
    if rules.require_part_a:
        qualifying = qualifying & part_a
    if rules.require_part_b:
        qualifying = qualifying & part_b
    if rules.exclude_medicare_advantage:
        qualifying = qualifying & ~ma
    # Several payer/product rows can cover one month: judge each member-month once, then count months.
    per_month = enr.group_by("member_id", "month").agg(
        _q=qualifying.any(), _ma=ma.any(), _partial=(part_a != part_b).any()
    )
    months = per_month.group_by("member_id").agg(
        _months=per_month.count(),
        _qualifying=per_month._q.sum(),
        _ma=per_month._ma.sum(),
        _partial=per_month._partial.sum(),
    )
    if rules.require_enrollment_at_as_of:
        at = month_start(window.claims_through)
        current = enr.filter((enr.month == at) & qualifying).select(_c_member=enr.member_id).distinct()
    universe = member_universe(members, enrollment)
    people = members.select(
        _m_member=members.member_id, _death=members.death_date, _state=trim_text(members.state_code).upper()
    )
    t = universe.left_join(months, universe.member_id == months.member_id).select(
        universe.member_id, months._months, months._qualifying, months._ma, months._partial
    )
    t = t.left_join(people, t.member_id == people._m_member)
    if rules.require_enrollment_at_as_of:
        t = t.left_join(current, t.member_id == current._c_member)
    checks: list[tuple[ir.BooleanValue, str]] = [(t._months.isnull(), "not_eligible:no_enrollment_in_window")]
    if rules.exclude_medicare_advantage:
        checks.append((t._ma > 0, "not_eligible:medicare_advantage_months"))
    if rules.no_partial_part_ab_months:
        checks.append((t._partial > 0, "not_eligible:part_a_only_or_part_b_only_months"))
    checks.append((t._qualifying < rules.min_months, "not_eligible:too_few_qualifying_months"))
    if rules.exclude_deceased:
        checks.append((t._death.notnull() & (t._death < window.period_start), "not_eligible:deceased"))
    if rules.require_us_residence:
        # Alphabetic (USPS) codes outside the list, and the codes the spec names as foreign (SSA 54-62, FC).
        alpha = t._state.re_search(r"^[A-Z]{2}$")
        abroad = alpha & ~t._state.isin(US_STATES_AND_TERRITORIES)
        if rules.non_us_state_codes:
            abroad = abroad | t._state.isin([code.upper() for code in rules.non_us_state_codes])
        checks.append((t._state.notnull() & abroad, "not_eligible:non_us_residence"))
    if rules.require_enrollment_at_as_of:
        checks.append((t._c_member.isnull(), "not_eligible:not_enrolled_at_as_of"))
    reason = ibis.cases(*[(bad, text) for bad, text in checks], else_=ibis.null("string"))
    return t.select(member_id=t.member_id, eligible=reason.isnull(), ineligible_reason=reason)
