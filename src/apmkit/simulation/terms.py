"""A contract's payment components applied to every scenario of one entity at once.

Each ``_<type>`` function is the vectorized twin of the settlement engine's mechanism of that type
(:mod:`apmkit.settlement.mechanisms`, :func:`apmkit.settlement.shared_savings.compute_shared_savings`): the same
terms read from the same contract model, the same order of operations and the same rounding (half-up, at the
component's final amount only), over arrays of scenarios instead of one entity. Inputs a scenario does not vary
(participant revenue, EUC relief, reporting flags, ...) come from the run's inputs for the entity.

Components whose outcome a scenario cannot change, or which need inputs scenarios do not model (episodes,
bundles), are refused with an error naming the component: a simulation never pays on a rule it does not apply.
Where the engine would refuse an entity for a missing input, the simulation stops with the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from apmkit.contracts import Contract
from apmkit.contracts import components as c
from apmkit.contracts.shared_savings_terms import CapTerms, MinimumRateTerms, SharedSavingsTerms
from apmkit.errors import ConfigurationError
from apmkit.simulation.exact import (
    ONE,
    ZERO,
    Bools,
    Ints,
    Objects,
    exact,
    full,
    maximum,
    minimum,
    pick,
    round_half_up,
    to_cents,
)

SIMULATED_TYPES: tuple[str, ...] = (
    "shared_savings",
    "risk_corridor",
    "capitation",
    "care_management_fee",
    "population_based_payment",
    "pay_for_performance",
    "pay_for_reporting",
    "infrastructure_payment",
    "sequestration",
    "extreme_uncontrollable",
    "interim_payments",
    "withhold",
    "performance_incentive",
    "performance_adjustment",
    "episode_services_payment",
)
"""Component types a simulation applies; any other type in a contract is an error naming it."""


class FixedInputs(Protocol):
    """The run's inputs of one entity (an :class:`apmkit.settlement.inputs.EntityInputs`): what no scenario varies."""

    entity_id: str
    source: str
    quality_score: Decimal | None
    quality_standard_met: bool | None
    alternative_quality_standard_met: bool
    participant_revenue: Decimal | None
    euc_affected_fraction: Decimal
    euc_loss_reduction: Decimal
    premium: Decimal | None
    risk_group: str | None
    visits: int | None
    reported: bool | None
    interim_paid: Decimal | None
    performance_score: Decimal | None
    utilization_score: Decimal | None
    performance_adjustment: Decimal | None
    base_payments: Decimal | None
    dual_member_months: int | None
    guardrail_applies: bool | None
    recalculated_benchmark: Decimal | None
    below_msr_sharing_eligible: bool | None
    terminated_during_year: bool
    termination_loss_share: Decimal | None


@dataclass(frozen=True)
class ScenarioInputs:
    """One entity's inputs in every scenario (arrays of one length; Decimal arrays are numpy object arrays)."""

    fixed: FixedInputs
    benchmark: Objects
    expenditure: Objects
    population: Ints
    member_months: Ints
    quality_score: Objects | None = None
    """None: the entity has no quality score (as in the run)."""
    quality_standard_met: Bools | None = None
    """None: not reported (as in the run)."""
    stop_loss_excess: Objects | None = None
    risk_score: Objects | None = None
    months_by_cell: dict[str, Ints] = field(default_factory=dict)
    recalculated_benchmark: Objects | None = None
    """The benchmark recalculated without the ACPT (MSSP loss guardrail), scaled like the benchmark."""

    @property
    def size(self) -> int:
        return int(self.benchmark.shape[0])


@dataclass(frozen=True)
class ComponentOutcome:
    """A component's amount (cents, + to the entity) and what was paid during the period, per scenario."""

    amount: Ints
    paid: Ints
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScenarioSettlement:
    """Every scenario settled: per component outcome, the net (cents) and shared-savings figures."""

    components: dict[str, ComponentOutcome]
    net: Ints
    paid: Ints
    cleared_msr: Bools | None
    """Savings at or above the MSR (None: the contract has no shared-savings component)."""
    savings_rate: Objects | None

    @property
    def balance(self) -> Ints:
        return self.net - self.paid


