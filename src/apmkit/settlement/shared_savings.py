"""Exact one- and two-sided shared savings / shared losses on aggregate inputs.

This is the arithmetic every shared-savings contract shares (MSSP Tracks 1-3, BASIC A-E, ENHANCED, Track 1+,
commercial upside-only or two-sided contracts): one entity, one performance period, aggregate inputs
(benchmark, expenditure, person-years, assigned population, quality). It is deliberately plain Python
:class:`~decimal.Decimal`: settlement amounts are a handful of numbers per entity and must be exact and
auditable, so every step is recorded as a :class:`TraceLine` with its formula, inputs and the rule it applies.

Public API (stable; the contract spec embeds :class:`SharedSavingsTerms`):

- :class:`SharedSavingsTerms` — the contract terms (frozen pydantic v2 model, loadable from YAML/JSON).
- :class:`SharedSavingsInputs` — one entity's aggregate inputs for one period.
- :func:`compute_shared_savings` — terms + inputs → :class:`SharedSavingsResult`.
- :func:`variable_rate` — the MSR/MLR for a population size from a table of bands.

Order of operations (42 CFR 425.604-425.610; confirmed against CMS's published MSSP results, see
docs/mssp.md)::

    B, E          total benchmark and expenditure (per-capita × person-years when given per capita)
    savings rate  s = (B − E) / B
    savings       if s > 0 and s ≥ MSR:            generated = B − E
    losses        if two-sided, s < 0 and −s ≥ MLR: generated = B − E   (negative)
    sharing base  first dollar: |generated|;  above the MSR/MLR: |generated| − rate × B
    earned        min(base × final sharing rate × (1 − sequestration), savings cap)   (cap after sequestration
                  by default: the published MSSP amounts equal the cap exactly, with no 0.98 after it)
    owed          max(0, min(base × loss rate, loss cap) × (1 − EUC fraction) − EUC amount)
    net           earned − owed

Amounts are rounded half-up to cents only at the end (``earned``, ``owed``, ``net``); every intermediate value
is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from pydantic import Field, model_validator

from apmkit.contracts.shared_savings_terms import (
    BelowMinimumSharing,
    CapTerms,
    LossBenchmarkGuardrail,
    LossRateTerms,
    MinimumRateBand,
    MinimumRateTerms,
    QualityDefault,
    QualityTerms,
    SharedSavingsTerms,
    TerminationTerms,
    TermsModel,
)
from apmkit.money import round_money

__all__ = [
    "BelowMinimumSharing",
    "CapTerms",
    "LossBenchmarkGuardrail",
    "LossRateTerms",
    "MinimumRateBand",
    "MinimumRateTerms",
    "QualityDefault",
    "QualityTerms",
    "SharedSavingsInputs",
    "SharedSavingsResult",
    "SharedSavingsTerms",
    "TerminationTerms",
    "TraceLine",
    "compute_shared_savings",
    "variable_rate",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
# Enough digits for products of 18-digit money and 10-digit rates without rounding.
_PRECISION = 50

_Frozen = TermsModel


class SharedSavingsInputs(_Frozen):
    """One entity's aggregate inputs for one performance period.

    ``benchmark`` and ``expenditure`` are totals, or per-capita amounts when ``per_capita`` is true (then
    ``person_years`` is required and totals are per-capita × person-years).
    """

    benchmark: Decimal = Field(gt=0)
    expenditure: Decimal = Field(ge=0)
    per_capita: bool = False
    person_years: Decimal | None = Field(default=None, gt=0)
    assigned_population: int | None = Field(default=None, ge=0, description="Needed for a variable MSR/MLR.")
    quality_score: Decimal | None = Field(default=None, ge=0, le=1)
    quality_standard_met: bool | None = Field(
        default=None,
        description=(
            "None: not reported. Quality method scale then reads a score of 0 as not met; gate methods need the "
            "flag; with no score either it is an error unless the terms give quality.if_missing."
        ),
    )
    alternative_quality_standard_met: bool = False
    participant_revenue: Decimal | None = Field(default=None, ge=0, description="For revenue-based caps.")
    guardrail_applies: bool | None = Field(
        default=None,
        description="Whether the loss benchmark guardrail applies to the entity (see the terms).",
    )
    recalculated_benchmark: Decimal | None = Field(
        default=None,
        gt=0,
        description="Updated benchmark recalculated without the ACPT (two-way blend), same units as benchmark.",
    )
    below_msr_sharing_eligible: bool | None = Field(
        default=None,
        description=(
            "Eligible for reduced sharing below the MSR (MSSP: low-revenue ACO, agreement period from 2024); "
            "needed only when the terms have below_msr_sharing and the savings are positive but below the MSR."
        ),
    )
    terminated_during_year: bool = Field(
        default=False,
        description="The agreement ended during the period (MSSP 42 CFR 425.221(b)); the terms say what follows.",
    )
    termination_loss_share: Decimal | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "Share of the period's owed losses a terminated entity is liable for (MSSP: the pro-rated share, "
            "425.221(b)(2)(ii)); required when a terminated entity owes losses under prorated terms."
        ),
    )
    euc_affected_fraction: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1,
        description="Extreme and uncontrollable circumstances: share of months × share of beneficiaries hit.",
    )
    euc_loss_reduction: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="Extreme and uncontrollable circumstances reduction of owed losses ($).",
    )

    @model_validator(mode="after")
    def _per_capita_needs_person_years(self) -> SharedSavingsInputs:
        if self.per_capita and self.person_years is None:
            raise ValueError("person_years is required when per_capita is true")
        return self


class TraceLine(_Frozen):
    """One step of a settlement: what was computed, how, from what, and under which rule."""

    label: str
    formula: str
    inputs: dict[str, str]
    value: Decimal | str
    rule: str = ""
    unit: Literal["USD", "rate"] = "USD"


class SharedSavingsResult(_Frozen):
    """Every figure of the computation, plus the trace that explains it."""

    total_benchmark: Decimal
    total_expenditure: Decimal
    savings_rate: Decimal
    minimum_savings_rate: Decimal
    minimum_loss_rate: Decimal | None
    outcome: Literal["savings", "losses", "neither"]
    generated_savings_losses: Decimal
    sharing_base: Decimal
    final_sharing_rate: Decimal
    loss_rate: Decimal | None
    shared_savings_before_cap: Decimal
    savings_cap: Decimal | None
    savings_cap_incomplete: bool = Field(
        default=False, description="A revenue-based savings cap applies but no participant revenue was given."
    )
    earned_savings: Decimal
    shared_losses_before_cap: Decimal
    loss_cap: Decimal | None
    loss_cap_incomplete: bool = Field(
        default=False, description="A revenue-based loss cap applies but no participant revenue was given."
    )
    owed_losses: Decimal
    net: Decimal
    savings_forfeited: bool = Field(
        default=False, description="Earned savings set to 0: the agreement ended during the period."
    )
    loss_share: Decimal = Field(
        default=Decimal(1), description="Share of the limited losses owed (pro-rated after termination)."
    )
    trace: tuple[TraceLine, ...]


def variable_rate(bands: tuple[MinimumRateBand, ...], population: int) -> Decimal:
    """The MSR/MLR for ``population`` from a table of bands (linear interpolation within the band).

    Raises
    ------
    ValueError
        If no band contains ``population``.
    """
    for band in bands:
        upper = band.max_population
        if population < band.min_population or (upper is not None and population > upper):
            continue
        if upper is None or band.rate_at_max is None:
            return band.rate_at_min
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            position = Decimal(population - band.min_population) / Decimal(upper - band.min_population)
            return band.rate_at_min + (band.rate_at_max - band.rate_at_min) * position
    raise ValueError(f"no MSR/MLR band covers an assigned population of {population}")


def _minimum_rate(terms: MinimumRateTerms, population: int | None, which: str) -> Decimal:
    if terms.kind == "fixed":
        assert terms.rate is not None  # guaranteed by MinimumRateTerms validation
        return terms.rate
    if population is None:
        raise ValueError(f"assigned_population is required for a variable {which}")
    return variable_rate(terms.bands, population)


@dataclass(frozen=True)
class _Quality:
    """An entity's quality result as the terms read it; ``met`` None = not known (``problem`` says why)."""

    score: Decimal | None
    met: bool | None
    alternative_met: bool
    problem: str = ""


