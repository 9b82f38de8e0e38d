"""Reconciliation against a payer's report, true-up of a re-settled period, distribution to participants.

Expected numbers are hand arithmetic from the contract's words (shown inline), never apmkit's own output.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.contracts import contract_from_data
from apmkit.errors import ConfigurationError
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.reconcile import (
    allocate,
    diff_statement,
    diff_text,
    participant_breakdown,
    read_payer_rows,
    rows_from_statement_json,
    rows_from_summary_table,
    true_up,
)
from apmkit.settlement.render import lines_table, settlement_to_json, summary_table
from apmkit.settlement.statement import Settlement

# One-sided, first-dollar 50 % sharing once savings reach a fixed 2 % minimum savings rate.
CONTRACT = contract_from_data(
    {
        "id": "upside",
        "name": "upside",
        "components": [
            {
                "id": "shared_savings",
                "type": "shared_savings",
                "terms": {
                    "sided": "one_sided",
                    "minimum_savings_rate": {"kind": "fixed", "rate": "0.02"},
                    "sharing_basis": "first_dollar",
                    "max_sharing_rate": "0.50",
                },
            }
        ],
    }
)


def settled(expenditure_a: str = "900000", period: str = "2025", with_c: bool = True) -> Settlement:
    entities = [
        # A: 1,000,000 - 900,000 = 100,000 saved (10 % >= 2 %) -> 50 % = 50,000
        EntityInputs(entity_id="A", benchmark=D("1000000"), expenditure=D(expenditure_a)),
        # B: 2,000,000 - 1,950,000 = 50,000 saved (2.5 % >= 2 %) -> 25,000
        EntityInputs(entity_id="B", benchmark=D("2000000"), expenditure=D("1950000")),
    ]
    if with_c:
        entities.append(EntityInputs(entity_id="C", benchmark=D("500000"), expenditure=D("500000")))
    return settle(CONTRACT, period, entities)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# The payer agrees on A; on B it counted 1,970,000 of expenditure (20,000 more), so 30,000 saved = 1.5 % < 2 %:
# nothing shared. D is on the payer's report only; C on ours only.
PAYER = """entity_id,benchmark,expenditure,savings,quality_score,sharing_rate,payment
A,"$1,000,000.00","$900,000.00","$100,000.00",,50%,"$50,000.00"
B,2000000,1970000,30000,,0.5,0
D,100,100,0,,0.5,0
"""


@pytest.mark.parametrize("reader", ["json", "parquet"])
def test_diff_finds_the_first_step_where_payer_and_we_part(reader: str) -> None:
    settlement = settled()
    if reader == "json":
        ours = rows_from_statement_json(settlement_to_json(settlement))
    else:
        ours = rows_from_summary_table(summary_table(settlement), lines_table(settlement))
    report = read_payer_rows(csv_rows(PAYER), "payer.csv")
    assert not report.errors
    result = diff_statement(ours, report)
    by_id = {e.entity_id: e for e in result.entities}
    assert (by_id["A"].status, by_id["A"].first_divergence) == ("matches", None)
    assert [s.step for s in by_id["A"].steps] == [
        "benchmark",
        "expenditure",
        "savings",
        "sharing_rate",
        "payment",
    ]
    b = by_id["B"]
    assert (b.status, b.first_divergence) == ("differs", "expenditure")
    differences = {s.step: s.difference for s in b.steps}
    assert differences == {
        "benchmark": D(0),
        "expenditure": D("-20000"),
        "savings": D("20000"),
        "sharing_rate": D(0),
        "payment": D("25000.00"),
    }
    assert by_id["C"].status == "only_ours" and by_id["D"].status == "only_payer"
    assert result.counts == {"matches": 1, "differs": 1, "only_ours": 1, "only_payer": 1}
    text = diff_text(result).splitlines()
    assert "B: differs, first at expenditure" in text
    assert "  expenditure: ours 1,950,000.00, payer 1,970,000.00, difference -20,000.00" in text
    assert text[-1] == "entities: 1 differs, 1 matches, 1 only_ours, 1 only_payer"
    table = result.to_table()
    assert table.num_rows == 5 + 5 + 1 + 1
    assert set(table.column_names) >= {"entity_id", "step", "ours", "payer", "difference", "first_divergence"}


def test_tolerance_and_column_mapping() -> None:
    # A payer reporting whole dollars with its own headers: within a $1 tolerance A still matches.
    text = "ACO_ID,BNCHMK,EXP,PAID\nA,1000000,899999.60,50000\n"
    report = read_payer_rows(
        csv_rows(text),
        "puf.csv",
        columns={"entity_id": "ACO_ID", "benchmark": "BNCHMK", "expenditure": "EXP", "payment": "PAID"},
    )
    ours = rows_from_statement_json(settlement_to_json(settled(with_c=False)))
    strict = diff_statement(ours, report)
    loose = diff_statement(ours, report, money_tolerance=D(1))
    a_strict = next(e for e in strict.entities if e.entity_id == "A")
    a_loose = next(e for e in loose.entities if e.entity_id == "A")
    assert a_strict.first_divergence == "expenditure"
    assert a_loose.status == "matches"


def test_bad_payer_rows_are_one_line_errors_without_values() -> None:
    text = (
        "entity_id,benchmark,payment\n"
        "A,12x45,0\n"  # row 2: not a number
        ",100,0\n"  # row 3: no entity
        "B,100,0\n"  # rows 4 and 5: B twice -> both rejected
        "B,100,1\n"
        'C,100,"(1,000.50)"\n'  # row 6: accounting negative, fine
    )
    report = read_payer_rows(csv_rows(text), "payer.csv")
    messages = [str(e) for e in report.errors]
    assert messages == [
        "payer.csv, row 2, field benchmark: expected a number",
        "payer.csv, row 3, field entity_id: missing",
        "payer.csv, row 4, field entity_id: entity repeated on rows [4, 5]: all rejected",
        "payer.csv, row 5, field entity_id: entity repeated on rows [4, 5]: all rejected",
    ]
    assert all("12x45" not in m and "\n" not in m for m in messages)
    assert set(report.rows) == {"C"}
    assert report.rows["C"]["payment"] == D("-1000.50")
    bom = read_payer_rows(csv_rows("\ufeffEntity_ID , Payment\nA,1\n"), "payer.csv")
    assert not bom.errors and bom.rows["A"]["payment"] == D(1)
    missing_column = read_payer_rows(csv_rows("aco,payment\nA,1\n"), "payer.csv")
    assert [str(e) for e in missing_column.errors] == ["payer.csv, row 1, field entity_id: column missing"]


def test_true_up_after_run_out() -> None:
    # Preliminary: A spent 900,000 -> 50,000. After run-out A spent 930,000: 70,000 saved (7 %) -> 35,000, so
    # the final settlement recoups 15,000. B unchanged; C (no savings) left the final run: dropped, true-up 0.
    preliminary = rows_from_statement_json(settlement_to_json(settled("900000")))
    final = rows_from_statement_json(settlement_to_json(settled("930000", with_c=False)))
    result = true_up(preliminary, final)
    by_id = {e.entity_id: e for e in result.entities}
    a = by_id["A"]
    assert (a.status, a.earlier_net, a.later_net, a.true_up) == (
        "changed",
        D("50000.00"),
        D("35000.00"),
        D("-15000.00"),
    )
    changed = {name: change for name, _, _, change in a.changes}
    assert changed["expenditure"] == D("30000")
    assert changed["savings"] == D("-30000")
    assert by_id["B"].status == "unchanged" and by_id["B"].true_up == 0
    assert by_id["C"].status == "dropped"
    assert result.total_true_up == D("-15000.00")
    assert result.to_table().num_rows >= 3


def test_true_up_refuses_a_different_period() -> None:
    earlier = rows_from_statement_json(settlement_to_json(settled(period="2025")))
    later = rows_from_statement_json(settlement_to_json(settled(period="2026")))
    with pytest.raises(ConfigurationError, match="field period"):
        true_up(earlier, later)


# ---- distribution -------------------------------------------------------------------------------------------


def test_allocate_largest_remainder_by_hand() -> None:
    # 100.00 in thirds: 33.33 each and one cent left; equal remainders -> key order gives it to "a".
    assert allocate(D("100.00"), {"b": D(1), "a": D(1), "c": D(1)}) == {
        "a": D("33.34"),
        "b": D("33.33"),
        "c": D("33.33"),
    }
    # A loss is split the same way, negated.
    assert allocate(D("-100.00"), {"a": D(1), "b": D(1), "c": D(1)}) == {
        "a": D("-33.34"),
        "b": D("-33.33"),
        "c": D("-33.33"),
    }
    # 10.00 by 0.5/0.3/0.2 is exact; a zero weight gets nothing; whole dollars with places=0.
    assert allocate(D("10.00"), {"x": D("0.5"), "y": D("0.3"), "z": D("0.2"), "w": D(0)}) == {
        "w": D("0.00"),
        "x": D("5.00"),
        "y": D("3.00"),
        "z": D("2.00"),
    }
    assert allocate(D("7"), {"a": D(1), "b": D(1)}, places=0) == {"a": D(4), "b": D(3)}


def test_allocate_refuses_bad_inputs() -> None:
    with pytest.raises(ConfigurationError, match="negative"):
        allocate(D("1.00"), {"a": D(-1), "b": D(2)})
    with pytest.raises(ConfigurationError, match="sum to zero"):
        allocate(D("1.00"), {"a": D(0)})
    with pytest.raises(ConfigurationError, match="decimal places"):
        allocate(D("1.005"), {"a": D(1)})


@settings(max_examples=200, deadline=None)
@given(
    total=st.decimals(min_value=D("-10000000"), max_value=D("10000000"), places=2),
    weights=st.lists(st.decimals(min_value=D(0), max_value=D("100000"), places=3), min_size=1, max_size=12),
)
def test_parts_sum_to_the_whole_to_the_cent(total: D, weights: list[D]) -> None:
    if sum(weights) == 0:
        weights = [*weights[:-1], D(1)]
    named = {f"p{i:02d}": w for i, w in enumerate(weights)}
    parts = allocate(total, named)
    assert sum(parts.values(), D(0)) == total
    whole = sum(named.values(), D(0))
    for key, part in parts.items():
        exact = total * named[key] / whole
        assert abs(part - exact) < D("0.01")
        assert part.as_tuple().exponent == -2
        if named[key] == 0:
            assert part == 0


def test_participant_breakdown_by_member_months() -> None:
    # 25,000.01 by attributed member months 600 / 300 / 100: exact 15,000.006 / 7,500.003 / 2,500.001; the
    # leftover cent goes to the largest remainder (0.6 of a cent): 15,000.01 / 7,500.00 / 2,500.00.
    participants: list[dict[str, Any]] = [
        {"entity_id": "A", "tin": "111111111", "npi": "1234567893", "member_months": "600", "spending": "1"},
        {"entity_id": "A", "tin": "111111111", "npi": "1245319599", "member_months": "300", "spending": "1"},
        {"entity_id": "A", "tin": "222222222", "npi": "", "member_months": "100", "spending": "1"},
    ]
    table = participant_breakdown({"A": D("25000.01")}, participants, "member_months")
    rows = table.to_pylist()
    amounts = [(r["tin"], r["npi"], r["amount"]) for r in rows]
    assert amounts == [
        ("111111111", "1234567893", D("15000.010000000000")),
        ("111111111", "1245319599", D("7500.000000000000")),
        ("222222222", None, D("2500.000000000000")),
    ]
    assert sum(r["amount"] for r in rows) == D("25000.01")
    assert rows[0]["share"] == D("0.6")


def test_participant_breakdown_errors_name_row_and_field() -> None:
    participants = [
        {"entity_id": "A", "tin": "111111111", "member_months": "12"},
        {"entity_id": "A", "tin": "222222222", "member_months": "lots"},
        {"entity_id": "A", "tin": "333333333"},
    ]
    with pytest.raises(ConfigurationError) as info:
        participant_breakdown({"A": D("10.00")}, participants, "member_months", source="participants.csv")
    message = str(info.value)
    assert "participants.csv, row 3, field member_months: expected a number" in message
    assert "participants.csv, row 4, field member_months: missing" in message
    assert "lots" not in message
    with pytest.raises(ConfigurationError, match="entity B has no participant"):
        participant_breakdown({"B": D("10.00")}, participants[:1], "member_months")