def check_simulated(contract: Contract) -> None:
    """Refuse a contract with a component the simulation does not apply, naming each one."""
    refused = [
        f"components[{i}:{comp.id}] ({comp.type})"
        for i, comp in enumerate(contract.components)
        if comp.type not in SIMULATED_TYPES
    ]
    if refused:
        raise ConfigurationError(
            f"contract {contract.id}: {', '.join(refused)}: not simulated (simulated component types: "
            f"{', '.join(SIMULATED_TYPES)})"
        )
    for i, comp in enumerate(contract.components):
        if comp.type == "shared_savings" and contract.rounding.money_places != 2:
            raise ConfigurationError(
                f"contract {contract.id}: components[{i}:{comp.id}]: rounding.money_places "
                f"{contract.rounding.money_places} is not simulated for shared savings (use 2)"
            )


def settle_scenarios(contract: Contract, inputs: ScenarioInputs) -> ScenarioSettlement:
    """Apply every component of ``contract`` (already resolved for the period) to every scenario.

    Raises
    ------
    ConfigurationError
        A component type is not simulated, a term is still REQUIRED, or an input the terms need in some
        scenario is missing (the message names the entity's source, the field and the component).
    """
    from apmkit.contracts.components import required_terms

    check_simulated(contract)
    missing = [
        f"components[{i}:{comp.id}].{name}"
        for i, comp in enumerate(contract.components)
        for name in required_terms(comp)
    ]
    if missing:
        raise ConfigurationError(
            f"contract {contract.id}: {', '.join(missing)}: REQUIRED — set each from your agreement "
            "(no verified default exists)"
        )
    places = contract.rounding.money_places
    results: dict[str, ComponentOutcome] = {}
    cleared: Bools | None = None
    rate: Objects | None = None
    with exact():
        for comp in contract.components:
            if comp.type == "capitation":
                outcome = _capitation(comp, inputs, results, places, contract)
            else:
                outcome = _MECHANISMS[comp.type](comp, inputs, results, places)
            results[comp.id] = outcome
            if comp.type == "shared_savings" and cleared is None:
                cleared = outcome.figures["cleared_msr"]
                rate = outcome.figures["savings_rate"]
    size = inputs.size
    net = np.zeros(size, dtype=np.int64)
    paid = np.zeros(size, dtype=np.int64)
    for outcome in results.values():
        net += outcome.amount
        paid += outcome.paid
    return ScenarioSettlement(results, net, paid, cleared, rate)


# ---- helpers -------------------------------------------------------------------------------------------


def _missing(inputs: ScenarioInputs, name: str, comp: c.ComponentBase, why: str = "") -> ConfigurationError:
    where = inputs.fixed.source or f"entity {inputs.fixed.entity_id}"
    return ConfigurationError(
        f"{where}: field {name} is required by component {comp.id!r} ({getattr(comp, 'type', '')})"
        + (f": {why}" if why else "")
    )


def _money(values: Objects, places: int) -> Ints:
    """Amounts rounded half-up to the contract's places, as integer cents (places ≤ 2)."""
    rounded = round_half_up(values, places)
    return to_cents(rounded)


def _dollars(cents: Ints) -> Objects:
    out = np.empty(cents.shape[0], dtype=object)
    out[:] = [Decimal(int(v)).scaleb(-2) for v in cents.tolist()]
    return out


def _months(inputs: ScenarioInputs) -> Objects:
    out = np.empty(inputs.size, dtype=object)
    out[:] = [Decimal(int(v)) for v in inputs.member_months.tolist()]
    return out


def _zero(size: int) -> Ints:
    return np.zeros(size, dtype=np.int64)


