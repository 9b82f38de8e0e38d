"""Payment mechanism components of a contract.

Each component is a frozen pydantic model discriminated by ``type``. A contract lists any number of them
(``components:``) and the settlement engine computes each in order, so later components (sequestration,
EUC relief, performance adjustments, interim payments) can refer to earlier ones by ``id``.

Rates are fractions (0.02 = 2 %). Money is :class:`decimal.Decimal`; YAML numbers are read through their
text so that ``0.1`` stays exactly one tenth.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, localcontext
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from apmkit.contracts.shared_savings_terms import SharedSavingsTerms
from apmkit.spec_model import SpecModel, check_number

Number = Annotated[Decimal, AfterValidator(check_number)]
"""A contract number: finite (no NaN or infinity) and smaller than :data:`NUMBER_LIMIT` in magnitude."""
Rate = Annotated[Number, Field(ge=0, le=1)]
"""A fraction between 0 and 1 inclusive."""
Money = Annotated[Number, Field(ge=0)]
"""A non-negative amount of money (or a per-member-per-month rate)."""

REQUIRED: Final = "REQUIRED"
"""Marks a term the contract must state before it settles (a template parameter no primary source verifies).

A template writes ``discount: REQUIRED``; the contract validates, ``required_terms`` lists the field, and
settlement stops with an error naming it until the user replaces the marker with the agreement's value."""
Required = Literal["REQUIRED"]
RequiredRate = Rate | Required
RequiredMoney = Money | Required


class Spec(SpecModel):
    """Base of every contract model: frozen, strict about unknown keys, floats read as exact decimals, numbers
    finite and bounded (:class:`apmkit.spec_model.SpecModel`)."""


