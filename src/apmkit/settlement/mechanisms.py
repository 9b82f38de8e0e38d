"""The computation of each payment mechanism on one entity's aggregate inputs, in exact Decimal arithmetic.

Each ``compute_<type>`` takes the component's frozen spec and a :class:`Context` (the entity's inputs, the
contract, the results of earlier components) and returns a :class:`ComponentResult` with trace lines. Amounts
are positive when the payer pays the entity and negative when the entity owes; they are rounded half-up to
the contract's money places at the component's final amount only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from apmkit.contracts import components as c
from apmkit.contracts.spec import Contract, Period
from apmkit.episodes.price import reconcile_episode_amounts
from apmkit.errors import ConfigurationError
from apmkit.money import round_money
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings
from apmkit.settlement.statement import ComponentResult, Role, StatementLine, Unit

ZERO = Decimal(0)
ONE = Decimal(1)


class MissingInputError(ConfigurationError):
    """A mechanism needs an input the entity's row does not give."""


class MissingTermError(ConfigurationError):
    """A contract term is still ``REQUIRED``: the contract must state it before anything is settled."""


def missing_terms(contract: Contract) -> list[str]:
    """Every contract term still marked ``REQUIRED``, as ``components[i:id].field`` paths."""
    return [
        f"components[{index}:{component.id}].{name}"
        for index, component in enumerate(contract.components)
        for name in c.required_terms(component)
    ]


def check_terms(contract: Contract) -> None:
    """Stop when the contract (glide path applied) still has terms marked ``REQUIRED``, naming every one."""
    missing = missing_terms(contract)
    if missing:
        raise MissingTermError(
            f"contract {contract.id}: {', '.join(missing)}: REQUIRED — set each from your agreement "
            "(no verified default exists)"
        )


def rate_term(value: Decimal | str) -> Decimal:
    """A term already checked by :func:`check_terms` (never ``REQUIRED`` here)."""
    if not isinstance(value, Decimal):
        raise MissingTermError(f"term {value!r} was not set")
    return value


@dataclass
class Context:
    """What a mechanism may read: the contract, period, entity inputs and earlier components' results."""

    contract: Contract
    period_name: str
    period: Period
    entity: EntityInputs
    results: dict[str, ComponentResult] = field(default_factory=dict)


class LineBuilder:
    """Collects the trace lines of one component with the shared fields filled in."""

    def __init__(self, ctx: Context, component: c.ComponentBase, index: int):
        self.ctx = ctx
        self.component = component
        self.clause_base = f"components[{index}:{component.id}]" + (
            f" — {component.clause}" if component.clause else ""
        )
        self.lines: list[StatementLine] = []

    def add(
        self,
        label: str,
        value: Decimal | None = None,
        *,
        text: str | None = None,
        unit: Unit = "USD",
        role: Role = "step",
        formula: str = "",
        inputs: dict[str, Any] | None = None,
        term: str = "",
        source: str | None = None,
    ) -> None:
        clause = self.clause_base + (f".{term}" if term else "")
        self.lines.append(
            StatementLine(
                entity_id=self.ctx.entity.entity_id,
                sequence=0,
                component_id=self.component.id,
                component_type=getattr(self.component, "type", ""),
                label=label,
                value=value,
                text=text,
                unit=unit,
                role=role,
                formula=formula,
                inputs={k: _text(v) for k, v in (inputs or {}).items()},
                source=self.ctx.entity.source if source is None else source,
                clause=clause,
            )
        )


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value)


def need(ctx: Context, name: str, component: c.ComponentBase) -> Any:
    """The entity input ``name``, or an error naming the entity, the field and the component needing it."""
    value = getattr(ctx.entity, name)
    if value is None or (isinstance(value, dict) and not value):
        where = ctx.entity.source or f"entity {ctx.entity.entity_id}"
        raise MissingInputError(
            f"{where}: field {name} is required by component {component.id!r} ({getattr(component, 'type', '')})"
        )
    return value


def money(ctx: Context, amount: Decimal) -> Decimal:
    """Round a final amount as the contract says (half-up to ``rounding.money_places``)."""
    return round_money(amount, ctx.contract.rounding.money_places)


def member_months(ctx: Context, component: c.ComponentBase) -> int:
    if ctx.entity.member_months is not None:
        return ctx.entity.member_months
    if ctx.entity.months_by_cell:
        return sum(ctx.entity.months_by_cell.values())
    return int(need(ctx, "member_months", component))


def band_value(bands: list[c.ScoreBand], score: Decimal) -> tuple[Decimal, str]:
    """The value of the highest band whose ``min_score`` the score reaches (0 below the first band)."""
    chosen: c.ScoreBand | None = None
    for band in bands:
        if score >= band.min_score:
            chosen = band
    if chosen is None:
        return ZERO, "below the lowest band"
    return chosen.value, f"score ≥ {_text(chosen.min_score)}"


# ---- mechanisms ---------------------------------------------------------------------------------------


