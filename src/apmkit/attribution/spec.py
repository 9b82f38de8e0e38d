"""Attribution specifications: which method attributes members to which entities, and how.

An :class:`AttributionSpec` is a frozen pydantic model, a union discriminated by ``method``:

``plurality``
    Claims-based plurality of primary-care visits or allowed charges, by entity, TIN or TIN/NPI.
``mssp_stepwise``
    Medicare Shared Savings Program step-wise assignment (42 CFR 425.402).
``roster``
    Payer-supplied rosters only (no claims).
``episode``
    Episodes opened by anchor events (inpatient MS-DRG, outpatient HCPCS) and assigned to the
    initiating facility or the attending/operating physician's TIN.

Timing (``prospective``, ``retrospective``, ``hybrid``) is a field of the claims-based methods rather
than a method of its own, because it only decides which claim window is read; roster, member-selected
PCP and voluntary-alignment inputs are ``overrides`` that take precedence over claims in the order
given. The contract spec composes this model under its ``attribution:`` key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from apmkit.errors import ConfigurationError


def specialty_codes(role: str) -> tuple[str, ...]:
    """CMS specialty codes with an MSSP assignment ``role`` (package data ``mssp_specialties.csv``)."""
    from apmkit.attribution.codes import mssp_specialty_roles

    return tuple(code for code, code_role in mssp_specialty_roles().items() if code_role == role)


TieBreak = Literal["most_recent_visit", "highest_allowed", "most_visits", "lowest_id"]
"""Rules applied in order when two candidates have the same count or charges.

The chain is used as written. ``lowest_id`` (the smallest entity/TIN/NPI identifier) always separates two
candidates, so it can only be the last rule. A chain without it can end in a tie: the member is then not
attributed (reason ``tie_unresolved``) -- "a tie assigns no one".
"""

VisitUnit = Literal["npi_date", "tin_date"]
"""What one visit is: a member seen by one clinician (NPI) on one date, or by one billing TIN on one date."""

Timing = Literal["prospective", "retrospective", "hybrid"]
Level = Literal["entity", "tin", "tin_npi"]
OverrideSource = Literal["voluntary_alignment", "member_selected_pcp", "roster"]

DEFAULT_TIE_BREAKS: tuple[TieBreak, ...] = ("most_recent_visit", "highest_allowed", "lowest_id")


NON_US_STATE_CODES: tuple[str, ...] = ("FC", *(str(code) for code in range(54, 63)))
"""``FC`` plus SSA state codes 54-62, the foreign regions of the SSA code list (CMS Blue Button / CCW
``STATE_CD`` variable documentation)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EligibilitySpec(_Frozen):
    """Which members can be attributed, judged on the enrollment and members tables.

    A member is eligible when, in at least ``min_months`` months of the eligibility window (the
    lookback window for claims methods), every enabled condition holds; the death and residence
    tests use the members table.
    """

    payers: tuple[str, ...] = ()
    """Enrollment payers that count (empty = any)."""
    lines_of_business: tuple[str, ...] = ()
    """Enrollment lines of business that count (empty = any)."""
    require_part_a: bool = False
    require_part_b: bool = False
    exclude_medicare_advantage: bool = False
    """Any month enrolled in MA or another group health plan in the window makes the member ineligible."""
    no_partial_part_ab_months: bool = False
    """Any month with Part A only or Part B only in the window makes the member ineligible."""
    require_us_residence: bool = False
    """Exclude members whose ``state_code`` says they live outside the US: an alphabetic code that is not
    one of the 50 states, DC or a US territory, or one of ``non_us_state_codes``."""
    non_us_state_codes: tuple[str, ...] = NON_US_STATE_CODES
    """Codes meaning "resides outside the US" (with ``require_us_residence``): ``FC`` (apmkit's code for a
    foreign address) and the SSA state codes 54-62 (Africa, Asia, Canada, Central America and West Indies,
    Europe, Mexico, Oceania, Philippines, South America), as CCW/CCLF beneficiary files carry them."""
    exclude_deceased: bool = True
    """Drop members whose death date is on or before the start of the period attributed."""
    min_months: int = Field(default=1, ge=1)
    """Months of qualifying enrollment needed inside the window."""
    require_enrollment_at_as_of: bool = False
    """Also require qualifying enrollment in the month containing the as-of date."""

    @classmethod
    def medicare_ffs(cls) -> EligibilitySpec:
        """The MSSP beneficiary tests of 42 CFR 425.401(a): Parts A and B, no MA, US resident, alive."""
        return cls(
            require_part_a=True,
            require_part_b=True,
            exclude_medicare_advantage=True,
            no_partial_part_ab_months=True,
            require_us_residence=True,
            exclude_deceased=True,
        )


