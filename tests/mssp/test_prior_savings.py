"""Prior savings adjustment (42 CFR 425.658, 425.652(a)(8)): worked examples from the regulation's steps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.prior_savings import PriorYear, prior_savings_adjustment

D = Decimal
# Per capita savings $300, not reconciled, $150 -> average (300 + 0 + 150) / 3 = 150; pro-rated x 0.9 = 135;
# 50 % = 67.50 against 5 % x 12,000 = 600: the adjustment is 67.50.
YEARS = (PriorYear(D(300)), PriorYear(None), PriorYear(D(150)))


def test_adjustment_is_half_the_prorated_average_capped_at_five_percent_national() -> None:
    result = prior_savings_adjustment(
        YEARS, proration_factor=D("0.9"), national_per_capita_by3=D(12_000), regional_adjustment=D(-20)
    )
    assert result.counted == (D(300), D(0), D(150)) and result.average == D(150)
    assert result.prorated_average == D("135.0") and result.prior_savings_adjustment == D("67.50")
    # Regional adjustment negative: the prior savings adjustment applies (425.652(a)(8)(v)).
    assert (result.applied, result.applied_per_capita) == ("prior_savings", D("67.50"))
    # 5 % cap: national 1,000 -> 50 < 67.50.
    capped = prior_savings_adjustment(
        YEARS, proration_factor=D("0.9"), national_per_capita_by3=D(1_000), regional_adjustment=D(0)
    )
    assert capped.prior_savings_adjustment == D("50.00")


def test_higher_of_regional_and_prior_savings() -> None:
    # (a)(8)(iv): regional +40 < 67.50 -> prior savings; regional +100 > 67.50 -> regional.
    low = prior_savings_adjustment(
        YEARS, proration_factor=D("0.9"), national_per_capita_by3=D(12_000), regional_adjustment=D(40)
    )
    high = prior_savings_adjustment(
        YEARS, proration_factor=D("0.9"), national_per_capita_by3=D(12_000), regional_adjustment=D(100)
    )
    assert (low.applied, low.applied_per_capita) == ("prior_savings", D("67.50"))
    assert (high.applied, high.applied_per_capita) == ("regional", D(100))


def test_not_eligible_and_noncompliance_years() -> None:
    # Savings of 600 that could not be paid (noncompliance) count as 0; with losses of 90 and 30 the average is
    # (0 - 90 - 30) / 3 = -40 <= 0: not eligible ((b)(3)(i)). Positive regional -> regional; else no adjustment.
    years = (PriorYear(D(600), eligible_for_payment=False), PriorYear(D(-90)), PriorYear(D(-30)))
    positive = prior_savings_adjustment(
        years, proration_factor=None, national_per_capita_by3=D(12_000), regional_adjustment=D(25)
    )
    assert positive.average == D(-40) and not positive.eligible
    assert (positive.applied, positive.applied_per_capita) == ("regional", D(25))
    negative = prior_savings_adjustment(
        years, proration_factor=None, national_per_capita_by3=D(12_000), regional_adjustment=D(-5)
    )
    assert (negative.applied, negative.applied_per_capita) == ("none", None)


def test_positive_average_needs_the_proration_factor() -> None:
    with pytest.raises(ConfigurationError, match="proration_factor is missing"):
        prior_savings_adjustment(
            YEARS, proration_factor=None, national_per_capita_by3=D(12_000), regional_adjustment=D(0)
        )
    with pytest.raises(ConfigurationError, match="3 performance years"):
        prior_savings_adjustment(
            YEARS[:2], proration_factor=D(1), national_per_capita_by3=D(12_000), regional_adjustment=D(0)
        )