def compute_shared_savings_component(
    comp: c.SharedSavings, ctx: Context, out: LineBuilder
) -> ComponentResult:
    entity = ctx.entity
    benchmark = need(ctx, "benchmark", comp)
    expenditure = need(ctx, "expenditure", comp)
    inputs = SharedSavingsInputs(
        benchmark=benchmark,
        expenditure=expenditure,
        person_years=entity.person_years,
        assigned_population=entity.population,
        quality_score=entity.quality_score,
        quality_standard_met=entity.quality_standard_met,
        alternative_quality_standard_met=entity.alternative_quality_standard_met,
        participant_revenue=entity.participant_revenue,
        guardrail_applies=entity.guardrail_applies,
        recalculated_benchmark=entity.recalculated_benchmark,
        below_msr_sharing_eligible=entity.below_msr_sharing_eligible,
        terminated_during_year=entity.terminated_during_year,
        termination_loss_share=entity.termination_loss_share,
        euc_affected_fraction=entity.euc_affected_fraction,
        euc_loss_reduction=entity.euc_loss_reduction,
    )
    _check_entity_flags(comp, ctx)
    try:
        result = compute_shared_savings(comp.terms, inputs)
    except ValueError as exc:
        where = entity.source or f"entity {entity.entity_id}"
        raise MissingInputError(f"{where}: component {comp.id!r}: {exc}") from exc
    for step in result.trace:
        numeric = step.value if isinstance(step.value, Decimal) else None
        unit: Unit = step.unit
        if step.label == "Net settlement":
            continue
        out.add(
            step.label,
            numeric,
            text=None if numeric is not None else str(step.value),
            unit=unit,
            formula=step.formula,
            inputs=dict(step.inputs),
            term=f"terms ({step.rule})" if step.rule else "terms",
        )
    earned, owed = _shared_savings_at_places(comp, result, inputs, ctx)
    amount = earned - owed
    places = ctx.contract.rounding.money_places
    out.add(
        "Shared savings (+) / losses (−)",
        amount,
        role="amount",
        formula="earned shared savings − owed shared losses"
        + (
            ""
            if places == 2
            else f", each rounded half-up to {places} decimal places (rounding.money_places)"
        ),
        inputs={"earned": earned, "owed": owed},
        term="terms",
    )
    figures: dict[str, Decimal | str | None] = {
        "benchmark": result.total_benchmark,
        "expenditure": result.total_expenditure,
        "savings": result.total_benchmark - result.total_expenditure,
        "savings_rate": result.savings_rate,
        "minimum_savings_rate": result.minimum_savings_rate,
        "minimum_loss_rate": result.minimum_loss_rate,
        "outcome": result.outcome,
        "generated_savings_losses": result.generated_savings_losses,
        "final_sharing_rate": result.final_sharing_rate,
        "loss_rate": result.loss_rate,
        "savings_cap": result.savings_cap,
        "loss_cap": result.loss_cap,
        "earned_savings": earned,
        "owed_losses": owed,
    }
    return _result(comp, amount, figures=figures, out=out)


def _check_entity_flags(comp: c.SharedSavings, ctx: Context) -> None:
    """Refuse an entity flag the component's terms cannot apply, rather than settle as if it were not given."""
    entity = ctx.entity
    where = entity.source or f"entity {entity.entity_id}"
    terms = comp.terms
    if entity.guardrail_applies and terms.loss_benchmark_guardrail is None:
        raise MissingInputError(
            f"{where}: field guardrail_applies is true but component {comp.id!r} has no loss_benchmark_guardrail "
            "in its terms"
        )
    if entity.below_msr_sharing_eligible and terms.below_msr_sharing is None:
        raise MissingInputError(
            f"{where}: field below_msr_sharing_eligible is true but component {comp.id!r} has no below_msr_sharing "
            "in its terms"
        )


def _shared_savings_at_places(
    comp: c.SharedSavings, result: Any, inputs: SharedSavingsInputs, ctx: Context
) -> tuple[Decimal, Decimal]:
    """Earned savings and owed losses rounded to the contract's ``rounding.money_places``.

    :func:`compute_shared_savings` rounds to cents. For other places the exact amounts before rounding are
    rebuilt from its figures (min(before cap, cap), sequestration, EUC) and rounded once; they must round to
    the same cents as its own result, else the run stops rather than pay a figure that was rounded twice.
    """
    places = ctx.contract.rounding.money_places
    if places == 2:
        return result.earned_savings, result.owed_losses
    terms = comp.terms
    keep = ONE - terms.sequestration_rate
    earned_exact = result.shared_savings_before_cap
    if result.savings_cap is not None:
        earned_exact = min(earned_exact, result.savings_cap)
    if not terms.sequestration_before_cap:
        earned_exact *= keep
    owed_exact = result.shared_losses_before_cap
    if result.loss_cap is not None:
        owed_exact = min(owed_exact, result.loss_cap)
    owed_exact *= result.loss_share
    owed_exact = max(ZERO, owed_exact * (ONE - inputs.euc_affected_fraction) - inputs.euc_loss_reduction)
    if result.outcome != "savings" or result.savings_forfeited:
        earned_exact = ZERO
    if result.outcome != "losses":
        owed_exact = ZERO
    if round_money(earned_exact) != result.earned_savings or round_money(owed_exact) != result.owed_losses:
        raise ConfigurationError(
            f"component {comp.id!r}: rounding.money_places {places} cannot be applied to these shared-savings "
            "terms (the exact amounts before rounding could not be rebuilt); use money_places 2"
        )
    return round_money(earned_exact, places), round_money(owed_exact, places)


def _band_share(
    bands: list[c.CorridorBand], deviation: Decimal
) -> tuple[Decimal, list[tuple[Decimal, Decimal]]]:
    """Entity share of a deviation (as a fraction of target) spread over contiguous bands."""
    share = ZERO
    parts: list[tuple[Decimal, Decimal]] = []
    for band in bands:
        top = deviation if band.upper is None else min(deviation, band.upper)
        width = top - band.lower
        if width <= 0:
            break
        share += width * band.entity_share
        parts.append((width, band.entity_share))
    return share, parts


