"""The shared savings calculator against the reference's worked examples (docs/reference/methodology.md §1.7, docs/reference/mssp-settlement-rules.md
§4-5). Expected figures are the published CMS PUF amounts or the reference's own arithmetic on published or
regulatory parameters, never our output."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import pytest
from pydantic import ValidationError

from apmkit.programs.mssp.rules import mssp_terms, one_sided_msr
from apmkit.settlement.shared_savings import (
    CapTerms,
    LossRateTerms,
    MinimumRateTerms,
    QualityTerms,
    SharedSavingsInputs,
    SharedSavingsTerms,
    compute_shared_savings,
)

D = Decimal


def _within(computed: Decimal, published: Decimal, dollars: str = "1") -> bool:
    return abs(computed - published) <= D(dollars)


def test_a1409_py2018_savings_cap_binds_on_the_final_amount() -> None:
    # docs/reference/methodology.md §1.7 A0 / PUF18 A1409 (Track 1): GenSaveLoss 37,681,081, FSR 0.4541, ABtotBnchmk 121,182,225,
    # published EarnSaveLoss 12,118,223 = 10 % of the benchmark. N is not quoted there; any N >= 500 gives an
    # MSR <= 12.2 %, far below its 31.1 % savings rate, so 10,000 stands in for it.
    benchmark = D(121_182_225)
    inputs = SharedSavingsInputs(
        benchmark=benchmark,
        expenditure=benchmark - D(37_681_081),
        assigned_population=10_000,
        quality_score=D("0.9082"),
        quality_standard_met=True,
    )
    result = compute_shared_savings(mssp_terms("track_1", 2018), inputs)
    assert result.generated_savings_losses == D(37_681_081)
    assert result.savings_cap == D("12118222.5")
    assert result.earned_savings == D("12118222.50")
    assert _within(result.earned_savings, D(12_118_223))


def test_a1001_py2018_track_1_first_dollar_with_sequestration() -> None:
    # docs/reference/methodology.md §1.7 A: N_AB 77,372 -> MSR 2.0 %; B 1,072,551,536; E 960,028,237; QualScore 0.9084.
    inputs = SharedSavingsInputs(
        benchmark=D(1_072_551_536),
        expenditure=D(960_028_237),
        assigned_population=77_372,
        quality_score=D("0.9084"),
        quality_standard_met=True,
    )
    result = compute_shared_savings(mssp_terms("track_1", 2018), inputs)
    assert result.minimum_savings_rate == D("0.02")
    assert result.generated_savings_losses == D(112_523_299)
    assert result.final_sharing_rate == D("0.4542")
    # The reference's figure: 112,523,299 x 0.4542 x 0.98 = 50,085,921; CMS published 50,087,988 (its FSR is
    # 0.454219 before rounding): within the 0.05 % match tolerance.
    assert _within(result.earned_savings, D(50_085_921))
    assert abs(result.earned_savings - D(50_087_988)) <= D(50_087_988) * D("0.0005")
    assert result.savings_cap is not None and result.earned_savings < result.savings_cap


@pytest.mark.parametrize(
    ("population", "expected_percent"),
    [(605, "11.4635"), (2_047, "6.7621"), (2_512, "5.9014"), (3_785, "4.5680"), (4_976, "3.9127")],
)
def test_msr_below_5000_matches_published_minsavperc(population: int, expected_percent: str) -> None:
    # docs/reference/mssp-settlement-rules.md §4: published MinSavPerc for these N (PUF), to 4 decimals of a percent.
    assert (one_sided_msr(population) * 100).quantize(D("0.0001")) == D(expected_percent)


def test_msr_table_interpolation_a1540() -> None:
    # docs/reference/methodology.md §1.2: N = 5,032 -> 0.039 - 0.003 x 32/999; PUF18 A1540 MinSavPerc 0.038903904.
    assert one_sided_msr(5_032).quantize(D("0.000000001")) == D("0.038903904")
    assert one_sided_msr(60_000) == one_sided_msr(250_000) == D("0.020")


BASIC_E_2025 = mssp_terms("basic_e", 2025, msr_election="variable")
BENCHMARK_B = D(12_000) * D(19_500)


def test_basic_e_variable_msr_savings_quality_met() -> None:
    # docs/reference/methodology.md §1.7 B: N 20,000 -> MSR 2.5 %; B = $12,000 x 19,500 = $234.0M; E = $226.0M; 50 % -> $4.0M,
    # after 2 % sequestration $3,920,000.
    inputs = SharedSavingsInputs(
        benchmark=D(12_000),
        expenditure=D(226_000_000) / D(19_500),
        per_capita=True,
        person_years=D(19_500),
        assigned_population=20_000,
        quality_standard_met=True,
        quality_score=D("0.95"),
    )
    result = compute_shared_savings(BASIC_E_2025, inputs)
    assert result.total_benchmark == D(234_000_000)
    assert result.minimum_savings_rate == D("0.025")
    assert result.outcome == "savings"
    assert result.earned_savings == D("3920000.00")


def test_basic_e_alternative_quality_standard_sliding_scale() -> None:
    # docs/reference/methodology.md §1.7 B: only the alternative QPS met, HEA score 0.60 -> FSR 0.30 -> $2.4M -> $2,352,000.
    inputs = SharedSavingsInputs(
        benchmark=BENCHMARK_B,
        expenditure=D(226_000_000),
        assigned_population=20_000,
        quality_standard_met=False,
        alternative_quality_standard_met=True,
        quality_score=D("0.60"),
    )
    result = compute_shared_savings(BASIC_E_2025, inputs)
    assert result.final_sharing_rate == D("0.30")
    assert result.earned_savings == D("2352000.00")


def test_basic_e_losses_capped_by_revenue() -> None:
    # docs/reference/methodology.md §1.7 B: E = $242.0M: loss $8.0M x 30 % = $2.4M; cap min(8 % x $50M, 4 % x $234M) = $4.0M.
    inputs = SharedSavingsInputs(
        benchmark=BENCHMARK_B,
        expenditure=D(242_000_000),
        assigned_population=20_000,
        quality_standard_met=True,
        quality_score=D(1),
        participant_revenue=D(50_000_000),
    )
    result = compute_shared_savings(BASIC_E_2025, inputs)
    assert result.outcome == "losses"
    assert result.loss_cap == D("4000000.00")
    assert result.owed_losses == D("2400000.00")
    assert result.net == D("-2400000.00")


@pytest.mark.parametrize(
    ("score", "met", "rate", "owed"),
    [
        ("0.90", True, "0.40", "3200000.00"),
        ("0.50", True, "0.625", "5000000.00"),
        ("0.50", False, "0.75", "6000000.00"),
    ],
)
def test_enhanced_loss_rate(score: str, met: bool, rate: str, owed: str) -> None:
    # docs/reference/methodology.md §1.7 C: loss $8.0M; score 0.90 -> max(0.40, 1 - 0.675) -> $3.2M; 0.50 -> 0.625 -> $5.0M;
    # QPS failed -> 0.75 -> $6.0M (cap 15 % x $234M does not bind).
    inputs = SharedSavingsInputs(
        benchmark=BENCHMARK_B,
        expenditure=D(242_000_000),
        assigned_population=20_000,
        quality_standard_met=met,
        quality_score=D(score),
    )
    result = compute_shared_savings(mssp_terms("enhanced", 2025, msr_election="variable"), inputs)
    assert result.loss_rate == D(rate)
    assert result.owed_losses == D(owed)


def test_a1498_py2019_six_month_euc_after_loss_rate() -> None:
    # docs/reference/mssp-settlement-rules.md §5: A1498 (Track 1+, PY2019 Jan-Jun): 0.3 x 2,348,698 - 3,870/2 = 702,674
    # (published). The benchmark level is not quoted; the loss rate, MLR election 0 % and caps make it irrelevant.
    benchmark = D(150_000_000)
    inputs = SharedSavingsInputs(
        benchmark=benchmark,
        expenditure=benchmark + D(2_348_698),
        assigned_population=10_000,
        quality_score=D("0.9"),
        quality_standard_met=True,
        euc_loss_reduction=D(3_870) / 2,
    )
    terms = mssp_terms("track_1_plus", 2019, msr_election=D(0), revenue_loss_limit=False)
    result = compute_shared_savings(terms, inputs)
    assert result.owed_losses == D("702674.40")
    assert _within(result.owed_losses, D(702_674))


def test_medstar_py2017_euc_amount_subtracted_after_cap() -> None:
    # docs/reference/mssp-settlement-rules.md §5: PY2017 MedStar (Track 3): 0.4 x 7,516,402 - 8,908 = 2,997,653 (published).
    inputs = SharedSavingsInputs(
        benchmark=D(568_341_230),
        expenditure=D(575_857_632),
        assigned_population=44_551,
        quality_score=D("0.8175"),
        quality_standard_met=True,
        euc_loss_reduction=D(8_908),
    )
    result = compute_shared_savings(mssp_terms("track_3", 2017, msr_election=D("0.005")), inputs)
    assert result.loss_rate == D("0.40")  # 1 - 0.75 x 0.8175 = 0.386875, floored at 40 %
    assert result.owed_losses == D("2997652.80")
    assert _within(result.net, D(-2_997_653))


def test_above_minimum_rate_sharing_and_uncapped_one_sided() -> None:
    # Arithmetic of the definition: savings 5 % of a $1,000,000 benchmark, MSR 2 %, above-MSR sharing at 50 %:
    # (50,000 - 20,000) x 0.5 = 15,000.
    terms = SharedSavingsTerms(
        sided="one_sided",
        minimum_savings_rate=MinimumRateTerms(kind="fixed", rate=D("0.02")),
        sharing_basis="above_minimum_rate",
        max_sharing_rate=D("0.5"),
    )
    result = compute_shared_savings(
        terms, SharedSavingsInputs(benchmark=D(1_000_000), expenditure=D(950_000))
    )
    assert result.earned_savings == D("15000.00")
    assert result.trace[-1].value == result.net == D("15000.00")


def test_savings_below_msr_earn_nothing_and_one_sided_never_owes() -> None:
    terms = mssp_terms("track_1", 2016)
    below = SharedSavingsInputs(
        benchmark=D(100_000_000), expenditure=D(98_000_000), assigned_population=10_000
    )
    assert compute_shared_savings(terms, below).outcome == "neither"  # 2 % < MSR 3.0 %
    losing = SharedSavingsInputs(
        benchmark=D(100_000_000), expenditure=D(130_000_000), assigned_population=10_000
    )
    result = compute_shared_savings(terms, losing)
    assert result.owed_losses == 0 and result.net == 0


def test_terms_reject_invalid_combinations() -> None:
    with pytest.raises(ValidationError, match="loss_rate is required"):
        SharedSavingsTerms(
            sided="two_sided",
            minimum_savings_rate=MinimumRateTerms(rate=D("0.02")),
            max_sharing_rate=D("0.5"),
        )
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        SharedSavingsTerms(
            sided="one_sided", minimum_savings_rate=MinimumRateTerms(rate=D(2)), max_sharing_rate=D("0.5")
        )
    with pytest.raises(ValidationError, match=r"floor 0\.8 exceeds ceiling 0\.6"):
        LossRateTerms(method="fixed", rate=D("0.3"), floor=D("0.8"), ceiling=D("0.6"))
    with pytest.raises(ValidationError, match="person_years is required"):
        SharedSavingsInputs(benchmark=D(10_000), expenditure=D(9_000), per_capita=True)


def test_terms_round_trip_from_yaml_style_floats() -> None:
    terms = SharedSavingsTerms.model_validate(
        {
            "sided": "two_sided",
            "minimum_savings_rate": {"kind": "fixed", "rate": 0.02},
            "max_sharing_rate": 0.6,
            "quality": {"method": "scale"},
            "loss_rate": {"method": "one_minus_final_sharing_rate", "ceiling": 0.6},
            "savings_cap": {"pct_of_benchmark": 0.15},
            "loss_cap": {"pct_of_benchmark": 0.1},
            "sequestration_rate": 0.02,
        }
    )
    assert terms.max_sharing_rate == D("0.6") and terms.minimum_savings_rate.rate == D("0.02")
    assert terms.quality == QualityTerms(method="scale")
    assert terms.savings_cap == CapTerms(pct_of_benchmark=D("0.15"))
    assert SharedSavingsTerms.model_validate(terms.model_dump()) == terms


def test_revenue_caps_without_revenue_are_an_error_or_an_explicit_choice() -> None:
    # A revenue-based cap with no revenue cannot be applied: an error naming the field, or (only when the terms
    # say so) the benchmark part alone, flagged and shown as an assumption, never a silent skip.
    def terms(choice: Literal["error", "benchmark_part_only"]) -> SharedSavingsTerms:
        return SharedSavingsTerms(
            sided="two_sided",
            minimum_savings_rate=MinimumRateTerms(kind="fixed", rate=D(0)),
            max_sharing_rate=D("0.5"),
            loss_rate=LossRateTerms(method="fixed", rate=D("0.3")),
            savings_cap=CapTerms(pct_of_revenue=D("0.02"), if_revenue_missing=choice),
            loss_cap=CapTerms(
                pct_of_revenue=D("0.02"), pct_of_benchmark=D("0.01"), if_revenue_missing=choice
            ),
        )

    gaining = SharedSavingsInputs(benchmark=D(1_000_000), expenditure=D(900_000))
    losing = SharedSavingsInputs(benchmark=D(1_000_000), expenditure=D(1_100_000))
    for entity in (gaining, losing):
        with pytest.raises(ValueError, match="participant_revenue is missing"):
            compute_shared_savings(terms("error"), entity)
    saving = compute_shared_savings(terms("benchmark_part_only"), gaining)
    assert saving.savings_cap is None and saving.savings_cap_incomplete
    assert saving.earned_savings == D("50000.00")
    loss = compute_shared_savings(terms("benchmark_part_only"), losing)
    # 30 % x 100,000 = 30,000, held to the benchmark part 1 % x 1,000,000 = 10,000; revenue part not applied.
    assert loss.loss_cap == D("10000.00") and loss.loss_cap_incomplete
    assert loss.owed_losses == D("10000.00")
    assert any(line.label.startswith("Assumption: loss cap") for line in loss.trace)
