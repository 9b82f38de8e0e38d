"""The utilization report: admissions, readmissions, ED visits, observation stays, SNF days and imaging per
1,000, risk adjusted and against peers; frequent ED users; generic dispensing rate (where the source gives a
brand/generic indicator) and high-cost drugs (docs/reference/analytics-definitions.md
§1, §3, §4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.money import from_cents
from apmkit.reports.cells import (
    DRUG_CELLS,
    DRUG_PEOPLE,
    EVENT_CELLS,
    MONTH_CELLS,
    PHARMACY_CELLS,
    cells,
    fill_rows,
)
from apmkit.reports.events import IMAGING_RULE, READMISSION_RULE
from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    bar_chart,
    group_column,
    line_chart,
    ratio,
    register,
    report_year,
    scope_note,
    suppress,
    suppression_note,
    tidy,
)
from apmkit.reports.marts import PHARMACY_MONTHS, month_window, pharmacy_months, whole_months
from apmkit.reports.measures import months_with_risk, per_1000
from apmkit.reports.planned import ALGORITHM, PLANNED_CODES, unplanned_readmissions

RATE_EVENTS = (
    "admission",
    "readmission",
    "ed_visit",
    "ed_to_admission",
    "observation",
    "snf_days",
    "imaging",
)
FREQUENT_ED_VISITS = 4
HIGH_COST_DRUGS = 20


def _year_cells(
    inputs: ReportInputs, name: str, request: ReportRequest, year: int, *, scoped: bool = True
) -> ir.Table:
    table = cells(inputs, name, request, scoped=scoped)
    return table.filter(table.year == year)


def scoped_events(inputs: ReportInputs, months: ir.Table) -> ir.Table:
    """The utilization mart's events that fall in ``months`` (eligible member-months), with their columns."""
    events = inputs["utilization"]
    events = events.select(
        member_id=events.member_id.cast("string"),
        event=events.event,
        month=events.month.cast("date"),
        quantity=events.quantity.cast("int64"),
        cents=events.cents.cast("int64"),
        event_npi=events.npi,
        event_tin=events.tin,
        facility=events.facility,
        place_of_service=events.place_of_service,
    )
    return events.inner_join(months, ["member_id", "month"])


def rates_table(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], payer, event, member_months, events, per_1000, risk_adjusted_per_1000, peer_per_1000,
    ratio_to_peer``; ``readmission`` also carries ``index_stays`` and ``rate`` (readmissions / index stays)."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    peers = _year_cells(inputs, MONTH_CELLS, request, year, scoped=False)
    kinds = ibis.memtable({"event": [*RATE_EVENTS, "index_stay"]})
    base = months.group_by([key, "payer"]).aggregate(
        member_months=months.member_months.sum(), _risk=months.risk_sum.sum()
    )
    grid = base.cross_join(kinds)
    events = _year_cells(inputs, EVENT_CELLS, request, year)
    counted = events.group_by([key, "payer", "event"]).aggregate(events=events.quantity.sum())
    table = tidy(grid.left_join(counted, [key, "payer", "event"]))
    table = table.mutate(events=table.events.fill_null(0))
    peer_base = peers.group_by("payer").aggregate(
        peer_mm=peers.member_months.sum(), peer_risk=peers.risk_sum.sum()
    )
    peer_events = _year_cells(inputs, EVENT_CELLS, request, year, scoped=False)
    peer_counted = peer_events.group_by(["payer", "event"]).aggregate(peer_events=peer_events.quantity.sum())
    peer = tidy(peer_base.cross_join(kinds).left_join(peer_counted, ["payer", "event"]))
    table = tidy(table.left_join(peer, ["payer", "event"]))
    index = table.filter(table.event == "index_stay").select(key, "payer", index_stays=table.events)
    table = tidy(table.filter(table.event != "index_stay").left_join(index, [key, "payer"]))
    risk = table._risk / table.member_months.cast("float64").nullif(0)
    peer_risk = table.peer_risk / table.peer_mm.cast("float64").nullif(0)
    rate = per_1000(table.events, table.member_months)
    peer_rate = per_1000(table.peer_events.fill_null(0), table.peer_mm)
    return table.select(
        key,
        "payer",
        "event",
        "member_months",
        "events",
        per_1000=rate,
        risk_score=risk.round(3),
        # indirect standardization on risk: observed rate x peer risk / group risk
        risk_adjusted_per_1000=(rate * peer_risk / risk.nullif(0)).round(2),
        peer_per_1000=peer_rate,
        ratio_to_peer=ratio(rate, peer_rate, 3),
        index_stays=ibis.ifelse(table.event == "readmission", table.index_stays, ibis.null("int64")),
        readmission_rate=ibis.ifelse(
            table.event == "readmission", ratio(table.events, table.index_stays, 4), ibis.null("float64")
        ),
    )


