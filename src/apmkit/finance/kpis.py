"""Practice-finance KPIs as ibis expressions over whole tables (DuckDB and Spark alike).

Definitions (docs/finance.md gives the sources and worked examples):

- **collections** = payer payments + patient payments.
- **gross collection rate** = collections / gross charges.
- **net collection rate** (MGMA) = collections / (charges - contractual adjustments) = collections / allowed.
- **denial rate** = denied claim lines / claim lines; **denial rate by reason** = denied lines with that CARC (or
  RARC) / all claim lines (HFMA's claim-denial rate, counted by line).
- **payer mix** = a payer's collections / all collections; **revenue by payer** = collections by payer.
- **visits** = the visit counts given (``visit_counts``), else distinct claims (one claim per encounter).
- **operating margin** = (revenue - operating expenses) / revenue (general ledger).
- **overhead ratio** (MGMA) = operating expenses other than provider compensation / revenue.
- **cost per visit** = operating expenses / visits.
- **value-based revenue share** = revenue from value-based arrangements / revenue.
- **A/R** at an as-of date = allowed (else billed) - payer and patient payments posted by then - other
  adjustments, over lines with a service date on or before it; **aging** by days since the service date
  (0-30, 31-60, 61-90, 91-120, 121+).
- **days in A/R** = A/R / average daily gross charges of the ``window_days`` before the as-of date (HFMA/MGMA;
  90 days by default); **A/R turnover** = 365 / days in A/R (times a year).

Money is summed in integer cents; every ratio is an integer half-up division scaled to 4 decimals
(:func:`apmkit.money.div_round_half_up`), so both engines agree to the last digit.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents, to_cents

DIMENSIONS = ("all", "month", "payer", "location", "clinician")
RATIO = "decimal(18, 4)"
AGING_BUCKETS = (
    (0, 30, "0-30"),
    (31, 60, "31-60"),
    (61, 90, "61-90"),
    (91, 120, "91-120"),
    (121, None, "121+"),
)


def ratio(numerator: ir.IntegerValue, denominator: ir.IntegerValue, places: int = 4) -> ir.DecimalValue:
    """``numerator / denominator`` rounded half-up to ``places`` decimals, exactly; NULL when the denominator is 0."""
    scale = 10**places
    scaled = div_round_half_up(numerator * scale, denominator)
    wide = f"decimal(38, {places})"
    return (scaled.cast(wide) * ibis.literal(Decimal(1).scaleb(-places), type=wide)).cast(
        f"decimal(18, {places})"
    )


def _month_key(day: ir.DateValue) -> ir.StringValue:
    month = day.month().cast("string")
    return day.year().cast("string").concat("-", ibis.ifelse(day.month() < 10, "0" + month, month))


def _key(table: ir.Table, dimension: str, date_column: str) -> ir.StringValue:
    if dimension == "all":
        return ibis.literal("all")
    if dimension == "month":
        return _month_key(table[date_column])
    column = {"payer": "payer", "location": "location", "clinician": "clinician"}[dimension]
    if column not in table.columns:
        return ibis.null("string")
    return table[column].cast("string").fill_null("(none)")


def billing_measures(lines: ir.Table, dimension: str) -> ir.Table:
    """Charges, allowed, payments, visits and denials of billing lines by ``dimension``."""
    keyed = lines.mutate(
        _key=_key(lines, dimension, "service_date"),
        _billed=to_cents(lines.billed_amount),
        _allowed=to_cents(lines.allowed_amount),
        _paid=to_cents(lines.paid_amount.fill_null(0)),
        _patient=to_cents(lines.patient_paid_amount.fill_null(0)),
        _denied=lines.denied.fill_null(False),
    )
    grouped = keyed.group_by(dimension_value=keyed._key).aggregate(
        billed=keyed._billed.sum(),
        allowed=keyed._allowed.sum(),
        payer_paid=keyed._paid.sum(),
        patient_paid=keyed._patient.sum(),
        visits=keyed.claim_id.nunique(),
        claim_lines=keyed.count(),
        denied_lines=keyed._denied.cast("int64").sum(),
        denied_billed=ibis.ifelse(keyed._denied, keyed._billed, 0).sum(),
        value_based_paid=ibis.ifelse(keyed.value_based.fill_null(False), keyed._paid, 0).sum(),
    )
    return grouped.mutate(collections=grouped.payer_paid + grouped.patient_paid)


def ledger_measures(ledger: ir.Table, dimension: str) -> ir.Table:
    """Revenue, operating expenses, provider compensation and value-based revenue by ``dimension``."""
    cents = to_cents(ledger.amount)
    is_revenue = ledger.account_type == "revenue"
    is_expense = ledger.account_type == "expense"
    keyed = ledger.mutate(_key=_key(ledger, dimension, "posting_date"), _cents=cents)
    return keyed.group_by(dimension_value=keyed._key).aggregate(
        revenue=ibis.ifelse(is_revenue, keyed._cents, 0).sum(),
        operating_expenses=ibis.ifelse(is_expense, keyed._cents, 0).sum(),
        provider_compensation=ibis.ifelse(
            is_expense & (keyed.expense_class == "provider_compensation"), keyed._cents, 0
        ).sum(),
        value_based_revenue=ibis.ifelse(
            is_revenue & keyed.value_based.fill_null(False), keyed._cents, 0
        ).sum(),
    )


def kpis(
    lines: ir.Table | None, ledger: ir.Table | None, dimension: str, visits: ir.Table | None = None
) -> ir.Table:
    """Every KPI of one dimension: one row per dimension value (``all`` gives one row).

    Either input may be None (a practice with only billing data, or only a ledger); the KPIs that need the
    missing one are NULL. Ledger KPIs are NULL for ``clinician`` (a ledger has no clinician) and for ``payer``
    unless the ledger carries payers. ``visits`` (a ``visit_counts`` table) replaces the claim count as the
    visit count wherever it has the dimension value.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {DIMENSIONS}")
    bill = billing_measures(lines, dimension) if lines is not None else None
    # A ledger has no clinician: the clinician view carries billing KPIs only.
    book = ledger_measures(ledger, dimension) if ledger is not None and dimension != "clinician" else None
    if bill is not None and book is not None:
        joined = bill.outer_join(book, bill.dimension_value == book.dimension_value)
        joined = joined.mutate(
            dimension_value=ibis.coalesce(joined.dimension_value, joined.dimension_value_right)
        ).drop("dimension_value_right")
    elif bill is not None:
        joined = bill.mutate(
            revenue=ibis.null("int64"),
            operating_expenses=ibis.null("int64"),
            provider_compensation=ibis.null("int64"),
            value_based_revenue=ibis.null("int64"),
        )
    elif book is not None:
        joined = book.mutate(
            **{
                name: ibis.null("int64")
                for name in (
                    "billed",
                    "allowed",
                    "payer_paid",
                    "patient_paid",
                    "visits",
                    "claim_lines",
                    "denied_lines",
                    "denied_billed",
                    "value_based_paid",
                    "collections",
                )
            }
        )
    else:
        raise ValueError("kpis needs billing lines, a ledger or both")
    if visits is not None:
        keyed = visits.mutate(_key=_key(visits, dimension, "visit_month"))
        counted = keyed.group_by(_visit_key=keyed._key).aggregate(_counted=keyed.visits.sum().cast("int64"))
        joined = joined.left_join(counted, joined.dimension_value == counted._visit_key)
        joined = joined.mutate(visits=ibis.coalesce(joined._counted, joined.visits.cast("int64"))).drop(
            "_counted", "_visit_key"
        )
    total_collections = joined.collections.sum().over(ibis.window())
    t = joined
    return t.select(
        dimension=ibis.literal(dimension),
        dimension_value=t.dimension_value,
        billed=from_cents(t.billed),
        allowed=from_cents(t.allowed),
        payer_paid=from_cents(t.payer_paid),
        patient_paid=from_cents(t.patient_paid),
        collections=from_cents(t.collections),
        visits=t.visits.cast("int64"),
        claim_lines=t.claim_lines.cast("int64"),
        denied_lines=t.denied_lines.cast("int64"),
        gross_collection_rate=ratio(t.collections, t.billed),
        net_collection_rate=ratio(t.collections, t.allowed),
        denial_rate=ratio(t.denied_lines, t.claim_lines),
        denial_dollar_rate=ratio(t.denied_billed, t.billed),
        payer_mix=ratio(t.collections, total_collections) if dimension == "payer" else ibis.null(RATIO),
        revenue=from_cents(t.revenue),
        operating_expenses=from_cents(t.operating_expenses),
        operating_margin=ratio(t.revenue - t.operating_expenses, t.revenue),
        overhead_ratio=ratio(t.operating_expenses - t.provider_compensation, t.revenue),
        cost_per_visit=from_cents(div_round_half_up(t.operating_expenses, t.visits.cast("int64"))),
        value_based_revenue_share=ratio(t.value_based_revenue, t.revenue),
    ).order_by("dimension_value")


