"""The shared-savings terms of a contract: minimum savings/loss rates, quality, loss rate, caps, guardrail.

Data only (frozen pydantic models the contract's ``shared_savings`` component holds); the calculator that
applies them is :func:`apmkit.settlement.shared_savings.compute_shared_savings`.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from apmkit.money import to_decimal

Rate = Annotated[Decimal, Field(ge=0, le=1)]
"""A fraction between 0 and 1 (0.02 = 2 %)."""


class TermsModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _floats_to_exact_decimal(cls, value: Any) -> Any:
        # YAML and JSON hand us floats; go through repr so 0.1 stays 0.1 and not 0.1000000000000000055...
        if isinstance(value, float):
            return to_decimal(value)
        return value


class MinimumRateBand(TermsModel):
    """One row of a variable MSR/MLR table: the rate at each end of a population band.

    Within the band the rate is interpolated linearly:
    ``rate = rate_at_min + (rate_at_max − rate_at_min) × (N − min_population)
    / (max_population − min_population)``
    (42 CFR 425.604(b); the interpolation reproduces CMS's published MSRs, docs/mssp.md). A band with no
    ``max_population`` (the open top band) or no ``rate_at_max`` has the flat rate ``rate_at_min``.
    """

    min_population: int = Field(ge=0, description="Smallest assigned population in the band (inclusive).")
    max_population: int | None = Field(
        default=None,
        description="Largest assigned population in the band (inclusive); None for the open top band.",
    )
    rate_at_min: Rate = Field(description="MSR/MLR at min_population.")
    rate_at_max: Rate | None = Field(
        default=None, description="MSR/MLR at max_population; None for a flat band."
    )

    @model_validator(mode="after")
    def _ordered(self) -> MinimumRateBand:
        if self.max_population is not None and self.max_population <= self.min_population:
            raise ValueError(
                f"max_population {self.max_population} must exceed min_population {self.min_population}"
            )
        return self


class MinimumRateTerms(TermsModel):
    """Minimum savings rate (MSR) or minimum loss rate (MLR).

    ``kind: fixed`` uses ``rate`` for every population (0 % is allowed: any savings or loss counts);
    ``kind: variable`` looks the rate up in ``bands`` by the assigned population.
    """

    kind: Literal["fixed", "variable"] = "fixed"
    rate: Rate | None = Field(default=None, description="The fixed rate (kind: fixed).")
    bands: tuple[MinimumRateBand, ...] = Field(default=(), description="Population bands (kind: variable).")
    citation: str = Field(default="", description="Where the rate or table comes from.")

    @model_validator(mode="after")
    def _complete(self) -> MinimumRateTerms:
        if self.kind == "fixed" and self.rate is None:
            raise ValueError("rate is required when kind is fixed")
        if self.kind == "variable":
            if not self.bands:
                raise ValueError("bands are required when kind is variable")
            ordered = sorted(self.bands, key=lambda band: band.min_population)
            for lower, upper in itertools.pairwise(ordered):
                if lower.max_population is None or lower.max_population >= upper.min_population:
                    raise ValueError(
                        f"bands overlap: band starting at {lower.min_population} reaches band starting at "
                        f"{upper.min_population}"
                    )
        return self


class QualityDefault(TermsModel):
    """Quality values the contract states for an entity that reports none (``quality.if_missing``).

    Used only when an entity has neither a quality score nor a quality-standard flag; the statement then shows an
    ``Assumption`` line with ``reason``. Without it, missing quality data is an error: a sharing rate is never
    paid on a quality result nobody reported.
    """

    quality_standard_met: bool
    quality_score: Rate | None = None
    alternative_quality_standard_met: bool = False
    reason: str = Field(
        min_length=1, description="Why the contract assumes these values (shown on the statement)."
    )


class QualityTerms(TermsModel):
    """How quality turns the maximum sharing rate into the final sharing rate.

    - ``none``: final rate = maximum rate (no quality link).
    - ``scale``: final rate = maximum rate × quality score, and 0 when the quality standard is not met
      (MSSP PY2013-2020, 42 CFR 425.604(d), 425.605(d), 425.610(d)). Without a standard flag, a score of 0
      means not met.
    - ``gate``: final rate = maximum rate if the quality standard is met, else 0 (MSSP PY2021-2022). The
      standard flag is required (a score alone does not say whether the standard was met).
    - ``gate_or_sliding_scale``: maximum rate if the standard is met; maximum rate × quality score if only the
      alternative standard is met; else 0 (MSSP PY2023+). The standard flag is required.

    An entity with no quality score and no standard flag is an error naming the fields, unless ``if_missing``
    states the contract's default (shown on the statement as an assumption).
    """

    method: Literal["none", "scale", "gate", "gate_or_sliding_scale"] = "none"
    if_missing: QualityDefault | None = Field(
        default=None, description="Explicit default for entities reporting no quality data (else an error)."
    )
    citation: str = ""


class LossRateTerms(TermsModel):
    """The shared-loss rate of a two-sided arrangement.

    - ``fixed``: ``rate`` (BASIC C-E and Track 1+: 30 %).
    - ``one_minus_final_sharing_rate``: 1 − final sharing rate (MSSP Track 2/3, ENHANCED through PY2020).
    - ``one_minus_max_rate_times_quality``: 1 − ``max_rate_factor`` × quality score (ENHANCED PY2021-2022:
      1 − 0.75 × quality).

    The result is bounded to [``floor``, ``ceiling``]; when the quality standard is not met the rate is
    ``rate_when_quality_not_met`` if given, else ``ceiling`` (42 CFR 425.606(g), 425.610(f)).
    """

    method: Literal["fixed", "one_minus_final_sharing_rate", "one_minus_max_rate_times_quality"] = "fixed"
    rate: Rate | None = None
    max_rate_factor: Rate | None = None
    floor: Rate = Decimal(0)
    ceiling: Rate = Decimal(1)
    rate_when_quality_not_met: Rate | None = None
    citation: str = ""

    @model_validator(mode="after")
    def _complete(self) -> LossRateTerms:
        if self.method == "fixed" and self.rate is None:
            raise ValueError("rate is required when method is fixed")
        if self.method == "one_minus_max_rate_times_quality" and self.max_rate_factor is None:
            raise ValueError("max_rate_factor is required when method is one_minus_max_rate_times_quality")
        if self.floor > self.ceiling:
            raise ValueError(f"floor {self.floor} exceeds ceiling {self.ceiling}")
        return self


class CapTerms(TermsModel):
    """A cap on earned savings or owed losses: the lower of the parts given.

    ``pct_of_benchmark`` × total benchmark and ``pct_of_revenue`` × participant revenue (e.g. BASIC level C:
    the lower of 2 % of ACO participant revenue and 1 % of the benchmark, 42 CFR 425.605(d)). A cap with no
    part is no cap.
    """

    pct_of_benchmark: Rate | None = None
    pct_of_revenue: Rate | None = None
    if_revenue_missing: Literal["error", "benchmark_part_only"] = Field(
        default="error",
        description=(
            "With a pct_of_revenue part and no participant revenue: stop with an error naming "
            "participant_revenue (default), or apply the benchmark part alone as an explicit contract choice "
            "(an assumption line on the statement; the amount is then an upper bound of a loss)."
        ),
    )
    citation: str = ""


class BelowMinimumSharing(TermsModel):
    """Savings below the MSR shared at a reduced rate by eligible entities.

    MSSP 42 CFR 425.605(h) (PY2024+): a low-revenue BASIC ACO in an agreement period beginning on or after
    1 January 2024, with at least 5,000 assigned beneficiaries, savings above 0 but below its MSR and the quality
    standard (or the alternative standard) met, earns ``rate_factor`` (one half) × its final sharing rate.
    Eligibility is an entity input (``below_msr_sharing_eligible``); it is required whenever it decides an amount.
    """

    rate_factor: Rate = Field(description="Share of the final sharing rate paid below the MSR (0.5).")
    min_population: int = Field(ge=0, description="Fewest assigned beneficiaries to qualify (5,000).")
    eligible: bool | None = Field(
        default=None,
        description=(
            "The contract's statement of the entity's eligibility, used (and shown as an assumption line) when the "
            "entity's input below_msr_sharing_eligible is not given; None: the input is required."
        ),
    )
    citation: str = ""


class LossBenchmarkGuardrail(TermsModel):
    """Losses measured against a recalculated benchmark when that is kinder to the entity (MSSP ACPT guardrail).

    42 CFR 425.652(b)(5) (agreement periods from 2024): when spending exceeds the updated benchmark (three-way blend
    with the ACPT) by at least the MLR, CMS recalculates the updated benchmark with the two-way national-regional
    blend. Spending above the recalculated benchmark by a smaller amount: losses are determined against it; spending
    below it: the entity neither shares losses nor earns savings. The recalculated benchmark is an entity input.
    """

    applies: bool | None = Field(
        default=None,
        description=(
            "The contract's statement whether the guardrail applies (MSSP: agreement period from 2024), used and "
            "shown as an assumption when the entity input guardrail_applies is not given; None: input required."
        ),
    )
    citation: str = ""


class TerminationTerms(TermsModel):
    """What ending the agreement during the period does to that period's settlement.

    MSSP 42 CFR 425.221(b)(2): an ACO whose agreement ends before December 31 of a performance year (or that CMS
    terminates) earns no shared savings for that year; 425.605(f)(2)(i) speaks of the pro-rated share of losses a
    terminated two-sided ACO owes (425.221(b)(2)(ii)). The share is an entity input (``termination_loss_share``),
    required whenever losses are owed by a terminated entity.
    """

    savings_forfeited: bool = Field(
        default=True, description="A terminated entity earns no shared savings for the period."
    )
    losses: Literal["prorated_share_input", "in_full"] = Field(
        default="prorated_share_input",
        description=(
            "prorated_share_input: owed losses × the entity input termination_loss_share (e.g. months in the "
            "agreement / 12); in_full: a terminated entity owes its losses like any other."
        ),
    )
    citation: str = ""


class SharedSavingsTerms(TermsModel):
    """Terms of a one- or two-sided shared savings arrangement (``shared_savings:`` in a contract).

    All rates are fractions (0.02 = 2 %). A YAML example (MSSP Track 2, PY2016)::

        sided: two_sided
        minimum_savings_rate: {kind: fixed, rate: 0.02}
        minimum_loss_rate: null            # symmetric: same as the MSR
        sharing_basis: first_dollar
        max_sharing_rate: 0.60
        quality: {method: scale}
        loss_rate: {method: one_minus_final_sharing_rate, floor: 0.40, ceiling: 0.60}
        savings_cap: {pct_of_benchmark: 0.15}
        loss_cap: {pct_of_benchmark: 0.10}
        sequestration_rate: 0.02
    """

    sided: Literal["one_sided", "two_sided"] = Field(description="one_sided never owes losses.")
    minimum_savings_rate: MinimumRateTerms = Field(description="MSR: savings are shared only at or above it.")
    minimum_loss_rate: MinimumRateTerms | None = Field(
        default=None, description="MLR (two-sided); None means symmetric: the MLR equals the MSR."
    )
    sharing_basis: Literal["first_dollar", "above_minimum_rate"] = Field(
        default="first_dollar",
        description="Share all savings/losses once the MSR/MLR is met, or only the part beyond it.",
    )
    max_sharing_rate: Rate = Field(description="Sharing rate at full quality.")
    quality: QualityTerms = Field(default_factory=QualityTerms)
    loss_rate: LossRateTerms | None = Field(default=None, description="Required when two_sided.")
    savings_cap: CapTerms = Field(default_factory=CapTerms, description="Performance payment limit.")
    loss_cap: CapTerms = Field(default_factory=CapTerms, description="Loss recoupment limit.")
    sequestration_rate: Rate = Field(
        default=Decimal(0), description="Reduction of savings payments (MSSP: 0.02); never applied to losses."
    )
    sequestration_before_cap: bool = Field(
        default=True,
        description="Apply sequestration before the savings cap (MSSP practice) or to the capped amount.",
    )
    below_msr_sharing: BelowMinimumSharing | None = Field(
        default=None,
        description="Reduced sharing of savings below the MSR for eligible entities (else none).",
    )
    loss_benchmark_guardrail: LossBenchmarkGuardrail | None = Field(
        default=None,
        description="Losses against a recalculated benchmark when it is higher (MSSP ACPT guardrail).",
    )
    termination: TerminationTerms | None = Field(
        default=None,
        description=(
            "What termination during the period does; None: a terminated entity (input terminated_during_year) "
            "cannot be settled, because the contract does not say."
        ),
    )
    citation: str = Field(default="", description="Where these terms come from.")

    @model_validator(mode="after")
    def _two_sided_needs_loss_rate(self) -> SharedSavingsTerms:
        if self.sided == "two_sided" and self.loss_rate is None:
            raise ValueError("loss_rate is required when sided is two_sided")
        return self


__all__ = [
    "BelowMinimumSharing",
    "CapTerms",
    "LossBenchmarkGuardrail",
    "LossRateTerms",
    "MinimumRateBand",
    "MinimumRateTerms",
    "QualityDefault",
    "QualityTerms",
    "Rate",
    "SharedSavingsTerms",
    "TerminationTerms",
    "TermsModel",
]
