"""Care variation (observed/expected with funnel-plot limits, site of service), clinician report cards and cost
opportunity (docs/reference/analytics-definitions.md §4).

Expected values are indirectly standardized on risk: a group's expected events = the peer rate per unit of risk
x the group's risk-weighted member-months (Σ score over its member-months); expected cost = peer PMPM x (group
risk / peer risk) x member-months. Funnel limits for an O/E ratio with expected count E use the normal
approximation to the Poisson: 1 ± z/√E with z = 1.96 (95 %) and 3.09 (99.8 %); only points outside 99.8 % are
flagged (Spiegelhalter 2005)."""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents
from apmkit.reports.cells import (
    EVENT_CELLS,
    MONTH_CELLS,
    PERSON_CELLS,
    PROFESSIONAL_CELLS,
    SPENDING_CELLS,
    cells,
)
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
from apmkit.reports.marts import PROFESSIONAL_MONTHS
from apmkit.reports.measures import per_1000, pmpm

Z95 = 1.96
Z998 = 3.09
OE_EVENTS = ("admission", "ed_visit", "imaging")
NEEDS = (
    "attribution",
    "member_detail",
    "member_months",
    "enrollment",
    "risk_scores",
    "expenditure",
    "utilization",
    "member_month_panel",
    MONTH_CELLS,
    PERSON_CELLS,
    SPENDING_CELLS,
    EVENT_CELLS,
)


def _year_cells(
    inputs: ReportInputs, name: str, request: ReportRequest, year: int, *, scoped: bool = True
) -> ir.Table:
    table = cells(inputs, name, request, scoped=scoped)
    return table.filter(table.year == year)


def observed_expected(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], measure, member_months, risk_score, observed, expected, oe, lower_95, upper_95, lower_998,
    upper_998, flag`` for cost (dollars; no funnel limits) and each of :data:`OE_EVENTS` (counts)."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    peers = _year_cells(inputs, MONTH_CELLS, request, year, scoped=False)
    base = months.group_by(key).aggregate(
        member_months=months.member_months.sum(), risk_sum=months.risk_sum.sum()
    )
    peer_base = peers.aggregate(peer_mm=peers.member_months.sum(), peer_risk_sum=peers.risk_sum.sum())
    events = _year_cells(inputs, EVENT_CELLS, request, year)
    peer_events = _year_cells(inputs, EVENT_CELLS, request, year, scoped=False)
    kinds = ibis.memtable({"measure": list(OE_EVENTS)})
    observed = events.group_by([key, events.event.name("measure")]).aggregate(observed=events.quantity.sum())
    peer_observed = peer_events.group_by(peer_events.event.name("measure")).aggregate(
        peer_observed=peer_events.quantity.sum()
    )
    grid = base.cross_join(kinds).cross_join(peer_base)
    table = tidy(tidy(grid.left_join(observed, [key, "measure"])).left_join(peer_observed, "measure"))
    obs = table.observed.fill_null(0).cast("float64")
    expected = (
        table.peer_observed.fill_null(0).cast("float64") / table.peer_risk_sum.nullif(0) * table.risk_sum
    )
    oe = obs / expected.nullif(0)
    root = expected.sqrt().nullif(0)
    counts = table.select(
        key,
        "measure",
        "member_months",
        risk_score=(table.risk_sum / table.member_months.cast("float64").nullif(0)).round(3),
        observed=obs,
        expected=expected.round(2),
        oe=oe.round(3),
        lower_95=(1 - Z95 / root).round(3),
        upper_95=(1 + Z95 / root).round(3),
        lower_998=(1 - Z998 / root).round(3),
        upper_998=(1 + Z998 / root).round(3),
        flag=ibis.cases((oe > 1 + Z998 / root, "high"), (oe < 1 - Z998 / root, "low"), else_=""),
    )
    spend = _year_cells(inputs, SPENDING_CELLS, request, year)
    cents = spend.group_by(key).aggregate(cents=spend.cents.sum())
    peer_spend = _year_cells(inputs, SPENDING_CELLS, request, year, scoped=False)
    peer_cents = peer_spend.aggregate(peer_cents=peer_spend.cents.sum())
    cost = tidy(base.left_join(cents, key)).cross_join(peer_cents).cross_join(peer_base)
    observed_dollars = cost.cents.fill_null(0).cast("float64") / 100
    # expected = peer PMPM x (group risk / peer risk) x member months = peer $ / peer risk-months x group risk-months
    expected_dollars = cost.peer_cents.cast("float64") / 100 / cost.peer_risk_sum.nullif(0) * cost.risk_sum
    cost_oe = observed_dollars / expected_dollars.nullif(0)
    costs = cost.select(
        key,
        measure=ibis.literal("cost"),
        member_months=cost.member_months,
        risk_score=(cost.risk_sum / cost.member_months.cast("float64").nullif(0)).round(3),
        observed=observed_dollars.round(2),
        expected=expected_dollars.round(2),
        oe=cost_oe.round(3),
        lower_95=ibis.null("float64"),
        upper_95=ibis.null("float64"),
        lower_998=ibis.null("float64"),
        upper_998=ibis.null("float64"),
        flag=ibis.literal(""),
    )
    return costs.union(counts, distinct=False)


