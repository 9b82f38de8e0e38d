"""Scenario inputs from a run's figures: the benchmark and expenditure scale as the module says."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from apmkit.settlement.inputs import EntityInputs
from apmkit.simulation.model import PPM, Assumptions, Draws, RunFigures, Totals, scenario_inputs


def totals(truncated: list[int], months: list[int]) -> Totals:
    n = len(truncated)
    zeros = np.zeros(n, np.int64)
    return Totals(
        population=np.full(n, 100, np.int64),
        member_months=np.asarray(months, np.int64),
        truncated_cents=np.asarray(truncated, np.int64),
        excess_cents=zeros,
        score_months_micro=zeros,
        scored_months=zeros,
    )


def test_measured_elsewhere_expenditure_scales_with_spending() -> None:
    """An expenditure not equal to truncated spending × completion (e.g. MSSP's per-enrollment-type measurement)
    is scaled by scenario / run truncated spending; the benchmark by member months; coding drift moves a
    risk-adjusted benchmark."""
    run = RunFigures(
        benchmark=Decimal("1200000.00"),
        expenditure=Decimal("1111111.11"),
        member_months=1200,
        truncated_cents=100_000_000,
        completion_factor=Decimal(1),
        benchmark_risk_adjusted=True,
    )
    draws = Draws(
        spending_ppm=np.asarray([PPM, PPM, 2 * PPM], np.int64),
        coding_ppm=np.asarray([0, 20_000, 0], np.int64),
        quality=None,
    )
    inputs = scenario_inputs(
        EntityInputs(entity_id="E", source="t"),
        run,
        totals([100_000_000, 100_000_000, 100_000_000], [1200, 1200, 600]),
        draws,
        Assumptions(),
        risk_score=None,
    )
    assert list(inputs.expenditure) == [Decimal("1111111.11"), Decimal("1111111.11"), Decimal("2222222.22")]
    assert list(inputs.benchmark) == [Decimal("1200000.00"), Decimal("1224000.00"), Decimal("600000.00")]


def test_claims_path_expenditure_is_truncated_spending_times_completion() -> None:
    run = RunFigures(
        benchmark=Decimal("1000.00"),
        expenditure=Decimal("1013.00"),
        member_months=12,
        truncated_cents=100_000,
        completion_factor=Decimal("1.013"),
        benchmark_risk_adjusted=False,
    )
    draws = Draws(np.asarray([PPM, 1_100_000], np.int64), np.asarray([30_000, 30_000], np.int64), None)
    inputs = scenario_inputs(
        EntityInputs(entity_id="E", source="t"),
        run,
        totals([100_000, 100_000], [12, 12]),
        draws,
        Assumptions(),
        risk_score=None,
    )
    # 1,000.00 × 1.013 and 1,100.00 × 1.013; coding drift does not move a benchmark that is not risk-adjusted
    assert list(inputs.expenditure) == [Decimal("1013.00"), Decimal("1114.30")]
    assert list(inputs.benchmark) == [Decimal("1000.00"), Decimal("1000.00")]


def test_quality_and_multiplier_draws_have_the_assumed_moments() -> None:
    from apmkit.simulation.model import draw_multipliers

    n = 20_000
    a = Assumptions(trend=0.03, trend_sd=0.02, coding_intensity=0.01, coding_sd=0.005, quality_sd=0.05)
    draws = draw_multipliers(n, a, np.random.default_rng(4), Decimal("0.8"))
    assert draws.quality is not None
    quality = np.asarray([float(q) for q in draws.quality])
    assert all(q == q.quantize(Decimal("0.0001")) for q in draws.quality[:50])
    assert abs(quality.mean() - 0.8) < 4 * 0.05 / np.sqrt(n)
    assert abs(quality.std() - 0.05) < 0.002
    spending = draws.spending_ppm / PPM
    assert abs(spending.mean() - 1.03) < 4 * 0.02 / np.sqrt(n)
    assert abs(spending.std() - 0.02) < 0.001
    coding = draws.coding_ppm / PPM
    assert abs(coding.mean() - 0.01) < 4 * 0.005 / np.sqrt(n)


def test_quality_standard_threshold_sets_the_flag_per_scenario() -> None:
    run = RunFigures(Decimal("1000.00"), Decimal("1000.00"), 12, 100_000, Decimal(1), False)
    scores = np.empty(3, dtype=object)
    scores[:] = [Decimal("0.6999"), Decimal("0.7000"), Decimal("0.9")]
    draws = Draws(np.full(3, PPM, np.int64), np.zeros(3, np.int64), scores)
    inputs = scenario_inputs(
        EntityInputs(entity_id="E", source="t", quality_standard_met=True),
        run,
        totals([100_000] * 3, [12] * 3),
        draws,
        Assumptions(quality_standard_min=0.7),
        risk_score=None,
    )
    assert inputs.quality_standard_met is not None
    assert inputs.quality_standard_met.tolist() == [False, True, True]
