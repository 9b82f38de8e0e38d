"""The attribution and gaps-in-care reports in the report framework."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.reports.cells import MONTH_CELLS, PERSON_CELLS, SHARED_PEOPLE, cells, people_by_month
from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    bar_chart,
    group_column,
    line_chart,
    panel,
    person_map,
    ratio,
    register,
    report_year,
    scope_note,
    suppress,
    suppression_note,
    tidy,
    with_person,
)


def year_window(inputs: ReportInputs, year: int) -> tuple[date, date]:
    """The dates of measured year ``year``: the run's period for its year, else the calendar year."""
    if year == inputs.run.year:
        return inputs.run.start, inputs.run.end
    return date(year, 1, 1), date(year, 12, 31)


@register(
    "attribution",
    "Attribution",
    "Members attributed to each entity, TIN or NPI: counts, member-months in the period, the monthly trend "
    "across the measured years, and the member list with the attributing step and visits.",
    needs=(
        "attribution",
        "member_months",
        "enrollment",
        "member_detail",
        "risk_scores",
        "member_month_panel",
        MONTH_CELLS,
        PERSON_CELLS,
        SHARED_PEOPLE,
    ),
)
def attribution_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    members = panel(inputs, request)
    # people and member-months from the report aggregates (cells of entity, TIN, NPI, payer and month)
    months = cells(inputs, MONTH_CELLS, request)
    months = months.filter(months.year == year)
    persons = cells(inputs, PERSON_CELLS, request)
    persons = persons.filter(persons.year == year)
    people = persons.group_by([key, "payer"]).aggregate(members=persons.person_id.nunique())
    summary = tidy(
        people.inner_join(
            months.group_by([key, "payer"]).aggregate(member_months=months.member_months.sum()),
            [key, "payer"],
        )
    )
    summary = summary.mutate(person_years=ratio(summary.member_months, 12, 2))
    summary = suppress(summary, request.suppress_below, ["members"], ["member_months", "person_years"])
    trend = people_by_month(inputs, request, [key, "year", "month"])
    trend = suppress(trend, request.suppress_below, ["members"]).order_by([key, "month"])
    attribution = inputs["attribution"]
    detail_cols = [c for c in ("step", "winner_visits", "winner_last_visit") if c in attribution.columns]
    listed = members.inner_join(
        attribution.select(
            member_id=attribution.member_id.cast("string"), **{c: attribution[c] for c in detail_cols}
        ),
        "member_id",
    )
    listed = listed.select("member_id", "entity_id", "tin", "npi", *detail_cols).order_by([key, "member_id"])
    return ReportOutput(
        tables={"summary": summary.order_by([key, "payer"]), "trend": trend, "members": listed},
        charts={
            "trend": line_chart("trend", "month", "members", color=key, title="attributed members by month")
        },
        notes=[
            f"period {year}; member-months are the run's eligible months (its definitions)",
            *scope_note(request),
            *suppression_note(request),
        ],
    )


def open_gaps_table(
    inputs: ReportInputs, request: ReportRequest, members: ir.Table
) -> tuple[ir.Table, tuple[date, date], list[str]]:
    """``patient_id, measure, gap, last_value, last_date, closes_with, npi (gap), entity_id, tin, npi ...``: the
    open gaps of the scoped members (the run's quality measures, else every eCQM apmkit computes)."""
    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.reports.marts import gaps_of_year

    year = report_year(inputs, request)
    start, end = year_window(inputs, year)
    measures = list(ECQM_DEFINITIONS)
    gaps, from_mart = gaps_of_year(inputs, members, start, end)
    gaps = gaps.rename(gap_npi="npi", gap_tin="tin")
    joined = gaps.inner_join(members, gaps.patient_id == members.member_id).drop("member_id")
    notes = [f"measures {', '.join(measures)}; measurement period {start}..{end}"]
    if not from_mart:
        notes.append(
            f"open gaps evaluated at report time (no open_gaps mart for {start}..{end}; "
            "a run by `apmkit run` writes one for its performance period)"
        )
    return joined, (start, end), notes