def compute_risk_corridor(comp: c.RiskCorridor, ctx: Context, out: LineBuilder) -> ComponentResult:
    target = need(ctx, "benchmark", comp)
    actual = need(ctx, "expenditure", comp)
    deviation = (target - actual) / target
    out.add(
        "Deviation from target",
        deviation,
        unit="rate",
        formula="(target − actual) / target",
        inputs={"target": target, "actual": actual},
    )
    gains = deviation > 0
    bands = comp.gain_bands if gains or comp.symmetric else comp.loss_bands
    share, parts = _band_share(bands, abs(deviation))
    for number, (width, entity_share) in enumerate(parts, start=1):
        out.add(
            f"Band {number}: {'gain' if gains else 'loss'} shared at {_text(entity_share)}",
            width * entity_share * target,
            formula="band width × entity share × target",
            inputs={"band_width": width, "entity_share": entity_share, "target": target},
            term=("gain_bands" if gains or comp.symmetric else "loss_bands") + f"[{number - 1}]",
        )
    amount = money(ctx, share * target) * (1 if gains else -1)
    out.add(
        "Risk corridor settlement",
        amount,
        role="amount",
        formula="Σ band amounts (paid to the entity on gains, owed on losses), rounded",
        inputs={"deviation": deviation, "entity_share_of_target": share},
    )
    return _result(comp, amount, figures={"corridor_deviation": deviation}, out=out)


def compute_capitation(comp: c.Capitation, ctx: Context, out: LineBuilder) -> ComponentResult:
    entity = ctx.entity
    if comp.basis == "pmpm":
        cells = entity.months_by_cell or {}
        if not cells:
            if comp.default_pmpm is None:
                need(ctx, "months_by_cell", comp)
            cells = {"(all)": member_months(ctx, comp)}
        capitation = ZERO
        for cell, months in sorted(cells.items()):
            rate = comp.pmpm_by_cell.get(cell, comp.default_pmpm)
            if rate is None:
                raise MissingInputError(
                    f"{entity.source or entity.entity_id}: field months.{cell}: component {comp.id!r} has no "
                    "pmpm for this cell and no default_pmpm"
                )
            capitation += rate * months
            out.add(
                f"Capitation, cell {cell}",
                rate * months,
                formula="member months × PMPM",
                inputs={"member_months": months, "pmpm": rate},
                term=f"pmpm_by_cell.{cell}" if cell in comp.pmpm_by_cell else "default_pmpm",
            )
    else:
        assert comp.percent_of_premium is not None
        premium = entity.premium
        premium_formula = "premium input"
        if premium is None and ctx.contract.target.premium_per_member_month is not None:
            premium = ctx.contract.target.premium_per_member_month * member_months(ctx, comp)
            premium_formula = "premium PMPM × member months"
        if premium is None:
            premium = need(ctx, "premium", comp)
        capitation = comp.percent_of_premium * premium
        out.add(
            "Capitation, percent of premium",
            capitation,
            formula=f"percent_of_premium × premium ({premium_formula})",
            inputs={"percent_of_premium": comp.percent_of_premium, "premium": premium},
            term="percent_of_premium",
        )
    if comp.risk_adjusted:
        score = need(ctx, "risk_score", comp)
        out.add(
            "Risk adjustment of the capitation",
            capitation * score,
            formula="Σ cell amounts × member-month-weighted average risk score",
            inputs={"before_risk_adjustment": capitation, "risk_score": score},
            term="risk_adjusted",
        )
        capitation *= score
    capitation = money(ctx, capitation)
    out.add(
        f"Capitation ({comp.scope})",
        capitation,
        role="amount",
        formula="Σ cell amounts, rounded",
        inputs={"scope": comp.scope},
    )
    if comp.carve_outs:
        out.add(
            "Carved-out services (paid outside the capitation)",
            entity.carved_out_expenditure,
            text=", ".join(comp.carve_outs),
            formula="expenditure on carved-out services, informational",
            term="carve_outs",
        )
    amount = capitation
    if comp.stop_loss is not None:
        excess = (
            entity.stop_loss_excess
            if entity.stop_loss_excess is not None
            else need(ctx, "stop_loss_excess", comp)
        )
        recovery = money(ctx, excess * comp.stop_loss.reimbursement_rate)
        out.add(
            "Stop-loss reimbursement",
            recovery,
            role="amount",
            formula="Σ over members of max(0, member cost − attachment point) × reimbursement rate",
            inputs={
                "excess_above_attachment": excess,
                "attachment_point": comp.stop_loss.attachment_point,
                "reimbursement_rate": comp.stop_loss.reimbursement_rate,
            },
            term="stop_loss",
        )
        amount += recovery
    paid = capitation if comp.prepaid else ZERO
    if comp.prepaid:
        out.add("Capitation paid monthly during the period", paid, role="paid", formula="prepaid capitation")
    return _result(comp, amount, paid=paid, figures={"capitation": capitation}, out=out)