def site_of_service(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], site, lines, spending, share_of_lines``: professional claim lines in the group's eligible months
    by place-of-service category (CMS Place of Service code set), from the ``professional_months`` mart (built
    from the claims when the run folder lacks it)."""
    key = group_column(request)
    scoped = _year_cells(inputs, PROFESSIONAL_CELLS, request, year)
    by = scoped.group_by([key, "site"]).aggregate(lines=scoped.lines.sum(), cents=scoped.cents.sum())
    totals = by.group_by(key).aggregate(_all=by.lines.sum())
    by = by.inner_join(totals, key)
    return by.select(
        key, "site", "lines", spending=from_cents(by.cents), share_of_lines=ratio(by.lines, by._all, 4)
    )


@register(
    "variation",
    "Care variation",
    "Each group (NPI, TIN or entity) against peers, risk adjusted: observed/expected cost, admissions, ED visits "
    "and imaging with funnel-plot control limits (95 % and 99.8 %; only points outside 99.8 % are flagged), and "
    "site of service of professional services (office, outpatient hospital, ASC, ...).",
    needs=(*NEEDS, "medical_claims", PROFESSIONAL_MONTHS, PROFESSIONAL_CELLS),
)
def variation_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    threshold = request.suppress_below
    oe = observed_expected(inputs, request, year)
    oe = oe.mutate(members_small=ibis.ifelse(oe.measure == "cost", 0, oe.observed.cast("int64")))
    oe = suppress(oe, threshold, ["members_small"], ["observed", "expected", "oe"]).drop("members_small")
    return ReportOutput(
        tables={
            "observed_expected": oe.order_by(["measure", key]),
            "site_of_service": suppress(
                site_of_service(inputs, request, year), threshold, ["lines"], ["spending", "share_of_lines"]
            ).order_by([key, "site"]),
        },
        charts={
            "funnel": {
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "title": "O/E against expected events (funnel)",
                "data": {"name": "observed_expected"},
                "transform": [{"filter": "datum.measure != 'cost'"}],
                "layer": [
                    {
                        "mark": "point",
                        "encoding": {
                            "x": {"field": "expected", "type": "quantitative"},
                            "y": {"field": "oe", "type": "quantitative"},
                            "color": {"field": "flag", "type": "nominal"},
                            "shape": {"field": "measure", "type": "nominal"},
                        },
                    },
                    {
                        "mark": "line",
                        "encoding": {
                            "x": {"field": "expected", "type": "quantitative"},
                            "y": {"field": "upper_998", "type": "quantitative"},
                        },
                    },
                    {
                        "mark": "line",
                        "encoding": {
                            "x": {"field": "expected", "type": "quantitative"},
                            "y": {"field": "lower_998", "type": "quantitative"},
                        },
                    },
                ],
            },
            "site_of_service": bar_chart(
                "site_of_service", "site", "share_of_lines", color=key, title="site of service"
            ),
        },
        notes=[
            f"period {year}; expected = peer rate per unit of risk x the group's risk-weighted member-months; "
            "peers = every member of the run",
            f"funnel limits 1 ± z/√E (z = {Z95}, {Z998}; normal approximation to Poisson); flag = outside 99.8 %",
            *scope_note(request),
            *suppression_note(request),
        ],
    )


def card_rows(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """One row per NPI of ``request``'s scope: members, member-months, PMPM, risk, cost O/E, admissions / ED
    visits / imaging per 1,000."""
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    persons = _year_cells(inputs, PERSON_CELLS, request, year)
    base = months.group_by(["npi", "tin"]).aggregate(
        member_months=months.member_months.sum(), risk_sum=months.risk_sum.sum()
    )
    members = persons.group_by(["npi", "tin"]).aggregate(members=persons.person_id.nunique())
    base = tidy(members.inner_join(base, ["npi", "tin"]))
    spend = _year_cells(inputs, SPENDING_CELLS, request, year)
    cents = spend.group_by(["npi", "tin"]).aggregate(cents=spend.cents.sum())
    events = _year_cells(inputs, EVENT_CELLS, request, year)
    counted = events.group_by(["npi", "tin"]).aggregate(
        **{f"{e}s": events.quantity.sum(where=events.event == e) for e in OE_EVENTS}
    )
    peers = _year_cells(inputs, MONTH_CELLS, request, year, scoped=False)
    peer_spend = _year_cells(inputs, SPENDING_CELLS, request, year, scoped=False)
    peer = peers.aggregate(peer_risk_sum=peers.risk_sum.sum()).cross_join(
        peer_spend.aggregate(peer_cents=peer_spend.cents.sum())
    )
    table = tidy(tidy(base.left_join(cents, ["npi", "tin"])).left_join(counted, ["npi", "tin"])).cross_join(
        peer
    )
    expected = table.peer_cents.cast("float64") / table.peer_risk_sum.nullif(0) * table.risk_sum
    return table.select(
        "npi",
        "tin",
        "members",
        "member_months",
        pmpm=pmpm(table.cents.fill_null(0), table.member_months),
        risk_score=(table.risk_sum / table.member_months.cast("float64").nullif(0)).round(3),
        cost_oe=(table.cents.fill_null(0).cast("float64") / expected.nullif(0)).round(3),
        admissions_per_1000=per_1000(table.admissions.fill_null(0), table.member_months),
        ed_visits_per_1000=per_1000(table.ed_visits.fill_null(0), table.member_months),
        imaging_per_1000=per_1000(table.imagings.fill_null(0), table.member_months),
    )


CARD_MEASURES = ("pmpm", "cost_oe", "admissions_per_1000", "ed_visits_per_1000", "imaging_per_1000")


@register(
    "report_cards",
    "Clinician report cards",
    "Per NPI (the attributed clinician): panel, cost PMPM and risk-adjusted O/E, admissions, ED visits and imaging "
    "per 1,000, and the percentile of each among every NPI of the run; peers are shown blinded (quartiles only), "
    "the cards open (every NPI) when the report is not restricted to a provider.",
    needs=NEEDS,
)
def report_cards(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    year = report_year(inputs, request)
    threshold = request.suppress_below
    own = card_rows(inputs, request, year)
    everyone = card_rows(inputs, replace(request, scope=None), year)
    parts = []
    for measure in CARD_MEASURES:
        mine = own.select("npi", "tin", value=own[measure].cast("float64"), _peer=ibis.literal(0))
        peer_values = everyone.filter(everyone[measure].notnull())
        peer_values = peer_values.select(
            npi=ibis.null("string"),
            tin=ibis.null("string"),
            value=peer_values[measure].cast("float64"),
            _peer=ibis.literal(1),
        )
        # the NPI's values among the run's, sorted (an NPI before the peers of its own value): the peers
        # counted up to an NPI's row are those with a lower value (a sort, not every pair of NPIs)
        both = mine.union(peer_values, distinct=False)
        both = both.mutate(_below=both._peer.cumsum(order_by=[both.value, both._peer]))
        ranked = both.filter(both._peer == 0).cross_join(peer_values.aggregate(_n=peer_values.count()))
        parts.append(
            ranked.select(
                "npi",
                "tin",
                measure=ibis.literal(measure),
                value=ranked.value,
                percentile=ibis.ifelse(
                    ranked.value.isnull(), ibis.null("float64"), ratio(ranked._below * 100, ranked._n, 1)
                ),
            )
        )
    ranks = parts[0].union(*parts[1:], distinct=False)
    quartiles = []
    for measure in CARD_MEASURES:
        column = everyone[measure].cast("float64")
        quartiles.append(
            everyone.aggregate(
                measure=ibis.literal(measure),
                npis=everyone.npi.nunique(),
                p25=column.quantile(0.25),
                median=column.quantile(0.5),
                p75=column.quantile(0.75),
            )
        )
    peers = quartiles[0].union(*quartiles[1:], distinct=False)
    cards = suppress(own, threshold, ["members"], ["member_months", *CARD_MEASURES, "risk_score"])
    return ReportOutput(
        tables={
            "cards": cards.order_by(["tin", "npi"]),
            "percentiles": ranks.order_by(["npi", "measure"]),
            "peers": peers,
        },
        charts={"cards": bar_chart("cards", "npi", "pmpm", color="tin", title="PMPM by clinician")},
        notes=[
            f"period {year}; members grouped by their attributed clinician (NPI) whatever --by says",
            "percentile = share of the run's NPIs with a lower value; peers blinded: quartiles of every NPI",
            *scope_note(request),
            *suppression_note(request),
        ],
    )


@register(
    "cost_opportunity",
    "Cost opportunity",
    "Per group and service category: bringing the group's PMPM to the peer median saves (PMPM - peer median) x "
    "member-months; and what the total does to this contract's settlement (the settlement re-run with the "
    "changed expenditure).",
    needs=NEEDS,
)
def cost_opportunity_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    threshold = request.suppress_below
    columns = ["entity_id"] if key == "entity_id" else ["entity_id", key]

    def by_category(chosen: ReportRequest, cols: list[str], *, scoped: bool) -> ir.Table:
        months = _year_cells(inputs, MONTH_CELLS, chosen, year, scoped=scoped)
        base = months.group_by(cols).aggregate(member_months=months.member_months.sum())
        spend = _year_cells(inputs, SPENDING_CELLS, chosen, year, scoped=scoped)
        cents = spend.group_by([*cols, "service_category"]).aggregate(cents=spend.cents.sum())
        cats = spend.select("service_category").distinct()
        grid = base.cross_join(cats)
        joined = tidy(grid.left_join(cents, [*cols, "service_category"]))
        return joined.mutate(cents=joined.cents.fill_null(0))

    mine = by_category(request, columns, scoped=True)
    everyone = by_category(request, [key], scoped=False)
    everyone = everyone.mutate(pmpm_value=everyone.cents.cast("float64") / everyone.member_months.nullif(0))
    median = everyone.group_by("service_category").aggregate(
        peer_median_pmpm=everyone.pmpm_value.quantile(0.5), peer_groups=everyone[key].nunique()
    )
    table = tidy(mine.left_join(median, "service_category"))
    # in whole cents: the group's PMPM (half up) against the peer median PMPM (rounded to the cent)
    own_cents = div_round_half_up(table.cents, table.member_months)
    median_cents = table.peer_median_pmpm.round(0).cast("int64")
    gap = own_cents - median_cents
    saving_cents = ibis.ifelse(gap > 0, gap * table.member_months, 0).cast("int64")
    table = table.select(
        *columns,
        "service_category",
        "member_months",
        pmpm=from_cents(own_cents),
        peer_median_pmpm=from_cents(median_cents),
        peer_groups=table.peer_groups,
        opportunity=from_cents(saving_cents),
    )
    table = suppress(table, threshold, ["member_months"], ["pmpm", "opportunity"])
    return ReportOutput(
        tables={"opportunity": table.order_by([*columns, "service_category"])},
        charts={
            "opportunity": bar_chart(
                "opportunity",
                "service_category",
                "opportunity",
                color=key,
                title="savings at the peer median",
            )
        },
        notes=[
            f"period {year}; opportunity = (group PMPM - peer median PMPM of the run's groups) x member-months, "
            "when positive; peer medians are of unadjusted PMPMs",
            *scope_note(request),
            *suppression_note(request),
        ],
    )