def _resolve_quality(
    terms: SharedSavingsTerms, inputs: SharedSavingsInputs, trace: list[TraceLine]
) -> _Quality:
    method = terms.quality.method
    score, flag = inputs.quality_score, inputs.quality_standard_met
    alternative = inputs.alternative_quality_standard_met
    if method == "none":
        return _Quality(score, True, alternative)
    if score is None and flag is None:
        default = terms.quality.if_missing
        if default is None:
            return _Quality(
                None,
                None,
                False,
                "quality_score and quality_standard_met are both missing (quality method "
                f"{method}); give them, or state the contract's default in quality.if_missing",
            )
        trace.append(
            TraceLine(
                label="Assumption: no quality data reported",
                formula="contract default (terms.quality.if_missing)",
                inputs={
                    "quality_standard_met": str(default.quality_standard_met),
                    "quality_score": str(default.quality_score),
                    "alternative_quality_standard_met": str(default.alternative_quality_standard_met),
                },
                value="assumed",
                rule=default.reason,
            )
        )
        return _Quality(
            default.quality_score, default.quality_standard_met, default.alternative_quality_standard_met
        )
    if flag is None:
        if method == "scale":
            assert score is not None
            return _Quality(score, score > 0, alternative)
        return _Quality(
            score,
            None,
            alternative,
            f"quality_standard_met is missing: under quality method {method} the sharing rate depends on whether "
            "the quality performance standard was met, which a score alone does not say",
        )
    return _Quality(score, flag, alternative)