def compute_care_management_fee(comp: c.CareManagementFee, ctx: Context, out: LineBuilder) -> ComponentResult:
    cells = need(ctx, "months_by_cell", comp)
    total = ZERO
    for tier, months in sorted(cells.items()):
        if tier not in comp.pbpm_by_tier:
            raise MissingInputError(
                f"{ctx.entity.source or ctx.entity.entity_id}: field months.{tier}: no PBPM for tier {tier!r} in "
                f"component {comp.id!r} (tiers: {', '.join(comp.pbpm_by_tier)})"
            )
        rate = rate_term(comp.pbpm_by_tier[tier])
        total += rate * months
        out.add(
            f"Care management fee, tier {tier}",
            rate * months,
            formula="beneficiary months × PBPM",
            inputs={"beneficiary_months": months, "pbpm": rate},
            term=f"pbpm_by_tier.{tier}",
        )
    amount = money(ctx, total)
    out.add("Care management fees", amount, role="amount", formula="Σ tier amounts, rounded")
    paid = amount if comp.prepaid else ZERO
    if comp.prepaid:
        out.add("Care management fees paid during the period", paid, role="paid", formula="prepaid monthly")
    return _result(comp, amount, paid=paid, out=out)


def compute_population_based_payment(
    comp: c.PopulationBasedPayment, ctx: Context, out: LineBuilder
) -> ComponentResult:
    group = str(need(ctx, "risk_group", comp))
    if group not in comp.pbpm_by_risk_group:
        raise MissingInputError(
            f"{ctx.entity.source or ctx.entity.entity_id}: field risk_group: no PBPM for group {group!r} in "
            f"component {comp.id!r} (groups: {', '.join(comp.pbpm_by_risk_group)})"
        )
    rate = rate_term(comp.pbpm_by_risk_group[group])
    months = member_months(ctx, comp)
    population_payment = rate * months
    out.add(
        f"Population-based payment, risk group {group}",
        population_payment,
        formula="beneficiary months × PBPM of the practice risk group",
        inputs={"beneficiary_months": months, "pbpm": rate},
        term=f"pbpm_by_risk_group.{group}",
    )
    population_payment = money(ctx, population_payment)
    total = population_payment
    fee = rate_term(comp.flat_visit_fee)
    fees = ZERO
    if fee:
        visits = need(ctx, "visits", comp)
        fees = money(ctx, fee * visits)
        out.add(
            "Flat visit fees",
            fees,
            formula="visits × flat visit fee, rounded",
            inputs={"visits": visits, "flat_visit_fee": fee},
            term="flat_visit_fee",
        )
        total += fees
    amount = total
    out.add(
        "Total primary care payment", amount, role="amount", formula="population-based payment + visit fees"
    )
    paid = ZERO
    if comp.prepaid:
        out.add(
            "Population-based payment paid during the period",
            population_payment,
            role="paid",
            formula="paid quarterly in advance",
            term="prepaid",
        )
        if fees:
            out.add(
                "Flat visit fees paid during the period",
                fees,
                role="paid",
                formula="paid as the visit claims were paid",
                term="prepaid",
            )
        paid = population_payment + fees
    return _result(comp, amount, paid=paid, out=out)


def compute_performance_incentive(
    comp: c.PerformanceIncentive, ctx: Context, out: LineBuilder
) -> ComponentResult:
    months = member_months(ctx, comp)
    prepaid_pbpm = rate_term(comp.prepaid_pbpm)
    prepaid = money(ctx, prepaid_pbpm * months)
    out.add(
        "Incentive paid up front",
        prepaid,
        role="paid",
        formula="beneficiary months × prepaid PBPM",
        inputs={"beneficiary_months": months, "prepaid_pbpm": prepaid_pbpm},
        term="prepaid_pbpm",
    )
    score = need(ctx, comp.score_input, comp)
    if comp.earned_by_score:
        fraction, why = band_value(comp.earned_by_score, score)
    else:
        if not ZERO <= score <= ONE:
            raise MissingInputError(
                f"{ctx.entity.source or ctx.entity.entity_id}: field {comp.score_input}: component {comp.id!r} "
                "takes it as the share of the incentive earned, which must be between 0 and 1"
            )
        fraction, why = score, f"{comp.score_input} is the share earned"
    out.add(
        "Share of the incentive earned",
        fraction,
        unit="rate",
        formula=f"earned fraction of the band reached ({why})",
        inputs={comp.score_input: score},
        term="earned_by_score",
    )
    earned = money(ctx, prepaid * fraction)
    out.add(
        "Recoupment",
        earned - prepaid,
        formula="−(prepaid − prepaid × earned fraction)",
        inputs={"prepaid": prepaid, "earned_fraction": fraction},
    )
    out.add("Incentive earned", earned, role="amount", formula="prepaid × earned fraction, rounded")
    return _result(comp, earned, paid=prepaid, figures={"incentive_recouped": prepaid - earned}, out=out)


def _withhold_base(result: ComponentResult) -> Decimal:
    """What a withhold is taken from: a capitation's capitation (not its stop-loss recovery), else the amount."""
    capitation = result.figures.get("capitation")
    return capitation if isinstance(capitation, Decimal) else result.amount