def variable_rates(terms: MinimumRateTerms, population: Ints) -> Objects:
    """The MSR/MLR of every scenario's population (:func:`apmkit.settlement.shared_savings.variable_rate`:
    linear interpolation within the band containing the population)."""
    if terms.kind == "fixed":
        assert terms.rate is not None
        return full(population.shape[0], terms.rate)
    out = full(population.shape[0], None)
    for band in terms.bands:
        upper = band.max_population
        inside = population >= band.min_population
        if upper is not None:
            inside &= population <= upper
        where = np.flatnonzero(inside)
        if not where.size:
            continue
        if upper is None or band.rate_at_max is None:
            out[where] = band.rate_at_min
            continue
        span = Decimal(upper - band.min_population)
        out[where] = [
            band.rate_at_min
            + (band.rate_at_max - band.rate_at_min) * (Decimal(int(n) - band.min_population) / span)
            for n in population[where].tolist()
        ]
    uncovered = [i for i, v in enumerate(out.tolist()) if v is None]
    if uncovered:
        raise ConfigurationError(
            f"no MSR/MLR band covers a scenario's assigned population ({len(uncovered)} scenarios; smallest "
            f"{int(population[uncovered].min())}): widen the bands or the panel-size assumption"
        )
    return out


# ---- shared savings --------------------------------------------------------------------------------------


def _quality_rate(
    terms: SharedSavingsTerms, inputs: ScenarioInputs, comp: c.ComponentBase
) -> tuple[Objects | None, Bools | None, Bools, str]:
    """(score, met, alternative met, problem) as the terms read them; problem is '' when known."""
    size = inputs.size
    score = inputs.quality_score
    met = inputs.quality_standard_met
    alternative = np.full(size, bool(inputs.fixed.alternative_quality_standard_met))
    method = terms.quality.method
    if method == "none":
        return score, np.ones(size, dtype=bool), alternative, ""
    if score is None and met is None:
        default = terms.quality.if_missing
        if default is None:
            return (
                None,
                None,
                np.zeros(size, dtype=bool),
                "quality_score and quality_standard_met are both missing (quality method "
                f"{method}); give them, or state the contract's default in quality.if_missing",
            )
        scored = None if default.quality_score is None else full(size, default.quality_score)
        return (
            scored,
            np.full(size, default.quality_standard_met),
            np.full(size, default.alternative_quality_standard_met),
            "",
        )
    if met is None:
        if method == "scale":
            assert score is not None
            return score, score > ZERO, alternative, ""
        return (
            score,
            None,
            alternative,
            f"quality_standard_met is missing: under quality method {method} the sharing rate depends on whether "
            "the quality performance standard was met, which a score alone does not say",
        )
    return score, met, alternative, ""


def _cap(
    cap: CapTerms,
    benchmark: Objects,
    revenue: Decimal | None,
    what: str,
    needed: bool,
    irrelevant: bool = False,
) -> Objects | None:
    parts: list[Any] = []
    if cap.pct_of_benchmark is not None:
        parts.append(cap.pct_of_benchmark * benchmark)
    if cap.pct_of_revenue is not None:
        if revenue is not None:
            parts.append(full(benchmark.shape[0], cap.pct_of_revenue * revenue))
        elif not irrelevant and cap.if_revenue_missing == "error" and needed:
            raise ValueError(
                f"participant_revenue is missing: the {what} is the lower of {cap.pct_of_revenue} × ACO "
                "participant revenue"
                + (f" and {cap.pct_of_benchmark} × benchmark" if cap.pct_of_benchmark is not None else "")
                + "; give participant_revenue, or state the contract's choice (if_revenue_missing: "
                "benchmark_part_only)"
            )
    if not parts:
        return None
    lowest = parts[0]
    for part in parts[1:]:
        lowest = minimum(lowest, part)
    return lowest