def _final_sharing_rate(terms: SharedSavingsTerms, quality: _Quality) -> tuple[Decimal, str]:
    method = terms.quality.method
    maximum = terms.max_sharing_rate
    if method == "none":
        return maximum, "max_sharing_rate"
    if quality.met is None:
        raise ValueError(quality.problem)
    if method == "gate":
        return (
            (maximum, "max_sharing_rate (quality standard met)")
            if quality.met
            else (_ZERO, "0 (quality standard not met)")
        )
    if method == "gate_or_sliding_scale":
        if quality.met:
            return maximum, "max_sharing_rate (quality standard met)"
        if quality.alternative_met:
            return (
                maximum * _score(quality, method),
                "max_sharing_rate × quality_score (alternative standard met)",
            )
        return _ZERO, "0 (quality standard and alternative standard not met)"
    if not quality.met:
        return _ZERO, "0 (quality standard not met)"
    return maximum * _score(quality, method), "max_sharing_rate × quality_score"


def _score(quality: _Quality, method: str) -> Decimal:
    if quality.score is None:
        raise ValueError(f"quality_score is missing: quality method {method} scales the rate by it")
    return quality.score


def _loss_rate(
    terms: SharedSavingsTerms, final_sharing_rate: Decimal, quality: _Quality
) -> tuple[Decimal, str]:
    loss = terms.loss_rate
    assert loss is not None
    if loss.method == "fixed":
        assert loss.rate is not None
        raw, formula = loss.rate, "fixed rate"
        return min(
            max(raw, loss.floor), loss.ceiling
        ), f"{formula}, bounded to [{loss.floor}, {loss.ceiling}]"
    if quality.met is None:
        raise ValueError(quality.problem)
    sliding = terms.quality.method == "gate_or_sliding_scale" and quality.alternative_met
    if not quality.met and not sliding:
        rate = loss.rate_when_quality_not_met if loss.rate_when_quality_not_met is not None else loss.ceiling
        return rate, "quality standard not met"
    if loss.method == "one_minus_final_sharing_rate":
        raw, formula = _ONE - final_sharing_rate, "1 − final_sharing_rate"
    else:
        assert loss.max_rate_factor is not None
        raw = _ONE - loss.max_rate_factor * _score(quality, terms.quality.method)
        formula = "1 − max_rate_factor × quality_score"
    if not quality.met:
        formula += " (only the alternative quality standard met)"
    bounded = min(max(raw, loss.floor), loss.ceiling)
    return bounded, f"{formula}, bounded to [{loss.floor}, {loss.ceiling}]"