def compute_withhold(comp: c.Withhold, ctx: Context, out: LineBuilder) -> ComponentResult:
    if comp.applies_to:
        base_inputs: dict[str, Any] = {ref: _withhold_base(ctx.results[ref]) for ref in comp.applies_to}
        base = sum(base_inputs.values(), ZERO)
        base_formula = (
            "Σ payments of " + ", ".join(comp.applies_to) + " (capitation before stop-loss) × withhold rate"
        )
    else:
        base = need(ctx, "base_payments", comp)
        base_inputs = {"base_payments": base}
        base_formula = "base payments × withhold rate"
    withheld = money(ctx, base * comp.withhold_rate)
    out.add(
        "Amount withheld during the period",
        withheld,
        formula=base_formula,
        inputs={**base_inputs, "withhold_rate": comp.withhold_rate},
        term="withhold_rate",
    )
    score = need(ctx, comp.score_input, comp)
    fraction, why = band_value(comp.returned_by_score, score)
    out.add(
        "Share of the withhold returned",
        fraction,
        unit="rate",
        formula=f"returned fraction of the band reached ({why})",
        inputs={comp.score_input: score},
        term="returned_by_score",
    )
    returned = money(ctx, withheld * fraction)
    figures: dict[str, Decimal | str | None] = {"withheld": withheld, "withhold_kept": withheld - returned}
    if not comp.applies_to:
        out.add("Withhold returned", returned, role="amount", formula="withheld × returned fraction, rounded")
        return _result(comp, returned, figures=figures, out=out)
    # The withhold was taken out of the listed components' payments: their amounts count in full, so this
    # component carries −withheld (amount and paid) and returns what the score earns.
    out.add(
        "Withheld from the payments of " + ", ".join(comp.applies_to),
        -withheld,
        role="paid",
        formula="the payments made during the period were net of the withhold",
        term="applies_to",
    )
    amount = returned - withheld
    out.add(
        "Withhold kept (−) after the share returned",
        amount,
        role="amount",
        formula="withheld × returned fraction, rounded − withheld",
        inputs={"withheld": withheld, "returned": returned},
    )
    return _result(comp, amount, paid=-withheld, figures=figures, out=out)


def compute_pay_for_performance(comp: c.PayForPerformance, ctx: Context, out: LineBuilder) -> ComponentResult:
    score = need(ctx, "quality_score", comp)
    rate, why = band_value(comp.pbpm_by_score, score)
    months = member_months(ctx, comp)
    amount = money(ctx, rate * months)
    out.add(
        "Pay-for-performance bonus (+) / penalty (−)",
        amount,
        role="amount",
        formula=f"beneficiary months × PBPM of the score band ({why})",
        inputs={"quality_score": score, "pbpm": rate, "beneficiary_months": months},
        term="pbpm_by_score",
    )
    return _result(comp, amount, out=out)


def compute_pay_for_reporting(comp: c.PayForReporting, ctx: Context, out: LineBuilder) -> ComponentResult:
    reported = need(ctx, "reported", comp)
    months = member_months(ctx, comp)
    rate = comp.bonus_pbpm if reported else -comp.penalty_pbpm
    amount = money(ctx, rate * months)
    out.add(
        "Pay-for-reporting bonus (+) / penalty (−)",
        amount,
        role="amount",
        formula="beneficiary months × (bonus PBPM if reported, else −penalty PBPM)",
        inputs={"reported": reported, "pbpm": rate, "beneficiary_months": months},
        term="bonus_pbpm" if reported else "penalty_pbpm",
    )
    return _result(comp, amount, out=out)


def compute_performance_adjustment(
    comp: c.PerformanceAdjustment, ctx: Context, out: LineBuilder
) -> ComponentResult:
    requested = need(ctx, "performance_adjustment", comp)
    pct = min(max(requested, comp.minimum), comp.maximum)
    out.add(
        "Performance-based adjustment",
        pct,
        unit="rate",
        formula="entity adjustment bounded to [minimum, maximum]",
        inputs={"performance_adjustment": requested, "minimum": comp.minimum, "maximum": comp.maximum},
        term="minimum/maximum",
    )
    base = sum((ctx.results[ref].amount for ref in comp.applies_to), ZERO)
    amount = money(ctx, base * pct)
    out.add(
        "Performance-based adjustment amount",
        amount,
        role="amount",
        formula="adjustment × Σ amounts of " + ", ".join(comp.applies_to),
        inputs={"base": base, "adjustment": pct},
        term="applies_to",
    )
    return _result(comp, amount, figures={"performance_adjustment": pct}, out=out)


def _episode_quality(comp: c.EpisodeReconciliation, ctx: Context) -> tuple[Decimal, bool, str]:
    """The discount reduction and payment eligibility of the entity's quality band (CJR CQS bands).

    A contract with quality bands needs the entity's quality score: a missing score is an error, never a
    band nobody chose."""
    if not comp.quality_bands:
        return ZERO, True, "no quality bands"
    score = need(ctx, "quality_score", comp)
    reached: c.QualityDiscountBand | None = None
    for band in comp.quality_bands:
        if score > band.min_score or (score == band.min_score and not band.min_exclusive):
            reached = band
    if reached is None:
        return ZERO, False, f"score below {comp.quality_bands[0].min_score}"
    return reached.reduction, reached.eligible_for_payment, f"score ≥ {_text(reached.min_score)}"


def _group_value(
    ctx: Context, comp: c.EpisodeReconciliation, name: str, group: str, episodes: int
) -> Decimal:
    """The entity's ``<name>`` of one price group, or an error naming ``<name>.<group>``."""
    value: Decimal | None = getattr(ctx.entity, f"{name}_by_group").get(group)
    if value is None:
        where = ctx.entity.source or f"entity {ctx.entity.entity_id}"
        raise MissingInputError(
            f"{where}: field {name}.{group} is required by component {comp.id!r} (episode_reconciliation; "
            f"{episodes} episodes in price group {group})"
        )
    return value


