"""The population profile: members by age, sex, race/ethnicity, dual status and payer; top conditions (CMS-HCC
V28 HCCs from the year's claims) and the count of conditions per member; the risk-score distribution; and cost
and admissions stratified by race/ethnicity and dual status (equity stratification)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import ibis
import ibis.expr.types as ir

from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    bar_chart,
    group_column,
    ratio,
    register,
    report_year,
    scope_note,
    suppress,
    suppression_note,
    tidy,
)
from apmkit.reports.marts import MEMBER_HCCS, measured_years
from apmkit.reports.measures import months_with_risk, per_1000, pmpm, spending_by_month
from apmkit.reports.utilization import scoped_events

AGE_BANDS = (
    (0, 64, "0-64"),
    (65, 69, "65-69"),
    (70, 74, "70-74"),
    (75, 79, "75-79"),
    (80, 84, "80-84"),
    (85, 200, "85+"),
)
RISK_BANDS = (
    (0.0, 0.5, "<0.5"),
    (0.5, 1.0, "0.5-1.0"),
    (1.0, 1.5, "1.0-1.5"),
    (1.5, 2.0, "1.5-2.0"),
    (2.0, 3.0, "2.0-3.0"),
    (3.0, 1e9, "3.0+"),
)
TOP_HCCS = 10
HCC_PAYMENT_YEARS = range(2024, 2028)
DIMENSIONS = ("age_band", "sex", "race", "dual", "payer", "risk_band")
"""The distribution's dimensions: columns of the profile."""
EVERYONE = "members"
"""The ``cells_profile_people`` dimension that counts everyone of the profile (value ``''``)."""
HCC, CONDITIONS = "hcc", "conditions"
"""The ``cells_profile_people`` dimensions of each HCC and of the HCC count per member (0-4+)."""


def _band(
    value: ir.NumericValue, bands: tuple[tuple[float, float, str], ...], *, closed: bool
) -> ir.StringValue:
    cases = [
        ((value >= low) & ((value <= high) if closed else (value < high)), ibis.literal(label))
        for low, high, label in bands
    ]
    return ibis.cases(*cases, else_=ibis.literal("(unknown)"))