DUAL_CODES = ("01", "02", "03", "04", "05", "06", "08", "09", "10")


def gap_equity(inputs: ReportInputs, members: ir.Table, gaps: ir.Table, key: str) -> ir.Table:
    """``[group], stratum, value, members, members_with_gaps, open_gaps, gaps_per_100_members`` by race code and
    by dual status (equity stratification of quality)."""
    people = inputs["members"]
    strata = people.select(
        member_id=people.member_id.cast("string"),
        race=people.race_code.fill_null("(unknown)"),
        dual=ibis.ifelse(people.dual_status_code.fill_null("NA").isin(list(DUAL_CODES)), "dual", "non-dual"),
    ).distinct(on="member_id", keep="first")
    panel_strata = tidy(with_person(members, person_map(inputs)).left_join(strata, "member_id"))
    panel_strata = panel_strata.mutate(
        race=panel_strata.race.fill_null("(unknown)"), dual=panel_strata.dual.fill_null("non-dual")
    )
    per_member = gaps.group_by(member_id=gaps.patient_id).aggregate(_gaps=gaps.count())
    joined = tidy(panel_strata.left_join(per_member, "member_id"))
    parts = []
    for stratum in ("race", "dual"):
        by = joined.group_by([key, joined[stratum].name("value")]).aggregate(
            members=joined.person_id.nunique(),
            members_with_gaps=joined.person_id.nunique(where=joined._gaps.notnull()),
            open_gaps=joined._gaps.fill_null(0).sum(),
        )
        parts.append(
            by.select(
                key,
                stratum=ibis.literal(stratum),
                value=by.value,
                members=by.members,
                members_with_gaps=by.members_with_gaps,
                open_gaps=by.open_gaps,
                gaps_per_100_members=ratio(by.open_gaps * 100, by.members, 2),
            )
        )
    return parts[0].union(*parts[1:], distinct=False)


@register(
    "gaps",
    "Gaps in care",
    "Open gaps in care of the attributed members (eCQMs apmkit computes), counted per measure and group, "
    "with the patient list (last value, what closes the gap, the clinician best placed to close it); "
    "exports as a DEQM gaps-in-care FHIR bundle (.fhir.json).",
    needs=(
        "attribution",
        "member_detail",
        "member_months",
        "members",
        "clinical",
        "medical_claims",
        "providers",
        "open_gaps",
    ),
)
def gaps_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    members = panel(inputs, request)
    gaps, (start, end), notes = open_gaps_table(inputs, request, members)
    persons = with_person(members, person_map(inputs))
    panel_size = persons.group_by(key).aggregate(members=persons.person_id.nunique())
    counted = gaps.group_by([key, "measure"]).aggregate(open_gaps=gaps.patient_id.nunique())
    summary = counted.inner_join(panel_size, key)
    summary = summary.mutate(gaps_per_100_members=ratio(summary.open_gaps * 100, summary.members, 2))
    summary = suppress(summary, request.suppress_below, ["open_gaps", "members"], ["gaps_per_100_members"])
    equity = suppress(
        gap_equity(inputs, members, gaps, key),
        request.suppress_below,
        ["members", "members_with_gaps", "open_gaps"],
        ["gaps_per_100_members"],
    )
    listed = gaps.select(
        "patient_id",
        "measure",
        "gap",
        "last_value",
        "last_date",
        "closes_with",
        "gap_npi",
        "gap_tin",
        "entity_id",
        "tin",
        "npi",
    ).order_by([key, "measure", "patient_id"])
    return ReportOutput(
        tables={
            "summary": summary.order_by([key, "measure"]),
            "gaps": listed,
            "equity": equity.order_by([key, "stratum", "value"]),
            "period": ibis.memtable({"start": [start], "end": [end]}),
        },
        charts={
            "open_gaps": bar_chart("summary", "measure", "open_gaps", color=key, title="open gaps by measure")
        },
        notes=[
            *notes,
            "groups by the attributed TIN/NPI; gap_npi is the clinician of the patient's latest visit",
            *scope_note(request),
            *suppression_note(request),
        ],
    )