def _grouped_benchmark_amount(
    comp: c.EpisodeReconciliation, ctx: Context, out: LineBuilder
) -> tuple[Decimal, int]:
    """Σ over price groups of benchmark price × episodes (CJR: four MS-DRG / fracture groups per hospital, each
    with its own target price, 42 CFR 510.300(a)); one line per group, then the total."""
    entity = ctx.entity
    total = ZERO
    for group, count in sorted(entity.episodes_by_group.items()):
        if comp.price_source == "input" or group in entity.benchmark_price_by_group:
            price = _group_value(ctx, comp, "benchmark_price", group, count)
            formula = "input (the payer's benchmark price)"
            inputs: dict[str, Any] = {"benchmark_price": price}
        else:
            hospital = (
                _group_value(ctx, comp, "hospital_price", group, count) if comp.hospital_weight else ZERO
            )
            regional = (
                _group_value(ctx, comp, "regional_price", group, count) if comp.regional_weight else ZERO
            )
            price = comp.hospital_weight * hospital + comp.regional_weight * regional
            formula = "hospital weight × hospital price + regional weight × regional price"
            inputs = {
                "hospital_weight": comp.hospital_weight,
                "hospital_price": hospital,
                "regional_weight": comp.regional_weight,
                "regional_price": regional,
            }
        out.add(
            f"Benchmark episode price, group {group}",
            price,
            formula=formula,
            inputs=inputs,
            term="price_source" if "benchmark_price" in inputs else "hospital_weight/regional_weight",
        )
        out.add(
            f"Benchmark amount, group {group}",
            price * count,
            formula="benchmark episode price × episodes",
            inputs={"benchmark_price": price, "episodes": count},
        )
        total += price * count
    episodes = sum(entity.episodes_by_group.values())
    if entity.episodes is not None and entity.episodes != episodes:
        where = entity.source or f"entity {entity.entity_id}"
        raise MissingInputError(
            f"{where}: field episodes ({entity.episodes}) differs from the sum of episodes.<group> ({episodes})"
        )
    out.add(
        "Benchmark amount",
        total,
        formula="Σ over price groups of benchmark episode price × episodes",
        inputs={"episodes": episodes},
    )
    return total, episodes


