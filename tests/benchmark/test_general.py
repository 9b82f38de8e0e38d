"""General PMPM benchmark: hand-computed build-up, virtual panels, outliers.

Expected values are worked by hand from the method's definition (docs/benchmark.md, "General
benchmarks"), shown in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from apmkit.benchmark.general import GeneralBenchmarkResult, virtual_panels
from apmkit.benchmark.spec import GeneralBenchmarkSpec
from apmkit.engines import Engine
from apmkit.money import round_money
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS
from apmkit.workspace.benchmark import general_benchmark_from_claims, general_definitions


def general_benchmark(
    tables: dict[str, Any], spec: GeneralBenchmarkSpec, engine: Engine, attribution: Any = None
) -> GeneralBenchmarkResult:
    """The general benchmark as `apmkit benchmark` and `apmkit run` build it: spending under the definitions the
    spec implies (its cost basis and outlier rule), then the entity build-up."""
    return general_benchmark_from_claims(engine, tables, spec, general_definitions(spec), links=attribution)


def _tables(engine: Engine, costs: dict[str, dict[int, str]]) -> dict[str, Any]:
    enrollment, claims = [], []
    for member, by_year in costs.items():
        for year, amount in by_year.items():
            for month in range(1, 13):
                enrollment.append(
                    {
                        "member_id": member,
                        "month": dt.date(year, month, 1),
                        "payer": "p",
                        "product": "hmo",
                        "line_of_business": "commercial",
                    }
                )
            claims.append(
                {
                    "claim_id": f"{member}{year}",
                    "claim_line_number": 1,
                    "claim_type": "professional",
                    "member_id": member,
                    "service_date": dt.date(year, 6, 1),
                    "allowed_amount": D(amount),
                    "line_of_business": "commercial",
                }
            )
    return {
        "enrollment": engine.from_rows(enrollment, ENROLLMENT),
        "medical_claims": engine.from_rows(claims, MEDICAL_CLAIMS),
    }


def test_general_build_up(engine: Engine) -> None:
    tables = _tables(
        engine, {"a": {2022: "1200.00", 2023: "2400.00"}, "b": {2022: "3600.00", 2023: "3600.00"}}
    )
    attribution = engine.from_rows(
        [{"member_id": "a", "entity_id": "P1"}, {"member_id": "b", "entity_id": "P2"}],
        _attribution_schema(),
    )
    spec = GeneralBenchmarkSpec(
        base_years=(2022, 2023),
        base_year_weights=(D("0.4"), D("0.6")),
        performance_year=2024,
        annual_trend=D("0.10"),
        regional_weight=D("0.25"),
        full_credibility_member_months=96,
        efficiency_threshold=D("1.2"),
        efficiency_adjustment=D("-0.02"),
        outliers={"method": "none"},
    )
    result = {e.entity_id: e for e in general_benchmark(tables, spec, engine, attribution).entities}
    # P1: own 0.4 x 100 x 1.21 + 0.6 x 200 x 1.1 = 180.40; peer 0.4 x 200 x 1.21 + 0.6 x 250 x 1.1 = 261.80
    assert result["P1"].historical_pmpm == D("180.40")
    assert result["P1"].peer_pmpm == D("261.80")
    # blend 0.75 x 180.40 + 0.25 x 261.80 = 200.75; Z = sqrt(24/96) = 0.5 -> 0.5 x 200.75 + 0.5 x 261.80
    assert result["P1"].credibility == D("0.5")
    assert round_money(result["P1"].benchmark_pmpm) == D("231.28")
    # P2: own 343.20, index 1.31 > 1.2 -> (0.5 x 322.85 + 0.5 x 261.80) x 0.98 = 286.4785
    assert round_money(result["P2"].benchmark_pmpm) == D("286.48")


def _attribution_schema() -> Any:
    from apmkit.schemas.model import Column, TableSchema

    return TableSchema(
        name="attribution",
        version="test",
        columns=(Column("member_id", "string"), Column("entity_id", "string")),
        provenance_columns=(),
    )


def test_truncation_in_general_benchmark(engine: Engine) -> None:
    # 100 members at $1,200 a year and one at $120,000: the 99th percentile (linear interpolation)
    # of the 101 annual costs is $1,200, so the outlier is cut to $1,200 and the PMPM is $100.
    costs = {f"m{i:03d}": {2023: "1200.00"} for i in range(100)}
    costs["big"] = {2023: "120000.00"}
    spec = GeneralBenchmarkSpec(base_years=(2023,), performance_year=2024, outliers={"method": "truncate"})
    (entity,) = general_benchmark(_tables(engine, costs), spec, engine).entities
    assert entity.historical_pmpm == D(100)


def test_virtual_panels_pool_small_practices() -> None:
    mapping = virtual_panels({"A": 10, "B": 5, "C": 30, "D": 4}, {}, 12)
    # A + B = 15 >= 12 forms panel-1; D (4) cannot reach 12 alone and joins the last panel.
    assert mapping == {"A": "panel-1", "B": "panel-1", "C": "C", "D": "panel-1"}


@given(st.lists(st.integers(min_value=2000, max_value=2030), min_size=1, max_size=8, unique=True))
def test_general_weights_sum_to_one(years: list[int]) -> None:
    spec = GeneralBenchmarkSpec(base_years=tuple(sorted(years)), performance_year=max(years) + 1)
    assert sum(spec.weights) == 1


def test_unattributed_rows_do_not_enter_the_peer(engine: Engine) -> None:
    # `apmkit attribute` writes a row for every member, attributed or not; member c (entity NULL) spends far
    # more than a and b and must count for no entity: P1's peer PMPM stays the a/b figure of the test above.
    tables = _tables(
        engine,
        {
            "a": {2022: "1200.00", 2023: "2400.00"},
            "b": {2022: "3600.00", 2023: "3600.00"},
            "c": {2022: "120000.00", 2023: "120000.00"},
        },
    )
    attribution = engine.from_rows(
        [
            {"member_id": "a", "entity_id": "P1"},
            {"member_id": "b", "entity_id": "P2"},
            {"member_id": "c", "entity_id": None},
        ],
        _attribution_schema(),
    )
    spec = GeneralBenchmarkSpec(
        base_years=(2022, 2023),
        base_year_weights=(D("0.4"), D("0.6")),
        performance_year=2024,
        annual_trend=D("0.10"),
        outliers={"method": "none"},
    )
    result = general_benchmark(tables, spec, engine, attribution)
    assert [e.entity_id for e in result.entities] == ["P1", "P2"]
    assert result.entities[0].peer_pmpm == D("261.80")
