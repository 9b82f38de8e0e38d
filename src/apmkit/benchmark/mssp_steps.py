"""MSSP benchmark arithmetic on per-enrollment-type figures, in exact Decimal.

Each function implements one paragraph of 42 CFR 425.652-425.658 on the handful of per-type numbers a
benchmark is built from (the per-member work happens on the engine, in :mod:`apmkit.benchmark.expenditure`).
Each returns its result plus the :class:`Line` items a statement prints, so the build-up is traceable.
Rounding happens only where a dollar figure is reported (cents, half-up); factors keep full precision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apmkit.benchmark.spec import (
    ENROLLMENT_TYPES,
    EnrollmentType,
    PriorSavingsSpec,
    RegionalAdjustmentSpec,
    RiskGrowthCapSpec,
    UpdateSpec,
)
from apmkit.errors import ConfigurationError
from apmkit.money import round_money

ZERO = Decimal(0)
ONE = Decimal(1)

# Regional adjustment percentages by occurrence: (ACO spends less than region, ACO spends more).
# 42 CFR 425.656(c) (docs/reference/methodology.md §1.5 step 3).
REGIONAL_PERCENTAGES: dict[int, tuple[Decimal, Decimal]] = {
    1: (Decimal("0.35"), Decimal("0.15")),
    2: (Decimal("0.50"), Decimal("0.25")),
    3: (Decimal("0.50"), Decimal("0.35")),
    4: (Decimal("0.50"), Decimal("0.50")),
}


@dataclass(frozen=True)
class Line:
    """One line of a benchmark build-up statement.

    Attributes
    ----------
    step
        Machine name of the step (``per_capita``, ``trend``, ``regional_adjustment`` ...).
    label
        Human-readable description.
    value
        The figure (dollars per capita, a factor, a weight or a count, see ``unit``).
    unit
        ``usd_per_capita``, ``usd``, ``factor``, ``weight``, ``person_years`` or ``flag``.
    enrollment_type
        Enrollment type (or entity), ``all`` for single values.
    year
        Calendar year the figure belongs to, when it has one.
    source
        Regulation or document the step implements.
    """

    step: str
    label: str
    value: Decimal
    unit: str
    enrollment_type: str = "all"
    year: int | None = None
    source: str = ""


PerType = Mapping[EnrollmentType, Decimal]


def _types(values: Mapping[Any, object]) -> list[EnrollmentType]:
    return [k for k in ENROLLMENT_TYPES if k in values]


def weighted_average(values: Sequence[Decimal], weights: Sequence[Decimal]) -> Decimal:
    """Σ value x weight (weights already sum to 1)."""
    if len(values) != len(weights):
        raise ConfigurationError("one weight per value is needed")
    return sum((v * w for v, w in zip(values, weights, strict=True)), ZERO)


def mix_weighted(values: PerType, person_years: PerType) -> Decimal:
    """Per-type values weighted by person-years (the single-value form of a per-type figure)."""
    total = sum((person_years.get(k, ZERO) for k in values), ZERO)
    if total == 0:
        return ZERO
    return sum((values[k] * person_years.get(k, ZERO) for k in values), ZERO) / total


def base_year_blend(
    per_capita_by_year: Sequence[PerType], weights: Sequence[Decimal], trend_to_by3: Sequence[PerType]
) -> tuple[dict[EnrollmentType, Decimal], list[Line]]:
    """Trend BY1/BY2 to BY3 and weight the three years (425.652(a)(5)-(7)).

    Parameters
    ----------
    per_capita_by_year
        Per-capita expenditure by type for BY1, BY2, BY3.
    weights
        BY1/BY2/BY3 weights (10/30/60 or equal).
    trend_to_by3
        Trend factor to BY3 by type for each base year (BY3's is 1).
    """
    lines: list[Line] = []
    result: dict[EnrollmentType, Decimal] = {}
    for k in _types(per_capita_by_year[-1]):
        trended = [
            pc.get(k, ZERO) * tr.get(k, ONE) for pc, tr in zip(per_capita_by_year, trend_to_by3, strict=True)
        ]
        result[k] = weighted_average(trended, weights)
        for i, value in enumerate(trended):
            lines.append(
                Line(
                    "trended_per_capita",
                    f"BY{i + 1} per capita trended to BY3",
                    round_money(value),
                    "usd_per_capita",
                    k,
                )
            )
        lines.append(
            Line(
                "historical_per_capita",
                "Weighted historical per capita (" + "/".join(str(w.normalize()) for w in weights) + ")",
                round_money(result[k]),
                "usd_per_capita",
                k,
                source="42 CFR 425.652(a)(7)",
            )
        )
    return result, lines


def blended_trend(national: Decimal, regional: Decimal | None, national_weight: Decimal) -> Decimal:
    """National/regional trend blend: w x national + (1 - w) x regional; national alone without regional."""
    if regional is None:
        return national
    return national_weight * national + (ONE - national_weight) * regional


def regional_adjustment(
    historical: PerType,
    regional: PerType,
    national_by3: PerType,
    by3_person_years: PerType,
    spec: RegionalAdjustmentSpec,
    *,
    offset_factor: Decimal = ZERO,
) -> tuple[dict[EnrollmentType, Decimal], Decimal, list[Line]]:
    """Regional adjustment per enrollment type (42 CFR 425.656).

    ``adj_k = pct x (regional_k - historical_k)``, with ``pct`` chosen by occurrence and by whether the
    ACO spends less than its region (BY3-mix-weighted sum of differences > 0); a positive adjustment is
    capped at ``positive_cap_share`` x national BY3 per capita, a negative one floored at
    ``-negative_cap_share`` x national and then multiplied by ``1 - offset_factor`` (425.656(c)(4): the offset
    factor is dual share + (weighted BY3 HCC score - 1), bounded to [0, 1]; 0 = no offset, 1 = no negative
    adjustment).

    Returns
    -------
    per-type adjustments, the single (BY3-mix-weighted) value, statement lines.
    """
    occurrence = min(spec.occurrence, max(REGIONAL_PERCENTAGES))
    lower_pct, higher_pct = REGIONAL_PERCENTAGES[occurrence]
    types = _types(historical)
    differences = {k: regional[k] - historical[k] for k in types}
    aco_is_lower = mix_weighted(differences, by3_person_years) > 0
    pct = lower_pct if aco_is_lower else higher_pct
    lines = [
        Line(
            "regional_percentage",
            f"Regional adjustment percentage (occurrence {occurrence}, ACO spends "
            f"{'less' if aco_is_lower else 'more'} than its region)",
            pct,
            "weight",
            source="42 CFR 425.656(c)",
        )
    ]
    adjustments: dict[EnrollmentType, Decimal] = {}
    for k in types:
        raw = pct * differences[k]
        if raw >= 0:
            bound = spec.positive_cap_share * national_by3[k]
            adjusted = min(raw, bound)
        else:
            bound = -spec.negative_cap_share * national_by3[k]
            adjusted = max(raw, bound) * (ONE - offset_factor)
        adjustments[k] = adjusted
        lines.append(
            Line(
                "regional_difference",
                "Regional minus historical per capita",
                round_money(differences[k]),
                "usd_per_capita",
                k,
            )
        )
        lines.append(
            Line(
                "regional_cap",
                "Cap on the regional adjustment (share of national BY3 per capita)",
                round_money(bound),
                "usd_per_capita",
                k,
                source="42 CFR 425.656(c)(2)",
            )
        )
        lines.append(
            Line(
                "regional_adjustment",
                "Regional adjustment after cap",
                round_money(adjusted),
                "usd_per_capita",
                k,
                source="42 CFR 425.656",
            )
        )
    single = mix_weighted(adjustments, by3_person_years)
    lines.append(
        Line(
            "regional_adjustment_single",
            "Regional adjustment, single value (BY3 mix)",
            round_money(single),
            "usd_per_capita",
        )
    )
    return adjustments, single, lines


def negative_offset_factor(dual_share: Decimal, weighted_risk_score: Decimal) -> Decimal:
    """Offset for a negative regional adjustment: min(1, max(0, dual share + (risk score - 1)))."""
    return min(ONE, max(ZERO, dual_share + (weighted_risk_score - ONE)))


def prior_savings_adjustment(
    spec: PriorSavingsSpec, national_per_capita_by3: Decimal
) -> tuple[Decimal, list[Line]]:
    """Prior savings adjustment per capita (42 CFR 425.658).

    Mean of the three prior years' per-capita savings (losses negative, ineligible years 0); nothing if
    the mean is not positive; else ``min(share x mean x proration, cap share x national BY3 per capita)``.
    """
    mean = sum(spec.per_capita_savings, ZERO) / Decimal(3)
    lines = [
        Line(
            "prior_savings_mean",
            "Mean per-capita savings, 3 prior performance years",
            round_money(mean),
            "usd_per_capita",
            source="42 CFR 425.658(b)",
        )
    ]
    if mean <= 0:
        lines.append(
            Line(
                "prior_savings_adjustment",
                "Prior savings adjustment (mean not positive)",
                ZERO,
                "usd_per_capita",
                source="42 CFR 425.658(b)",
            )
        )
        return ZERO, lines
    prorated = mean * spec.proration_factor
    share = spec.max_share_of_savings * prorated
    cap = spec.cap_share_of_national * national_per_capita_by3
    adjustment = min(share, cap)
    lines += [
        Line("prior_savings_prorated", "Mean x proration factor", round_money(prorated), "usd_per_capita"),
        Line(
            "prior_savings_share",
            f"{spec.max_share_of_savings:%} of prorated mean",
            round_money(share),
            "usd_per_capita",
        ),
        Line(
            "prior_savings_cap",
            f"Cap: {spec.cap_share_of_national:%} of national per capita (BY3)",
            round_money(cap),
            "usd_per_capita",
        ),
        Line(
            "prior_savings_adjustment",
            "Prior savings adjustment",
            round_money(adjustment),
            "usd_per_capita",
            source="42 CFR 425.658(c)",
        ),
    ]
    return adjustment, lines


def combine_adjustments(
    regional_by_type: PerType,
    regional_single: Decimal,
    prior_savings: Decimal | None,
    spec: RegionalAdjustmentSpec,
) -> tuple[dict[EnrollmentType, Decimal], str, list[Line]]:
    """Pick the benchmark adjustment: regional, prior savings, or none (425.652(a)(8)).

    Agreements 2024+: a non-positive single-value regional adjustment is not applied
    (``apply_negative=False``); if the ACO is eligible for a prior savings adjustment, the larger of a
    positive regional adjustment and the PSA applies, and the PSA alone when regional is not positive.
    The PSA is a flat per-capita amount added to every enrollment type.
    """
    types = _types(regional_by_type)
    regional_applies = regional_single > 0 or spec.apply_negative
    if (
        prior_savings is not None
        and prior_savings > 0
        and (not regional_applies or prior_savings > regional_single)
    ):
        chosen = "prior_savings"
        adjustments = {k: prior_savings for k in types}
    elif regional_applies:
        chosen = "regional"
        adjustments = dict(regional_by_type)
    else:
        chosen = "none"
        adjustments = {k: ZERO for k in types}
    lines = [
        Line(
            "benchmark_adjustment",
            f"Benchmark adjustment applied ({chosen})",
            round_money(adjustments[k]),
            "usd_per_capita",
            k,
            source="42 CFR 425.652(a)(8)",
        )
        for k in types
    ]
    return adjustments, chosen, lines


def cap_risk_ratios(
    ratios: PerType, weights: PerType, spec: RiskGrowthCapSpec
) -> tuple[dict[EnrollmentType, Decimal], list[Line]]:
    """Cap risk-score growth BY3 -> PY per enrollment type (425.652(a)(10); 425.601 for 2019-2023).

    Parameters
    ----------
    ratios
        PY risk score / BY3 risk score by type.
    weights
        Aggregation weights by type: historical benchmark expenditure x PY person-years.
    """
    types = _types(ratios)
    lines: list[Line] = []
    if spec.rule == "2019":
        cap = ONE + spec.cap_points
        capped = {k: min(ratios[k], cap) for k in types}
        lines.append(Line("risk_cap", "Risk ratio cap (1 + cap)", cap, "factor", source="42 CFR 425.601(c)"))
    else:
        if spec.demographic_growth is None:
            raise ConfigurationError(
                "benchmark.mssp.risk_growth.demographic_growth is required for rule 2024"
            )
        cap = spec.demographic_growth + spec.cap_points
        aggregate = mix_weighted(ratios, weights)
        lines.append(Line("risk_aggregate_growth", "Aggregate HCC risk growth", aggregate, "factor"))
        lines.append(
            Line(
                "risk_cap",
                "Cap: aggregate demographic growth + 3 points",
                cap,
                "factor",
                source="42 CFR 425.652(a)(10)",
            )
        )
        capped = {k: min(ratios[k], cap) for k in types} if aggregate > cap else dict(ratios)
    for k in types:
        lines.append(Line("risk_ratio", "Risk ratio PY/BY3", ratios[k], "factor", k))
        lines.append(Line("risk_ratio_capped", "Risk ratio after growth cap", capped[k], "factor", k))
    return capped, lines


def update_factors(
    spec: UpdateSpec, national_weight: Decimal, regional_growth: PerType | None = None
) -> tuple[dict[EnrollmentType, Decimal], dict[EnrollmentType, Decimal], list[Line]]:
    """Annual update factors BY3 -> PY by type: three-way blend with ACPT and the two-way guardrail blend.

    ``two_way_k = w x g_nat_k + (1 - w) x g_reg_k x rsgcaf_k``;
    ``three_way_k = (1 - acpt_weight) x two_way_k + acpt_weight x acpt_k`` (42 CFR 425.652(b)).
    """
    regional = spec.regional_growth or regional_growth
    lines: list[Line] = []
    three: dict[EnrollmentType, Decimal] = {}
    two: dict[EnrollmentType, Decimal] = {}
    for k in _types(spec.national_growth):
        reg = regional.get(k) if regional else None
        adj = spec.regional_risk_growth_adjustment.get(k, ONE)
        two[k] = blended_trend(spec.national_growth[k], None if reg is None else reg * adj, national_weight)
        if spec.acpt is None:
            three[k] = two[k]
        else:
            three[k] = (ONE - spec.acpt_weight) * two[k] + spec.acpt_weight * spec.acpt[k]
        lines.append(
            Line("update_two_way", "Update, national/regional blend (guardrail)", two[k], "factor", k)
        )
        lines.append(
            Line(
                "update_three_way",
                "Update, three-way blend with ACPT",
                three[k],
                "factor",
                k,
                source="42 CFR 425.652(b)",
            )
        )
    return three, two, lines


def guardrail(
    expenditure: Decimal, three_way_benchmark: Decimal, two_way_benchmark: Decimal, minimum_loss_rate: Decimal
) -> tuple[Decimal, str]:
    """Benchmark the settlement uses under the guardrail (425.652(b)(5)).

    When expenditure exceeds the three-way benchmark by at least the MLR, the two-way benchmark is used
    if it lowers the overage; if expenditure is below the two-way benchmark there are neither savings
    nor losses (status ``no_savings_no_losses``).

    Returns
    -------
    (benchmark for settlement, status) with status ``three_way``, ``two_way`` or ``no_savings_no_losses``.
    """
    if (
        three_way_benchmark <= 0
        or (expenditure - three_way_benchmark) / three_way_benchmark < minimum_loss_rate
    ):
        return three_way_benchmark, "three_way"
    if expenditure < two_way_benchmark:
        return two_way_benchmark, "no_savings_no_losses"
    if two_way_benchmark > three_way_benchmark:
        return two_way_benchmark, "two_way"
    return three_way_benchmark, "three_way"