def compute_episode_reconciliation(
    comp: c.EpisodeReconciliation, ctx: Context, out: LineBuilder
) -> ComponentResult:
    entity = ctx.entity
    grouped = bool(entity.episodes_by_group)
    basis = price = ZERO
    if grouped:
        basis, episodes = _grouped_benchmark_amount(comp, ctx, out)
    else:
        episodes = need(ctx, "episodes", comp)
    actual = need(ctx, "episode_payments", comp)
    discount = rate_term(comp.discount)
    if not grouped and (comp.price_source == "input" or entity.benchmark_price is not None):
        price = need(ctx, "benchmark_price", comp)
        out.add(
            "Benchmark episode price",
            price,
            formula="input (the payer's benchmark price)",
            inputs={"benchmark_price": price},
            term="price_source",
        )
    elif not grouped:
        hospital = entity.hospital_price if comp.hospital_weight else ZERO
        if comp.hospital_weight and hospital is None:
            hospital = need(ctx, "hospital_price", comp)
        regional = need(ctx, "regional_price", comp) if comp.regional_weight else ZERO
        price = comp.hospital_weight * (hospital or ZERO) + comp.regional_weight * regional
        out.add(
            "Benchmark episode price",
            price,
            formula="hospital weight × hospital price + regional weight × regional price",
            inputs={
                "hospital_weight": comp.hospital_weight,
                "hospital_price": hospital,
                "regional_weight": comp.regional_weight,
                "regional_price": regional,
            },
            term="hospital_weight/regional_weight",
        )
    reduction, eligible, why = _episode_quality(comp, ctx)
    effective = discount - reduction
    out.add(
        "Effective discount",
        effective,
        unit="rate",
        formula=f"discount − quality reduction ({why})",
        inputs={"discount": discount, "quality_reduction": reduction, "quality_score": entity.quality_score},
        term="discount/quality_bands",
    )
    if grouped:
        total_target = basis * (ONE - effective)
        out.add(
            "Total target amount",
            total_target,
            formula="benchmark amount × (1 − effective discount)",
            inputs={"benchmark_amount": basis, "effective_discount": effective, "episodes": episodes},
        )
    else:
        target_price = price * (ONE - effective)
        total_target = target_price * episodes
        out.add(
            "Quality-adjusted target price",
            target_price,
            formula="benchmark price × (1 − effective discount)",
            inputs={"benchmark_price": price, "effective_discount": effective},
        )
        out.add(
            "Total target amount",
            total_target,
            formula="target price × episodes",
            inputs={"target_price": target_price, "episodes": episodes},
        )
    repay_target: Decimal | None = None
    if comp.downside and comp.repayment_discount is not None:
        repayment_discount = rate_term(comp.repayment_discount)
        if repayment_discount != discount:
            repay_discount = max(repayment_discount - reduction, ZERO)
            repay_target = (
                basis * (ONE - repay_discount) if grouped else price * (ONE - repay_discount) * episodes
            )
    # Quality adjustment of the reconciliation amount (BPCI Advanced CQS): a share of a gain withheld,
    # a share of a repayment forgiven, each scaled by the quality score.
    gain_cut = loss_cut = ZERO
    adjust_gain = rate_term(comp.quality_adjustment_of_gain)
    adjust_loss = rate_term(comp.quality_adjustment_of_loss)
    quality_share: Decimal | None = None
    if adjust_gain or adjust_loss:
        full = comp.quality_full_score
        assert isinstance(full, Decimal)
        quality_share = min(need(ctx, "quality_score", comp) / full, ONE)
        gain_cut = adjust_gain * (ONE - quality_share)
        loss_cut = adjust_loss * quality_share
    try:
        outcome = reconcile_episode_amounts(
            total_target,
            actual,
            stop_gain=None if comp.stop_gain is None else rate_term(comp.stop_gain),
            stop_loss=None if comp.stop_loss is None else rate_term(comp.stop_loss),
            downside=comp.downside,
            repayment_target_amount=repay_target,
            eligible_for_payment=eligible,
            gain_quality_reduction=gain_cut,
            loss_quality_reduction=loss_cut,
            places=ctx.contract.rounding.money_places,
        )
    except ValueError as exc:  # pragma: no cover - the component validator requires stop_loss with downside
        raise ConfigurationError(f"component {comp.id!r}: {exc}") from exc
    out.add(
        "Net payment reconciliation amount (before limits)",
        total_target - actual,
        formula="total target amount − actual episode payments",
        inputs={"total_target": total_target, "actual_episode_payments": actual},
    )
    if outcome.side == "gain":
        if outcome.limit is not None:
            out.add(
                "Stop-gain limit",
                outcome.limit,
                formula="stop_gain × total target amount",
                inputs={"stop_gain": comp.stop_gain, "total_target": total_target},
                term="stop_gain",
            )
        if adjust_gain:
            out.add(
                "Quality adjustment of the gain",
                gain_cut,
                unit="rate",
                formula="quality_adjustment_of_gain × (1 − quality score / quality_full_score)",
                inputs={
                    "quality_adjustment_of_gain": adjust_gain,
                    "quality_score": entity.quality_score,
                    "quality_full_score": comp.quality_full_score,
                },
                term="quality_adjustment_of_gain",
            )
        if outcome.quality_blocked:
            out.add(
                "Quality below the level for a reconciliation payment",
                ZERO,
                formula="no reconciliation payment",
                term="quality_bands",
            )
        label = "Reconciliation payment"
        formula = "min(NPRA, stop-gain limit) × (1 − quality adjustment), rounded"
    elif comp.downside and (outcome.side == "loss" or total_target - actual < 0):
        if repay_target is not None:
            out.add(
                "Total target amount at the repayment discount",
                repay_target,
                formula="benchmark amount × (1 − (repayment discount − quality reduction))"
                if grouped
                else "benchmark price × (1 − (repayment discount − quality reduction)) × episodes",
                inputs={"repayment_discount": comp.repayment_discount, "quality_reduction": reduction},
                term="repayment_discount",
            )
        assert outcome.limit is not None
        out.add(
            "Stop-loss limit",
            outcome.limit,
            formula="stop_loss × total target amount",
            inputs={"stop_loss": comp.stop_loss, "total_target": outcome.repayment_target_amount},
            term="stop_loss",
        )
        if adjust_loss:
            out.add(
                "Quality adjustment of the repayment",
                loss_cut,
                unit="rate",
                formula="quality_adjustment_of_loss × quality score / quality_full_score",
                inputs={
                    "quality_adjustment_of_loss": adjust_loss,
                    "quality_score": entity.quality_score,
                    "quality_full_score": comp.quality_full_score,
                },
                term="quality_adjustment_of_loss",
            )
        label = "Repayment"
        formula = "−min(actual − repayment target, stop-loss limit) × (1 − quality adjustment), rounded"
    else:
        label = "Reconciliation (no downside risk)" if total_target - actual < 0 else "Reconciliation"
        formula = "no amount"
    amount = outcome.amount
    out.add(label, amount, role="amount", formula=formula)
    figures: dict[str, Decimal | str | None] = {
        "npra": total_target - actual,
        "total_target": total_target,
    }
    if quality_share is not None:
        figures["quality_adjustment"] = gain_cut if outcome.side == "gain" else loss_cut
    return _result(comp, amount, figures=figures, out=out)


def compute_prospective_bundle(comp: c.ProspectiveBundle, ctx: Context, out: LineBuilder) -> ComponentResult:
    episodes = need(ctx, "episodes", comp)
    bundles = money(ctx, comp.bundle_price * episodes)
    out.add(
        "Prospective bundle payments",
        bundles,
        role="amount",
        formula="episodes × bundle price",
        inputs={"episodes": episodes, "bundle_price": comp.bundle_price},
        term="bundle_price",
    )
    out.add("Bundles paid at the start of each episode", bundles, role="paid", formula="prospective")
    amount = bundles
    if comp.outlier_threshold is not None and comp.outlier_rate:
        excess = need(ctx, "outlier_excess", comp)
        outlier = money(ctx, excess * comp.outlier_rate)
        out.add(
            "Outlier payments",
            outlier,
            role="amount",
            formula="Σ episode cost above the outlier threshold × outlier rate",
            inputs={
                "outlier_excess": excess,
                "outlier_threshold": comp.outlier_threshold,
                "rate": comp.outlier_rate,
            },
            term="outlier_rate",
        )
        amount += outlier
    return _result(comp, amount, paid=bundles, out=out)


def compute_episode_services(
    comp: c.MonthlyEnhancedOncologyServices, ctx: Context, out: LineBuilder
) -> ComponentResult:
    months = member_months(ctx, comp)
    pbpm = rate_term(comp.pbpm)
    total = pbpm * months
    inputs: dict[str, Any] = {"episode_months": months, "pbpm": pbpm}
    formula = "beneficiary months in active episodes × PBPM"
    dual_addition = rate_term(comp.dual_pbpm_addition)
    if dual_addition:
        duals = need(ctx, "dual_member_months", comp)
        total += dual_addition * duals
        inputs.update({"dual_months": duals, "dual_addition": dual_addition})
        formula += " + dual months × dual addition"
    amount = money(ctx, total)
    out.add("Monthly services payments", amount, role="amount", formula=formula, inputs=inputs, term="pbpm")
    out.add("Billed monthly during the period", amount, role="paid", formula="paid as billed")
    return _result(comp, amount, paid=amount, out=out)