class ComponentBase(Spec):
    """Fields shared by every payment mechanism."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Unique name of the component in this contract")
    version: str = Field(
        default="1", description="Version of this component's terms (bump when the terms change)"
    )
    description: str = ""
    clause: str = Field(
        default="", description="Contract or regulation clause the component implements (cited on lines)"
    )


# ---- shared savings / losses --------------------------------------------------------------------------


class SharedSavings(ComponentBase):
    """One- or two-sided shared savings/losses against a benchmark.

    ``terms`` are :class:`apmkit.settlement.shared_savings.SharedSavingsTerms` (MSR/MLR fixed or variable,
    first-dollar or above-MSR sharing, quality scaling, loss rate, savings and loss caps, sequestration); the
    arithmetic is :func:`apmkit.settlement.shared_savings.compute_shared_savings`.
    """

    type: Literal["shared_savings"] = "shared_savings"
    terms: SharedSavingsTerms


# ---- risk corridor ------------------------------------------------------------------------------------


class CorridorBand(Spec):
    """Deviations from target between ``lower`` and ``upper`` (fractions of target) shared at ``entity_share``."""

    lower: Rate
    upper: Rate | None = Field(default=None, description="Open-ended when omitted")
    entity_share: Rate

    @model_validator(mode="after")
    def _ordered(self) -> CorridorBand:
        if self.upper is not None and self.upper <= self.lower:
            raise ValueError(f"upper {self.upper} must exceed lower {self.lower}")
        return self


def _check_bands(bands: list[CorridorBand], name: str) -> list[CorridorBand]:
    if not bands:
        return bands
    if bands[0].lower != 0:
        raise ValueError(f"{name} must start at lower 0")
    for previous, band in itertools.pairwise(bands):
        if previous.upper is None or previous.upper != band.lower:
            raise ValueError(
                f"{name} must be contiguous: a band ends at {previous.upper}, the next starts at {band.lower}"
            )
    return bands


class RiskCorridor(ComponentBase):
    """Gains and losses against a target shared band by band (symmetric or asymmetric corridors)."""

    type: Literal["risk_corridor"] = "risk_corridor"
    symmetric: bool = True
    gain_bands: list[CorridorBand] = Field(description="Savings bands (and loss bands too when symmetric)")
    loss_bands: list[CorridorBand] = Field(default_factory=list, description="Loss bands when not symmetric")

    @field_validator("gain_bands", "loss_bands")
    @classmethod
    def _contiguous(cls, bands: list[CorridorBand], info: Any) -> list[CorridorBand]:
        return _check_bands(bands, info.field_name)

    @model_validator(mode="after")
    def _sides(self) -> RiskCorridor:
        if not self.gain_bands:
            raise ValueError("gain_bands needs at least one band")
        if self.symmetric and self.loss_bands:
            raise ValueError("loss_bands must be omitted when symmetric is true")
        if not self.symmetric and not self.loss_bands:
            raise ValueError("loss_bands are required when symmetric is false")
        return self


# ---- capitation ---------------------------------------------------------------------------------------


class StopLoss(Spec):
    """Member-level (specific) stop-loss: the payer reimburses costs above the attachment point."""

    attachment_point: Money
    reimbursement_rate: Rate = Decimal(1)


class Capitation(ComponentBase):
    """Capitation: PMPM by (risk-adjusted) cell or a percent of premium, with carve-outs and stop-loss."""

    type: Literal["capitation"] = "capitation"
    scope: Literal["full", "partial", "global"] = "full"
    basis: Literal["pmpm", "percent_of_premium"] = "pmpm"
    pmpm_by_cell: dict[str, Money] = Field(default_factory=dict, description="Rate per member month by cell")
    default_pmpm: Money | None = Field(default=None, description="Rate for member months without a cell")
    percent_of_premium: Rate | None = None
    risk_adjusted: bool = Field(
        default=False, description="Multiply the PMPM amounts by the entity's average risk score"
    )
    carve_outs: list[str] = Field(default_factory=list, description="Services paid outside the capitation")
    stop_loss: StopLoss | None = None
    prepaid: bool = Field(
        default=True, description="Paid monthly during the period (informational at settlement)"
    )

    @model_validator(mode="after")
    def _basis_terms(self) -> Capitation:
        if self.basis == "pmpm" and not self.pmpm_by_cell and self.default_pmpm is None:
            raise ValueError("basis pmpm needs pmpm_by_cell or default_pmpm")
        if self.basis == "percent_of_premium" and self.percent_of_premium is None:
            raise ValueError("basis percent_of_premium needs percent_of_premium")
        if self.scope == "partial" and not self.carve_outs:
            raise ValueError("scope partial needs carve_outs naming the services outside the capitation")
        return self


class CareManagementFee(ComponentBase):
    """Per-beneficiary-per-month fee by risk tier."""

    type: Literal["care_management_fee"] = "care_management_fee"
    pbpm_by_tier: dict[str, RequiredMoney]
    prepaid: bool = True


class PopulationBasedPayment(ComponentBase):
    """Per-beneficiary-per-month payment chosen by the entity's (practice's) risk group, plus flat visit fees."""

    type: Literal["population_based_payment"] = "population_based_payment"
    pbpm_by_risk_group: dict[str, RequiredMoney]
    flat_visit_fee: RequiredMoney = Decimal(0)
    prepaid: bool = Field(
        default=True,
        description="The population-based payment (quarterly) and the visit fees (as claims are paid) were paid "
        "during the period: the settlement's balance due does not pay them again",
    )


# ---- performance money --------------------------------------------------------------------------------


class ScoreBand(Spec):
    """At a score of at least ``min_score``, earn ``value`` (a fraction or an amount, per the component)."""

    min_score: Number
    value: Number


def _check_score_bands(bands: list[ScoreBand]) -> list[ScoreBand]:
    scores = [b.min_score for b in bands]
    if scores != sorted(scores) or len(set(scores)) != len(scores):
        raise ValueError("bands must be in strictly increasing min_score order")
    return bands


class PerformanceIncentive(ComponentBase):
    """Performance-based incentive paid up front (PBPM) and recouped for the part not earned."""

    type: Literal["performance_incentive"] = "performance_incentive"
    prepaid_pbpm: RequiredMoney
    earned_by_score: list[ScoreBand] = Field(
        default_factory=list,
        description="Fraction of the prepayment kept, by performance score; empty = the score input is itself "
        "the fraction kept (between 0 and 1)",
    )
    score_input: Literal["quality_score", "performance_score", "utilization_score"] = "performance_score"

    @field_validator("earned_by_score")
    @classmethod
    def _bands(cls, bands: list[ScoreBand]) -> list[ScoreBand]:
        for band in bands:
            if not 0 <= band.value <= 1:
                raise ValueError(f"earned fraction {band.value} must be between 0 and 1")
        return _check_score_bands(bands)


class Withhold(ComponentBase):
    """A percentage withheld from base payments during the period and returned by performance."""

    type: Literal["withhold"] = "withhold"
    withhold_rate: Rate
    returned_by_score: list[ScoreBand]
    score_input: Literal["quality_score", "performance_score"] = "quality_score"
    applies_to: list[str] = Field(
        default_factory=list,
        description="Components (e.g. a capitation) the withhold is taken from: the base is the sum of their "
        "amounts and the amount withheld is netted from what they paid during the period; empty = the "
        "entity's base_payments input (fee-for-service paid outside this statement)",
    )

    @field_validator("returned_by_score")
    @classmethod
    def _bands(cls, bands: list[ScoreBand]) -> list[ScoreBand]:
        for band in bands:
            if not 0 <= band.value <= 1:
                raise ValueError(f"returned fraction {band.value} must be between 0 and 1")
        return _check_score_bands(bands)


class PayForPerformance(ComponentBase):
    """Bonus or penalty by quality score: PBPM amounts (negative = penalty) by score band."""

    type: Literal["pay_for_performance"] = "pay_for_performance"
    pbpm_by_score: list[ScoreBand]

    @field_validator("pbpm_by_score")
    @classmethod
    def _bands(cls, bands: list[ScoreBand]) -> list[ScoreBand]:
        return _check_score_bands(bands)


class PayForReporting(ComponentBase):
    """A PBPM bonus when the entity reported completely, a PBPM penalty when it did not."""

    type: Literal["pay_for_reporting"] = "pay_for_reporting"
    bonus_pbpm: Money = Decimal(0)
    penalty_pbpm: Money = Decimal(0)


class PerformanceAdjustment(ComponentBase):
    """A percentage adjustment of other components' amounts (e.g. PCF's -10 % to +50 % PBA)."""

    type: Literal["performance_adjustment"] = "performance_adjustment"
    applies_to: list[str] = Field(min_length=1)
    minimum: Number = Field(description="Lowest adjustment, e.g. -0.10")
    maximum: Number = Field(description="Highest adjustment, e.g. 0.50")

    @model_validator(mode="after")
    def _range(self) -> PerformanceAdjustment:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} exceeds maximum {self.maximum}")
        return self


# ---- episodes -----------------------------------------------------------------------------------------


class QualityDiscountBand(Spec):
    """At a quality score of at least ``min_score`` the discount drops by ``reduction`` and reconciliation
    payments are allowed when ``eligible``."""

    min_score: Number
    min_exclusive: bool = Field(
        default=False, description="Reached only above min_score (CJR excellent: > 15.0)"
    )
    reduction: Rate = Decimal(0)
    eligible_for_payment: bool = True


class EpisodeReconciliation(ComponentBase):
    """Retrospective episode reconciliation: quality-adjusted target price x episodes vs actual payments,
    limited by stop-gain/stop-loss as a share of total target (CJR, BPCI Advanced, OCM/EOM)."""

    type: Literal["episode_reconciliation"] = "episode_reconciliation"
    price_source: Literal["blend", "input"] = Field(
        default="blend",
        description="blend: benchmark price = hospital weight x hospital price + regional weight x regional "
        "price (CJR); input: the payer's benchmark price per entity (benchmark_price: BPCI Advanced, OCM, EOM "
        "target prices are set by CMS and given to the participant)",
    )
    hospital_weight: Rate = Field(
        default=Decimal(0), description="Weight of the hospital-specific historical price"
    )
    regional_weight: Rate = Field(default=Decimal(1), description="Weight of the regional historical price")
    discount: RequiredRate = Field(description="Discount off the benchmark price for reconciliation payments")
    repayment_discount: RequiredRate | None = Field(
        default=None, description="Discount used when the entity owes (default: same)"
    )
    quality_bands: list[QualityDiscountBand] = Field(default_factory=list)
    quality_adjustment_of_gain: RequiredRate = Field(
        default=Decimal(0),
        description="Largest share of a positive amount withheld for quality: the payment is reduced by "
        "this x (1 - quality score / quality_full_score)",
    )
    quality_adjustment_of_loss: RequiredRate = Field(
        default=Decimal(0),
        description="Largest share of a repayment forgiven for quality: the repayment is reduced by "
        "this x (quality score / quality_full_score)",
    )
    quality_full_score: Annotated[Decimal, Field(gt=0)] | Required = Field(
        default=Decimal(1), description="The quality score that counts as full quality (1 for a 0-1 score)"
    )
    stop_gain: RequiredRate | None = Field(
        default=None, description="Cap on gains as a share of total target"
    )
    stop_loss: RequiredRate | None = Field(
        default=None, description="Cap on losses as a share of total target; omit = no downside"
    )
    downside: bool = True

    @field_validator("hospital_weight", "regional_weight", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> Any:
        # Blend weights such as 1/3 have no finite decimal; accept "1/3" and divide exactly enough.
        if isinstance(value, str) and "/" in value:
            numerator, _, denominator = value.partition("/")
            with localcontext() as ctx:
                ctx.prec = 40
                return Decimal(numerator.strip()) / Decimal(denominator.strip())
        return value

    @field_validator("quality_bands")
    @classmethod
    def _increasing(cls, bands: list[QualityDiscountBand]) -> list[QualityDiscountBand]:
        scores = [b.min_score for b in bands]
        if scores != sorted(scores):
            raise ValueError("quality_bands must be in increasing min_score order")
        return bands

    @model_validator(mode="after")
    def _weights(self) -> EpisodeReconciliation:
        if abs(self.hospital_weight + self.regional_weight - 1) > Decimal("1e-30"):
            raise ValueError(
                f"hospital_weight {self.hospital_weight} + regional_weight {self.regional_weight} must equal 1"
            )
        for band in self.quality_bands:
            if isinstance(self.discount, Decimal) and band.reduction > self.discount:
                raise ValueError(f"quality reduction {band.reduction} exceeds the discount {self.discount}")
        if self.downside and self.stop_loss is None:
            raise ValueError("stop_loss is required when downside is true")
        return self


class ProspectiveBundle(ComponentBase):
    """A prospective bundled payment per episode, with an outlier payment above a threshold."""

    type: Literal["prospective_bundle"] = "prospective_bundle"
    bundle_price: Money
    outlier_threshold: Money | None = Field(
        default=None, description="Per-episode cost above which outliers are paid"
    )
    outlier_rate: Rate = Decimal(0)


class MonthlyEnhancedOncologyServices(ComponentBase):
    """A per-beneficiary-per-month services payment for beneficiaries in active episodes (OCM/EOM MEOS)."""

    type: Literal["episode_services_payment"] = "episode_services_payment"
    pbpm: RequiredMoney
    dual_pbpm_addition: RequiredMoney = Decimal(0)


# ---- other payments and adjustments -------------------------------------------------------------------


class InfrastructurePayment(ComponentBase):
    """Upfront or periodic infrastructure payment: a lump sum and/or a PBPM amount."""

    type: Literal["infrastructure_payment"] = "infrastructure_payment"
    lump_sum: Money = Decimal(0)
    pbpm: Money = Decimal(0)


class Sequestration(ComponentBase):
    """Statutory reduction of positive payments of the listed components (Medicare: 2 %)."""

    type: Literal["sequestration"] = "sequestration"
    rate: Rate
    applies_to: list[str] = Field(min_length=1)


class ExtremeUncontrollable(ComponentBase):
    """Extreme and uncontrollable circumstances: owed losses reduced by the affected share
    (months affected / 12 x share of beneficiaries in affected areas), after the loss rate and cap."""

    type: Literal["extreme_uncontrollable"] = "extreme_uncontrollable"
    applies_to: list[str] = Field(min_length=1)


class InterimPayments(ComponentBase):
    """Interim payments made during the period, deducted from the final settlement."""

    type: Literal["interim_payments"] = "interim_payments"
    schedule: Literal["monthly", "quarterly", "semiannual", "annual"] = "quarterly"
    share_of_expected: Rate | None = Field(
        default=None,
        description="Interim = this share of the expected settlement (else the entity's interim_paid input)",
    )


Component = Annotated[
    SharedSavings
    | RiskCorridor
    | Capitation
    | CareManagementFee
    | PopulationBasedPayment
    | PerformanceIncentive
    | Withhold
    | PayForPerformance
    | PayForReporting
    | PerformanceAdjustment
    | EpisodeReconciliation
    | ProspectiveBundle
    | MonthlyEnhancedOncologyServices
    | InfrastructurePayment
    | Sequestration
    | ExtremeUncontrollable
    | InterimPayments,
    Field(discriminator="type"),
]


def required_terms(component: ComponentBase) -> list[str]:
    """The fields of ``component`` still set to ``REQUIRED`` (dotted, e.g. ``pbpm_by_tier.tier3``)."""
    missing: list[str] = []
    for name in type(component).model_fields:
        value = getattr(component, name)
        if value == REQUIRED:
            missing.append(name)
        elif isinstance(value, dict):
            missing.extend(f"{name}.{key}" for key, item in value.items() if item == REQUIRED)
    return missing


COMPONENT_TYPES: tuple[str, ...] = (
    "shared_savings",
    "risk_corridor",
    "capitation",
    "care_management_fee",
    "population_based_payment",
    "performance_incentive",
    "withhold",
    "pay_for_performance",
    "pay_for_reporting",
    "performance_adjustment",
    "episode_reconciliation",
    "prospective_bundle",
    "episode_services_payment",
    "infrastructure_payment",
    "sequestration",
    "extreme_uncontrollable",
    "interim_payments",
)
