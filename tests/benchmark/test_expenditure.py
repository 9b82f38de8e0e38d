"""Per-member expenditure, enrollment types and truncation on hand-built members and claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apmkit.benchmark.expenditure import (
    eligible_member_months,
    member_year_expenditure,
    per_capita_by_year_type,
)
from apmkit.engines import Engine
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS


def _months(member_id: str, year: int, months: range, **flags: Any) -> list[dict[str, Any]]:
    base = {
        "payer": "medicare",
        "product": "ffs",
        "part_a": True,
        "part_b": True,
        "medicare_advantage": False,
    }
    return [{"member_id": member_id, "month": dt.date(year, m, 1), **base, **flags} for m in months]


def _claim(claim_id: str, member_id: str, day: dt.date, paid: str) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "professional",
        "member_id": member_id,
        "service_date": day,
        "paid_amount": D(paid),
        "allowed_amount": D(paid),
    }


def _tables(engine: Engine) -> tuple[Any, Any, Any]:
    members = engine.from_rows(
        [
            {"member_id": "A", "birth_date": dt.date(1950, 6, 15), "dual_status_code": "NA"},
            {"member_id": "B", "birth_date": dt.date(1970, 1, 1)},
            {"member_id": "C", "birth_date": dt.date(1940, 1, 1), "esrd": True},
            {"member_id": "D", "birth_date": dt.date(1945, 3, 1), "dual_status_code": "02"},
            {"member_id": "E", "birth_date": dt.date(1950, 1, 1)},
        ],
        MEMBERS,
    )
    enrollment = engine.from_rows(
        _months("A", 2023, range(1, 13))
        + _months("B", 2023, range(1, 7))
        + _months("C", 2023, range(1, 13))
        + _months("D", 2023, range(1, 13))
        # E is in Medicare Advantage: not eligible
        + _months("E", 2023, range(1, 13), medicare_advantage=True),
        ENROLLMENT,
    )
    claims = engine.from_rows(
        [
            _claim("a1", "A", dt.date(2023, 2, 1), "700.00"),
            _claim("a2", "A", dt.date(2023, 9, 1), "500.00"),
            _claim("b1", "B", dt.date(2023, 3, 1), "600.00"),
            # B's claim in a month without coverage is not counted
            _claim("b2", "B", dt.date(2023, 8, 1), "999.00"),
            _claim("c1", "C", dt.date(2023, 5, 1), "5000.00"),
            _claim("d1", "D", dt.date(2023, 5, 1), "300.00"),
            _claim("e1", "E", dt.date(2023, 5, 1), "100.00"),
        ],
        MEDICAL_CLAIMS,
    )
    return members, enrollment, claims


def test_enrollment_types_and_truncation(engine: Engine) -> None:
    members, enrollment, claims = _tables(engine)
    months = eligible_member_months(enrollment, members, [2023])
    thresholds = {
        2023: {"aged_non_dual": D(1000), "disabled": D(1000), "esrd": D(90000), "aged_dual": D(50000)}
    }
    result = member_year_expenditure(claims, months, truncation_thresholds=thresholds)
    rows = {r["member_id"]: r for r in engine.to_arrow(result).to_pylist()}
    assert set(rows) == {"A", "B", "C", "D"}
    assert rows["A"]["enrollment_type"] == "aged_non_dual"
    assert rows["B"]["enrollment_type"] == "disabled"
    assert rows["C"]["enrollment_type"] == "esrd"
    assert rows["D"]["enrollment_type"] == "aged_dual"
    # A: $1,200 over 12 months, capped at the $1,000 annual threshold.
    assert (rows["A"]["expenditure_cents"], rows["A"]["truncated_cents"]) == (120000, 100000)
    # B: $600 in 6 months = $1,200 annualized; cap $1,000 x 6/12 = $500.
    assert (rows["B"]["member_months"], rows["B"]["annualized_cents"], rows["B"]["truncated_cents"]) == (
        6,
        120000,
        50000,
    )
    assert rows["C"]["truncated_cents"] == 500000
    totals = {r["enrollment_type"]: r for r in engine.to_arrow(per_capita_by_year_type(result)).to_pylist()}
    assert totals["aged_non_dual"]["member_months"] == 12
    assert totals["disabled"]["truncated_cents"] == 50000


def test_age_65_birthday_switches_type(engine: Engine) -> None:
    # Born 1958-07-15: under 65 on 2023-07-01 (disabled), 65 on 2023-08-01 (aged).
    members = engine.from_rows([{"member_id": "X", "birth_date": dt.date(1958, 7, 15)}], MEMBERS)
    enrollment = engine.from_rows(_months("X", 2023, range(7, 9)), ENROLLMENT)
    rows = engine.to_arrow(eligible_member_months(enrollment, members, [2023]).order_by("month")).to_pylist()
    assert [r["enrollment_type"] for r in rows] == ["disabled", "aged_non_dual"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=5_000_000), st.integers(min_value=1, max_value=12)),
        min_size=1,
        max_size=30,
    )
)
def test_truncation_never_raises_cost(engine: Engine, members_spend: list[tuple[int, int]]) -> None:
    members = engine.from_rows(
        [{"member_id": f"m{i}", "birth_date": dt.date(1940, 1, 1)} for i in range(len(members_spend))],
        MEMBERS,
    )
    enrollment_rows: list[dict[str, Any]] = []
    claim_rows: list[dict[str, Any]] = []
    for i, (cents, n_months) in enumerate(members_spend):
        enrollment_rows += _months(f"m{i}", 2023, range(1, n_months + 1))
        claim_rows.append(_claim(f"c{i}", f"m{i}", dt.date(2023, 1, 10), str(D(cents) / 100)))
    months = eligible_member_months(engine.from_rows(enrollment_rows, ENROLLMENT), members, [2023])
    result = member_year_expenditure(engine.from_rows(claim_rows, MEDICAL_CLAIMS), months)
    for row in engine.to_arrow(result).to_pylist():
        assert 0 <= row["truncated_cents"] <= row["expenditure_cents"]


def test_dual_status_from_any_row_of_the_month(engine: Engine) -> None:
    # Two coverage rows in one month: "NA" on one product, "02" (QMB + full Medicaid) on the other -> dual.
    # A month without a code falls back to the member's latest status.
    members = engine.from_rows(
        [{"member_id": "Y", "birth_date": dt.date(1940, 1, 1), "dual_status_code": "04"}], MEMBERS
    )
    other_product = {**_months("Y", 2023, range(1, 2), dual_status_code="02")[0], "product": "other"}
    rows_in = [
        *_months("Y", 2023, range(1, 2), dual_status_code="NA"),
        other_product,
        *_months("Y", 2023, range(2, 3)),
    ]
    enrollment = engine.from_rows(rows_in, ENROLLMENT)
    rows = engine.to_arrow(eligible_member_months(enrollment, members, [2023]).order_by("month")).to_pylist()
    assert [r["enrollment_type"] for r in rows] == ["aged_dual", "aged_dual"]