_CODE = r"[A-Z0-9]{4,7}"
_CODE_OR_RANGE = re.compile(rf"^({_CODE})(?:\s*[-\u2013]\s*({_CODE}))?$")
_POS = r"^[0-9]{2}$"


def expand_code_range(text: str) -> tuple[str, ...]:
    """``"99304-99318"`` (or with an en dash) → every code of the range; a single code → itself.

    Both ends must have the same length and the same non-numeric prefix (``G0539-G0543``).

    Examples
    --------
    >>> expand_code_range("99304-99306"), expand_code_range("G0539–G0540"), expand_code_range("99213")
    (('99304', '99305', '99306'), ('G0539', 'G0540'), ('99213',))
    """
    match = _CODE_OR_RANGE.match(text.strip().upper())
    if match is None:
        raise ValueError(f"{text!r} is not a code or a code range like 99304-99318")
    first, last = match.group(1), match.group(2)
    if last is None:
        return (first,)
    prefix = re.match(r"^[A-Z]*", first).group(0)  # type: ignore[union-attr]
    if len(first) != len(last) or not last.startswith(prefix) or not (first + last)[len(prefix) :].isdigit():
        raise ValueError(f"code range {text!r}: both ends need the same length and letter prefix")
    low, high = int(first[len(prefix) :]), int(last[len(prefix) :])
    if high < low:
        raise ValueError(f"code range {text!r} ends before it starts")
    width = len(first) - len(prefix)
    return tuple(f"{prefix}{n:0{width}d}" for n in range(low, high + 1))


class CodeRule(_Frozen):
    """Codes that count only at some places of service, or not at others.

    Written in YAML as ``{codes: ["99304-99318"], exclude_pos: ["31"]}`` ("99304–99318 except at POS 31",
    42 CFR 425.400(c)(1)) or ``{codes: ["99341-99350"], pos: ["12"]}`` (home visits only at POS 12);
    ``exclude_codes`` takes single codes out of a range.
    """

    codes: tuple[str, ...] = Field(min_length=1)
    """Codes or ranges (``99304-99318``)."""
    pos: tuple[Annotated[str, Field(pattern=_POS)], ...] = ()
    """Only lines at these places of service count (empty = any)."""
    exclude_pos: tuple[Annotated[str, Field(pattern=_POS)], ...] = ()
    """Lines at these places of service do not count."""
    exclude_codes: tuple[str, ...] = ()
    """Codes of the ranges above that do not count."""

    @field_validator("codes", "exclude_codes")
    @classmethod
    def _valid_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            expand_code_range(text)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CodeRule:
        if set(self.pos) & set(self.exclude_pos):
            raise ValueError("a place of service is both in pos and exclude_pos")
        if not self.expanded():
            raise ValueError("exclude_codes removes every code of the rule")
        return self

    def expanded(self) -> tuple[str, ...]:
        """Every code of the rule, ranges expanded and ``exclude_codes`` removed."""
        excluded = {code for text in self.exclude_codes for code in expand_code_range(text)}
        codes = (code for text in self.codes for code in expand_code_range(text))
        return tuple(dict.fromkeys(code for code in codes if code not in excluded))


CodeEntry = str | CodeRule
"""A code, a code range, or a :class:`CodeRule` with place-of-service conditions."""


def _check_entry(entry: CodeEntry) -> CodeEntry:
    if isinstance(entry, str):
        expand_code_range(entry)
    return entry


