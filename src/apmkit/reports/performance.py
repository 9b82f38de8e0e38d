"""The performance report: cost against the benchmark and the contract's terms, spending PMPM by service
category (professional by specialty, Part D), year to date and projected to year end, and the monthly trend
against the baseline years."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents, to_cents
from apmkit.reports.cells import (
    CELL,
    MONTH_CELLS,
    PERSON_CELLS,
    PHARMACY_CELLS,
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
    line_chart,
    ratio,
    register,
    report_year,
    scope_note,
    suppress,
    suppression_note,
    tidy,
)
from apmkit.reports.marts import (
    PHARMACY_MONTHS,
    PROFESSIONAL_MONTHS,
    month_window,
    whole_months,
)
from apmkit.reports.measures import data_through, months_with_risk, pmpm


def _year_dates(inputs: ReportInputs, year: int) -> tuple[date, date]:
    if year == inputs.run.year:
        return inputs.run.start, inputs.run.end
    return date(year, 1, 1), date(year, 12, 31)


def pharmacy_spending(inputs: ReportInputs, start: date, end: date) -> ir.Table:
    """``member_id, month, service_category ('part_d'), cents``: pharmacy spending dispensed in ``start..end``
    (voids dropped), from the ``pharmacy_months`` mart when the window is whole months, else from the claims."""
    if inputs.has(PHARMACY_MONTHS) and whole_months(start, end):
        mart = month_window(inputs[PHARMACY_MONTHS], start, end)
        return mart.select(
            member_id=mart.member_id.cast("string"),
            month=mart.month.cast("date"),
            service_category=ibis.literal("part_d"),
            cents=mart.cents.cast("int64"),
        )
    rx = inputs["pharmacy_claims"]
    rx = rx.filter(rx.adjustment_type.fill_null("original") != "void")
    rx = rx.filter(rx.dispensing_date.cast("date").between(ibis.literal(start), ibis.literal(end)))
    return rx.select(
        member_id=rx.member_id.cast("string"),
        month=rx.dispensing_date.truncate("M").cast("date"),
        service_category=ibis.literal("part_d"),
        cents=to_cents(rx[inputs.run.cost_basis].fill_null(0)),
    )


def _year_cells(
    inputs: ReportInputs, name: str, request: ReportRequest, year: int, *, scoped: bool = True
) -> ir.Table:
    table = cells(inputs, name, request, scoped=scoped)
    return table.filter(table.year == year)


def cost_table(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], payer, members, member_months, spending, pmpm, risk_score, risk_adjusted_pmpm, peer_pmpm``."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    persons = _year_cells(inputs, PERSON_CELLS, request, year)
    spend = _year_cells(inputs, SPENDING_CELLS, request, year)
    cents = spend.group_by([key, "payer"]).aggregate(cents=spend.cents.sum())
    base = months.group_by([key, "payer"]).aggregate(
        member_months=months.member_months.sum(), _risk_sum=months.risk_sum.sum()
    )
    members = persons.group_by([key, "payer"]).aggregate(members=persons.person_id.nunique())
    base = tidy(base.inner_join(members, [key, "payer"]))
    joined = tidy(base.left_join(cents, [key, "payer"]))
    joined = joined.mutate(cents=joined.cents.fill_null(0))
    peers = _year_cells(inputs, MONTH_CELLS, request, year, scoped=False)
    peer_spend = _year_cells(inputs, SPENDING_CELLS, request, year, scoped=False)
    peer_cents = peer_spend.group_by("payer").aggregate(peer_cents=peer_spend.cents.sum())
    peer_base = peers.group_by("payer").aggregate(
        peer_mm=peers.member_months.sum(), peer_risk_sum=peers.risk_sum.sum()
    )
    peer = tidy(peer_base.left_join(peer_cents, "payer"))
    joined = tidy(joined.left_join(peer, "payer"))
    risk = ratio(joined._risk_sum, joined.member_months, 6)
    peer_risk = ratio(joined.peer_risk_sum, joined.peer_mm, 6)
    group_pmpm = pmpm(joined.cents, joined.member_months)
    table = joined.select(
        key,
        "payer",
        "members",
        "member_months",
        spending=from_cents(joined.cents),
        pmpm=group_pmpm,
        risk_score=risk.round(3),
        # expected = peer PMPM x (risk / peer risk); risk-adjusted PMPM = PMPM x peer risk / risk
        risk_adjusted_pmpm=(group_pmpm.cast("float64") * peer_risk / risk.nullif(0)).round(2),
        peer_pmpm=pmpm(joined.peer_cents.fill_null(0), joined.peer_mm),
        peer_risk_score=peer_risk.round(3),
    )
    if year == inputs.run.year and inputs.has("benchmark_entities"):
        bench = benchmark_for_groups(inputs, request, year)
        table = tidy(table.left_join(bench, [key, "payer"]))
        table = table.mutate(
            variance_pmpm=table.benchmark_pmpm - table.pmpm,
            savings_rate=ratio(table.benchmark_pmpm - table.pmpm, table.benchmark_pmpm, 4),
        )
    return table


def benchmark_for_groups(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], payer, benchmark_pmpm``: the member-month-weighted benchmark PMPM of the entities the group's
    members are attributed to (an entity's own benchmark when grouped by entity)."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    bench = inputs["benchmark_entities"]
    bench = bench.select(entity_id=bench.entity_id.cast("string"), bench_cents=to_cents(bench.benchmark_pmpm))
    joined = months.inner_join(bench, "entity_id")
    totals = joined.group_by([key, "payer"]).aggregate(
        _bench=(joined.bench_cents * joined.member_months).sum(), _mm=joined.member_months.sum()
    )
    return totals.select(
        key, "payer", benchmark_pmpm=from_cents(div_round_half_up(totals._bench, totals._mm))
    )


def category_table(inputs: ReportInputs, request: ReportRequest, year: int) -> tuple[ir.Table, list[str]]:
    """``[group], service_category, spending, pmpm, peer_pmpm``: the spending mart's categories, plus Part D
    from the pharmacy claims when the contract's definitions leave pharmacy out (said in a note)."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    peers = _year_cells(inputs, MONTH_CELLS, request, year, scoped=False)
    notes: list[str] = []
    spend = _year_cells(inputs, SPENDING_CELLS, request, year)
    spend = spend.select(key, "service_category", cents=spend.cents.cast("int64"))
    peer_spend = _year_cells(inputs, SPENDING_CELLS, request, year, scoped=False)
    peer_spend = peer_spend.select("service_category", cents=peer_spend.cents.cast("int64"))
    start, end = _year_dates(inputs, year)
    if inputs.has("pharmacy_claims") and not inputs.run.include_pharmacy:
        rx = part_d_cells(inputs, request, year, start, end)
        spend = spend.union(rx.select(key, "service_category", cents=rx.cents.cast("int64")), distinct=False)
        peer_rx = part_d_cells(inputs, request, year, start, end, scoped=False)
        # a peer member-month enrolled with several payers counts once (every payer: its first payer's row)
        once = peer_rx.cents if request.payer is not None else peer_rx.cents_once
        peer_spend = peer_spend.union(
            peer_rx.select("service_category", cents=once.cast("int64")), distinct=False
        )
        notes.append(
            "part_d: pharmacy claims in eligible months, outside the contract's definitions (which leave pharmacy out)"
        )
    mm = months.group_by(key).aggregate(member_months=months.member_months.sum())
    by_cat = spend.group_by([key, "service_category"]).aggregate(cents=spend.cents.sum())
    by_cat = by_cat.inner_join(mm, key)
    peer_cat = peer_spend.group_by("service_category").aggregate(peer_cents=peer_spend.cents.sum())
    peer_cat = peer_cat.cross_join(peers.aggregate(peer_mm=peers.member_months.sum()))
    by_cat = tidy(by_cat.left_join(peer_cat, "service_category"))
    table = by_cat.select(
        key,
        "service_category",
        "member_months",
        spending=from_cents(by_cat.cents),
        pmpm=pmpm(by_cat.cents, by_cat.member_months),
        peer_pmpm=from_cents(div_round_half_up(by_cat.peer_cents.fill_null(0), by_cat.peer_mm)),
    )
    return table, notes


