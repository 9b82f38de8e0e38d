"""MSSP benchmark steps against the derived examples of docs/reference/methodology.md §1.4-1.5.

Each expected figure is the one printed in the reference (arithmetic done there on regulation
parameters, 42 CFR 425.652-425.658), not a value produced by this code.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from apmkit.benchmark.mssp_steps import (
    base_year_blend,
    cap_risk_ratios,
    combine_adjustments,
    guardrail,
    negative_offset_factor,
    prior_savings_adjustment,
    regional_adjustment,
    update_factors,
)
from apmkit.benchmark.spec import (
    MsspBenchmarkSpec,
    PriorSavingsSpec,
    RegionalAdjustmentSpec,
    RiskGrowthCapSpec,
    UpdateSpec,
)
from apmkit.money import round_money

NO_TREND = {"aged_non_dual": D(1)}


def _spec(**kwargs: object) -> MsspBenchmarkSpec:
    base = {
        "base_years": (2021, 2022, 2023),
        "performance_year": 2024,
        "national_per_capita": {2023: {"aged_non_dual": D(11500)}},
        "update": {"national_growth": {"aged_non_dual": D("1.04")}},
    }
    base.update(kwargs)
    return MsspBenchmarkSpec.model_validate(base)


def test_first_agreement_weights_give_10750() -> None:
    # docs/reference/methodology.md §1.5 step 2: 10,000/10,500/11,000 -> $10,750 with 10/30/60.
    years = [{"aged_non_dual": D(v)} for v in (10000, 10500, 11000)]
    blended, _ = base_year_blend(years, _spec().weights, [NO_TREND] * 3)
    assert round_money(blended["aged_non_dual"]) == D("10750.00")


def test_renewal_equal_weights_give_10500() -> None:
    # Same example, second agreement: equal weights -> $10,500.
    years = [{"aged_non_dual": D(v)} for v in (10000, 10500, 11000)]
    blended, _ = base_year_blend(years, _spec(agreement_period=2).weights, [NO_TREND] * 3)
    assert round_money(blended["aged_non_dual"]) == D("10500.00")


@given(st.integers(min_value=1, max_value=6))
def test_weights_sum_to_one(agreement_period: int) -> None:
    assert sum(_spec(agreement_period=agreement_period).weights) == 1


def test_regional_adjustment_first_agreement_350() -> None:
    # docs/reference/methodology.md §1.5 step 3: ACO $11,000 vs region $12,000, first agreement -> +$350; cap 5% x $11,500 = $575.
    adj, single, lines = regional_adjustment(
        {"aged_non_dual": D(11000)},
        {"aged_non_dual": D(12000)},
        {"aged_non_dual": D(11500)},
        {"aged_non_dual": D(1000)},
        RegionalAdjustmentSpec(occurrence=1),
    )
    assert adj["aged_non_dual"] == D("350.00")
    assert single == D("350.00")
    cap = next(line for line in lines if line.step == "regional_cap")
    assert cap.value == D("575.00")


def test_regional_adjustment_cap_binds() -> None:
    # Fourth occurrence, 50% x $2,000 = $1,000 > cap 5% x $11,500 = $575 (42 CFR 425.656(c)).
    adj, _, _ = regional_adjustment(
        {"aged_non_dual": D(11000)},
        {"aged_non_dual": D(13000)},
        {"aged_non_dual": D(11500)},
        {"aged_non_dual": D(1)},
        RegionalAdjustmentSpec(occurrence=4),
    )
    assert adj["aged_non_dual"] == D("575.000")


def test_negative_regional_adjustment_not_applied_2024() -> None:
    # 425.652(a)(8)(iii): a negative single-value regional adjustment is not applied for 2024+ agreements.
    adj, single, _ = regional_adjustment(
        {"aged_non_dual": D(12000)},
        {"aged_non_dual": D(11000)},
        {"aged_non_dual": D(11500)},
        {"aged_non_dual": D(1)},
        RegionalAdjustmentSpec(),
    )
    # higher-spending ACO, first occurrence: 15% x -1,000 = -150, floor -1.5% x 11,500 = -172.50
    assert adj["aged_non_dual"] == D("-150.00")
    applied, chosen, _ = combine_adjustments(adj, single, None, RegionalAdjustmentSpec())
    assert chosen == "none"
    assert applied["aged_non_dual"] == 0


def test_prior_savings_adjustment_112_50() -> None:
    # docs/reference/methodology.md §1.5 step 4: savings $300, $0, $450 -> mean $250 x 0.9 = $225 -> 50% = $112.50 (< 5% x $11,800).
    psa, lines = prior_savings_adjustment(
        PriorSavingsSpec(per_capita_savings=(D(300), D(0), D(450)), proration_factor=D("0.9")), D(11800)
    )
    assert round_money(psa) == D("112.50")
    assert next(line for line in lines if line.step == "prior_savings_cap").value == D("590.00")


def test_prior_savings_replaces_non_positive_regional() -> None:
    applied, chosen, _ = combine_adjustments(
        {"aged_non_dual": D(-150)}, D(-150), D("112.50"), RegionalAdjustmentSpec()
    )
    assert chosen == "prior_savings"
    assert applied["aged_non_dual"] == D("112.50")
    # eligible for both: the larger applies (regional $350 > PSA $112.50)
    _, chosen, _ = combine_adjustments(
        {"aged_non_dual": D(350)}, D(350), D("112.50"), RegionalAdjustmentSpec()
    )
    assert chosen == "regional"


def test_update_three_way_blend_1_0470() -> None:
    # docs/reference/methodology.md §1.5 step 5: g_nat 1.040, g_reg 1.050, w_nat 0.20, ACPT 1.045 -> 2/3 x 1.048 + 1/3 x 1.045 = 1.0470.
    spec = UpdateSpec(
        national_growth={"aged_non_dual": D("1.040")},
        regional_growth={"aged_non_dual": D("1.050")},
        acpt={"aged_non_dual": D("1.045")},
    )
    three, two, _ = update_factors(spec, D("0.20"))
    assert two["aged_non_dual"] == D("1.048")
    assert three["aged_non_dual"].quantize(D("0.0001")) == D("1.0470")


def test_risk_growth_cap_2024_rule() -> None:
    # docs/reference/methodology.md §1.4: demographic 1.010 -> cap 1.040; aggregate HCC growth > 1.040 => ESRD 1.061 -> 1.040,
    # disabled 1.030 kept, aged/dual 1.045 -> 1.040, aged/non-dual 1.055 -> 1.040.
    ratios = {
        "esrd": D("1.061"),
        "disabled": D("1.030"),
        "aged_dual": D("1.045"),
        "aged_non_dual": D("1.055"),
    }
    weights = {"esrd": D(2), "disabled": D(1), "aged_dual": D(1), "aged_non_dual": D(6)}  # aggregate 1.0527
    capped, _ = cap_risk_ratios(ratios, weights, RiskGrowthCapSpec(demographic_growth=D("1.010")))
    assert capped == {
        "esrd": D("1.040"),
        "disabled": D("1.030"),
        "aged_dual": D("1.040"),
        "aged_non_dual": D("1.040"),
    }


def test_risk_growth_cap_not_applied_when_aggregate_below_cap() -> None:
    # The cap applies to each type "only if" aggregate HCC growth exceeds it (docs/reference/methodology.md §1.4).
    ratios = {"esrd": D("1.061"), "aged_non_dual": D("1.020")}
    weights = {"esrd": D(1), "aged_non_dual": D(9)}  # aggregate 1.0241 <= 1.040
    capped, _ = cap_risk_ratios(ratios, weights, RiskGrowthCapSpec(demographic_growth=D("1.010")))
    assert capped == ratios


def test_risk_growth_cap_2019_rule() -> None:
    # Agreements 2019-2023: +3% per type regardless of the aggregate (docs/reference/methodology.md §1.4).
    capped, _ = cap_risk_ratios(
        {"aged_dual": D("1.05"), "esrd": D("0.98")}, {}, RiskGrowthCapSpec(rule="2019")
    )
    assert capped == {"aged_dual": D("1.03"), "esrd": D("0.98")}


def test_guardrail() -> None:
    # 425.652(b)(5): E beyond the 3-way benchmark by >= MLR -> 2-way used if it lowers the overage;
    # E below the 2-way benchmark -> neither savings nor losses.
    assert guardrail(D(103), D(100), D(101), D("0.02")) == (D(101), "two_way")
    assert guardrail(D(103), D(100), D(104), D("0.02")) == (D(104), "no_savings_no_losses")
    assert guardrail(D(101), D(100), D(104), D("0.02")) == (D(100), "three_way")
    assert guardrail(D(103), D(100), D(99), D("0.02")) == (D(100), "three_way")


def test_negative_adjustment_is_multiplied_by_one_minus_the_offset() -> None:
    # 42 CFR 425.656(c)(4)-(5): a negative per-type amount x (1 - offset), offset = dual share + (HCC - 1) in [0, 1].
    # Higher-spending ACO, first occurrence: 15 % x (11,000 - 12,000) = -150 (floor -1.5 % x 11,500 = -172.50).
    # Offset 0.2 (dual share 0.15 + score 1.05 - 1) -> -150 x 0.8 = -120. Offset 0 -> the full -150; offset 1 -> 0.
    # (The factor was applied as the multiplier itself: -150 x 0.2 = -30, and an ACO with no duals and score 1
    # lost its whole negative adjustment.)
    args = (
        {"aged_non_dual": D(12000)},
        {"aged_non_dual": D(11000)},
        {"aged_non_dual": D(11500)},
        {"aged_non_dual": D(1)},
        RegionalAdjustmentSpec(),
    )
    offset = negative_offset_factor(D("0.15"), D("1.05"))
    assert offset == D("0.20")
    assert regional_adjustment(*args, offset_factor=offset)[0]["aged_non_dual"] == D("-120.00")
    assert regional_adjustment(*args, offset_factor=D(0))[0]["aged_non_dual"] == D("-150.00")
    assert regional_adjustment(*args, offset_factor=D(1))[0]["aged_non_dual"] == D(0)