class CodeLists(_Frozen):
    """Primary-care service codes by program (performance) year.

    ``source: cms_mssp`` uses the package's CMS list (42 CFR 425.400(c), with provenance in
    ``apmkit/attribution/data/``); ``by_year`` gives explicit lists, and the list of the latest year not
    after the program year applies. Each entry of a list (and of ``extra_codes``) is a code, a range
    (``99202-99215``) or a :class:`CodeRule` with place-of-service conditions and exclusions.
    """

    source: Literal["cms_mssp", "explicit"] = "cms_mssp"
    by_year: tuple[tuple[int, tuple[CodeEntry, ...]], ...] = ()
    """Written ``{year: [codes]}`` in YAML; kept as sorted pairs so the spec stays hashable."""
    extra_codes: tuple[CodeEntry, ...] = ()
    """Codes added to whichever list applies (e.g. a payer's own care-management codes)."""

    @field_validator("by_year", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return tuple(sorted((int(year), tuple(codes)) for year, codes in value.items()))
        return value

    @field_validator("by_year")
    @classmethod
    def _valid_year_entries(
        cls, value: tuple[tuple[int, tuple[CodeEntry, ...]], ...]
    ) -> tuple[tuple[int, tuple[CodeEntry, ...]], ...]:
        for _, entries in value:
            for entry in entries:
                _check_entry(entry)
        return value

    @field_validator("extra_codes")
    @classmethod
    def _valid_extra(cls, value: tuple[CodeEntry, ...]) -> tuple[CodeEntry, ...]:
        for entry in value:
            _check_entry(entry)
        return value

    def codes_for(self) -> dict[int, tuple[CodeEntry, ...]]:
        """The explicit lists by program year."""
        return dict(self.by_year)

    @model_validator(mode="after")
    def _explicit_needs_lists(self) -> CodeLists:
        if self.source == "explicit" and not self.by_year:
            raise ValueError("source 'explicit' needs by_year: {year: [codes]}")
        return self


class _ClaimsMethod(_Frozen):
    """Settings shared by the claims-based methods."""

    name: str = "attribution"
    """Label written into the output's ``contract_id`` column (one per payer/contract in a job)."""
    payer: str | None = None
    """Only claims (and enrollment) of this payer; None = all."""
    performance_year: int | None = None
    """Program year; None = the calendar year of the as-of date."""
    timing: Timing = "retrospective"
    lookback_months: int = Field(default=12, ge=1, le=36)
    window_offset_months: int = Field(default=0, ge=0, le=12)
    """Prospective only: months between the window's end and the start of the program year."""
    primary_care_codes: CodeLists = CodeLists()
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    """An assignment window given as dates (both, inclusive); it replaces the window ``timing``,
    ``lookback_months`` and ``window_offset_months`` would place (eligibility rules still follow ``timing``)."""
    tie_breaks: tuple[TieBreak, ...] = DEFAULT_TIE_BREAKS
    visit_unit: VisitUnit = "npi_date"
    """One visit = one member, one NPI, one date (``npi_date``) or one member, one billing TIN, one date
    (``tin_date``); several lines in that unit count once and their charges add up."""
    eligibility: EligibilitySpec = EligibilitySpec()
    minimum_panel: int = Field(default=0, ge=0)
    """Entities with fewer attributed members lose them (reason ``below_minimum_panel``)."""
    overrides: tuple[OverrideSource, ...] = ()
    """Override inputs that win over claims, highest precedence first."""
    eta_hospital_ccns: tuple[str, ...] = ()
    """Facilities whose G0463 lines count as primary care (electing teaching amendment hospitals)."""

    @field_validator("tie_breaks")
    @classmethod
    def _lowest_id_last(cls, value: tuple[TieBreak, ...]) -> tuple[TieBreak, ...]:
        if len(set(value)) != len(value):
            raise ValueError("tie_breaks repeats a rule")
        if "lowest_id" in value[:-1]:
            raise ValueError("lowest_id always separates two candidates: it can only be the last tie-break")
        return value

    @model_validator(mode="after")
    def _window_dates(self) -> _ClaimsMethod:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("give both window_start and window_end, or neither")
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_end < self.window_start
        ):
            raise ValueError("window_end is before window_start")
        return self

    @field_validator("overrides")
    @classmethod
    def _unique_overrides(cls, value: tuple[OverrideSource, ...]) -> tuple[OverrideSource, ...]:
        if len(set(value)) != len(value):
            raise ValueError("overrides repeats a source")
        return value


class PluralitySpec(_ClaimsMethod):
    """Plurality of primary-care visits or allowed charges."""

    method: Literal["plurality"] = "plurality"
    basis: Literal["visits", "allowed"] = "visits"
    """``visits`` counts distinct member/provider/service dates with a primary-care code."""
    level: Level = "tin_npi"
    """Who competes: the participant entity, the billing TIN, or the TIN/NPI pair."""
    providers: Literal["primary_care", "primary_care_specialties", "any"] = "primary_care"
    """Which rendering clinicians count: ``providers.is_primary_care``, the specialty codes below, or all."""
    primary_care_specialties: tuple[str, ...] = ("01", "08", "11", "37", "38", "50", "89", "97")
    awv_trigger: bool = False
    """An annual wellness visit (G0438/G0439) attributes the member to its provider, before plurality."""
    awv_codes: tuple[str, ...] = ("G0438", "G0439")