def _shared_savings(
    comp: c.SharedSavings, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    try:
        return _shared_savings_terms(comp, inputs)
    except ValueError as exc:
        where = inputs.fixed.source or f"entity {inputs.fixed.entity_id}"
        raise ConfigurationError(f"{where}: component {comp.id!r}: {exc}") from exc


def _shared_savings_terms(comp: c.SharedSavings, inputs: ScenarioInputs) -> ComponentOutcome:
    terms = comp.terms
    size = inputs.size
    fixed = inputs.fixed
    where = fixed.source or f"entity {fixed.entity_id}"
    if fixed.guardrail_applies and terms.loss_benchmark_guardrail is None:
        raise ConfigurationError(
            f"{where}: field guardrail_applies is true but component {comp.id!r} has no loss_benchmark_guardrail "
            "in its terms"
        )
    if fixed.below_msr_sharing_eligible and terms.below_msr_sharing is None:
        raise ConfigurationError(
            f"{where}: field below_msr_sharing_eligible is true but component {comp.id!r} has no below_msr_sharing "
            "in its terms"
        )
    benchmark, expenditure = inputs.benchmark, inputs.expenditure
    if any(v <= ZERO for v in benchmark.tolist()):
        raise ValueError("benchmark must be above 0 in every scenario")
    difference = benchmark - expenditure
    savings_rate = difference / benchmark
    population = inputs.population
    msr = variable_rates(terms.minimum_savings_rate, population)
    two_sided = terms.sided == "two_sided"
    mlr: Objects | None = None
    if two_sided:
        mlr = variable_rates(terms.minimum_loss_rate or terms.minimum_savings_rate, population)
    savings = (savings_rate > ZERO) & (savings_rate >= msr)
    losses = np.zeros(size, dtype=bool)
    if two_sided and mlr is not None:
        losses = (savings_rate < ZERO) & (-savings_rate >= mlr) & ~savings
    savings = savings.astype(bool)
    losses = losses.astype(bool)
    cleared = savings.copy()
    guard = terms.loss_benchmark_guardrail
    if losses.any() and guard is not None:
        applies = fixed.guardrail_applies
        if applies is None:
            if guard.applies is None:
                raise ValueError(
                    "guardrail_applies is missing: losses may be measured against a recalculated benchmark "
                    f"({guard.citation or 'terms loss_benchmark_guardrail'}); give true or false, or state it in the "
                    "contract (loss_benchmark_guardrail.applies)"
                )
            applies = guard.applies
        if applies:
            if inputs.recalculated_benchmark is None:
                raise ValueError(
                    "recalculated_benchmark is missing: the loss benchmark guardrail applies "
                    f"({guard.citation or 'terms loss_benchmark_guardrail'})"
                )
            recalculated = inputs.recalculated_benchmark
            higher = losses & (recalculated > benchmark)
            higher = higher.astype(bool)
            # expenditure not above the recalculated benchmark: neither savings nor losses
            within = higher & (expenditure <= recalculated)
            moved = higher & ~within
            benchmark = pick(moved, recalculated, benchmark)
            difference = benchmark - expenditure
            savings_rate = pick(moved, difference / benchmark, savings_rate)
            assert mlr is not None
            still = (-savings_rate >= mlr).astype(bool)
            losses = (losses & ~within & (~moved | still)).astype(bool)
    below = terms.below_msr_sharing
    below_msr = np.zeros(size, dtype=bool)
    if below is not None:
        candidates = ~savings & ~losses & (savings_rate > ZERO) & (population >= below.min_population)
        candidates = candidates.astype(bool)
        if candidates.any():
            eligible = fixed.below_msr_sharing_eligible
            if eligible is None:
                eligible = below.eligible
            if eligible is None:
                raise ValueError(
                    "below_msr_sharing_eligible is missing: savings below the MSR are shared at a reduced rate by "
                    f"an eligible entity ({below.citation or 'terms below_msr_sharing'}); give true or false, or "
                    "state it in the contract (below_msr_sharing.eligible)"
                )
            if eligible:
                below_msr = candidates
                savings = savings | below_msr
    decided = savings | losses
    forfeited = np.zeros(size, dtype=bool)
    loss_share = ONE
    if fixed.terminated_during_year:
        clause = terms.termination
        if clause is None:
            raise ValueError(
                "terminated_during_year is true but the terms do not say what termination during the period does "
                "(terms.termination)"
            )
        if clause.savings_forfeited:
            forfeited = savings.copy()
        if losses.any() and clause.losses == "prorated_share_input":
            share = fixed.termination_loss_share
            if share is None:
                raise ValueError(
                    "termination_loss_share is missing: an entity whose agreement ended during the period owes a "
                    f"pro-rated share of its losses ({clause.citation or 'terms termination'})"
                )
            loss_share = share
    generated = pick(decided, difference, ZERO)
    threshold = pick(savings, msr, mlr if mlr is not None else ZERO)
    magnitude = pick(generated < ZERO, -generated, generated)
    if terms.sharing_basis == "above_minimum_rate":
        base = pick(decided & ~below_msr, magnitude - threshold * benchmark, magnitude)
    else:
        base = magnitude

    score, met, alternative, problem = _quality_rate(terms, inputs, comp)
    method = terms.quality.method
    maximum_rate = terms.max_sharing_rate
    loss_needs_rate = terms.loss_rate is not None and terms.loss_rate.method == "one_minus_final_sharing_rate"
    needed = bool(savings.any() or (losses.any() and loss_needs_rate))
    if method == "none":
        final = full(size, maximum_rate)
    elif met is None:
        if needed:
            raise ValueError(problem)
        final = full(size, ZERO)
    else:

        def scaled() -> Objects:
            if score is None:
                raise ValueError(f"quality_score is missing: quality method {method} scales the rate by it")
            return maximum_rate * score

        if method == "gate":
            final = pick(met, maximum_rate, ZERO)
        elif method == "gate_or_sliding_scale":
            needs_score = ~met & alternative
            sliding = scaled() if needs_score.any() and needed else full(size, ZERO)
            final = pick(met, maximum_rate, pick(alternative, sliding, ZERO))
        else:  # scale
            final = pick(met, scaled(), ZERO) if met.any() and needed else full(size, ZERO)
    if below is not None and below_msr.any():
        final = pick(below_msr, final * below.rate_factor, final)

    earned = full(size, ZERO)
    if savings.any():
        cap = _cap(terms.savings_cap, benchmark, fixed.participant_revenue, "savings cap", True)
        keep = ONE - terms.sequestration_rate
        if terms.sequestration_before_cap:
            before = base * final * keep
            capped = before if cap is None else minimum(before, cap)
        else:
            before = base * final
            capped = (before if cap is None else minimum(before, cap)) * keep
        earned = pick(savings & ~forfeited, capped, ZERO)
    owed = full(size, ZERO)
    if two_sided and losses.any():
        loss = terms.loss_rate
        assert loss is not None
        if loss.method == "fixed":
            assert loss.rate is not None
            loss_rate = full(size, min(max(loss.rate, loss.floor), loss.ceiling))
        else:
            if met is None:
                raise ValueError(problem)
            sliding_ok = (
                alternative if terms.quality.method == "gate_or_sliding_scale" else np.zeros(size, dtype=bool)
            )
            not_met = ~met & ~sliding_ok
            when_not = (
                loss.rate_when_quality_not_met if loss.rate_when_quality_not_met is not None else loss.ceiling
            )
            if loss.method == "one_minus_final_sharing_rate":
                raw = ONE - final
            else:
                assert loss.max_rate_factor is not None
                if score is None:
                    raise ValueError(
                        f"quality_score is missing: quality method {terms.quality.method} scales the rate by it"
                    )
                raw = ONE - loss.max_rate_factor * score
            bounded = minimum(maximum(raw, loss.floor), loss.ceiling)
            loss_rate = pick(not_met, when_not, bounded)
        before_loss = base * loss_rate
        euc_fraction = fixed.euc_affected_fraction
        loss_cap = _cap(
            terms.loss_cap,
            benchmark,
            fixed.participant_revenue,
            "loss cap",
            True,
            irrelevant=euc_fraction == ONE,
        )
        capped_loss = (before_loss if loss_cap is None else minimum(before_loss, loss_cap)) * loss_share
        after = capped_loss * (ONE - euc_fraction) - fixed.euc_loss_reduction
        owed = pick(losses, maximum(after, ZERO), ZERO)
    earned_cents = to_cents(round_half_up(earned))
    owed_cents = to_cents(round_half_up(owed))
    return ComponentOutcome(
        earned_cents - owed_cents,
        _zero(size),
        {
            "cleared_msr": cleared,
            "savings_rate": savings_rate,
            "earned_savings": earned_cents,
            "owed_losses": owed_cents,
            "outcome_savings": savings,
            "outcome_losses": losses,
        },
    )


# ---- the other mechanisms ------------------------------------------------------------------------------


def _risk_corridor(
    comp: c.RiskCorridor, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    target, actual = inputs.benchmark, inputs.expenditure
    deviation = (target - actual) / target
    gains = deviation > ZERO
    size = inputs.size
    shares = full(size, ZERO)
    magnitude = pick(deviation < ZERO, -deviation, deviation)
    for side, bands in (
        (True, comp.gain_bands),
        (False, comp.gain_bands if comp.symmetric else comp.loss_bands),
    ):
        chosen = gains if side else ~gains
        if not chosen.any():
            continue
        share = full(size, ZERO)
        for band in bands:
            top = magnitude if band.upper is None else minimum(magnitude, band.upper)
            width = top - band.lower
            # the engine stops at the first band the deviation does not reach; widths only shrink after it
            share = share + pick(width > ZERO, width * band.entity_share, ZERO)
        shares = pick(chosen, share, shares)
    amount = _money(shares * target, places)
    return ComponentOutcome(pick(gains, amount, -amount).astype(np.int64), _zero(size))


def _cells(inputs: ScenarioInputs) -> dict[str, Ints]:
    return dict(sorted(inputs.months_by_cell.items()))


def _capitation(
    comp: c.Capitation,
    inputs: ScenarioInputs,
    results: dict[str, ComponentOutcome],
    places: int,
    contract: Contract | None = None,
) -> ComponentOutcome:
    size = inputs.size
    if comp.basis == "pmpm":
        cells = _cells(inputs)
        if not cells:
            if comp.default_pmpm is None:
                raise _missing(inputs, "months_by_cell", comp)
            cells = {"(all)": inputs.member_months}
        total = full(size, ZERO)
        for cell, months in cells.items():
            rate = comp.pmpm_by_cell.get(cell, comp.default_pmpm)
            if rate is None:
                raise _missing(inputs, f"months.{cell}", comp, "no pmpm for this cell and no default_pmpm")
            total = total + rate * _as_decimal(months)
    else:
        assert comp.percent_of_premium is not None
        premium = inputs.fixed.premium
        per_month = None if contract is None else contract.target.premium_per_member_month
        if premium is not None:
            premium_array = full(size, premium)
        elif per_month is not None:
            premium_array = per_month * _months(inputs)  # premium PMPM × member months, as the engine
        else:
            raise _missing(inputs, "premium", comp)
        total = comp.percent_of_premium * premium_array
    if comp.risk_adjusted:
        if inputs.risk_score is None:
            raise _missing(inputs, "risk_score", comp)
        total = total * inputs.risk_score
    capitation = _money(total, places)
    amount = capitation.copy()
    if comp.stop_loss is not None:
        if inputs.stop_loss_excess is None:
            raise _missing(inputs, "stop_loss_excess", comp)
        amount = amount + _money(inputs.stop_loss_excess * comp.stop_loss.reimbursement_rate, places)
    paid = capitation if comp.prepaid else _zero(size)
    return ComponentOutcome(amount, paid, {"capitation": capitation})


def _as_decimal(values: Ints) -> Objects:
    out = np.empty(values.shape[0], dtype=object)
    out[:] = [Decimal(int(v)) for v in values.tolist()]
    return out


def _care_management_fee(
    comp: c.CareManagementFee, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    cells = _cells(inputs)
    if not cells:
        raise _missing(inputs, "months_by_cell", comp)
    total = full(inputs.size, ZERO)
    for tier, months in cells.items():
        if tier not in comp.pbpm_by_tier:
            raise _missing(inputs, f"months.{tier}", comp, f"no PBPM for tier {tier!r}")
        rate = comp.pbpm_by_tier[tier]
        assert isinstance(rate, Decimal)
        total = total + rate * _as_decimal(months)
    amount = _money(total, places)
    return ComponentOutcome(amount, amount if comp.prepaid else _zero(inputs.size))


def _population_based_payment(
    comp: c.PopulationBasedPayment, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    group = inputs.fixed.risk_group
    if group is None:
        raise _missing(inputs, "risk_group", comp)
    if group not in comp.pbpm_by_risk_group:
        raise _missing(inputs, "risk_group", comp, f"no PBPM for group {group!r}")
    rate = comp.pbpm_by_risk_group[group]
    assert isinstance(rate, Decimal)
    payment = _money(rate * _months(inputs), places)
    fee = comp.flat_visit_fee
    assert isinstance(fee, Decimal)
    fees = _zero(inputs.size)
    if fee:
        if inputs.fixed.visits is None:
            raise _missing(inputs, "visits", comp)
        fees = _money(full(inputs.size, fee * inputs.fixed.visits), places)
    amount = payment + fees
    return ComponentOutcome(amount, amount if comp.prepaid else _zero(inputs.size))


def _band_values(bands: list[c.ScoreBand], score: Objects) -> Objects:
    """The value of the highest band each score reaches (0 below the first band)."""
    out = full(score.shape[0], ZERO)
    for band in bands:
        out = pick(score >= band.min_score, band.value, out)
    return out


def _pay_for_performance(
    comp: c.PayForPerformance, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    if inputs.quality_score is None:
        raise _missing(inputs, "quality_score", comp)
    rate = _band_values(comp.pbpm_by_score, inputs.quality_score)
    return ComponentOutcome(_money(rate * _months(inputs), places), _zero(inputs.size))


def _pay_for_reporting(
    comp: c.PayForReporting, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    reported = inputs.fixed.reported
    if reported is None:
        raise _missing(inputs, "reported", comp)
    rate = comp.bonus_pbpm if reported else -comp.penalty_pbpm
    return ComponentOutcome(_money(rate * _months(inputs), places), _zero(inputs.size))


def _infrastructure(
    comp: c.InfrastructurePayment, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    total = full(inputs.size, comp.lump_sum)
    if comp.pbpm:
        total = total + comp.pbpm * _months(inputs)
    amount = _money(total, places)
    return ComponentOutcome(amount, amount)


def _sequestration(
    comp: c.Sequestration, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    base = sum((np.maximum(results[ref].amount, 0) for ref in comp.applies_to), _zero(inputs.size))
    amount = -_money(_dollars(base) * comp.rate, places)
    return ComponentOutcome(amount, _zero(inputs.size))


def _extreme_uncontrollable(
    comp: c.ExtremeUncontrollable, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    owed = sum((-np.minimum(results[ref].amount, 0) for ref in comp.applies_to), _zero(inputs.size))
    owed_dollars = _dollars(owed)
    fraction = inputs.fixed.euc_affected_fraction
    flat = inputs.fixed.euc_loss_reduction
    relief = minimum(owed_dollars, owed_dollars * fraction + flat)
    return ComponentOutcome(_money(relief, places), _zero(inputs.size))


def _interim_payments(
    comp: c.InterimPayments, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    size = inputs.size
    if comp.share_of_expected is not None:
        expected = sum((r.amount - r.paid for r in results.values()), _zero(size))
        interim = _money(_dollars(np.maximum(expected, 0)) * comp.share_of_expected, places)
    else:
        if inputs.fixed.interim_paid is None:
            raise _missing(inputs, "interim_paid", comp)
        interim = to_cents(full(size, inputs.fixed.interim_paid))
    return ComponentOutcome(_zero(size), interim)


def _score(inputs: ScenarioInputs, name: str, comp: c.ComponentBase) -> Objects:
    """A score input in every scenario: the quality score varies by scenario, the others are the run's."""
    if name == "quality_score":
        if inputs.quality_score is None:
            raise _missing(inputs, "quality_score", comp)
        return inputs.quality_score
    value = getattr(inputs.fixed, name)
    if value is None:
        raise _missing(inputs, name, comp)
    return full(inputs.size, value)


def _withhold(
    comp: c.Withhold, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    size = inputs.size
    if comp.applies_to:
        # a capitation's capitation (not its stop-loss recovery), else the component's amount
        base_cents = sum(
            (results[ref].figures.get("capitation", results[ref].amount) for ref in comp.applies_to),
            _zero(size),
        )
        base = _dollars(base_cents)
    else:
        if inputs.fixed.base_payments is None:
            raise _missing(inputs, "base_payments", comp)
        base = full(size, inputs.fixed.base_payments)
    withheld = _money(base * comp.withhold_rate, places)
    fraction = _band_values(comp.returned_by_score, _score(inputs, comp.score_input, comp))
    returned = _money(_dollars(withheld) * fraction, places)
    if not comp.applies_to:
        return ComponentOutcome(returned, _zero(size))
    return ComponentOutcome(returned - withheld, -withheld)


def _performance_incentive(
    comp: c.PerformanceIncentive, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    pbpm = comp.prepaid_pbpm
    assert isinstance(pbpm, Decimal)
    prepaid = _money(pbpm * _months(inputs), places)
    score = _score(inputs, comp.score_input, comp)
    if comp.earned_by_score:
        fraction = _band_values(comp.earned_by_score, score)
    else:
        if any(not ZERO <= v <= ONE for v in score.tolist()):
            raise _missing(
                inputs,
                comp.score_input,
                comp,
                "it is the share of the incentive earned, which must be between 0 and 1",
            )
        fraction = score
    earned = _money(_dollars(prepaid) * fraction, places)
    return ComponentOutcome(earned, prepaid)


def _performance_adjustment(
    comp: c.PerformanceAdjustment, inputs: ScenarioInputs, results: dict[str, ComponentOutcome], places: int
) -> ComponentOutcome:
    requested = inputs.fixed.performance_adjustment
    if requested is None:
        raise _missing(inputs, "performance_adjustment", comp)
    pct = min(max(requested, comp.minimum), comp.maximum)
    base = sum((results[ref].amount for ref in comp.applies_to), _zero(inputs.size))
    return ComponentOutcome(_money(_dollars(base) * pct, places), _zero(inputs.size))


def _episode_services(
    comp: c.MonthlyEnhancedOncologyServices,
    inputs: ScenarioInputs,
    results: dict[str, ComponentOutcome],
    places: int,
) -> ComponentOutcome:
    pbpm, addition = comp.pbpm, comp.dual_pbpm_addition
    assert isinstance(pbpm, Decimal) and isinstance(addition, Decimal)
    total = pbpm * _months(inputs)
    if addition:
        duals = inputs.fixed.dual_member_months
        if duals is None:
            raise _missing(inputs, "dual_member_months", comp)
        total = total + addition * duals
    amount = _money(total, places)
    return ComponentOutcome(amount, amount)


_MECHANISMS: dict[str, Any] = {
    "shared_savings": _shared_savings,
    "risk_corridor": _risk_corridor,
    "capitation": _capitation,
    "care_management_fee": _care_management_fee,
    "population_based_payment": _population_based_payment,
    "pay_for_performance": _pay_for_performance,
    "pay_for_reporting": _pay_for_reporting,
    "infrastructure_payment": _infrastructure,
    "sequestration": _sequestration,
    "extreme_uncontrollable": _extreme_uncontrollable,
    "interim_payments": _interim_payments,
    "withhold": _withhold,
    "performance_incentive": _performance_incentive,
    "performance_adjustment": _performance_adjustment,
    "episode_services_payment": _episode_services,
}


__all__ = [
    "SIMULATED_TYPES",
    "ComponentOutcome",
    "FixedInputs",
    "ScenarioInputs",
    "ScenarioSettlement",
    "check_simulated",
    "settle_scenarios",
    "variable_rates",
]
