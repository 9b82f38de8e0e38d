"""Episode specifications: the ``episodes:`` section of a contract.

:class:`EpisodeDefinition` says what triggers an episode and what it includes;
:class:`EpisodeBuildSpec` holds the definitions plus the rules that apply to all of them (overlap,
day-one eligibility); :class:`TargetPriceSpec` sets target prices and reconciliation (CJR, 42 CFR
510.300-510.305, methodology in ``docs/episodes.md``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EpisodeDefinition(_Frozen):
    """One episode category: its triggers, window and service exclusions.

    Parameters
    ----------
    episode_id
        Category identifier (e.g. BPCI-A style ``A0001``, or ``CJR``).
    name
        Display name.
    setting
        ``inpatient``: triggered by an inpatient claim whose MS-DRG is in ``trigger_ms_drgs`` (the anchor
        stay runs admission -> discharge). ``outpatient``: triggered by an outpatient claim line whose
        HCPCS is in ``trigger_hcpcs`` (anchor = that date of service).
    trigger_ms_drgs, trigger_hcpcs
        Trigger codes.
    post_anchor_days
        Length of the post-anchor period; the anchor's last day counts as day 1 (CJR: 90 days
        "after discharge", discharge day = day 1, 42 CFR 510.210(a)).
    excluded_ms_drgs
        Inpatient readmissions with these MS-DRGs are not episode spending.
    excluded_hcpcs
        Claim lines with these HCPCS codes are not episode spending.
    excluded_claim_types
        Claim types not counted (e.g. ``hospice``).
    subgroup_dx
        Principal-diagnosis prefixes (ICD-10-CM, no dot) that put the episode in the subgroup (CJR: hip
        fracture), so target prices are set separately.
    subgroup_drgs
        Trigger MS-DRGs that are in the subgroup whatever the diagnosis (CJR: 521/522, hip replacement
        with principal diagnosis of hip fracture, from 10/1/2020).
    price_group_by_drg
        Trigger MS-DRG -> target-price group (CJR: 469 and 521 -> ``469``, 470 and 522 -> ``470``);
        unmapped triggers price with the episode id. The subgroup adds ``_subgroup`` to the group.
    required_px
        ICD-10-PCS codes of which one must be on the anchor claim (BPCI-A TAVR); empty = none needed.
    precedence
        Lower wins when episodes of different categories overlap for the same member.
    """

    episode_id: str = Field(min_length=1)
    name: str = ""
    setting: Literal["inpatient", "outpatient"] = "inpatient"
    trigger_ms_drgs: tuple[str, ...] = ()
    trigger_hcpcs: tuple[str, ...] = ()
    post_anchor_days: int = Field(default=90, ge=0)
    excluded_ms_drgs: tuple[str, ...] = ()
    excluded_hcpcs: tuple[str, ...] = ()
    excluded_claim_types: tuple[str, ...] = ()
    subgroup_dx: tuple[str, ...] = ()
    subgroup_drgs: tuple[str, ...] = ()
    price_group_by_drg: dict[str, str] = Field(default_factory=dict)
    required_px: tuple[str, ...] = ()
    precedence: int = 100

    @model_validator(mode="after")
    def _check(self) -> EpisodeDefinition:
        triggers = self.trigger_ms_drgs if self.setting == "inpatient" else self.trigger_hcpcs
        if not triggers:
            raise ValueError(f"episode {self.episode_id}: a {self.setting} episode needs trigger codes")
        return self


EM_OFFICE_VISITS: tuple[str, ...] = (
    "99201",
    "99202",
    "99203",
    "99204",
    "99205",
    "99211",
    "99212",
    "99213",
    "99214",
    "99215",
)
"""Office / outpatient evaluation and management visit codes (CPT 99201-99205 new, 99211-99215 established)."""

CANCER_DX_PREFIXES: tuple[str, ...] = ("C", *(f"D{n}" for n in range(37, 49)))
"""ICD-10-CM prefixes read as a cancer diagnosis: malignant neoplasms C00-C96 and neoplasms of uncertain behavior
D37-D48 (apmkit's reading of the oncology models' cancer diagnosis, ⚠ not checked against CMS's code list)."""


class TriggerCode(_Frozen):
    """One initiating cancer therapy code: a Part B HCPCS (medical claim line) or a Part D NDC (pharmacy fill)."""

    system: Literal["hcpcs", "ndc"]
    code: str = Field(min_length=1, max_length=20)


class OncologyEpisodeSpec(_Frozen):
    """Six-month chemotherapy episodes of the Oncology Care Model / Enhancing Oncology Model, built from claims.

    Parameters
    ----------
    trigger_codes
        CMS's initiating cancer therapy list (it is not shipped: CMS publishes it per performance period): an
        inline list of ``{system: hcpcs|ndc, code}``, or the path of a CSV with columns ``system, code``
        (relative to the contract file), or ``REQUIRED`` (a template not yet filled: the run stops naming it).
    episode_months
        Episode length: the trigger date starts it and it ends the day before the same date ``episode_months``
        later (6).
    diagnosis_days_before
        A trigger starts an episode only when a medical claim of the member with a cancer diagnosis of a listed
        type is dated from this many days before the trigger to the trigger date.
    cancer_dx_prefixes
        ICD-10-CM prefixes (no dot) read as a cancer diagnosis; a line's first such diagnosis (dx_1, dx_2, ...)
        is its cancer diagnosis.
    cancer_types
        Cancer type -> ICD-10-CM prefixes; an episode's type is the type with the most claim lines among the
        member's cancer-diagnosed lines from ``diagnosis_days_before`` before the trigger to the episode's end
        (ties: the alphabetically first type). The type is the episode's price group.
    other_cancer_type
        Type given to a cancer diagnosis of no listed type; None: such a diagnosis neither triggers nor types an
        episode (EOM covers seven cancer types only).
    em_codes
        Evaluation and management visit codes; the episode is attributed to the billing TIN with the most of
        these visits (distinct claims) during the episode; ties: the TIN with the earliest such visit, then the
        lowest TIN. An episode without such a visit is ``not_attributed``.
    em_requires_cancer_dx
        Only visits whose line carries a cancer diagnosis count for attribution.
    include_pharmacy
        Part D fills in the episode count as its spending. The run sets it from ``definitions.include_pharmacy``.
    """

    trigger_codes: tuple[TriggerCode, ...] | str
    episode_months: int = Field(default=6, ge=1, le=24)
    diagnosis_days_before: int = Field(default=59, ge=0, le=365)
    cancer_dx_prefixes: tuple[str, ...] = Field(default=CANCER_DX_PREFIXES, min_length=1)
    cancer_types: dict[str, tuple[str, ...]] = Field(min_length=1)
    other_cancer_type: str | None = None
    em_codes: tuple[str, ...] = Field(default=EM_OFFICE_VISITS, min_length=1)
    em_requires_cancer_dx: bool = True
    include_pharmacy: bool = False

    @model_validator(mode="after")
    def _check(self) -> OncologyEpisodeSpec:
        if isinstance(self.trigger_codes, tuple) and not self.trigger_codes:
            raise ValueError("trigger_codes: an empty list triggers no episode")
        if isinstance(self.trigger_codes, str) and not self.trigger_codes.strip():
            raise ValueError("trigger_codes: give a list, a CSV path or REQUIRED")
        for name, prefixes in self.cancer_types.items():
            if not name or not prefixes:
                raise ValueError(f"cancer_types.{name}: a type needs a name and ICD-10-CM prefixes")
        return self

    @property
    def triggers(self) -> tuple[TriggerCode, ...]:
        """The trigger codes, once resolved to a list (the run reads a CSV path before building)."""
        if isinstance(self.trigger_codes, str):
            raise ValueError(
                "episodes.build.oncology.trigger_codes is REQUIRED: give CMS's initiating cancer therapy codes"
                if self.trigger_codes == "REQUIRED"
                else f"episodes.build.oncology.trigger_codes: the CSV {self.trigger_codes} was not read"
            )
        return self.trigger_codes


class EpisodeBuildSpec(_Frozen):
    """How episodes are built from claims.

    Parameters
    ----------
    definitions
        Episode categories; None = the bundled list named by ``bundled``.
    bundled
        The bundled definitions used when ``definitions`` is None: ``bpcia`` (the 34 BPCI Advanced-style
        categories) or ``cjr`` (lower-extremity joint replacement, 42 CFR 510.300(a)), from
        ``apmkit.episodes.definitions``.
    overlap
        ``precedence``: when a member's episodes overlap, the one with the lower ``precedence`` value is
        kept (ties: the earlier anchor); ``first``: the earlier anchor is kept; ``allow``: all are kept.
    require_part_a_and_b, exclude_medicare_advantage, exclude_esrd
        Day-one (anchor-month) eligibility rules, from the ``enrollment`` table.
    cost_basis
        ``paid_amount`` (Medicare payment) or ``allowed_amount``.
    oncology
        Build six-month chemotherapy episodes (OCM / EOM) instead of anchor + post-anchor episodes; the overlap
        rule is then ``first`` (a new episode starts with the first trigger after the previous one ended).
    """

    definitions: tuple[EpisodeDefinition, ...] | None = None
    bundled: Literal["bpcia", "cjr"] = "bpcia"
    overlap: Literal["precedence", "first", "allow"] = "precedence"
    require_part_a_and_b: bool = True
    exclude_medicare_advantage: bool = True
    exclude_esrd: bool = True
    cost_basis: Literal["paid_amount", "allowed_amount"] = "paid_amount"
    oncology: OncologyEpisodeSpec | None = None


class QualityTier(_Frozen):
    """A composite-quality-score band and the discount reduction it earns (CJR 510.315).

    A score belongs to the highest tier whose lower bound it reaches: ``score >= min_score``, or
    ``score > min_score`` when ``min_exclusive`` (CJR "excellent" is CQS > 15.0).
    """

    name: str
    min_score: Decimal
    min_exclusive: bool = False
    discount_reduction: Decimal = Field(ge=0)
    eligible_for_reconciliation_payment: bool = True


CJR_QUALITY_TIERS: tuple[QualityTier, ...] = (
    QualityTier(
        name="below_acceptable",
        min_score=Decimal("-1"),
        discount_reduction=Decimal(0),
        eligible_for_reconciliation_payment=False,
    ),
    QualityTier(name="acceptable", min_score=Decimal("5.0"), discount_reduction=Decimal(0)),
    QualityTier(name="good", min_score=Decimal("6.9"), discount_reduction=Decimal("0.01")),
    QualityTier(
        name="excellent", min_score=Decimal("15.0"), min_exclusive=True, discount_reduction=Decimal("0.015")
    ),
)
"""CJR PY2-5 composite quality score bands (docs/reference/methodology.md §3.1): good 6.9 <= CQS <= 15.0 (-1 pp),
excellent > 15.0 (-1.5 pp), acceptable 5.0 <= CQS < 6.9, below acceptable < 5.0."""


class TargetPriceSpec(_Frozen):
    """Target prices and reconciliation for one performance year (CJR rules by default).

    Parameters
    ----------
    performance_year
        Label of the performance year (CJR PY1-5, or a calendar year).
    baseline_years
        Years of historical episodes used (by anchor discharge/service date).
    hospital_weight
        Weight of hospital-specific historical spend; regional gets 1 - this (PY1-2 2/3, PY3 1/3, PY4-5 0).
    minimum_hospital_episodes
        Hospitals with fewer baseline episodes get 100% regional (20).
    high_cost_cap_sd
        Episode payments are capped at regional mean + this many SD (2); None = no cap.
    discount
        Discount applied to the blended price (3%).
    repayment_discount
        Discount used for hospitals that owe money (PY2-3 2%, PY4-5 3%); None = ``discount``.
    quality_tiers
        Score bands and the discount reduction each earns.
    annual_trend
        Trend factor applied to the historical blend (1 = none).
    case_mix_adjust
        Multiply the target by (hospital mean episode risk / region mean episode risk) of the performance
        year episodes when episode risk scores are supplied.
    stop_gain, stop_loss
        Limits on the NPRA as a share of the hospital's total target amount (PY3: 10% / 10%).
    """

    performance_year: str
    baseline_years: tuple[int, ...] = Field(min_length=1)
    hospital_weight: Decimal = Field(default=Decimal(1) / Decimal(3), ge=0, le=1)
    minimum_hospital_episodes: int = Field(default=20, ge=0)
    high_cost_cap_sd: Decimal | None = Field(default=Decimal(2), ge=0)
    discount: Decimal = Field(default=Decimal("0.03"), ge=0, lt=1)
    repayment_discount: Decimal | None = Field(default=None, ge=0, lt=1)
    quality_tiers: tuple[QualityTier, ...] = CJR_QUALITY_TIERS
    annual_trend: Decimal = Field(default=Decimal(1), gt=0)
    case_mix_adjust: bool = False
    stop_gain: Decimal = Field(default=Decimal("0.10"), ge=0)
    stop_loss: Decimal = Field(default=Decimal("0.10"), ge=0)


class EpisodeBenchmarkPriceSpec(_Frozen):
    """How a contract run (``apmkit run``) builds each episode initiator's benchmark episode prices from claims,
    per price group, for the contract's ``episode_reconciliation`` component (which then applies the blend
    weights, discount, quality bands, stop-gain / stop-loss of the period's glide path).

    Parameters
    ----------
    initiator
        The claim column naming the episode initiator, settled as the entity: ``facility_ccn`` (the anchor
        hospital: CJR participant hospitals, BPCI Advanced hospital episode initiators) or ``billing_tin`` (the
        practice an oncology episode is attributed to: OCM, EOM).
    baseline_year_offsets
        Historical years relative to the settled period's first year (CJR PY3 2018: 2014-2016 = ``[-4, -3, -2]``);
        baseline episodes are chosen by anchor start year.
    baseline_years_by_period
        Calendar baseline years for named periods where the rule does not follow the offsets (CJR PY2 and PY4
        keep the previous year's baseline).
    performance_episodes
        Which kept episodes the period reconciles: ``ending_in_period`` (the window's last day in the period; CJR
        42 CFR 510.305, BPCI Advanced) or ``starting_in_period`` (anchor start in the period).
    prices
        ``historical``: hospital-specific and regional prices are the capped mean baseline episode payments of the
        initiator and of its region, per price group, from the claims in the run (the data must cover the region);
        ``input``: the payer's benchmark price per price group is given per entity (``--inputs`` columns
        ``benchmark_price.<price group>``), claims give the episodes and actual payments.
    minimum_hospital_episodes
        An initiator with fewer baseline episodes (all groups) is priced at the regional price (CJR: 20).
    high_cost_cap_sd
        Episode payments (baseline and performance) are capped at the regional mean + this many standard
        deviations of their region and price group (CJR: 2); None = no cap.
    annual_trend
        Factor applied to the historical prices (1 = none; CMS updates historical payments for payment-system
        changes, which claims cannot hold).
    """

    initiator: Literal["facility_ccn", "billing_tin"] = "facility_ccn"
    baseline_year_offsets: tuple[int, ...] = Field(default=(), max_length=10)
    baseline_years_by_period: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    performance_episodes: Literal["ending_in_period", "starting_in_period"] = "ending_in_period"
    prices: Literal["historical", "input"] = "historical"
    minimum_hospital_episodes: int = Field(default=20, ge=0)
    high_cost_cap_sd: Decimal | None = Field(default=Decimal(2), ge=0)
    annual_trend: Decimal = Field(default=Decimal(1), gt=0)

    @model_validator(mode="after")
    def _years(self) -> EpisodeBenchmarkPriceSpec:
        offsets = list(self.baseline_year_offsets)
        if offsets != sorted(set(offsets)) or any(o >= 0 for o in offsets):
            raise ValueError("baseline_year_offsets must be increasing negative years before the period")
        if self.prices == "historical" and not offsets and not self.baseline_years_by_period:
            raise ValueError("historical prices need baseline_year_offsets or baseline_years_by_period")
        for name, years in self.baseline_years_by_period.items():
            if not years or list(years) != sorted(set(years)):
                raise ValueError(f"baseline_years_by_period.{name}: increasing calendar years")
        return self

    def baseline_years(self, period: str, first_year: int) -> tuple[int, ...]:
        """The calendar baseline years of ``period`` (a named period, or a year whose offsets apply)."""
        if period in self.baseline_years_by_period:
            return self.baseline_years_by_period[period]
        return tuple(first_year + offset for offset in self.baseline_year_offsets)


class EpisodesSpec(_Frozen):
    """The ``episodes:`` section of a contract: how to build episodes and how to price them.

    ``pricing`` is the CJR target-price spec of ``apmkit episodes price``; ``benchmark_prices`` is how a contract
    run prices episodes for its ``episode_reconciliation`` component (the component holds the discount, blend
    weights, quality bands and limits, so a run contract gives ``benchmark_prices``, not ``pricing``).
    """

    build: EpisodeBuildSpec = Field(default_factory=EpisodeBuildSpec)
    pricing: TargetPriceSpec | None = None
    benchmark_prices: EpisodeBenchmarkPriceSpec | None = None