def _cap(
    cap: CapTerms,
    total_benchmark: Decimal,
    revenue: Decimal | None,
    label: str,
    trace: list[TraceLine],
    *,
    revenue_irrelevant: str = "",
) -> tuple[Decimal | None, bool]:
    """The binding cap amount (None = uncapped) and whether the revenue part was left out for lack of revenue.

    Without participant revenue a revenue part is an error naming ``participant_revenue``, unless the cap says
    ``if_revenue_missing: benchmark_part_only`` (an assumption line) or ``revenue_irrelevant`` explains why the
    amount cannot depend on it.
    """
    parts: list[Decimal] = []
    inputs: dict[str, str] = {}
    incomplete = False
    if cap.pct_of_benchmark is not None:
        parts.append(cap.pct_of_benchmark * total_benchmark)
        inputs["pct_of_benchmark"] = str(cap.pct_of_benchmark)
        inputs["total_benchmark"] = str(total_benchmark)
    if cap.pct_of_revenue is not None:
        inputs["pct_of_revenue"] = str(cap.pct_of_revenue)
        if revenue is not None:
            parts.append(cap.pct_of_revenue * revenue)
            inputs["participant_revenue"] = str(revenue)
        elif revenue_irrelevant:
            inputs["participant_revenue"] = f"not given; not needed: {revenue_irrelevant}"
        elif cap.if_revenue_missing == "error":
            raise ValueError(
                f"participant_revenue is missing: the {label.lower()} is the lower of {cap.pct_of_revenue} × ACO "
                "participant revenue"
                + (f" and {cap.pct_of_benchmark} × benchmark" if cap.pct_of_benchmark is not None else "")
                + "; give participant_revenue, or state the contract's choice (if_revenue_missing: "
                "benchmark_part_only)"
            )
        else:
            incomplete = True
            inputs["participant_revenue"] = "not given"
            trace.append(
                TraceLine(
                    label=f"Assumption: {label.lower()} without its revenue part",
                    formula="contract choice if_revenue_missing: benchmark_part_only",
                    inputs={"pct_of_revenue": str(cap.pct_of_revenue)},
                    value="assumed",
                    rule=(
                        "no participant revenue given: the revenue-based part is not applied, so the cap (and any "
                        "amount it limits) is an upper bound"
                    ),
                )
            )
    if not parts:
        return None, incomplete
    amount = min(parts)
    trace.append(
        TraceLine(
            label=label,
            formula="lower of pct_of_benchmark × total_benchmark and pct_of_revenue × participant_revenue",
            inputs=inputs,
            value=amount,
            rule=cap.citation,
        )
    )
    return amount, incomplete


