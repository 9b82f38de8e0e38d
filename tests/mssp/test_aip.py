"""Advance investment payments (42 CFR 425.630) against the regulation's own table and rules, worked by hand."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.aip import aip_quarterly_payment, aip_recoupment

D = Decimal


def _payments(engine: Engine, rows: dict[str, list[object]]) -> dict[str, dict[str, object]]:
    table = pa.table(
        {
            "aco_id": pa.array(rows["aco_id"], pa.string()),
            "lis_or_dual": pa.array(rows["lis_or_dual"], pa.bool_()),
            "adi_national_rank": pa.array(rows["adi_national_rank"], pa.int64()),
        }
    )
    result = engine.to_arrow(aip_quarterly_payment(engine.from_arrow(table))).to_pylist()
    return {row["aco_id"]: row for row in result}


def test_quarterly_payment_from_the_table(engine: Engine) -> None:
    # Scores: dual -> 100 ($45); ADI 24 ($0), 25 ($20), 54 ($28), 84 ($40), 85 ($45); no rank -> 50 ($28).
    # 45 + 0 + 20 + 28 + 40 + 45 + 28 = 206 per quarter.
    result = _payments(
        engine,
        {
            "aco_id": ["A"] * 7,
            "lis_or_dual": [True, False, False, False, False, False, None],
            "adi_national_rank": [3, 24, 25, 54, 84, 85, None],
        },
    )
    assert result["A"]["quarterly_payment"] == 206
    assert result["A"]["beneficiaries_counted"] == 7 and result["A"]["scores_out_of_range"] == 0


def test_quarterly_payment_counts_the_10000_highest_scores(engine: Engine) -> None:
    # 10,001 beneficiaries: 10,000 with ADI 30 ($20) and one dual (score 100, $45). The cap keeps the dual and
    # 9,999 of the others: 45 + 9,999 x 20 = 200,025.
    n = 10_001
    result = _payments(
        engine,
        {
            "aco_id": ["B"] * n,
            "lis_or_dual": [False] * (n - 1) + [True],
            "adi_national_rank": [30] * (n - 1) + [None],
        },
    )
    assert result["B"]["beneficiaries_counted"] == 10_000
    assert result["B"]["quarterly_payment"] == 200_025


def test_recoupment_carries_the_balance_forward() -> None:
    # 425.630(g)(1), (3): $250,000 one-time + 8 quarters of $20,000 = $410,000 outstanding. PY1 savings $300,000:
    # all recouped, $0 paid, $110,000 carried forward. PY2 savings $500,000: $110,000 recouped, $390,000 paid.
    first = aip_recoupment(D(300_000), D(410_000))
    assert (first.recouped, first.savings_paid, first.balance_carried_forward) == (
        D(300_000),
        D(0),
        D(110_000),
    )
    second = aip_recoupment(D(500_000), first.balance_carried_forward)
    assert (second.recouped, second.savings_paid, second.balance_carried_forward) == (
        D(110_000),
        D(390_000),
        D(0),
    )
    # No savings: nothing recovered that year ((g)(3)), the balance waits.
    none = aip_recoupment(D(0), D(110_000))
    assert none.recouped == 0 and none.balance_carried_forward == D(110_000) and none.repayment_due == 0


def test_termination_makes_the_whole_balance_due() -> None:
    # 425.630(g)(4): an ACO terminating in the agreement period repays everything still outstanding.
    ended = aip_recoupment(D(100_000), D(410_000), terminated=True)
    assert (ended.recouped, ended.repayment_due, ended.balance_carried_forward) == (
        D(100_000),
        D(310_000),
        D(0),
    )
    with pytest.raises(ConfigurationError, match="must not be negative"):
        aip_recoupment(D(-1), D(0))


@pytest.mark.spark
def test_spark_gives_the_same_quarterly_payments(spark_engine: Engine, duckdb_engine: Engine) -> None:
    rows: dict[str, list[object]] = {
        "aco_id": ["A", "A", "A", "B", "B"],
        "lis_or_dual": [True, False, None, False, False],
        "adi_national_rank": [None, 60, None, 99, 10],
    }
    # A: 45 + 32 + 28 = 105; B: 45 + 0 = 45.
    on_spark = _payments(spark_engine, rows)
    on_duckdb = _payments(duckdb_engine, rows)
    assert on_spark == on_duckdb
    assert (on_spark["A"]["quarterly_payment"], on_spark["B"]["quarterly_payment"]) == (105, 45)
