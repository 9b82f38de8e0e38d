"""Benchmark specifications: the ``benchmark:`` section of a contract.

:class:`BenchmarkSpec` selects one of two methods:

``mssp``
    The Medicare Shared Savings Program historical benchmark for agreements starting 2024 or later
    (42 CFR 425.652, 425.656, 425.658; 2019-2023 analogue 425.601), parameters in
    :class:`MsspBenchmarkSpec`. Methodology reference: ``docs/benchmark.md``.
``general``
    A configurable commercial / Medicaid total-cost-of-care benchmark (:class:`GeneralBenchmarkSpec`):
    own history, peer/regional blend, trend, efficiency adjustment, credibility blending, outlier
    handling, risk-score ratio and virtual panels.

Every rate or weight is a :class:`~decimal.Decimal` so YAML values such as ``0.1`` stay exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from apmkit.errors import ConfigurationError

EnrollmentType = Literal["esrd", "disabled", "aged_dual", "aged_non_dual"]
ENROLLMENT_TYPES: tuple[EnrollmentType, ...] = ("esrd", "disabled", "aged_dual", "aged_non_dual")
"""The four MSSP Medicare enrollment types, in CMS's order (42 CFR 425.652(a)(2))."""

FIRST_AGREEMENT_WEIGHTS = (Decimal("0.1"), Decimal("0.3"), Decimal("0.6"))
"""BY1/BY2/BY3 weights of a first agreement period (42 CFR 425.652(a)(3))."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PerType = dict[EnrollmentType, Decimal]
_M = TypeVar("_M", bound=BaseModel)


class PriorSavingsSpec(_Frozen):
    """Prior savings adjustment inputs for renewing or re-entering ACOs (42 CFR 425.658).

    Parameters
    ----------
    per_capita_savings
        Per-capita savings (positive) or losses (negative) of the three performance years before the
        agreement, oldest first; years not reconciled or not eligible are entered as 0.
    proration_factor
        Assigned-population proration factor applied to the mean (1 = no proration).
    max_share_of_savings
        Share of the prorated mean that may be added (50%).
    cap_share_of_national
        Cap as a share of national per-capita A+B expenditure in BY3 (5%).
    """

    per_capita_savings: tuple[Decimal, Decimal, Decimal]
    proration_factor: Decimal = Field(default=Decimal(1), ge=0)
    max_share_of_savings: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    cap_share_of_national: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)


class RegionalAdjustmentSpec(_Frozen):
    """Regional adjustment (42 CFR 425.656).

    Parameters
    ----------
    occurrence
        How many times (counting this agreement) the ACO receives a regional adjustment: selects the
        percentages 35/15, 50/25, 50/35, 50/50 (lower-spending / higher-spending ACO).
    positive_cap_share
        Cap on a positive adjustment per enrollment type, share of national per-capita BY3 (5%).
    negative_cap_share
        Cap on a negative adjustment, share of national per-capita BY3 (1.5% for 2024+; 5% before).
    apply_negative
        Agreements starting 2024+ do not apply a negative or zero single-value regional adjustment
        (425.652(a)(8)(iii)); set True for the 2019-2023 rule (425.601(a)(8), with negative_cap_share 0.05; no
        offset factor then unless negative_offset_factor is given).
    negative_offset_factor
        The offset factor of 42 CFR 425.656(c)(4)-(5): min(1, max(0, dual share + weighted BY3 HCC score - 1));
        a negative adjustment is multiplied by 1 minus it (0 = full negative adjustment, 1 = none). None =
        computed from the BY3 aged/dual person-year share (disabled and ESRD duals are not separated by the
        enrollment types, so give the value from CMS's benchmark report when they matter) and the BY3 HCC scores
        weighted by per-capita expenditure x person-years (score 1 without scores).
    """

    occurrence: int = Field(default=1, ge=1)
    positive_cap_share: Decimal = Field(default=Decimal("0.05"), ge=0)
    negative_cap_share: Decimal = Field(default=Decimal("0.015"), ge=0)
    apply_negative: bool = False
    negative_offset_factor: Decimal | None = Field(default=None, ge=0, le=1)


class RiskGrowthCapSpec(_Frozen):
    """Risk-score growth cap between BY3 and the performance year (42 CFR 425.652(a)(10)).

    Parameters
    ----------
    rule
        ``"2024"``: cap = aggregate demographic growth + ``cap_points``, applied to each enrollment type
        only when aggregate HCC growth exceeds it. ``"2019"``: each type's ratio capped at
        1 + ``cap_points`` (agreements 2019-2023).
    cap_points
        Allowed growth in percentage points as a fraction (0.03).
    demographic_growth
        Aggregate demographic risk growth (PY / BY3, e.g. 1.010); required for ``rule="2024"``.
    """

    rule: Literal["2024", "2019"] = "2024"
    cap_points: Decimal = Field(default=Decimal("0.03"), ge=0)
    demographic_growth: Decimal | None = Field(default=None, gt=0)


class UpdateSpec(_Frozen):
    """Annual update of the historical benchmark to the performance year (42 CFR 425.652(b)).

    ``update_k = (1 - acpt_weight) x [w_nat x g_nat_k + (1 - w_nat) x g_reg_k x rsgcaf_k]
    + acpt_weight x acpt_k`` (three-way blend); the two-way blend (guardrail, 425.652(b)(5)) drops the
    ACPT term.

    Parameters
    ----------
    national_growth
        National FFS per-capita growth factor BY3 -> PY by enrollment type.
    regional_growth
        Regional growth factor by type; None = computed from county inputs for BY3 and the PY.
    acpt
        Accountable Care Prospective Trend factor by type (425.660), fixed at agreement start.
    acpt_weight
        Weight of the ACPT in the blend (1/3; CMS may lower it for unforeseen circumstances).
    regional_risk_growth_adjustment
        Regional risk-score growth cap adjustment factor by type (425.655); default 1.
    """

    national_growth: PerType
    regional_growth: PerType | None = None
    acpt: PerType | None = None
    acpt_weight: Decimal = Field(default=Decimal(1) / Decimal(3), ge=0, le=1)
    regional_risk_growth_adjustment: PerType = Field(default_factory=dict)


class MsspBenchmarkSpec(_Frozen):
    """MSSP historical and updated benchmark parameters (agreements starting 2024 or later).

    Parameters
    ----------
    base_years
        Benchmark years BY1, BY2, BY3.
    performance_year
        Performance year the benchmark is updated to.
    agreement_period
        1 for a first agreement (weights 10/30/60), 2+ for renewals (equal weights).
    base_year_weights
        Explicit BY1/BY2/BY3 weights overriding ``agreement_period``; must sum to 1.
    truncation_percentile
        Percentile at which each member's annual expenditure is capped (0.99).
    truncation_thresholds
        National truncation amounts (annualized dollars) by calendar year and enrollment type, as CMS
        publishes them; where absent the percentile is computed over the input population.
    completion_factors
        Run-out completion factor per year (paid x factor; 1 when absent).
    national_per_capita
        National assignable FFS per-capita expenditure by year and enrollment type: trend factors and
        regional adjustment caps.
    national_weight
        National share of the national/regional trend blend; None = computed from county inputs.
    regional
        Regional adjustment parameters.
    prior_savings
        Prior savings adjustment inputs (renewing / re-entering ACOs); None = not eligible.
    risk_growth
        Risk-score growth cap.
    update
        Annual update (three-way blend with ACPT).
    minimum_loss_rate
        MLR used by the guardrail (two-sided ACOs); None = no guardrail.
    """

    base_years: tuple[int, int, int]
    performance_year: int
    agreement_period: int = Field(default=1, ge=1)
    base_year_weights: tuple[Decimal, Decimal, Decimal] | None = None
    truncation_percentile: Decimal = Field(default=Decimal("0.99"), gt=0, le=1)
    truncation_thresholds: dict[int, PerType] = Field(default_factory=dict)
    completion_factors: dict[int, Decimal] = Field(default_factory=dict)
    national_per_capita: dict[int, PerType]
    national_weight: Decimal | None = Field(default=None, ge=0, le=1)
    regional: RegionalAdjustmentSpec = Field(default_factory=RegionalAdjustmentSpec)
    prior_savings: PriorSavingsSpec | None = None
    risk_growth: RiskGrowthCapSpec = Field(default_factory=RiskGrowthCapSpec)
    update: UpdateSpec
    minimum_loss_rate: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> MsspBenchmarkSpec:
        by1, by2, by3 = self.base_years
        if not by1 < by2 < by3 < self.performance_year:
            raise ValueError("base_years must be increasing and before performance_year")
        if self.base_year_weights is not None and sum(self.base_year_weights) != 1:
            raise ValueError("base_year_weights must sum to 1")
        if by3 not in self.national_per_capita:
            raise ValueError(f"national_per_capita needs BY3 ({by3})")
        return self

    @property
    def weights(self) -> tuple[Decimal, Decimal, Decimal]:
        """BY1/BY2/BY3 weights: explicit, else 10/30/60 (first agreement) or equal thirds (renewal)."""
        if self.base_year_weights is not None:
            return self.base_year_weights
        if self.agreement_period == 1:
            return FIRST_AGREEMENT_WEIGHTS
        third = Decimal(1) / Decimal(3)
        return (third, third, Decimal(1) - 2 * third)


class OutlierSpec(_Frozen):
    """Outlier handling of member annual cost before averaging.

    Parameters
    ----------
    method
        ``none``; ``truncate`` (cap at the upper percentile); ``exclude`` (drop members above it);
        ``winsorize`` (cap at both the lower and the upper percentile).
    upper_percentile, lower_percentile
        Percentiles of member annual cost, computed per year over the whole input population.
    """

    method: Literal["none", "truncate", "exclude", "winsorize"] = "truncate"
    upper_percentile: Decimal = Field(default=Decimal("0.99"), gt=0, le=1)
    lower_percentile: Decimal = Field(default=Decimal("0.01"), ge=0, lt=1)


class GeneralBenchmarkSpec(_Frozen):
    """A commercial or Medicaid PMPM benchmark per entity (practice, group, ACO).

    Build-up per entity: own historical PMPM per base year (outliers handled) -> trended to the
    performance year -> weighted across years -> blended with the peer/regional PMPM by
    ``regional_weight`` -> credibility-blended with the peer PMPM when member months are below full
    credibility -> efficiency adjustment -> risk-score ratio (PY / base) -> benchmark PMPM.

    Parameters
    ----------
    base_years
        Historical calendar years, oldest first (with ``performance_year``).
    base_year_offsets
        Instead of ``base_years``: years relative to the performance year (``[-2, -1]``), so one contract
        serves every year it is run for; ``performance_year`` is then the settled period's year.
    base_year_weights
        Weights per base year (sum to 1); None = equal.
    performance_year
        Year the benchmark is trended to; None = the settled period's year (with ``base_year_offsets``).
    cost_basis
        ``allowed_amount`` or ``paid_amount``.
    lines_of_business
        Only claims and enrollment of these lines of business count (None = all).
    annual_trend
        Annual trend rate applied from each base year to the performance year (compounded).
    regional_weight
        Weight of the peer/regional PMPM in the blend (0 = purely historical).
    regional_pmpm
        Fixed regional PMPM by year; None = the member-month-weighted PMPM of all entities (peer).
    full_credibility_member_months
        Member months at which an entity's own experience is fully credible; below it the credibility
        factor is sqrt(mm / full) (limited-fluctuation credibility). None = always fully credible.
    efficiency_threshold, efficiency_adjustment
        An entity whose utilization index (own PMPM / peer PMPM, base-year weighted) exceeds the
        threshold has its benchmark multiplied by (1 + efficiency_adjustment) (e.g. -0.02).
    risk_adjust
        Multiply by the ratio of the entity's mean PY risk score to its mean base-year score.
    virtual_panel_min_member_months
        Entities with fewer member months (in the last base year) are pooled into virtual panels of at
        least this size, in order of ``virtual_panel_key`` then entity id. None = no pooling.
    outliers
        Outlier handling.
    """

    base_years: tuple[int, ...] | None = Field(default=None, min_length=1)
    base_year_offsets: tuple[int, ...] | None = Field(default=None, min_length=1)
    base_year_weights: tuple[Decimal, ...] | None = None
    performance_year: int | None = None
    cost_basis: Literal["allowed_amount", "paid_amount"] = "allowed_amount"
    lines_of_business: tuple[str, ...] | None = None
    annual_trend: Decimal = Decimal(0)
    regional_weight: Decimal = Field(default=Decimal(0), ge=0, le=1)
    regional_pmpm: dict[int, Decimal] | None = None
    full_credibility_member_months: int | None = Field(default=None, gt=0)
    efficiency_threshold: Decimal | None = Field(default=None, gt=0)
    efficiency_adjustment: Decimal = Decimal(0)
    risk_adjust: bool = False
    virtual_panel_min_member_months: int | None = Field(default=None, gt=0)
    outliers: OutlierSpec = Field(default_factory=OutlierSpec)

    @model_validator(mode="after")
    def _check(self) -> GeneralBenchmarkSpec:
        if (self.base_years is None) == (self.base_year_offsets is None):
            raise ValueError(
                "give base_years (calendar years) or base_year_offsets (e.g. [-2, -1]), not both"
            )
        if self.base_years is not None:
            if self.performance_year is None:
                raise ValueError("base_years needs performance_year (or use base_year_offsets)")
            if (
                list(self.base_years) != sorted(set(self.base_years))
                or self.base_years[-1] >= self.performance_year
            ):
                raise ValueError("base_years must be increasing and before performance_year")
        if self.base_year_offsets is not None and (
            list(self.base_year_offsets) != sorted(set(self.base_year_offsets))
            or self.base_year_offsets[-1] >= 0
        ):
            raise ValueError(
                "base_year_offsets must be increasing negative years before the performance year"
            )
        count = len(self.base_years or self.base_year_offsets or ())
        if self.base_year_weights is not None:
            if len(self.base_year_weights) != count:
                raise ValueError("base_year_weights needs one weight per base year")
            if sum(self.base_year_weights) != 1:
                raise ValueError("base_year_weights must sum to 1")
        return self

    def for_year(self, year: int) -> GeneralBenchmarkSpec:
        """The spec with calendar base years for performance year ``year``.

        Raises
        ------
        ValueError
            The spec names another performance year.
        """
        if self.performance_year is not None and self.performance_year != year:
            raise ValueError(
                f"the benchmark is built for performance year {self.performance_year}, not {year}"
            )
        base = self.base_years or tuple(year + offset for offset in self.base_year_offsets or ())
        return self.model_copy(
            update={"base_years": base, "base_year_offsets": None, "performance_year": year}
        )

    @property
    def years(self) -> tuple[tuple[int, ...], int]:
        """Calendar base years and performance year (a spec with offsets must be resolved by :meth:`for_year`)."""
        if self.base_years is None or self.performance_year is None:
            raise ValueError("base_year_offsets are relative: resolve the spec for a performance year first")
        return self.base_years, self.performance_year

    @property
    def weights(self) -> tuple[Decimal, ...]:
        """Base-year weights (explicit or equal; the last absorbs rounding so they sum to exactly 1)."""
        if self.base_year_weights is not None:
            return self.base_year_weights
        n = len(self.base_years or self.base_year_offsets or ())
        share = Decimal(1) / Decimal(n)
        return (*([share] * (n - 1)), Decimal(1) - share * (n - 1))


class BenchmarkSpec(_Frozen):
    """The ``benchmark:`` section of a contract.

    Parameters
    ----------
    method
        ``mssp`` or ``general``; the matching section must be given.
    mssp, general
        Parameters of the chosen method. ``mssp: REQUIRED`` (the shipped MSSP templates) says the section is
        the ACO's to fill from CMS's figures (base years, national per capita, growth factors, ACPT): a run
        stops naming it unless each ACO's benchmark is given as an input.
    """

    method: Literal["mssp", "general"]
    mssp: MsspBenchmarkSpec | Literal["REQUIRED"] | None = None
    general: GeneralBenchmarkSpec | None = None

    @property
    def mssp_spec(self) -> MsspBenchmarkSpec | None:
        """The MSSP parameters when they are given (None when absent or still ``REQUIRED``)."""
        return self.mssp if isinstance(self.mssp, MsspBenchmarkSpec) else None

    @model_validator(mode="after")
    def _check(self) -> BenchmarkSpec:
        if getattr(self, self.method) is None:
            raise ValueError(f"method {self.method!r} needs a {self.method}: section")
        return self


def parse_spec_section(document: object, source: str, key: str, model: type[_M]) -> _M:
    """Validate the ``key:`` section of a parsed contract (or a standalone spec document).

    Parameters
    ----------
    document
        The parsed YAML document.
    source
        File name, for error messages.
    key
        Section name (``benchmark``, ``episodes``); when the document has no such key, the whole document
        is taken as the section.
    model
        The pydantic model of the section.

    Raises
    ------
    ConfigurationError
        Naming the file and the dotted field path of the first problem.
    """
    if not isinstance(document, dict):
        raise ConfigurationError(f"{source}: expected a mapping at the top level")
    section = document.get(key, document) if key in document else document
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        # a field that is a model or the REQUIRED marker reports both union members: keep the model's problem and
        # drop pydantic's member tags ("function-after[...]") from the path
        problems = exc.errors()
        first = next(
            (e for e in problems if not any(str(p).startswith("literal[") for p in e["loc"])), problems[0]
        )
        where = ".".join(str(part) for part in (key, *first["loc"]) if "[" not in str(part))
        raise ConfigurationError(f"{source}, field {where}: {first['msg']}") from None
