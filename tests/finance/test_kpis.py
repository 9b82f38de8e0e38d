"""KPI formulas on hand-computed examples and on published worked examples.

Definitions: MGMA Cost and Revenue glossary (mgma.com/cost-rev-formulas): adjusted (net) FFS collection
percentage = net FFS revenue / adjusted FFS charges; gross collection percentage = net FFS revenue / gross
charges; days of charges in A/R = total A/R / (charges x 1/days). Published examples: net collection % =
$750,000 / ($1,000,000 - $200,000) = 93.75 % (Becker's, "How to spot weak billing collections performance");
days in A/R = $900,000 / ($600,000 / 30) = 45 days (MGMA days-in-A/R calculation example page).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.finance.kpis import ar_aging, days_in_ar, denials_by_reason, kpis
from apmkit.finance.schemas import BILLING
from apmkit.ingest.practice_finance import load_billing, load_ledger

FIN = Path(__file__).parent.parent / "fixtures" / "finance"


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> tuple[Any, Any]:
    bill = load_billing(engine, [FIN / "billing_example.csv"]).table
    book = load_ledger(engine, [FIN / "ledger_example.csv"]).table
    return bill, book


def _one(engine: Engine, expr: Any, key: str) -> dict[str, Any]:
    rows = {r["dimension_value"]: r for r in engine.to_arrow(expr).to_pylist()}
    return rows[key]


def test_practice_totals(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """Billing: charges 200+300+300+400+100+200 = 1,500; allowed 120+200+0+250+100+0 = 670; payer paid
    96+200+100 = 396 plus patient 24 = collections 420. Gross collection 420/1,500 = 0.2800; net collection
    420/670 = 0.62687 -> 0.6269. Denied lines A3, A6: 2/6 = 0.3333; denied charges (300+200)/1,500 = 0.3333.
    Ledger: revenue 440+0+100+60 = 600; expenses 200+100+50+30 = 380; operating margin (600-380)/600 = 0.36667
    -> 0.3667; overhead (380-200 provider compensation)/600 = 0.3000; cost per visit 380/6 visits = 63.333 ->
    63.33; value-based revenue share 60/600 = 0.1000."""
    bill, book = loaded
    row = _one(engine, kpis(bill, book, "all"), "all")
    assert (row["billed"], row["allowed"], row["collections"]) == (D("1500.00"), D("670.00"), D("420.00"))
    assert row["gross_collection_rate"] == D("0.2800")
    assert row["net_collection_rate"] == D("0.6269")
    assert (row["denial_rate"], row["denial_dollar_rate"]) == (D("0.3333"), D("0.3333"))
    assert (row["revenue"], row["operating_expenses"]) == (D("600.00"), D("380.00"))
    assert row["operating_margin"] == D("0.3667")
    assert row["overhead_ratio"] == D("0.3000")
    assert row["cost_per_visit"] == D("63.33")
    assert row["value_based_revenue_share"] == D("0.1000")


def test_by_month(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """January: charges 500, collections 96+24+200 = 320, revenue 440, expenses 300: margin 140/440 = 0.31818
    -> 0.3182; overhead (300-200)/440 = 0.22727 -> 0.2273; cost per visit 300/2 = 150.00. February has no
    revenue: margin and overhead are undefined (NULL), not infinite."""
    bill, book = loaded
    january = _one(engine, kpis(bill, book, "month"), "2025-01")
    assert (january["billed"], january["collections"]) == (D("500.00"), D("320.00"))
    assert (january["operating_margin"], january["overhead_ratio"]) == (D("0.3182"), D("0.2273"))
    assert january["cost_per_visit"] == D("150.00")
    february = _one(engine, kpis(bill, book, "month"), "2025-02")
    assert february["operating_margin"] is None


def test_payer_mix_and_revenue_by_payer(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """Collections: Acme 200, Medicare 96+24+100 = 220; mix 200/420 = 0.47619 -> 0.4762 and 220/420 = 0.5238."""
    bill, _ = loaded
    expr = kpis(bill, None, "payer")
    acme, medicare = _one(engine, expr, "Acme"), _one(engine, expr, "Medicare")
    assert (acme["collections"], medicare["collections"]) == (D("200.00"), D("220.00"))
    assert (acme["payer_mix"], medicare["payer_mix"]) == (D("0.4762"), D("0.5238"))
    assert medicare["net_collection_rate"] == D("0.4681")  # 220 / 470


def test_by_clinician_and_location(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """Clinician 2222222225: A3 (denied) and A4: charges 700, denial rate 1/2 = 0.5000. Location North holds the
    same lines and the $50 rent: cost per visit 50/2 = 25.00."""
    bill, book = loaded
    clinician = _one(engine, kpis(bill, book, "clinician"), "2222222225")
    assert (clinician["billed"], clinician["denial_rate"]) == (D("700.00"), D("0.5000"))
    assert clinician["revenue"] is None
    north = _one(engine, kpis(bill, book, "location"), "North")
    assert north["cost_per_visit"] == D("25.00")


def test_denials_by_reason(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """CARC 50 (not medically necessary) and CARC 16 (missing information): one line each of six: 0.1667."""
    bill, _ = loaded
    rows = engine.to_arrow(denials_by_reason(bill, "carc")).to_pylist()
    assert {(r["reason_code"], r["denied_lines"], r["denial_rate"]) for r in rows} == {
        ("50", 1, D("0.1667")),
        ("16", 1, D("0.1667")),
    }
    rarc = {r["reason_code"] for r in engine.to_arrow(denials_by_reason(bill, "rarc")).to_pylist()}
    assert rarc == {"N115", "MA130"}


def test_ar_aging_and_days(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """At 2025-03-31 only A4 is open: allowed 250 - 0 paid = 250, 44 days after its 2025-02-15 service (31-60).
    Charges of the 90 days before (2025-01-01 .. 2025-03-31] = 1,500: days in A/R = 250 / (1,500/90) = 15.0;
    turnover = 365 / 15 = 24.33."""
    bill, _ = loaded
    aging = engine.to_arrow(ar_aging(bill, date(2025, 3, 31))).to_pylist()
    assert [(r["bucket"], r["balance"]) for r in aging] == [("31-60", D("250.00"))]
    days = engine.to_arrow(days_in_ar(bill, date(2025, 3, 31))).to_pylist()[0]
    assert (days["accounts_receivable"], days["days_in_ar"], days["ar_turnover"]) == (
        D("250.00"),
        D("15.0"),
        D("24.33"),
    )


def _line(
    claim: str, service: str, billed: str, allowed: str | None, paid: str, paid_date: str | None = None
) -> dict[str, Any]:
    return {
        "claim_id": claim,
        "line_number": 1,
        "service_date": date.fromisoformat(service),
        "payer": "P",
        "billed_amount": D(billed),
        "allowed_amount": None if allowed is None else D(allowed),
        "paid_amount": D(paid),
        "paid_date": None if paid_date is None else date.fromisoformat(paid_date),
    }


def test_published_net_collection_example(engine: Engine) -> None:
    """$750,000 / ($1,000,000 - $200,000 contractual) = 0.9375."""
    lines = engine.from_rows([_line("X", "2025-01-01", "1000000", "800000", "750000")], BILLING)
    row = _one(engine, kpis(lines, None, "all"), "all")
    assert row["net_collection_rate"] == D("0.9375")


def test_published_days_in_ar_example(engine: Engine) -> None:
    """A/R $900,000 and $600,000 of charges over the 30-day window: 900,000 / (600,000/30) = 45 days."""
    lines = engine.from_rows(
        [
            _line("OLD", "2025-01-15", "900000", "900000", "0"),
            _line("NEW", "2025-03-15", "600000", "600000", "600000", "2025-03-20"),
        ],
        BILLING,
    )
    row = engine.to_arrow(days_in_ar(lines, date(2025, 3, 31), window_days=30)).to_pylist()[0]
    assert (row["accounts_receivable"], row["days_in_ar"]) == (D("900000.00"), D("45.0"))


def test_aging_bucket_boundaries(engine: Engine) -> None:
    """30 days old is 0-30, 31 is 31-60, 120 is 91-120, 121 is 121+; a payment posted after the as-of date is
    still outstanding at that date."""
    as_of = date(2025, 6, 30)
    lines = engine.from_rows(
        [
            _line("D30", "2025-05-31", "10", "10", "0"),
            _line("D31", "2025-05-30", "20", "20", "0"),
            _line("D120", "2025-03-02", "40", "40", "0"),
            _line("D121", "2025-03-01", "80", "80", "80", "2025-07-15"),
        ],
        BILLING,
    )
    rows = engine.to_arrow(ar_aging(lines, as_of)).to_pylist()
    assert [(r["bucket"], r["balance"]) for r in rows] == [
        ("0-30", D("10.00")),
        ("31-60", D("20.00")),
        ("91-120", D("40.00")),
        ("121+", D("80.00")),
    ]


@settings(max_examples=6, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(min_value=1, max_value=10**7)),
        min_size=1,
        max_size=12,
    )
)
def test_payer_collections_add_up(engine: Engine, draws: list[tuple[str, int]]) -> None:
    """Collections by payer add up to the practice total exactly, and payer mix sums to 1 within rounding."""
    rows = [
        {**_line(f"C{i}", "2025-01-01", "100000", "100000", str(D(c) / 100)), "payer": p}
        for i, (p, c) in enumerate(draws)
    ]
    lines = engine.from_rows(rows, BILLING)
    by_payer = engine.to_arrow(kpis(lines, None, "payer")).to_pylist()
    total = _one(engine, kpis(lines, None, "all"), "all")["collections"]
    assert sum(r["collections"] for r in by_payer) == total
    assert abs(sum(r["payer_mix"] for r in by_payer) - 1) <= D("0.0001") * len(by_payer)


@pytest.mark.spark
def test_spark_parity(spark_engine: Engine, duckdb_engine: Engine) -> None:
    results = []
    for eng in (duckdb_engine, spark_engine):
        bill = load_billing(eng, [FIN / "billing_example.csv"]).table
        book = load_ledger(eng, [FIN / "ledger_example.csv"]).table
        month = sorted(
            eng.to_arrow(kpis(bill, book, "month")).to_pylist(), key=lambda r: r["dimension_value"]
        )
        days = eng.to_arrow(days_in_ar(bill, date(2025, 3, 31))).to_pylist()
        results.append((month, days))
    assert results[0] == results[1]


def test_visit_counts_replace_claim_counts(engine: Engine, loaded: tuple[Any, Any]) -> None:
    """Visits 10 (Jan) + 5 (Feb) + 15 (Mar) = 30: cost per visit 380 / 30 = 12.667 -> 12.67; January 300 / 10 =
    30.00; location North 50 / 5 = 10.00."""
    from apmkit.ingest.practice_finance import load_visits

    bill, book = loaded
    visits = load_visits(engine, [FIN / "visits_example.csv"]).table
    assert _one(engine, kpis(bill, book, "all", visits), "all")["cost_per_visit"] == D("12.67")
    assert _one(engine, kpis(bill, book, "month", visits), "2025-01")["cost_per_visit"] == D("30.00")
    north = _one(engine, kpis(bill, book, "location", visits), "North")
    assert (north["visits"], north["cost_per_visit"]) == (5, D("10.00"))