class MsspStepwiseSpec(_ClaimsMethod):
    """MSSP step-wise assignment, 42 CFR 425.402, for one ACO (its participant TINs come as an input)."""

    method: Literal["mssp_stepwise"] = "mssp_stepwise"
    timing: Timing = "hybrid"
    """``prospective`` = 42 CFR 425.400(a)(3); ``hybrid`` = preliminary prospective with retrospective
    reconciliation (quarterly runs roll the window; the final run uses the program year)."""
    window_offset_months: int = Field(default=3, ge=0, le=12)
    """Prospective window: the 12 months ending this many months before the program year."""
    aco_id: str | None = None
    """The ACO this run assigns for (an ``entity_id`` of the participant list). Every ACO of the list
    competes in the steps either way; with ``aco_id`` set, only members assigned to it are attributed and a
    member another ACO of the list wins is reported ``assigned_to_other_aco``. None = every ACO of the
    participant list keeps its members (several ACOs in one run)."""
    eligibility: EligibilitySpec = EligibilitySpec.medicare_ffs()
    include_step3: bool | None = None
    """Step 3 with the expanded (24-month) window; None = from program year 2025 (425.402(b)(5))."""
    expanded_window_months: int = Field(default=24, ge=12, le=36)
    tie_breaks: tuple[TieBreak, ...] = ("most_recent_visit", "lowest_id")
    """42 CFR 425.402 states no tie rule: this is an explicit, documented input."""
    primary_care_physician_specialties: tuple[str, ...] = Field(
        default_factory=lambda: specialty_codes("primary_care_physician")
    )
    non_physician_specialties: tuple[str, ...] = Field(
        default_factory=lambda: specialty_codes("non_physician")
    )
    specialists: tuple[str, ...] = Field(default_factory=lambda: specialty_codes("specialist"))
    """The 19 specialties of 42 CFR 425.402(c) (steps 2 and 3)."""


class RosterSpec(_Frozen):
    """Attribution taken from payer rosters only."""

    method: Literal["roster"] = "roster"
    name: str = "attribution"
    payer: str | None = None
    performance_year: int | None = None
    eligibility: EligibilitySpec = EligibilitySpec()
    minimum_panel: int = Field(default=0, ge=0)
    overlap: Literal["reject", "latest_effective"] = "latest_effective"
    """Overlapping roster rows for one member on the as-of date: reject all, or keep the latest start."""


class EpisodeAnchor(_Frozen):
    """An anchor event that opens an episode."""

    name: str
    ms_drgs: tuple[str, ...] = ()
    hcpcs: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _needs_codes(self) -> EpisodeAnchor:
        if not self.ms_drgs and not self.hcpcs:
            raise ValueError(f"episode anchor {self.name!r} needs ms_drgs or hcpcs")
        return self


class EpisodeSpec(_Frozen):
    """Episode attribution: anchors open episodes, assigned to the facility or a physician's TIN."""

    method: Literal["episode"] = "episode"
    name: str = "attribution"
    payer: str | None = None
    performance_year: int | None = None
    anchors: tuple[EpisodeAnchor, ...] = Field(min_length=1)
    episode_days: int = Field(default=90, ge=1)
    """Post-anchor days; the day of discharge (or of the outpatient procedure) is day 1."""
    attribute_to: Literal["facility", "attending", "operating"] = "facility"
    eligibility: EligibilitySpec = EligibilitySpec()
    """Checked in the month of the anchor's start (day-one eligibility)."""
    minimum_panel: int = Field(default=0, ge=0)


AttributionSpec = Annotated[
    PluralitySpec | MsspStepwiseSpec | RosterSpec | EpisodeSpec,
    Field(discriminator="method"),
]
"""One attribution method; ``method`` selects the variant."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AttributionSpec)
_LIST_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[AttributionSpec])

AnySpec = PluralitySpec | MsspStepwiseSpec | RosterSpec | EpisodeSpec


def parse_attribution_spec(data: Any, *, source: str = "attribution spec") -> AnySpec:
    """Validate one attribution spec from a mapping (the ``attribution:`` section or a whole document).

    Raises
    ------
    ConfigurationError
        Naming ``source`` and the field path of each problem.
    """
    if isinstance(data, Mapping) and "attribution" in data and "method" not in data:
        data = data["attribution"]
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, source)) from None


def parse_attribution_specs(data: Any, *, source: str = "attribution spec") -> list[AnySpec]:
    """Validate one spec or a list of specs (a multi-payer job: one per payer/contract)."""
    if isinstance(data, Mapping) and "attribution" in data and "method" not in data:
        data = data["attribution"]
    if isinstance(data, list):
        try:
            specs: list[AnySpec] = _LIST_ADAPTER.validate_python(data)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc, source)) from None
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"{source}: field name: each attribution in a job needs a distinct name")
        return specs
    return [parse_attribution_spec(data, source=source)]


def _describe(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors(include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"field {location}: {error['msg']}")
    return f"{source}: " + "; ".join(problems)


def program_year(spec: AnySpec, as_of: dt.date) -> int:
    """The program year a run attributes for: the spec's, or the calendar year of ``as_of``."""
    return spec.performance_year or as_of.year