def compute_infrastructure(comp: c.InfrastructurePayment, ctx: Context, out: LineBuilder) -> ComponentResult:
    total = comp.lump_sum
    inputs: dict[str, Any] = {"lump_sum": comp.lump_sum}
    if comp.pbpm:
        months = member_months(ctx, comp)
        total += comp.pbpm * months
        inputs.update({"beneficiary_months": months, "pbpm": comp.pbpm})
    amount = money(ctx, total)
    out.add(
        "Infrastructure payment",
        amount,
        role="amount",
        formula="lump sum + beneficiary months × PBPM",
        inputs=inputs,
        term="lump_sum/pbpm",
    )
    out.add("Paid up front", amount, role="paid", formula="paid at the start of the period")
    return _result(comp, amount, paid=amount, out=out)


def compute_sequestration(comp: c.Sequestration, ctx: Context, out: LineBuilder) -> ComponentResult:
    base = sum((max(ctx.results[ref].amount, ZERO) for ref in comp.applies_to), ZERO)
    amount = -money(ctx, base * comp.rate)
    out.add(
        "Sequestration",
        amount,
        role="amount",
        formula="−rate × Σ positive amounts of " + ", ".join(comp.applies_to),
        inputs={"rate": comp.rate, "base": base},
        term="rate",
    )
    return _result(comp, amount, out=out)


def compute_extreme_uncontrollable(
    comp: c.ExtremeUncontrollable, ctx: Context, out: LineBuilder
) -> ComponentResult:
    owed = sum((-min(ctx.results[ref].amount, ZERO) for ref in comp.applies_to), ZERO)
    fraction = ctx.entity.euc_affected_fraction
    flat = ctx.entity.euc_loss_reduction
    relief = money(ctx, min(owed, owed * fraction + flat))
    out.add(
        "Extreme and uncontrollable circumstances relief",
        relief,
        role="amount",
        formula="min(owed, owed × affected fraction + flat reduction), owed = Σ losses of "
        + ", ".join(comp.applies_to),
        inputs={"owed": owed, "euc_affected_fraction": fraction, "euc_loss_reduction": flat},
        term="applies_to",
    )
    return _result(comp, relief, out=out)


_INSTALMENTS = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def compute_interim_payments(comp: c.InterimPayments, ctx: Context, out: LineBuilder) -> ComponentResult:
    if comp.share_of_expected is not None:
        expected = sum((r.amount - r.paid_during_period for r in ctx.results.values()), ZERO)
        interim = money(ctx, max(expected, ZERO) * comp.share_of_expected)
        formula = "share of expected × Σ (amount − already paid) of earlier components, not below 0"
        inputs: dict[str, Any] = {"share_of_expected": comp.share_of_expected, "expected": expected}
    else:
        interim = need(ctx, "interim_paid", comp)
        formula = "interim payments made (input)"
        inputs = {"interim_paid": interim}
    count = _INSTALMENTS[comp.schedule]
    step = 12 // count
    quantum = Decimal(1).scaleb(-ctx.contract.rounding.money_places)
    each = (interim / count).quantize(quantum, rounding="ROUND_DOWN")
    for number in range(count):
        value = each if number < count - 1 else interim - each * (count - 1)
        out.add(
            f"Interim payment {number + 1} of {count}",
            value,
            formula="equal instalments; the last takes the rounding remainder",
            inputs={"due": _add_months(ctx.period.start, step * number).isoformat()},
            term="schedule",
        )
    out.add("Interim payments made", interim, role="paid", formula=formula, inputs=inputs)
    return _result(comp, ZERO, paid=interim, out=out)


def _result(
    comp: c.ComponentBase,
    amount: Decimal,
    *,
    out: LineBuilder,
    paid: Decimal = ZERO,
    figures: dict[str, Decimal | str | None] | None = None,
) -> ComponentResult:
    return ComponentResult(
        component_id=comp.id,
        component_type=getattr(comp, "type", ""),
        amount=amount,
        paid_during_period=paid,
        figures=figures or {},
        lines=tuple(out.lines),
    )


MECHANISMS: dict[str, Callable[[Any, Context, LineBuilder], ComponentResult]] = {
    "shared_savings": compute_shared_savings_component,
    "risk_corridor": compute_risk_corridor,
    "capitation": compute_capitation,
    "care_management_fee": compute_care_management_fee,
    "population_based_payment": compute_population_based_payment,
    "performance_incentive": compute_performance_incentive,
    "withhold": compute_withhold,
    "pay_for_performance": compute_pay_for_performance,
    "pay_for_reporting": compute_pay_for_reporting,
    "performance_adjustment": compute_performance_adjustment,
    "episode_reconciliation": compute_episode_reconciliation,
    "prospective_bundle": compute_prospective_bundle,
    "episode_services_payment": compute_episode_services,
    "infrastructure_payment": compute_infrastructure,
    "sequestration": compute_sequestration,
    "extreme_uncontrollable": compute_extreme_uncontrollable,
    "interim_payments": compute_interim_payments,
}