def compute_shared_savings(terms: SharedSavingsTerms, inputs: SharedSavingsInputs) -> SharedSavingsResult:
    """Earned shared savings or owed shared losses for one entity and period, with a full trace.

    Parameters
    ----------
    terms
        The arrangement's terms.
    inputs
        The entity's aggregate inputs.

    Returns
    -------
    SharedSavingsResult
        ``earned_savings`` ≥ 0, ``owed_losses`` ≥ 0 (always 0 when one-sided), ``net = earned − owed``, all
        rounded half-up to cents; rates and intermediate amounts exact.

    Raises
    ------
    ValueError
        When an input the terms need is missing (assigned population for a variable MSR; quality score or
        quality-standard flag where an amount depends on them and the terms state no default; participant
        revenue for a revenue-based cap the terms do not explicitly waive). The message names the field.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _compute(terms, inputs)


def _compute(terms: SharedSavingsTerms, inputs: SharedSavingsInputs) -> SharedSavingsResult:
    trace: list[TraceLine] = []
    if inputs.per_capita:
        assert inputs.person_years is not None
        benchmark = inputs.benchmark * inputs.person_years
        expenditure = inputs.expenditure * inputs.person_years
        trace.append(
            TraceLine(
                label="Total benchmark",
                formula="per-capita benchmark × person-years",
                inputs={"benchmark": str(inputs.benchmark), "person_years": str(inputs.person_years)},
                value=benchmark,
            )
        )
        trace.append(
            TraceLine(
                label="Total expenditure",
                formula="per-capita expenditure × person-years",
                inputs={"expenditure": str(inputs.expenditure), "person_years": str(inputs.person_years)},
                value=expenditure,
            )
        )
    else:
        benchmark, expenditure = inputs.benchmark, inputs.expenditure

    difference = benchmark - expenditure
    savings_rate = difference / benchmark
    trace.append(
        TraceLine(
            label="Savings rate",
            unit="rate",
            formula="(benchmark − expenditure) / benchmark",
            inputs={"benchmark": str(benchmark), "expenditure": str(expenditure)},
            value=savings_rate,
        )
    )

    population = inputs.assigned_population
    msr = _minimum_rate(terms.minimum_savings_rate, population, "MSR")
    trace.append(
        TraceLine(
            label="Minimum savings rate",
            unit="rate",
            formula=_rate_formula(terms.minimum_savings_rate),
            inputs={"assigned_population": str(population)},
            value=msr,
            rule=terms.minimum_savings_rate.citation,
        )
    )
    two_sided = terms.sided == "two_sided"
    mlr: Decimal | None = None
    if two_sided:
        mlr_terms = terms.minimum_loss_rate or terms.minimum_savings_rate
        mlr = _minimum_rate(mlr_terms, population, "MLR")
        trace.append(
            TraceLine(
                label="Minimum loss rate",
                unit="rate",
                formula=_rate_formula(mlr_terms)
                + ("" if terms.minimum_loss_rate else " (symmetric: equals the MSR)"),
                inputs={"assigned_population": str(population)},
                value=mlr,
                rule=mlr_terms.citation,
            )
        )

    if savings_rate > 0 and savings_rate >= msr:
        outcome: Literal["savings", "losses", "neither"] = "savings"
    elif two_sided and mlr is not None and savings_rate < 0 and -savings_rate >= mlr:
        outcome = "losses"
    else:
        outcome = "neither"
    guard = terms.loss_benchmark_guardrail
    if outcome == "losses" and guard is not None:
        applies = inputs.guardrail_applies
        if applies is None:
            if guard.applies is None:
                raise ValueError(
                    "guardrail_applies is missing: losses may be measured against a recalculated benchmark "
                    f"({guard.citation or 'terms loss_benchmark_guardrail'}); give true or false, or state it in the "
                    "contract (loss_benchmark_guardrail.applies)"
                )
            applies = guard.applies
            trace.append(
                TraceLine(
                    label="Assumption: loss benchmark guardrail",
                    formula="contract term loss_benchmark_guardrail.applies (no entity input)",
                    inputs={"applies": str(applies)},
                    value="assumed",
                    rule=guard.citation,
                )
            )
        if applies:
            if inputs.recalculated_benchmark is None:
                raise ValueError(
                    "recalculated_benchmark is missing: the loss benchmark guardrail applies "
                    f"({guard.citation or 'terms loss_benchmark_guardrail'})"
                )
            recalculated = inputs.recalculated_benchmark
            if inputs.per_capita:
                assert inputs.person_years is not None
                recalculated = recalculated * inputs.person_years
            if recalculated > benchmark:
                if expenditure <= recalculated:
                    outcome, verdict = (
                        "neither",
                        "expenditure not above the recalculated benchmark: no losses",
                    )
                else:
                    benchmark = recalculated
                    difference = benchmark - expenditure
                    savings_rate = difference / benchmark
                    assert mlr is not None
                    outcome = "losses" if -savings_rate >= mlr else "neither"
                    verdict = "losses measured against the recalculated benchmark"
            else:
                verdict = "recalculated benchmark not higher: the updated benchmark stands"
            trace.append(
                TraceLine(
                    label="Loss benchmark guardrail",
                    formula=verdict,
                    inputs={"recalculated_benchmark": str(recalculated), "expenditure": str(expenditure)},
                    value=benchmark,
                    rule=guard.citation,
                )
            )
    below = terms.below_msr_sharing
    below_msr = False
    if outcome == "neither" and below is not None and savings_rate > 0 and population is None:
        raise ValueError(
            "assigned_population is missing: savings below the MSR may be shared by an entity with at least "
            f"{below.min_population} assigned beneficiaries ({below.citation or 'terms below_msr_sharing'})"
        )
    if (
        outcome == "neither"
        and below is not None
        and savings_rate > 0
        and population is not None
        and population >= below.min_population
    ):
        eligible = inputs.below_msr_sharing_eligible
        if eligible is None:
            if below.eligible is None:
                raise ValueError(
                    "below_msr_sharing_eligible is missing: savings below the MSR are shared at a reduced rate by "
                    f"an eligible entity ({below.citation or 'terms below_msr_sharing'}); give true or false, or "
                    "state it in the contract (below_msr_sharing.eligible)"
                )
            eligible = below.eligible
            trace.append(
                TraceLine(
                    label="Assumption: eligibility for sharing below the MSR",
                    formula="contract term below_msr_sharing.eligible (no entity input)",
                    inputs={"eligible": str(eligible)},
                    value="assumed",
                    rule=below.citation,
                )
            )
        if eligible:
            outcome, below_msr = "savings", True
    generated = difference if outcome != "neither" else _ZERO
    trace.append(
        TraceLine(
            label="Generated savings/losses",
            formula="benchmark − expenditure if savings_rate ≥ MSR or −savings_rate ≥ MLR, else 0",
            inputs={"savings_rate": str(savings_rate), "msr": str(msr), "mlr": str(mlr), "outcome": outcome},
            value=generated,
        )
    )

    termination = _termination(terms, inputs, outcome, trace)
    threshold = msr if outcome == "savings" else (mlr or _ZERO)
    if terms.sharing_basis == "above_minimum_rate" and outcome != "neither" and not below_msr:
        sharing_base = abs(generated) - threshold * benchmark
        base_formula = "|generated| − minimum rate × benchmark"
    else:
        sharing_base = abs(generated)
        base_formula = "|generated| (first-dollar sharing)"
    trace.append(
        TraceLine(
            label="Sharing base",
            formula=base_formula,
            inputs={"generated": str(generated), "minimum_rate": str(threshold), "benchmark": str(benchmark)},
            value=sharing_base,
        )
    )

    quality = _resolve_quality(terms, inputs, trace)
    loss_needs_rate = terms.loss_rate is not None and terms.loss_rate.method == "one_minus_final_sharing_rate"
    try:
        final_rate, rate_formula = _final_sharing_rate(terms, quality)
    except ValueError:
        if outcome == "savings" or (outcome == "losses" and loss_needs_rate):
            raise
        # Nothing depends on the rate, so missing quality data does not matter: report a zero rate, not fail.
        final_rate, rate_formula = _ZERO, "not computed: no quality result, and no amount depends on it"
    if below_msr:
        assert below is not None
        reduced = final_rate * below.rate_factor
        trace.append(
            TraceLine(
                label="Savings below the MSR: reduced sharing",
                formula="eligible entity, savings > 0 but below the MSR, population ≥ min_population",
                inputs={
                    "savings_rate": str(savings_rate),
                    "msr": str(msr),
                    "assigned_population": str(population),
                    "min_population": str(below.min_population),
                },
                value="applies",
                rule=below.citation,
            )
        )
        final_rate = reduced
        rate_formula = f"({rate_formula}) × {below.rate_factor} (savings below the MSR)"
    trace.append(
        TraceLine(
            label="Final sharing rate",
            unit="rate",
            formula=rate_formula,
            inputs={
                "max_sharing_rate": str(terms.max_sharing_rate),
                "quality_score": str(quality.score),
                "quality_standard_met": str(quality.met),
                "alternative_quality_standard_met": str(quality.alternative_met),
            },
            value=final_rate,
            rule=terms.quality.citation,
        )
    )

    savings_before_cap = _ZERO
    savings_cap_amount: Decimal | None = None
    savings_cap_incomplete = False
    earned = _ZERO
    if outcome == "savings":
        savings_cap_amount, savings_cap_incomplete = _cap(
            terms.savings_cap, benchmark, inputs.participant_revenue, "Savings cap", trace
        )
        keep = _ONE - terms.sequestration_rate
        if terms.sequestration_before_cap:
            savings_before_cap = sharing_base * final_rate * keep
            formula = "sharing_base × final_sharing_rate × (1 − sequestration_rate)"
            capped = _lower(savings_before_cap, savings_cap_amount)
        else:
            savings_before_cap = sharing_base * final_rate
            formula = "sharing_base × final_sharing_rate"
            capped = _lower(savings_before_cap, savings_cap_amount) * keep
        trace.append(
            TraceLine(
                label="Shared savings before cap",
                formula=formula,
                inputs={
                    "sharing_base": str(sharing_base),
                    "final_sharing_rate": str(final_rate),
                    "sequestration_rate": str(terms.sequestration_rate),
                },
                value=savings_before_cap,
            )
        )
        earned = _ZERO if termination.savings_forfeited else round_money(capped)
        trace.append(
            TraceLine(
                label="Earned shared savings",
                formula=(
                    "min(shared savings before cap, savings cap), to cents"
                    if terms.sequestration_before_cap
                    else "min(shared savings before cap, savings cap) × (1 − sequestration_rate), to cents"
                )
                + ("; 0: the agreement ended during the period" if termination.savings_forfeited else ""),
                inputs={"before_cap": str(savings_before_cap), "savings_cap": str(savings_cap_amount)},
                value=earned,
                rule=terms.citation,
            )
        )

    loss_rate: Decimal | None = None
    losses_before_cap = _ZERO
    loss_cap_amount: Decimal | None = None
    loss_cap_incomplete = False
    owed = _ZERO
    if two_sided:
        assert terms.loss_rate is not None
        try:
            loss_rate, loss_formula = _loss_rate(terms, final_rate, quality)
        except ValueError:
            if outcome == "losses":
                raise
            loss_rate = None  # no loss to share: the rate is not needed
        if loss_rate is not None:
            trace.append(
                TraceLine(
                    label="Shared loss rate",
                    unit="rate",
                    formula=loss_formula,
                    inputs={"final_sharing_rate": str(final_rate), "quality_score": str(quality.score)},
                    value=loss_rate,
                    rule=terms.loss_rate.citation,
                )
            )
    if outcome == "losses":
        assert loss_rate is not None
        losses_before_cap = sharing_base * loss_rate
        trace.append(
            TraceLine(
                label="Shared losses before cap",
                formula="sharing_base × loss_rate",
                inputs={"sharing_base": str(sharing_base), "loss_rate": str(loss_rate)},
                value=losses_before_cap,
            )
        )
        loss_cap_amount, loss_cap_incomplete = _cap(
            terms.loss_cap,
            benchmark,
            inputs.participant_revenue,
            "Loss cap",
            trace,
            revenue_irrelevant="the EUC reduction removes the whole loss"
            if inputs.euc_affected_fraction == _ONE
            else "",
        )
        capped_losses = _lower(losses_before_cap, loss_cap_amount) * termination.loss_share
        after_euc = capped_losses * (_ONE - inputs.euc_affected_fraction) - inputs.euc_loss_reduction
        owed = round_money(max(_ZERO, after_euc))
        trace.append(
            TraceLine(
                label="Owed shared losses",
                formula="max(0, min(before cap, loss cap)"
                + (" × termination share" if termination.loss_share != _ONE else "")
                + " × (1 − EUC fraction) − EUC amount), to cents",
                inputs={
                    "before_cap": str(losses_before_cap),
                    "loss_cap": str(loss_cap_amount),
                    **(
                        {"termination_loss_share": str(termination.loss_share)}
                        if termination.loss_share != _ONE
                        else {}
                    ),
                    "euc_affected_fraction": str(inputs.euc_affected_fraction),
                    "euc_loss_reduction": str(inputs.euc_loss_reduction),
                },
                value=owed,
                rule="EUC after the loss rate and the loss cap (42 CFR 425.605(f), 425.606(i), 425.610(i))",
            )
        )

    net = earned - owed
    trace.append(
        TraceLine(
            label="Net settlement",
            formula="earned shared savings − owed shared losses",
            inputs={"earned": str(earned), "owed": str(owed)},
            value=net,
        )
    )
    return SharedSavingsResult(
        total_benchmark=benchmark,
        total_expenditure=expenditure,
        savings_rate=savings_rate,
        minimum_savings_rate=msr,
        minimum_loss_rate=mlr,
        outcome=outcome,
        generated_savings_losses=generated,
        sharing_base=sharing_base,
        final_sharing_rate=final_rate,
        loss_rate=loss_rate,
        shared_savings_before_cap=savings_before_cap,
        savings_cap=savings_cap_amount,
        savings_cap_incomplete=savings_cap_incomplete,
        earned_savings=earned,
        shared_losses_before_cap=losses_before_cap,
        loss_cap=loss_cap_amount,
        loss_cap_incomplete=loss_cap_incomplete,
        owed_losses=owed,
        net=net,
        savings_forfeited=termination.savings_forfeited,
        loss_share=termination.loss_share,
        trace=tuple(trace),
    )


@dataclass(frozen=True)
class _Termination:
    savings_forfeited: bool = False
    loss_share: Decimal = _ONE


def _termination(
    terms: SharedSavingsTerms, inputs: SharedSavingsInputs, outcome: str, trace: list[TraceLine]
) -> _Termination:
    """What ending the agreement during the period does to this settlement (nothing when it did not end)."""
    if not inputs.terminated_during_year:
        return _Termination()
    clause = terms.termination
    if clause is None:
        raise ValueError(
            "terminated_during_year is true but the terms do not say what termination during the period does "
            "(terms.termination)"
        )
    forfeited = outcome == "savings" and clause.savings_forfeited
    share = _ONE
    if outcome == "losses" and clause.losses == "prorated_share_input":
        if inputs.termination_loss_share is None:
            raise ValueError(
                "termination_loss_share is missing: an entity whose agreement ended during the period owes a "
                f"pro-rated share of its losses ({clause.citation or 'terms termination'})"
            )
        share = inputs.termination_loss_share
    trace.append(
        TraceLine(
            label="Termination during the period",
            formula=(
                "no shared savings for the period"
                if forfeited
                else f"owed losses × termination share {share}"
                if outcome == "losses" and share != _ONE
                else "no effect on this outcome"
            ),
            inputs={
                "outcome": outcome,
                "savings_forfeited": str(clause.savings_forfeited),
                "losses": clause.losses,
                "termination_loss_share": str(inputs.termination_loss_share),
            },
            value="applies",
            rule=clause.citation,
        )
    )
    return _Termination(savings_forfeited=forfeited, loss_share=share)


def _lower(amount: Decimal, cap: Decimal | None) -> Decimal:
    return amount if cap is None else min(amount, cap)


def _rate_formula(terms: MinimumRateTerms) -> str:
    if terms.kind == "fixed":
        return "fixed rate"
    return "low + (high − low) × (N − band start) / (band end − band start), in the band containing N"