def denials_by_reason(lines: ir.Table, code: str = "carc") -> ir.Table:
    """Denied lines by reason code (``carc`` or ``rarc``) and their share of all claim lines."""
    total = lines.count()
    denied = lines.filter(lines.denied.fill_null(False))
    reason = denied[code].fill_null("(none)")
    grouped = denied.group_by(reason_code=reason).aggregate(
        denied_lines=denied.count(), denied_billed=to_cents(denied.billed_amount).sum()
    )
    return grouped.select(
        code_type=ibis.literal(code.upper()),
        reason_code=grouped.reason_code,
        denied_lines=grouped.denied_lines.cast("int64"),
        denied_billed=from_cents(grouped.denied_billed),
        denial_rate=ratio(grouped.denied_lines.cast("int64"), total.as_scalar()),
    ).order_by([ibis.desc("denied_lines"), "reason_code"])


def _balances(lines: ir.Table, as_of: date) -> ir.Table:
    day = ibis.literal(as_of, type="date")
    seen = lines.filter(lines.service_date <= day)
    posted = seen.paid_date.isnull() | (seen.paid_date <= day)
    due = to_cents(ibis.coalesce(seen.allowed_amount, seen.billed_amount))
    paid = ibis.ifelse(
        posted, to_cents(seen.paid_amount.fill_null(0)) + to_cents(seen.patient_paid_amount.fill_null(0)), 0
    )
    balance = due - paid - to_cents(seen.adjustment_amount.fill_null(0))
    return seen.mutate(_balance=balance, _age=day.delta(seen.service_date, unit="day"))


