"""Quality scoring against the reference's worked examples (docs/reference/methodology.md §1.3, §1.7) and invariants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.quality.scoring import (
    MeasureScore,
    attainment_points,
    decile_of,
    enhanced_loss_rate,
    final_sharing_rate,
    health_equity_bonus,
    improvement_points,
    measure_rates,
    score_mssp,
    score_points,
)
from apmkit.quality.spec import (
    DecileBenchmark,
    HealthEquityAdjustment,
    MeasureTarget,
    MsspScoring,
    PointsScoring,
)

SEQUESTRATION = Decimal("0.98")


def test_health_equity_bonus_reference_example() -> None:
    # docs/reference/methodology.md §1.3: top/top/middle/middle/bottom/unscored -> scaler 12; multiplier 0.40 -> 4.8 points.
    scaler, bonus = health_equity_bonus(
        ["top", "top", "middle", "middle", "bottom", None], Decimal("0.40"), HealthEquityAdjustment()
    )
    assert (scaler, bonus) == (Decimal(12), Decimal("4.8"))


def test_health_equity_bonus_needs_twenty_percent_underserved_and_caps_at_ten() -> None:
    terms = HealthEquityAdjustment()
    # docs/reference/methodology.md §1.3: "if < 20% -> no bonus"; "max 10".
    assert health_equity_bonus(["top"] * 6, Decimal("0.19"), terms) == (Decimal(24), Decimal(0))
    assert health_equity_bonus(["top"] * 6, Decimal("0.50"), terms) == (Decimal(24), Decimal(10))


def test_final_sharing_rate_basic_level_e_reference_example() -> None:
    # docs/reference/methodology.md §1.7 B: savings $8.0M, BASIC E max 50 %, 2 % sequestration.
    savings = Decimal(8_000_000)
    met = final_sharing_rate(Decimal("0.50"), 2025, True, False, Decimal("0.60"))
    assert savings * met * SEQUESTRATION == Decimal(3_920_000)
    alternative_only = final_sharing_rate(Decimal("0.50"), 2025, False, True, Decimal("0.60"))
    assert alternative_only == Decimal("0.30")
    assert savings * alternative_only * SEQUESTRATION == Decimal(2_352_000)
    assert final_sharing_rate(Decimal("0.50"), 2025, False, False, Decimal("0.60")) == 0


def test_final_sharing_rate_by_year() -> None:
    # docs/reference/methodology.md §1.1 and PUF18 A1001: PY<=2020 rate x quality (50 % x 0.9084 = 0.4542); PY2021-22 gate only.
    assert final_sharing_rate(Decimal("0.50"), 2018, True, False, Decimal("0.9084")) == Decimal("0.4542")
    assert final_sharing_rate(Decimal("0.50"), 2022, False, True, Decimal("0.60")) == 0


def test_enhanced_loss_rate_reference_example() -> None:
    # docs/reference/methodology.md §1.7 C: loss $8.0M; score 0.90 -> 0.40 -> $3.2M; 0.50 -> 0.625 -> $5.0M; failed -> $6.0M.
    loss = Decimal(8_000_000)
    assert loss * enhanced_loss_rate(2025, True, False, Decimal("0.90")) == Decimal(3_200_000)
    assert loss * enhanced_loss_rate(2025, True, False, Decimal("0.50")) == Decimal(5_000_000)
    assert loss * enhanced_loss_rate(2025, False, False, Decimal("0.90")) == Decimal(6_000_000)


BENCHMARK_165 = DecileBenchmark(
    measure="CMS165",
    decile_floors=tuple(
        Decimal(x) for x in ("0.40", "0.50", "0.55", "0.60", "0.65", "0.70", "0.75", "0.80", "0.85")
    ),
)
BENCHMARK_122 = DecileBenchmark(
    measure="CMS122",
    decile_floors=tuple(
        Decimal(x) for x in ("0.60", "0.40", "0.30", "0.25", "0.20", "0.15", "0.12", "0.10", "0.08")
    ),
    inverse=True,
)


def test_deciles_count_floors_reached_in_the_better_direction() -> None:
    assert decile_of(Decimal("0.39"), BENCHMARK_165) == 1
    assert decile_of(Decimal("0.40"), BENCHMARK_165) == 2
    assert decile_of(Decimal("0.90"), BENCHMARK_165) == 10
    assert decile_of(Decimal("0.61"), BENCHMARK_122) == 1
    assert decile_of(Decimal("0.05"), BENCHMARK_122) == 10


def test_mssp_standard_met_by_hea_adjusted_score() -> None:
    # docs/reference/methodology.md §1.3 HEA example bonus (4.8) lifts a 74.0 MIPS quality score over a 40th percentile of 77.83.
    scoring = MsspScoring(performance_year=2025, quality_score_percentiles={40: Decimal("77.83")})
    thirds = ["top", "top", "middle", "middle", "bottom", None]
    measures = [MeasureScore(f"CMS{i}", 100, 50, Decimal("0.5"), third=t) for i, t in enumerate(thirds)]  # type: ignore[arg-type]
    result = score_mssp(
        scoring, measures, underserved_multiplier=Decimal("0.40"), quality_score=Decimal("74.0")
    )
    assert result.health_equity_bonus == Decimal("4.8")
    assert result.adjusted_score == Decimal("78.8")
    assert result.meets_standard and result.route == "score"
    assert final_sharing_rate(
        Decimal("0.50"), 2025, result.meets_standard, result.meets_alternative, result.adjusted_fraction
    ) == Decimal("0.50")


def test_mssp_alternative_standard_gives_sliding_scale() -> None:
    scoring = MsspScoring(
        performance_year=2025,
        quality_score_percentiles={40: Decimal("77.83")},
        benchmarks=(BENCHMARK_165, BENCHMARK_122),
    )
    # CMS122 at 0.35 reaches the 10th percentile (floor 0.60) of an outcome measure; score 60 < 77.83.
    measures = [
        MeasureScore("CMS122", 200, 70, Decimal("0.35")),
        MeasureScore("CMS165", 200, 60, Decimal("0.30")),
    ]
    result = score_mssp(scoring, measures, quality_score=Decimal("60"))
    assert not result.meets_standard and result.meets_alternative
    assert final_sharing_rate(Decimal("0.50"), 2025, False, True, result.adjusted_fraction) == Decimal("0.30")


POINTS = PointsScoring(
    measures=(
        MeasureTarget(measure="CMS165", attainment_threshold=Decimal("0.60"), benchmark=Decimal("0.80")),
        MeasureTarget(
            measure="CMS122", attainment_threshold=Decimal("0.30"), benchmark=Decimal("0.10"), inverse=True
        ),
    ),
    minimum_denominator=1,
    gate_min_score=Decimal(40),
    sliding_scale=(
        {"min_score": 40, "sharing_multiplier": "0.5"},
        {"min_score": 70, "sharing_multiplier": 1},
    ),  # type: ignore[arg-type]
)

rates = st.decimals(min_value=0, max_value=1, places=3)


@given(rates, rates)
def test_attainment_points_are_bounded_and_monotonic(a: Decimal, b: Decimal) -> None:
    target = POINTS.measures[0]
    low, high = sorted((a, b))
    pa, pb = attainment_points(low, target, Decimal(10)), attainment_points(high, target, Decimal(10))
    assert Decimal(0) <= pa <= pb <= Decimal(10)
    inverse = POINTS.measures[1]
    assert attainment_points(high, inverse, Decimal(10)) <= attainment_points(low, inverse, Decimal(10))


@given(rates, rates)
def test_improvement_points_never_exceed_max_minus_one(rate: Decimal, baseline: Decimal) -> None:
    points = improvement_points(rate, baseline, POINTS.measures[0], Decimal(10))
    assert Decimal(0) <= points <= Decimal(9)
    if rate <= baseline:
        assert points == 0


@given(rates, rates)
def test_scorecard_total_is_a_percentage_and_gate_controls_sharing(r1: Decimal, r2: Decimal) -> None:
    result = score_points(POINTS, [MeasureScore("CMS165", 100, 0, r1), MeasureScore("CMS122", 100, 0, r2)])
    assert Decimal(0) <= result.total_score <= Decimal(100)
    assert result.gate_passed == (result.total_score >= 40)
    assert result.sharing_multiplier in (Decimal(0), Decimal("0.5"), Decimal(1))
    assert (result.sharing_multiplier == 0) == (not result.gate_passed)


def test_scorecard_attainment_endpoints() -> None:
    # At the benchmark: full points; at the threshold: (10 - 1) x 0 + 0.5 = 0.5 -> 1 (half up).
    target = POINTS.measures[0]
    assert attainment_points(Decimal("0.80"), target, Decimal(10)) == 10
    assert attainment_points(Decimal("0.60"), target, Decimal(10)) == 1
    assert attainment_points(Decimal("0.59"), target, Decimal(10)) == 0


def test_measure_rates_exclude_exclusions_and_exceptions(engine: Engine) -> None:
    import pyarrow as pa

    populations = engine.from_arrow(
        pa.table(
            {
                "entity_id": ["A", "A", "A", "A", "B"],
                "measure": ["CMS2"] * 5,
                "initial_population": pa.array([1, 1, 1, 1, 1], pa.int8()),
                "denominator": pa.array([1, 1, 1, 1, 1], pa.int8()),
                "denominator_exclusion": pa.array([0, 1, 0, 0, 0], pa.int8()),
                "denominator_exception": pa.array([0, 0, 1, 0, 0], pa.int8()),
                "numerator": pa.array([1, 0, 0, 0, 0], pa.int8()),
            }
        )
    )
    out = engine.to_arrow(measure_rates(populations, "entity_id").order_by("entity_id")).to_pylist()
    assert [(r["entity_id"], r["eligible"], r["numerator"], r["performance_rate"]) for r in out] == [
        ("A", 2, 1, 0.5),
        ("B", 1, 0, 0.0),
    ]


@pytest.mark.parametrize("rate", [Decimal("0.95"), Decimal("0.61")])
def test_points_scorecard_full_example(rate: Decimal) -> None:
    result = score_points(
        POINTS, [MeasureScore("CMS165", 50, 0, rate), MeasureScore("CMS122", 50, 0, Decimal("0.10"))]
    )
    assert result.measures[1].points == 10