def part_d_cells(
    inputs: ReportInputs, request: ReportRequest, year: int, start: date, end: date, *, scoped: bool = True
) -> ir.Table:
    """``CELL, service_category ('part_d'), cents, cents_once``: pharmacy spending dispensed in ``start..end`` in
    the eligible member-months of ``year`` (the ``cells_pharmacy`` aggregate when the window is whole months,
    else summed from :func:`pharmacy_spending`)."""
    if whole_months(start, end) and (inputs.has(PHARMACY_CELLS) or inputs.has(PHARMACY_MONTHS)):
        rx = month_window(_year_cells(inputs, PHARMACY_CELLS, request, year, scoped=scoped), start, end)
        return rx.mutate(service_category=ibis.literal("part_d"))
    fills = pharmacy_spending(inputs, start, end)
    months = months_with_risk(inputs, request, scoped=scoped)
    months = months.filter(months.year == year).select("member_id", *CELL)
    months = months.mutate(
        _first=ibis.row_number().over(group_by=[months.member_id, months.month], order_by=[months.payer]) == 0
    )
    joined = tidy(fills.inner_join(months, ["member_id", "month"]))
    return joined.group_by([*CELL, "service_category"]).aggregate(
        cents=joined.cents.sum().cast("int64"),
        cents_once=joined.cents.sum(where=joined._first).fill_null(0).cast("int64"),
    )