def ar_aging(lines: ir.Table, as_of: date) -> ir.Table:
    """Outstanding A/R at ``as_of`` by age bucket (days since service), with each bucket's share."""
    balances = _balances(lines, as_of)
    open_lines = balances.filter(balances._balance != 0)
    cases = [
        (
            (open_lines._age >= low) & (open_lines._age <= high)
            if high is not None
            else (open_lines._age >= low),
            label,
        )
        for low, high, label in AGING_BUCKETS
    ]
    order = [(condition, index) for index, (condition, _label) in enumerate(cases)]
    bucketed = open_lines.mutate(
        bucket=ibis.cases(*cases, else_="121+"), bucket_order=ibis.cases(*order, else_=len(cases) - 1)
    )
    grouped = bucketed.group_by(["bucket_order", "bucket"]).aggregate(
        balance=bucketed._balance.sum(), lines=bucketed.count()
    )
    total = grouped.balance.sum().over(ibis.window())
    return grouped.select(
        bucket=grouped.bucket,
        lines=grouped.lines.cast("int64"),
        balance=from_cents(grouped.balance),
        share=ratio(grouped.balance, total),
        bucket_order=grouped.bucket_order.cast("int64"),
    ).order_by("bucket_order")


def days_in_ar(lines: ir.Table, as_of: date, window_days: int = 90) -> ir.Table:
    """A/R at ``as_of``, average daily charges of the prior ``window_days``, days in A/R and A/R turnover."""
    balances = _balances(lines, as_of)
    start = as_of - timedelta(days=window_days)
    window = lines.filter(
        (lines.service_date > ibis.literal(start, type="date"))
        & (lines.service_date <= ibis.literal(as_of, type="date"))
    )
    ar = balances.aggregate(ar=balances._balance.sum())
    charges = window.aggregate(charges=to_cents(window.billed_amount).sum())
    joined = ar.cross_join(charges)
    ar_cents = joined.ar.fill_null(0)
    charge_cents = joined.charges.fill_null(0)
    # days = A/R / (charges / window) = A/R x window / charges
    days = ratio(ar_cents * window_days, charge_cents, places=1)
    return joined.select(
        as_of=ibis.literal(as_of, type="date"),
        window_days=ibis.literal(window_days, type="int64"),
        accounts_receivable=from_cents(ar_cents),
        window_charges=from_cents(charge_cents),
        average_daily_charges=from_cents(div_round_half_up(charge_cents, window_days)),
        days_in_ar=days,
        ar_turnover=ratio(charge_cents * 365, ar_cents * window_days, places=2),
    )
