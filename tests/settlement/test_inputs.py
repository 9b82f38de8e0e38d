"""Aggregate input rows: parsing, validation and rejection reasons (file, line, field; never values)."""

from __future__ import annotations

from decimal import Decimal as D

from apmkit.settlement.inputs import read_entity_rows


def test_good_row_with_cells_and_flags() -> None:
    rows = [
        {
            "Entity_ID": "A1",
            "benchmark": "$1,234,567.89",
            "population": "5,032",
            "quality_standard_met": "yes",
            "months.tier2": "1200",
            "months.complex": "",
        }
    ]
    loaded, report = read_entity_rows(rows, "aco.csv")
    assert report.read == report.loaded == 1 and not report.rejected
    entity = loaded[0]
    assert entity.benchmark == D("1234567.89")
    assert entity.population == 5032
    assert entity.quality_standard_met is True
    assert entity.months_by_cell == {"tier2": 1200}
    assert entity.source == "aco.csv line 2"


def test_bad_rows_are_kept_with_every_reason() -> None:
    rows = [
        {"entity_id": "A1", "benchmark": "12x", "population": "3.5", "reported": "maybe"},
        {"entity_id": "A2", "colour": "blue"},
        {"entity_id": "A3", "quality_score": "-1"},
        {"entity_id": "A4"},
        {"entity_id": "A4"},
        {"entity_id": "", "benchmark": "1"},
        {"entity_id": "A5", "quality_score": "1.5"},
        {"entity_id": "A6"},
    ]
    loaded, report = read_entity_rows(rows, "aco.csv")
    # a repeated entity refuses both rows: neither can be trusted over the other
    assert [e.entity_id for e in loaded] == ["A5", "A6"]
    assert report.read == 8 and report.loaded == 2
    assert report.loaded + len(report.rejected) == report.read
    reasons = {r["source_line"]: r["reason"] for r in report.rejected}
    assert reasons["2"] == (
        "field benchmark: expected a number; field population: expected a whole number; "
        "field reported: expected true/false (or 1/0)"
    )
    assert reasons["3"].startswith("field colour: unknown column")
    assert "field quality_score: Input should be greater than or equal to 0" in reasons["4"]
    assert reasons["6"] == "field entity_id: repeats the entity of line 5"
    assert reasons["5"] == "field entity_id: the entity is repeated on line 6"
    assert "field entity_id" in reasons["7"]
    # no input value is echoed back in a reason
    assert all("12x" not in r["reason"] and "blue" not in r["reason"] for r in report.rejected)


def test_apply_benchmarks_layouts() -> None:
    import pytest

    from apmkit.errors import InputFileError
    from apmkit.settlement.inputs import EntityInputs, apply_benchmarks

    entities = [EntityInputs(entity_id="A", member_months=120), EntityInputs(entity_id="B", member_months=60)]
    # general method output: 1,000.50 PMPM x 120 months = 120,060; B has no row and keeps no benchmark
    done = apply_benchmarks(entities, [{"entity_id": "A", "benchmark_pmpm": D("1000.50")}], "bench.parquet")
    assert done[0].benchmark == D("120060.00") and done[1].benchmark is None
    assert done[0].detail["benchmark_source"] == "bench.parquet: benchmark_pmpm x member months"
    totals = apply_benchmarks(entities, [{"entity_id": "B", "benchmark": D("5")}], "b.parquet")
    assert totals[1].benchmark == D("5")
    summary = apply_benchmarks(
        entities[:1],
        [
            {
                "settlement_benchmark": D("99.99"),
                "total_benchmark": D(1),
                "guardrail_status": "two-way (guardrail)",
            }
        ],
        "s",
    )
    assert summary[0].benchmark == D("99.99")
    # the MSSP guardrail decides the benchmark: it travels to the statement's benchmark line
    assert summary[0].detail["guardrail_status"] == "two-way (guardrail)"
    from apmkit.contracts import contract_from_data
    from apmkit.settlement.engine import settle

    contract = contract_from_data(
        {"id": "c", "name": "c", "components": [{"id": "a", "type": "infrastructure_payment", "lump_sum": 1}]}
    )
    (statement,) = settle(contract, "2025", summary).statements
    (line,) = [line for line in statement.lines if line.component_id == "inputs" and line.unit == "USD"]
    assert line.inputs["guardrail_status"] == "two-way (guardrail)"
    with pytest.raises(InputFileError, match="one row and settles one entity"):
        apply_benchmarks(entities, [{"settlement_benchmark": D(1)}], "s")
    with pytest.raises(InputFileError, match="needs entity_id and benchmark_pmpm or benchmark"):
        apply_benchmarks(entities, [{"entity": "A"}], "s")


def test_an_out_of_range_quality_score_refuses_that_entity_only() -> None:
    from apmkit.contracts import load_template
    from apmkit.settlement.engine import settle

    rows = [
        {
            "entity_id": "A",
            "benchmark": "1000000",
            "expenditure": "900000",
            "quality_score": "1.5",
            "reported": "1",
            "member_months": "1200",
        },
        {
            "entity_id": "B",
            "benchmark": "1000000",
            "expenditure": "900000",
            "quality_score": "0.8",
            "reported": "1",
            "member_months": "1200",
        },
    ]
    loaded, _ = read_entity_rows(rows, "aco.csv")
    settlement = settle(load_template("commercial_upside_shared_savings"), "2025", loaded)
    assert [s.entity_id for s in settlement.statements] == ["B"]
    (refused,) = settlement.rejected
    assert refused["source_line"] == "2"
    assert "field quality_score: Input should be less than or equal to 1" in refused["reason"]
    assert "1.5" not in refused["reason"]
