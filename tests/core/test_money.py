from decimal import Decimal

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from apmkit.money import div_round_half_up, from_cents, round_money, to_cents


def test_integer_half_up_division_matches_decimal(engine):
    # Values from the stack notes: DuckDB's float path gives 269.40 for 26401.69/98; half-up is 269.41.
    t = engine.from_arrow(
        pa.table({"num": [2640169, 18274 * 2 - 1, 3, 10, -5, 7], "den": [98, 2, 100, 3, 10, 0]})
    )
    out = engine.to_arrow(t.select(q=div_round_half_up(t.num, t.den)).q).to_pylist()
    assert out == [26941, 18274, 0, 3, -1, None]


def test_cents_round_trip_is_exact(engine):
    amounts = [Decimal("26401.69"), Decimal("-0.05"), Decimal("0.00"), Decimal("9999999999999999.99")]
    t = engine.from_arrow(pa.table({"a": pa.array(amounts, pa.decimal128(18, 2))}))
    expr = t.select(c=to_cents(t.a), back=from_cents(to_cents(t.a)))
    rows = engine.to_arrow(expr).to_pylist()
    assert [r["c"] for r in rows] == [2640169, -5, 0, 999999999999999999]
    assert [r["back"] for r in rows] == amounts


def test_cents_are_exact_on_both_sides_of_the_narrow_path(engine):
    # to_cents takes a 64-bit path below 10^13 dollars and the widened one above: both give amount x 100.
    edges = ["9999999999999.99", "10000000000000.00", "10000000000000.01", "123456789012345.67", "0.01"]
    cases = [
        (pa.decimal128(18, 2), [Decimal(a) for a in edges] + [-Decimal(a) for a in edges]),
        (pa.decimal128(38, 2), [Decimal(a) for a in edges] + [-Decimal(a) for a in edges]),
        # NULL amounts have NULL cents (small values: Spark returns integers with NULLs through float64)
        (pa.decimal128(12, 2), [Decimal("9999999999.99"), None, Decimal("-0.01")]),
    ]
    for arrow_type, amounts in cases:
        t = engine.from_arrow(pa.table({"a": pa.array(amounts, arrow_type)}))
        rows = engine.to_arrow(t.select(c=to_cents(t.a), back=from_cents(to_cents(t.a)))).to_pylist()
        assert [r["c"] for r in rows] == [None if a is None else int(a * 100) for a in amounts]
        assert [r["back"] for r in rows] == amounts


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=1, max_value=10**6))
def test_round_money_is_half_up(numerator: int, denominator: int) -> None:
    exact = Decimal(numerator) / Decimal(denominator) / 100
    rounded = round_money(exact)
    assert abs(rounded - exact) <= Decimal("0.005")
    if abs(rounded - exact) == Decimal("0.005"):
        assert abs(rounded) > abs(exact)