def specialty_table(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """``[group], specialty, spending, pmpm``: professional claim lines in the group's eligible months, by the
    rendering provider's CMS specialty code (the contract's cost basis, voids dropped)."""
    key = group_column(request)
    months = _year_cells(inputs, MONTH_CELLS, request, year)
    start, end = _year_dates(inputs, year)
    if whole_months(start, end):
        lines = month_window(_year_cells(inputs, PROFESSIONAL_CELLS, request, year), start, end)
        scoped = lines.select(key, "specialty", "lines", "cents")
    else:
        claims = inputs["medical_claims"]
        claims = claims.filter(
            (claims.claim_type == "professional") & (claims.adjustment_type.fill_null("original") != "void")
        )
        day = ibis.coalesce(claims.service_date, claims.claim_from_date).cast("date")
        claims = claims.filter(day.between(ibis.literal(start), ibis.literal(end)))
        claim_lines = claims.select(
            member_id=claims.member_id.cast("string"),
            month=ibis.coalesce(claims.service_date, claims.claim_from_date).truncate("M").cast("date"),
            specialty=claims.rendering_specialty.fill_null("(unknown)"),
            lines=ibis.literal(1, type="int64"),
            cents=to_cents(claims[inputs.run.cost_basis].fill_null(0)),
        )
        member_months = months_with_risk(inputs, request)
        member_months = member_months.filter(member_months.year == year)
        scoped = claim_lines.inner_join(
            member_months.select("member_id", "month", key), ["member_id", "month"]
        )
    mm = months.group_by(key).aggregate(member_months=months.member_months.sum())
    by = scoped.group_by([key, "specialty"]).aggregate(cents=scoped.cents.sum(), lines=scoped.lines.sum())
    by = by.inner_join(mm, key)
    return by.select(
        key,
        "specialty",
        "lines",
        spending=from_cents(by.cents),
        pmpm=pmpm(by.cents, by.member_months),
    )


def ytd_table(inputs: ReportInputs, request: ReportRequest, year: int) -> ir.Table:
    """Year to date through the last month with data, and projected to year end (YTD spending x 12 / months
    elapsed; no completion factor)."""
    key = group_column(request)
    start, _ = _year_dates(inputs, year)
    months = _year_cells(inputs, MONTH_CELLS, request, year).cross_join(data_through(inputs, year))
    months = months.filter(months.month <= months.through)
    spend = _year_cells(inputs, SPENDING_CELLS, request, year).cross_join(data_through(inputs, year))
    spend = spend.filter(spend.month <= spend.through)
    cents = spend.group_by([key, "payer"]).aggregate(cents=spend.cents.sum())
    base = months.group_by([key, "payer"]).aggregate(
        member_months=months.member_months.sum(), through=months.through.max()
    )
    joined = tidy(base.left_join(cents, [key, "payer"]))
    joined = joined.mutate(cents=joined.cents.fill_null(0))
    elapsed = ((joined.through.year() - start.year) * 12 + joined.through.month() - start.month + 1).cast(
        "int64"
    )
    return joined.select(
        key,
        "payer",
        "through",
        months_elapsed=elapsed,
        ytd_member_months=joined.member_months,
        ytd_spending=from_cents(joined.cents),
        ytd_pmpm=pmpm(joined.cents, joined.member_months),
        projected_spending=from_cents(div_round_half_up(joined.cents * 12, elapsed)),
    )


def trend_table(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """``[group], year, month, member_months, pmpm`` over every measured year (baseline years and period)."""
    key = group_column(request)
    months = cells(inputs, MONTH_CELLS, request)
    spend = cells(inputs, SPENDING_CELLS, request)
    cents = spend.group_by([key, "month"]).aggregate(cents=spend.cents.sum())
    base = months.group_by([key, "year", "month"]).aggregate(member_months=months.member_months.sum())
    joined = tidy(base.left_join(cents, [key, "month"]))
    joined = joined.mutate(cents=joined.cents.fill_null(0))
    return joined.select(
        key,
        "year",
        "month",
        "member_months",
        pmpm=pmpm(joined.cents, joined.member_months),
        baseline=ibis.ifelse(joined.year == inputs.run.year, "performance", "baseline"),
    ).order_by([key, "month"])


@register(
    "performance",
    "Performance: cost against benchmark and targets",
    "Spending PMPM per group and payer against the benchmark (savings rate), risk adjusted and against peers; "
    "by service category (inpatient, outpatient, professional by specialty, SNF, HHA, hospice, DME, Part D); "
    "year to date and projected to year end; monthly trend against the baseline years; the settlement's "
    "figures and quality populations per entity.",
    needs=(
        "attribution",
        "member_detail",
        "member_months",
        "enrollment",
        "expenditure",
        "risk_scores",
        "benchmark_entities",
        "summary",
        "quality_populations",
        "medical_claims",
        "pharmacy_claims",
        PROFESSIONAL_MONTHS,
        PHARMACY_MONTHS,
        "member_month_panel",
        MONTH_CELLS,
        PERSON_CELLS,
        SPENDING_CELLS,
        PROFESSIONAL_CELLS,
        PHARMACY_CELLS,
    ),
)
def performance_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    threshold = request.suppress_below
    cost = cost_table(inputs, request, year)
    derived = [
        c
        for c in (
            "spending",
            "pmpm",
            "risk_score",
            "risk_adjusted_pmpm",
            "benchmark_pmpm",
            "variance_pmpm",
            "savings_rate",
        )
        if c in cost.columns
    ]
    cost = suppress(cost, threshold, ["members"], [*derived, "member_months"])
    categories, notes = category_table(inputs, request, year)
    tables: dict[str, ir.Table] = {
        "cost": cost.order_by([key, "payer"]),
        "by_category": categories.order_by([key, "service_category"]),
        "professional_by_specialty": specialty_table(inputs, request, year).order_by([key, "specialty"]),
        "ytd": suppress(
            ytd_table(inputs, request, year),
            threshold,
            ["ytd_member_months"],
            ["ytd_spending", "ytd_pmpm", "projected_spending"],
        ).order_by([key, "payer"]),
        "trend": trend_table(inputs, request),
    }
    if request.by == "entity" and inputs.has("summary"):
        summary = inputs["summary"]
        members = cells(inputs, MONTH_CELLS, request).select("entity_id").distinct()
        kept = summary.filter(summary.entity_id.cast("string").isin(members.entity_id))
        tables["settlement"] = kept
        if inputs.has("quality_populations"):
            quality = inputs["quality_populations"]
            tables["quality"] = quality.filter(quality.entity_id.cast("string").isin(members.entity_id))
    elif inputs.has("quality_populations"):
        notes.append("quality populations are measured per entity: run with --by entity to see them")
    return ReportOutput(
        tables=tables,
        charts={
            "trend": line_chart(
                "trend", "month", "pmpm", color=key, title="PMPM by month (baseline and performance)"
            ),
            "by_category": bar_chart(
                "by_category", "service_category", "pmpm", color=key, title="PMPM by service category"
            ),
        },
        notes=[
            f"period {year}; dollars on the run's cost basis ({inputs.run.cost_basis}); PMPM = spending / eligible member-months",
            "risk-adjusted PMPM = PMPM x peer risk / group risk (docs/reference/analytics-definitions.md §4); "
            "peers = every member of the run (same payer filter)",
            "projected spending = YTD spending x 12 / months elapsed, no completion factor",
            *notes,
            *scope_note(request),
            *suppression_note(request),
        ],
    )