def member_profile(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """One row per scoped member eligible in ``year``: group columns, payer (the latest month's), member months,
    score, age band (age on the period's last day), sex, race code, dual (latest dual status 01-10).

    Read from the ``cells_profile`` aggregate (every measured year, every payer view) when the run folder has
    it or ``year`` is a measured year: its rows of the year and of the request's payer (``*`` = every payer),
    restricted to the scope."""
    from apmkit.reports.cells import PROFILE, cells

    if inputs.has(PROFILE) or year in measured_years(inputs):
        every = cells(inputs, PROFILE, replace(request, payer=None))
        chosen = every.filter((every.year == year) & (every.payer_view == (request.payer or "*")))
        return chosen.drop("year", "payer_view")
    months = months_with_risk(inputs, request)
    return _profile(inputs, months.filter(months.year == year), year)


def profile_views(inputs: ReportInputs) -> ir.Table:
    """``year, payer_view`` + the profile's columns: :func:`member_profile` of the whole run for every measured
    year, once over every payer (``payer_view = '*'``) and once per payer (``payer_view`` = that payer)."""
    from apmkit.reports.cells import panel_rows

    rows = panel_rows(inputs)
    parts = []
    for year in measured_years(inputs):
        months = rows.filter(rows.year == year)
        every = _profile(inputs, months, year).mutate(payer_view=ibis.literal("*"))
        parts.append(every.mutate(year=ibis.literal(year, type="int32")))
        per_payer = _profile(inputs, months, year, by_payer=True)
        per_payer = per_payer.mutate(payer_view=per_payer.payer)
        parts.append(per_payer.mutate(year=ibis.literal(year, type="int32")))
    return parts[0].union(*parts[1:], distinct=False)


def profile_people(inputs: ReportInputs) -> ir.Table:
    """The ``cells_profile_people`` aggregate: ``entity_id, tin, npi, year, payer_view, dimension, value, members,
    person_id`` — the people of the profile (``cells_profile``, every measured year and payer view) by
    :data:`DIMENSIONS`, :data:`EVERYONE`, and with the ``member_hccs`` mart :data:`HCC` and :data:`CONDITIONS`.

    Every count of the population report is of distinct people per group and value, and a group (an entity, TIN
    or NPI, within a scope) is a set of ``entity_id, tin, npi`` places. A person with one profile row in the year
    and payer view is in one place, so ``members`` (the count of such people in the place) sums over places; a
    person with several rows (several member ids of one person) is a row with its ``person_id`` and ``members =
    0``, and a group adds those people, distinct (:func:`counted_people`)."""
    from apmkit.reports.cells import PROFILE

    profile = inputs[PROFILE] if inputs.has(PROFILE) else profile_views(inputs)
    place = ["entity_id", "tin", "npi", "year", "payer_view"]
    rows_of = profile.group_by(["year", "payer_view", "person_id"]).aggregate(_rows=profile.count())
    rows = tidy(profile.inner_join(rows_of, ["year", "payer_view", "person_id"]))
    valued: list[tuple[str, ir.Table]] = [
        (dimension, rows.select(*place, "person_id", "_rows", value=rows[dimension].cast("string")))
        for dimension in DIMENSIONS
    ]
    valued.append((EVERYONE, rows.select(*place, "person_id", "_rows", value=ibis.literal(""))))
    if inputs.has(MEMBER_HCCS):
        mart = inputs[MEMBER_HCCS]
        hccs = mart.select(
            member_id=mart.member_id.cast("string"), year=mart.year.cast("int32"), hccs=mart.hccs
        )
        with_hcc = tidy(rows.left_join(hccs, ["member_id", "year"]))
        hcc_list = _hcc_list(with_hcc.hccs)
        valued.append(
            (
                CONDITIONS,
                with_hcc.select(*place, "person_id", "_rows", value=_condition_count(hcc_list.length())),
            )
        )
        # an HCC listed twice for a member is one condition: one row per member and HCC
        valued.append(
            (HCC, with_hcc.select(*place, "person_id", "_rows", value=hcc_list.unnest()).distinct())
        )
    parts = []
    for dimension, table in valued:
        single = table.filter(table._rows == 1)
        summed = single.group_by([*place, "value"]).aggregate(members=single.count().cast("int64"))
        parts.append(summed.mutate(dimension=ibis.literal(dimension), person_id=ibis.null("string")))
        shared = table.filter(table._rows > 1).select(*place, "value", "person_id").distinct()
        parts.append(
            shared.mutate(
                dimension=ibis.literal(dimension),
                members=ibis.literal(0, type="int64"),
                person_id=shared.person_id,
            )
        )
    columns = [*place, "dimension", "value", "members", "person_id"]
    return ibis.union(*[part.select(*columns) for part in parts], distinct=False)


def counted_people(counts: ir.Table, key: str, dimension: str) -> ir.Table:
    """``key, value, members``: the distinct people per group and value of ``dimension`` in the rows of
    ``cells_profile_people`` (already restricted to a year, payer view and scope)."""
    rows = counts.filter(counts.dimension == dimension)
    return rows.group_by([key, "value"]).aggregate(
        members=(rows.members.sum() + rows.person_id.nunique()).cast("int64")
    )


def _hcc_list(hccs: ir.StringValue) -> ir.ArrayValue:
    return ibis.ifelse(hccs.fill_null("") == "", ibis.literal([], type="array<string>"), hccs.split(";"))


def _top_hccs(top: ir.Table, key: str) -> ir.Table:
    """The :data:`TOP_HCCS` HCCs of each group with the most members (``key, hcc, members``), ranked from 1."""
    top = top.mutate(
        rank=ibis.row_number().over(group_by=top[key], order_by=[ibis.desc(top.members), top.hcc])
    )
    top = top.filter(top["rank"] < TOP_HCCS).mutate(rank=(top["rank"] + 1).cast("int32"))
    return top.order_by([key, "rank"])


def _condition_count(hccs: ir.IntegerValue) -> ir.StringValue:
    """A member's count of HCCs as the report shows it: 0-3, then 4+."""
    return ibis.ifelse(hccs >= 4, "4+", hccs.cast("string"))


def _profile(inputs: ReportInputs, months: ir.Table, year: int, *, by_payer: bool = False) -> ir.Table:
    """The profile rows of ``months`` (one year's scoped member-months); ``by_payer``: one row per member and
    payer (each payer's months alone, as a payer filter reads them)."""
    if by_payer:
        per_member = months.group_by(
            ["member_id", "person_id", "entity_id", "tin", "npi", "payer"]
        ).aggregate(member_months=months.count(), score=months.score.max())
    else:
        ranked = months.mutate(
            _last=ibis.row_number().over(group_by=months.member_id, order_by=ibis.desc(months.month))
        )
        latest_payer = ranked.filter(ranked._last == 0).select("member_id", "payer")
        per_member = months.group_by(["member_id", "person_id", "entity_id", "tin", "npi"]).aggregate(
            member_months=months.count(), score=months.score.max()
        )
        per_member = per_member.inner_join(latest_payer, "member_id")
    joined = tidy(per_member.left_join(demographics(inputs, year), "member_id"))
    return joined.select(
        "member_id",
        "person_id",
        "entity_id",
        "tin",
        "npi",
        member_months=joined.member_months.cast("int64"),
        score=joined.score.cast("float64"),
        payer=joined.payer,
        age=joined.age,
        age_band=_band(joined.age, AGE_BANDS, closed=True),
        risk_band=_band(joined.score, RISK_BANDS, closed=False),
        race=joined.race.fill_null("(unknown)"),
        sex=joined.sex.fill_null("U"),
        dual=joined.dual.fill_null("non-dual"),
    )


def equity_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, race, dual, member_months, cents, admissions``: the whole run's eligible member-months by cell and
    the member's race and dual strata (:func:`demographics`), with their spending and admissions."""
    from apmkit.reports.cells import CELL, panel_rows

    rows = panel_rows(inputs)
    strata = demographics(inputs, inputs.run.year).select("member_id", "race", "dual")
    rows = tidy(rows.left_join(strata, "member_id"))
    rows = rows.mutate(race=rows.race.fill_null("(unknown)"), dual=rows.dual.fill_null("non-dual"))
    keys = [*CELL, "race", "dual"]
    base = rows.group_by(keys).aggregate(member_months=rows.count().cast("int64"))
    spend = spending_by_month(inputs, rows)
    cents = spend.group_by(keys).aggregate(cents=spend.cents.sum().cast("int64"))
    events = scoped_events(inputs, rows)
    events = events.filter(events.event == "admission")
    admissions = events.group_by(keys).aggregate(admissions=events.quantity.sum().cast("int64"))
    joined = tidy(tidy(base.left_join(cents, keys)).left_join(admissions, keys))
    return joined.mutate(cents=joined.cents.fill_null(0), admissions=joined.admissions.fill_null(0))


def demographics(inputs: ReportInputs, year: int) -> ir.Table:
    """``member_id, age, sex, race, dual``: each member's age on the last day of ``year`` (the period's end for
    the performance period) and the strata (one row per member id)."""
    members = inputs["members"]
    end = inputs.run.end if year == inputs.run.year else ibis.date(year, 12, 31)
    end_value = ibis.literal(end) if not isinstance(end, ir.Value) else end
    demo = members.select(
        member_id=members.member_id.cast("string"),
        age=end_value.year()
        - members.birth_date.year()
        - ibis.ifelse(
            (members.birth_date.month() > end_value.month())
            | (
                (members.birth_date.month() == end_value.month())
                & (members.birth_date.day() > end_value.day())
            ),
            1,
            0,
        ),
        sex=members.sex.fill_null("U"),
        race=members.race_code.fill_null("(unknown)"),
        dual=ibis.ifelse(
            members.dual_status_code.fill_null("NA").isin(
                ["01", "02", "03", "04", "05", "06", "08", "09", "10"]
            ),
            "dual",
            "non-dual",
        ),
    )
    return demo.distinct(on="member_id", keep="first")


def distribution(profile: ir.Table, key: str) -> ir.Table:
    """``[group], dimension, value, members, share``: members by age band, sex, race, dual, payer, risk band."""
    parts = []
    for dimension in ("age_band", "sex", "race", "dual", "payer", "risk_band"):
        counted = profile.group_by([key, profile[dimension].name("value")]).aggregate(
            members=profile.person_id.nunique()
        )
        parts.append(
            counted.select(
                key, dimension=ibis.literal(dimension), value=counted.value, members=counted.members
            )
        )
    table = parts[0].union(*parts[1:], distinct=False)
    totals = profile.group_by(key).aggregate(_total=profile.person_id.nunique())
    table = table.inner_join(totals, key)
    return table.select(key, "dimension", "value", "members", share=ratio(table.members, table._total, 4))


def distribution_of_people(counts: ir.Table, key: str) -> ir.Table:
    """:func:`distribution` from ``cells_profile_people`` rows (a year, payer view and scope)."""
    parts = []
    for dimension in DIMENSIONS:
        counted = counted_people(counts, key, dimension)
        parts.append(
            counted.select(
                key, dimension=ibis.literal(dimension), value=counted.value, members=counted.members
            )
        )
    table = parts[0].union(*parts[1:], distinct=False)
    totals = counted_people(counts, key, EVERYONE).select(key, _total="members")
    table = table.inner_join(totals, key)
    return table.select(key, "dimension", "value", "members", share=ratio(table.members, table._total, 4))


def conditions_of_people(counts: ir.Table, key: str) -> tuple[ir.Table, ir.Table]:
    """:func:`conditions` from ``cells_profile_people`` rows (a year, payer view and scope)."""
    top = _top_hccs(counted_people(counts, key, HCC).rename(hcc="value"), key)
    counts_ = counted_people(counts, key, CONDITIONS).rename(conditions="value")
    return top, counts_.order_by([key, "conditions"])


def conditions(
    inputs: ReportInputs, profile: ir.Table, key: str, year: int
) -> tuple[ir.Table, ir.Table] | None:
    """Top HCCs and the HCC count per member (CMS-HCC V28, payment year ``year + 1``: the year's diagnoses)."""
    from apmkit.reports.marts import hccs_of_year

    payment_year = year + 1
    if payment_year not in HCC_PAYMENT_YEARS or not inputs.has("medical_claims") or not inputs.has("members"):
        return None
    hccs, _ = hccs_of_year(inputs, profile.select("member_id"), year)
    with_hcc = tidy(profile.select("member_id", "person_id", key).left_join(hccs, "member_id"))
    with_hcc = with_hcc.mutate(hcc_list=_hcc_list(with_hcc.hccs))
    count = with_hcc.mutate(conditions=_condition_count(with_hcc.hcc_list.length()))
    counts = count.group_by([key, "conditions"]).aggregate(members=count.person_id.nunique())
    exploded = with_hcc.select("member_id", "person_id", key, hcc=with_hcc.hcc_list.unnest())
    top = exploded.group_by([key, "hcc"]).aggregate(members=exploded.person_id.nunique())
    return _top_hccs(top, key), counts.order_by([key, "conditions"])


def equity(
    inputs: ReportInputs,
    request: ReportRequest,
    members_by: Callable[[str], ir.Table],
    key: str,
    year: int,
) -> ir.Table:
    """``[group], stratum, value, members, member_months, pmpm, admissions_per_1000`` by race and by dual status:
    members (``members_by(stratum)``: ``key, value, members``, the profile's people), member-months, spending
    and admissions summed from ``cells_equity``."""
    from apmkit.reports.cells import EQUITY_CELLS, cells

    table = cells(inputs, EQUITY_CELLS, request)
    table = table.filter(table.year == year)
    parts = []
    for stratum in ("race", "dual"):
        members = members_by(stratum)
        sums = table.group_by([key, table[stratum].name("value")]).aggregate(
            member_months=table.member_months.sum(),
            cents=table.cents.sum(),
            admissions=table.admissions.sum(),
        )
        joined = tidy(members.inner_join(sums, [key, "value"]))
        parts.append(
            joined.select(
                key,
                stratum=ibis.literal(stratum),
                value=joined.value,
                members=joined.members,
                member_months=joined.member_months,
                pmpm=pmpm(joined.cents.fill_null(0), joined.member_months),
                admissions=joined.admissions.fill_null(0),
                admissions_per_1000=per_1000(joined.admissions.fill_null(0), joined.member_months),
            )
        )
    return parts[0].union(*parts[1:], distinct=False)


@register(
    "population",
    "Population profile",
    "Members by age, sex, race/ethnicity, dual status and payer; top conditions (CMS-HCC V28) and conditions per "
    "member; the risk-score distribution; cost and admissions stratified by race/ethnicity and dual status.",
    needs=(
        "attribution",
        "member_detail",
        "member_months",
        "enrollment",
        "risk_scores",
        "members",
        "expenditure",
        "utilization",
        "medical_claims",
        "member_hccs",
        "member_month_panel",
        "cells_profile",
        "cells_profile_people",
        "cells_equity",
    ),
)
def population_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    threshold = request.suppress_below
    from apmkit.reports.cells import PROFILE_PEOPLE, cells

    counts: ir.Table | None = None
    if inputs.has(PROFILE_PEOPLE) and year in measured_years(inputs):
        # the people per group and value, summed over the places of the scope (cells_profile_people)
        every = cells(inputs, PROFILE_PEOPLE, replace(request, payer=None))
        counts = inputs.once(
            ("profile_people", request.scope, request.payer, year),
            lambda: every.filter((every.year == year) & (every.payer_view == (request.payer or "*"))),
        )

    def profile() -> ir.Table:  # one row per member, read by every table: computed once
        return inputs.once(
            ("member_profile", request.scope, request.payer, year),
            lambda: member_profile(inputs, request, year),
        )

    def members_by(stratum: str) -> ir.Table:
        if counts is not None:
            return counted_people(counts, key, stratum)
        rows = profile()
        return rows.group_by([key, rows[stratum].name("value")]).aggregate(members=rows.person_id.nunique())

    shown = distribution_of_people(counts, key) if counts is not None else distribution(profile(), key)
    tables: dict[str, ir.Table] = {
        "distribution": suppress(shown, threshold, ["members"], ["share"]).order_by(
            [key, "dimension", "value"]
        ),
        "equity": suppress(
            equity(inputs, request, members_by, key, year),
            threshold,
            ["members", "admissions"],
            ["member_months", "pmpm", "admissions_per_1000"],
        ).order_by([key, "stratum", "value"]),
    }
    notes = [
        f"period {year}; members eligible in the period; age on the period's last day; dual = dual status 01-10",
        "risk bands from the run's risk scores; race = the source race/ethnicity code as loaded",
    ]
    hccs_read = inputs.has(MEMBER_HCCS) and year in measured_years(inputs)
    found: tuple[ir.Table, ir.Table] | None
    if year + 1 not in HCC_PAYMENT_YEARS or not inputs.has("medical_claims") or not inputs.has("members"):
        found = None
    elif counts is not None and hccs_read:
        found = conditions_of_people(counts, key)
    else:
        found = conditions(inputs, profile(), key, year)
    if found is None:
        notes.append(
            f"top conditions: not computed (CMS-HCC V28 covers payment years 2024-2027; asked {year + 1})"
        )
    else:
        top, condition_counts = found
        tables["top_conditions"] = suppress(top, threshold, ["members"])
        tables["condition_counts"] = suppress(condition_counts, threshold, ["members"])
        notes.append(
            f"conditions: CMS-HCC V28 HCCs (payment year {year + 1}) from the year's risk-adjustment-eligible claims"
        )
        if not hccs_read:
            notes.append(
                f"conditions scored at report time (no member_hccs mart for {year}; "
                "run `apmkit run` again to have them read from the marts)"
            )
    return ReportOutput(
        tables=tables,
        charts={
            "distribution": bar_chart("distribution", "value", "members", color="dimension", title="members")
        },
        notes=[*notes, *scope_note(request), *suppression_note(request)],
    )