def frequent_ed_users(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """Members with at least :data:`FREQUENT_ED_VISITS` ED visits in the year's eligible months (the ED visits
    are picked out of the utilization mart before they are joined to the scoped member-months)."""
    months = months_with_risk(inputs, request)
    months = months.filter(months.year == year)
    visits = inputs["utilization"]
    visits = visits.filter(visits.event == "ed_visit")
    ed = visits.select(
        member_id=visits.member_id.cast("string"),
        month=visits.month.cast("date"),
        quantity=visits.quantity.cast("int64"),
    ).inner_join(months.select("member_id", "month", "entity_id", "tin", "npi"), ["member_id", "month"])
    per_member = ed.group_by(["member_id", "entity_id", "tin", "npi"]).aggregate(ed_visits=ed.quantity.sum())
    return per_member.filter(per_member.ed_visits >= FREQUENT_ED_VISITS).order_by(
        [ibis.desc("ed_visits"), "member_id"]
    )


def scoped_fills(inputs: ReportInputs, request: ReportRequest, year: int, start: date, end: date) -> ir.Table:
    """Pharmacy fills (``pharmacy_months`` rows: member, month, NDC, brand/generic, fills, cents) dispensed in
    ``start..end`` within the group's eligible months of ``year``, with the group column."""
    key = group_column(request)
    months = months_with_risk(inputs, request)
    months = months.filter(months.year == year).select("member_id", "person_id", "month", key, "payer")
    return fills_in(inputs, start, end).inner_join(months, ["member_id", "month"])


def fills_in(inputs: ReportInputs, start: date, end: date) -> ir.Table:
    """``pharmacy_months`` rows dispensed in ``start..end``: the run folder's mart when the window is whole
    months, else built from the claims of the window."""
    if inputs.has(PHARMACY_MONTHS) and whole_months(start, end):
        rx = month_window(inputs[PHARMACY_MONTHS], start, end)
    else:
        claims = inputs["pharmacy_claims"]
        claims = claims.filter(
            claims.dispensing_date.cast("date").between(ibis.literal(start), ibis.literal(end))
        )
        rx = pharmacy_months(claims, inputs.run.cost_basis)
    return fill_rows(rx)


def drug_table(inputs: ReportInputs, request: ReportRequest, year: int, start: date, end: date) -> ir.Table:
    """The :data:`HIGH_COST_DRUGS` NDCs with the highest spending among the group's eligible months.

    When the window is whole months, fills and spending per group and NDC are summed from ``cells_drugs``; the
    members (people) are counted from ``cells_drug_people`` for the performance period (whose window holds every
    month of the year's cells), else from the scoped fills of the top NDCs."""
    key = group_column(request)
    if whole_months(start, end) and (inputs.has(DRUG_CELLS) or inputs.has(PHARMACY_MONTHS)):
        drugs = month_window(_year_cells(inputs, DRUG_CELLS, request, year), start, end)
        by = drugs.group_by([key, "ndc"]).aggregate(fills=drugs.fills.sum(), cents=drugs.cents.sum())
        ranked = by.mutate(
            rank=ibis.row_number().over(group_by=by[key], order_by=[ibis.desc(by.cents), by.ndc])
        )
        top = ranked.filter(ranked["rank"] < HIGH_COST_DRUGS)
        if (year, start, end) == (inputs.run.year, inputs.run.start, inputs.run.end):
            picked = _year_cells(inputs, DRUG_PEOPLE, request, year)
        else:
            top_ndcs = top.select("ndc").distinct()
            fills = fills_in(inputs, start, end)
            fills = fills.semi_join(top_ndcs, "ndc")
            months = months_with_risk(inputs, request)
            months = months.filter(months.year == year).select("member_id", "person_id", "month", key)
            picked = fills.inner_join(months, ["member_id", "month"])
        people = picked.group_by([key, "ndc"]).aggregate(members=picked.person_id.nunique())
        top = tidy(top.inner_join(people, [key, "ndc"]))
        return top.select(
            key,
            "ndc",
            "fills",
            "members",
            spending=from_cents(top.cents),
            rank=(top["rank"] + 1).cast("int32"),
        ).order_by([key, "rank"])
    scoped = scoped_fills(inputs, request, year, start, end)
    by = scoped.group_by([key, "ndc"]).aggregate(
        fills=scoped.fills.sum(), members=scoped.person_id.nunique(), cents=scoped.cents.sum()
    )
    ranked = by.mutate(rank=ibis.row_number().over(group_by=by[key], order_by=[ibis.desc(by.cents), by.ndc]))
    top = ranked.filter(ranked["rank"] < HIGH_COST_DRUGS)
    return top.select(
        key, "ndc", "fills", "members", spending=from_cents(top.cents), rank=(top["rank"] + 1).cast("int32")
    ).order_by([key, "rank"])


def generic_table(
    inputs: ReportInputs, request: ReportRequest, year: int, start: date, end: date
) -> ir.Table:
    """``[group], payer, fills, fills_with_indicator, generic_fills, generic_rate, peer_generic_rate``: generic
    fills / fills whose source gives a brand/generic indicator (docs/reference/analytics-definitions.md §3).
    Summed from the ``cells_pharmacy`` aggregate when the window is whole months."""
    key = group_column(request)

    def fills(chosen: ReportRequest) -> ir.Table:
        if whole_months(start, end) and (inputs.has(PHARMACY_CELLS) or inputs.has(PHARMACY_MONTHS)):
            return month_window(_year_cells(inputs, PHARMACY_CELLS, chosen, year), start, end)
        return scoped_fills(inputs, chosen, year, start, end)

    def counts(table: ir.Table, by: list[str]) -> ir.Table:
        known = table.brand_generic.isin(["brand", "generic"])
        return table.group_by(by).aggregate(
            fills=table.fills.sum(),
            fills_with_indicator=table.fills.sum(where=known).fill_null(0),
            generic_fills=table.fills.sum(where=table.brand_generic == "generic").fill_null(0),
        )

    mine = counts(fills(request), [key, "payer"])
    everyone = counts(fills(replace(request, scope=None)), ["payer"])
    everyone = everyone.select(
        "payer", peer_generic_rate=ratio(everyone.generic_fills, everyone.fills_with_indicator, 4)
    )
    table = tidy(mine.left_join(everyone, "payer"))
    return table.select(
        key,
        "payer",
        "fills",
        "fills_with_indicator",
        "generic_fills",
        generic_rate=ratio(table.generic_fills, table.fills_with_indicator, 4),
        peer_generic_rate=table.peer_generic_rate,
    )


def has_brand_generic(inputs: ReportInputs, start: date, end: date) -> bool:
    """True when some fill of the window carries a brand/generic indicator (one aggregate row fetched)."""
    if inputs.fetch is None:
        return False
    rx = fills_in(inputs, start, end)
    found = inputs.fetch(rx.aggregate(n=rx.fills.sum(where=rx.brand_generic.isin(["brand", "generic"]))))
    value = found.column("n")[0].as_py()
    return bool(value)


def trend_table(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """``[group], month, event, per_1000`` for admissions, ED visits and imaging over every measured year."""
    key = group_column(request)
    months = cells(inputs, MONTH_CELLS, request)
    base = months.group_by([key, "year", "month"]).aggregate(member_months=months.member_months.sum())
    kinds = ibis.memtable({"event": ["admission", "ed_visit", "imaging"]})
    grid = base.cross_join(kinds)
    events = cells(inputs, EVENT_CELLS, request)
    counted = events.group_by([key, "month", "event"]).aggregate(events=events.quantity.sum())
    table = tidy(grid.left_join(counted, [key, "month", "event"]))
    table = table.mutate(events=table.events.fill_null(0))
    return table.select(
        key,
        "year",
        "month",
        "event",
        "member_months",
        "events",
        per_1000=per_1000(table.events, table.member_months),
    ).order_by([key, "event", "month"])


@register(
    "utilization",
    "Utilization",
    "Admissions, 30-day readmissions, ED visits, observation stays, SNF days and imaging per 1,000 person-years, "
    "risk adjusted and against peers, by group and payer; frequent ED users; high-cost drugs; monthly trend.",
    needs=(
        "attribution",
        "member_detail",
        "member_months",
        "enrollment",
        "risk_scores",
        "utilization",
        "pharmacy_claims",
        PHARMACY_MONTHS,
        "medical_claims",
        "member_month_panel",
        MONTH_CELLS,
        EVENT_CELLS,
        PHARMACY_CELLS,
        DRUG_CELLS,
        DRUG_PEOPLE,
    ),
)
def utilization_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    start, end = (
        (inputs.run.start, inputs.run.end)
        if year == inputs.run.year
        else (date(year, 1, 1), date(year, 12, 31))
    )
    threshold = request.suppress_below
    planned_note = f"readmissions: {READMISSION_RULE}"
    if inputs.has(PLANNED_CODES):
        # the readmissions recounted from the claims with the user's planned-readmission code list
        events = inputs["utilization"]
        recounted = unplanned_readmissions(
            inputs["medical_claims"], inputs[PLANNED_CODES], start, end, inputs.run.cost_basis
        )
        kept = events.filter(events.event != "readmission")
        kept = kept.select(*[kept[c].cast(recounted[c].type()) for c in recounted.columns])
        # the events summed by cell are the run's: summed again from the recounted events
        own = {n: t for n, t in inputs.tables.items() if n != EVENT_CELLS}
        inputs = replace(
            inputs, tables={**own, "utilization": kept.union(recounted, distinct=False)}, memo={}
        )
        planned_note = (
            "readmissions: 30-day, planned readmissions excluded — "
            f"{ALGORITHM} ({inputs.run_notes.get(PLANNED_CODES, 'code list')}); only the first readmission "
            "of an index stay is looked at"
        )
    rates = suppress(
        rates_table(inputs, request, year),
        threshold,
        ["events", "index_stays"],
        ["per_1000", "risk_adjusted_per_1000", "ratio_to_peer", "readmission_rate"],
    )
    tables: dict[str, ir.Table] = {
        "rates": rates.order_by([key, "payer", "event"]),
        "frequent_ed_users": frequent_ed_users(inputs, request, year),
        "trend": suppress(trend_table(inputs, request), threshold, ["events"], ["per_1000"]),
    }
    notes = [
        f"period {year}; per 1,000 = events / person-years x 1,000 over eligible member-months",
        "risk adjusted = rate x peer risk / group risk; peers = every member of the run (same payer filter)",
        planned_note,
        f"imaging: {IMAGING_RULE}",
        f"frequent ED users: {FREQUENT_ED_VISITS} or more ED visits in the period",
    ]
    if inputs.has("pharmacy_claims") or inputs.has(PHARMACY_MONTHS):
        drugs = drug_table(inputs, request, year, start, end)
        tables["high_cost_drugs"] = suppress(drugs, threshold, ["members", "fills"], ["spending"])
        notes.append(f"high-cost drugs: the {HIGH_COST_DRUGS} NDCs with the highest spending per group")
        if has_brand_generic(inputs, start, end):
            tables["generic_dispensing"] = suppress(
                generic_table(inputs, request, year, start, end),
                threshold,
                ["fills", "fills_with_indicator", "generic_fills"],
                ["generic_rate"],
            ).order_by([key, "payer"])
            notes.append(
                "generic dispensing rate = generic fills / fills whose source gives a brand/generic indicator "
                "(pharmacy_claims.brand_generic); peers = every member of the run (same payer filter)"
            )
        else:
            notes.append(
                "generic dispensing rate: unavailable — the pharmacy claims carry no brand/generic indicator "
                "(pharmacy_claims.brand_generic; e.g. PDE BRND_GNRC_CD) and apmkit does not guess one from the NDC"
            )
    else:
        notes.append("generic dispensing rate and high-cost drugs: unavailable — no pharmacy claims")
    return ReportOutput(
        tables=tables,
        charts={
            "rates": bar_chart("rates", "event", "per_1000", color=key, title="events per 1,000"),
            "trend": line_chart("trend", "month", "per_1000", color="event", title="per 1,000 by month"),
        },
        notes=[*notes, *scope_note(request), *suppression_note(request)],
    )
