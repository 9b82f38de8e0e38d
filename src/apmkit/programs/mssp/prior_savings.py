"""MSSP prior savings adjustment to the historical benchmark (42 CFR 425.658) and its combination with the regional
adjustment (425.652(a)(8)), for agreement periods beginning on or after 1 January 2024.

Text read: eCFR Markdown mirror MichalOpoka/ecfr @ 7e25c3fb93ffdb006e6469b53915c800e2684022 (section-425.658.md as
amended by 88 FR 79551; section-425.652.md as amended by 89 FR 98574).

- (b)(1)-(2): the simple average of the per capita savings (+) or losses (−) of the 3 performance years before the
  agreement period, counting 0 for a year the ACO was not reconciled and for savings it could not be paid for
  (noncompliance).
- (b)(3): an average ≤ 0 is not eligible; a positive average is multiplied by a proration factor for growth in the
  assigned population (CMS computes it; its formula is not in the section, so it is an input here).
- (c)(1): the adjustment is the lesser of 50 % of the pro-rated average and 5 % of national per capita Parts A and B
  FFS expenditure in BY3 for assignable beneficiaries.
- 425.652(a)(8): not eligible → the regional adjustment if positive, else none; eligible → the higher of a
  positive regional adjustment and the prior savings adjustment, or the prior savings adjustment when the
  regional one is ≤ 0. The regional adjustment applies by enrollment type (425.656(c)); the prior savings
  adjustment as a flat per capita dollar amount to every enrollment type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from apmkit.errors import ConfigurationError

__all__ = ["PriorSavingsAdjustment", "PriorYear", "prior_savings_adjustment"]

_HALF = Decimal("0.5")
_FIVE_PERCENT = Decimal("0.05")


@dataclass(frozen=True)
class PriorYear:
    """One of the 3 performance years before the agreement period."""

    per_capita_savings: Decimal | None
    """Per capita savings (+) or losses (−); None when the ACO was not reconciled for the year."""
    eligible_for_payment: bool = True
    """False when the ACO generated savings but could not be paid for them (noncompliance): counted as 0."""


@dataclass(frozen=True)
class PriorSavingsAdjustment:
    """Every step of 425.658 and the adjustment 425.652(a)(8) applies."""

    counted: tuple[Decimal, ...]
    average: Decimal
    eligible: bool
    prorated_average: Decimal | None
    prior_savings_adjustment: Decimal | None
    applied: Literal["prior_savings", "regional", "none"]
    applied_per_capita: Decimal | None
    """Per capita amount of the applied adjustment: the prior savings adjustment (flat dollars) or the regional
    adjustment's single value (applied by enrollment type under 425.656(c)); None when no adjustment applies."""
    rule: str


def prior_savings_adjustment(
    prior_years: Sequence[PriorYear],
    *,
    proration_factor: Decimal | None,
    national_per_capita_by3: Decimal,
    regional_adjustment: Decimal,
) -> PriorSavingsAdjustment:
    """The prior savings adjustment and which benchmark adjustment applies (per capita, exact Decimal).

    Raises
    ------
    ConfigurationError
        Not exactly 3 prior years; a positive average with no ``proration_factor`` (the rule needs CMS's factor,
        which is never assumed); a proration factor outside (0, 1].
    """
    if len(prior_years) != 3:
        raise ConfigurationError("prior_years: give the 3 performance years before the agreement period")
    with localcontext() as ctx:
        ctx.prec = 50
        counted = tuple(
            Decimal(0)
            if year.per_capita_savings is None
            or (year.per_capita_savings > 0 and not year.eligible_for_payment)
            else year.per_capita_savings
            for year in prior_years
        )
        average = sum(counted, Decimal(0)) / 3
        prorated: Decimal | None = None
        psa: Decimal | None = None
        eligible = average > 0
        if eligible:
            if proration_factor is None:
                raise ConfigurationError(
                    "proration_factor is missing: a positive prior savings average is pro-rated for assigned "
                    "population growth (42 CFR 425.658(b)(3)(ii)); give CMS's factor"
                )
            if not Decimal(0) < proration_factor <= 1:
                raise ConfigurationError("proration_factor must be in (0, 1]")
            prorated = average * proration_factor
            psa = min(_HALF * prorated, _FIVE_PERCENT * national_per_capita_by3)
    applied: Literal["prior_savings", "regional", "none"]
    if not eligible:
        applied, amount = ("regional", regional_adjustment) if regional_adjustment > 0 else ("none", None)
        rule = "425.652(a)(8)(ii)" if applied == "regional" else "425.652(a)(8)(iii)"
    else:
        assert psa is not None
        if regional_adjustment > 0 and regional_adjustment > psa:
            applied, amount, rule = "regional", regional_adjustment, "425.652(a)(8)(iv)(A)"
        else:
            applied, amount = "prior_savings", psa
            rule = "425.652(a)(8)(iv)(B)" if regional_adjustment > 0 else "425.652(a)(8)(v)"
    return PriorSavingsAdjustment(
        counted=counted,
        average=average,
        eligible=eligible,
        prorated_average=prorated,
        prior_savings_adjustment=psa,
        applied=applied,
        applied_per_capita=amount,
        rule=f"42 CFR 425.658; {rule}",
    )
