"""The contract document: identity, periods, expenditure rules, payment components and glide path.

A contract is data (YAML) validated into frozen pydantic models. The domain sections (attribution, risk
adjustment, benchmark, episodes, quality) are typed by the spec classes their packages own, so a contract is
checked whole when it is read.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import AliasChoices, Field, TypeAdapter, ValidationError, field_validator, model_validator

from apmkit.attribution.spec import AttributionSpec
from apmkit.benchmark.spec import BenchmarkSpec
from apmkit.contracts.components import Component, ComponentBase, Spec
from apmkit.episodes.spec import EpisodesSpec
from apmkit.errors import ConfigurationError
from apmkit.quality.spec import QualitySpec
from apmkit.risk.spec import RiskAdjustmentSpec
from apmkit.spending.spec import Definitions, Truncation

SCHEMA_VERSION = "1"

CALENDAR_YEARS = (1900, 2199)
"""A period may be a 4-digit calendar year in this range (the dates canonical tables accept lie within it)."""

DOMAIN_SECTIONS: dict[str, Any] = {
    "attribution": AttributionSpec,
    "risk_adjustment": RiskAdjustmentSpec,
    "benchmark": BenchmarkSpec,
    "episodes": EpisodesSpec,
    "quality": QualitySpec,
}
"""Each domain section of a contract and the spec (class or annotated union) its package owns."""


def domain_spec_adapter(section: str) -> TypeAdapter[Any]:
    """A validator for one domain section (the attribution spec is a union over ``method``)."""
    return TypeAdapter(DOMAIN_SECTIONS[section])


class Period(Spec):
    """A performance period (inclusive dates)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


ExpenditureRules = Definitions
"""Schema 1's name for the definitions block (kept for callers of the claims path)."""


class RiskTier(Spec):
    """Members whose risk score reaches ``min_score`` fall in ``cell`` (the highest tier reached wins)."""

    min_score: Decimal = Field(ge=0)
    cell: str = Field(min_length=1)


class TargetRules(Spec):
    """Where the benchmark (or target) comes from when the inputs do not give one per entity, and how members'
    risk scores map to payment cells (CMF tiers, capitation cells) on the claims path."""

    benchmark_per_person_year: Decimal | None = Field(default=None, gt=0)
    premium_per_member_month: Decimal | None = Field(default=None, gt=0)
    risk_tiers: list[RiskTier] = Field(default_factory=list)

    @field_validator("risk_tiers")
    @classmethod
    def _increasing(cls, tiers: list[RiskTier]) -> list[RiskTier]:
        scores = [t.min_score for t in tiers]
        if scores != sorted(scores) or len(set(scores)) != len(scores):
            raise ValueError("risk_tiers must be in strictly increasing min_score order")
        return tiers


class Rounding(Spec):
    """Rounding the contract prescribes: each component's final amount to ``money_places`` half-up (0 = whole
    dollars); every intermediate value stays exact."""

    money_places: int = Field(default=2, ge=0, le=4)


class GlideStep(Spec):
    """Terms that change in a later period: ``set`` maps ``component_id.field`` (or a dotted path into a
    nested section, e.g. ``shared_savings.terms.max_sharing_rate``) to the new value."""

    period: str
    set: dict[str, Any]


class Contract(Spec):
    """A value-based contract: who, when, how expenditure is measured, and the payment components."""

    schema_version: Literal["1"] = "1"
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str
    version: str = "1"
    program: str = Field(default="", description="Program or model (e.g. CJR, PCF, commercial)")
    payer: str = ""
    line_of_business: str = ""
    entity_type: Literal[
        "aco", "practice", "hospital", "physician_group", "health_system", "provider_group"
    ] = "aco"
    default_entity_id: str = Field(default="ENTITY", description="Entity settled when inputs name none")
    hcp_lan_category: Literal["1", "2A", "2B", "2C", "3A", "3B", "3N", "4A", "4B", "4C", "4N"] | None = None
    periods: dict[str, Period] = Field(default_factory=dict, description="Named performance periods")
    definitions: Definitions = Field(
        default_factory=Definitions,
        validation_alias=AliasChoices("definitions", "expenditure"),
        description="How spending is measured, the same for the benchmark and the actuals",
    )
    target: TargetRules = TargetRules()
    rounding: Rounding = Rounding()
    components: list[Component] = Field(min_length=1)
    glide_path: list[GlideStep] = Field(default_factory=list)
    unverified: list[str] = Field(
        default_factory=list,
        description="Parameters taken from secondary sources: confirm them in the agreement",
    )
    sources: list[str] = Field(default_factory=list, description="Documents the terms come from")
    attribution: AttributionSpec | None = None
    risk_adjustment: RiskAdjustmentSpec | None = None
    benchmark: BenchmarkSpec | None = None
    episodes: EpisodesSpec | None = None
    quality: QualitySpec | None = None
    performance_years: list[int] = Field(
        default_factory=list,
        description="Performance years the terms are written for; settling any other year is refused (empty: any)",
    )

    @model_validator(mode="after")
    def _references(self) -> Contract:
        seen: list[str] = []
        for component in self.components:
            if component.id in seen:
                raise ValueError(f"component id {component.id!r} is used twice")
            for ref in _references_of(component):
                if ref not in seen:
                    raise ValueError(
                        f"component {component.id!r} refers to {ref!r}, which is not an earlier component"
                    )
            seen.append(component.id)
        by_id = {c.id: c for c in self.components}
        for component in self.components:
            if component.type == "extreme_uncontrollable":
                for ref in component.applies_to:
                    if by_id[ref].type == "shared_savings":
                        raise ValueError(
                            f"component {component.id!r}: shared_savings {ref!r} applies EUC relief itself "
                            "(entity inputs euc_affected_fraction / euc_loss_reduction); do not list it here"
                        )
        for index, step in enumerate(self.glide_path):
            for key in step.set:
                component_id, _, dotted = key.partition(".")
                field = dotted.split(".")[0]
                if component_id not in by_id:
                    raise ValueError(f"glide_path[{index}] sets {key!r}: no component {component_id!r}")
                if field not in type(by_id[component_id]).model_fields or field in ("id", "type"):
                    raise ValueError(
                        f"glide_path[{index}] sets {key!r}: {component_id!r} has no field {field!r}"
                    )
            try:
                self.period(step.period)
            except KeyError:
                raise ValueError(
                    f"glide_path[{index}]: period {step.period!r} is neither a named period nor a calendar year (1900-2199)"
                ) from None
        for index, step in enumerate(self.glide_path):
            # every step must leave a valid contract: an unknown nested field or an out-of-range value is
            # refused when the contract is read, not when a period is settled
            try:
                self._with_steps(self._steps_through(step.period))
            except ValidationError as exc:
                problem = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(part) for part in problem["loc"])
                raise ValueError(
                    f"glide_path[{index}] (period {step.period}) makes {where} invalid: {problem['msg']}"
                ) from None
            except ConfigurationError as exc:
                raise ValueError(f"glide_path[{index}]: {exc}") from None
        return self

    @property
    def expenditure(self) -> Definitions:
        """The definitions block under its schema-1 name."""
        return self.definitions

    @model_validator(mode="after")
    def _one_set_of_definitions(self) -> Contract:
        """The benchmark may not measure spending under rules of its own: ``definitions:`` is the one place."""
        benchmark = self.benchmark
        if benchmark is None:
            return self
        d = self.definitions
        if benchmark.general is not None:
            general = benchmark.general
            for name, ours in (("cost_basis", d.cost_basis), ("lines_of_business", d.lines_of_business)):
                theirs = getattr(general, name)
                if (
                    name in general.model_fields_set
                    and (list(theirs) if isinstance(theirs, tuple) else theirs) != ours
                ):
                    raise ValueError(
                        f"benchmark.general.{name} differs from definitions.{name}: the benchmark and the actual "
                        f"spending are measured under one set of definitions (set definitions.{name})"
                    )
            if "outliers" in general.model_fields_set:
                raise ValueError(
                    "benchmark.general.outliers: in a contract, truncation is definitions.truncation (the same rule "
                    "on the base years and the performance year)"
                )
        mssp = benchmark.mssp_spec
        if mssp is not None:
            expected = {
                "eligible_months": ("medicare_ffs_parts_ab", d.eligible_months),
                "cost_basis": ("paid_amount", d.cost_basis),
                "truncation.method": ("percentile", d.truncation.method),
                "truncation.percentile": (mssp.truncation_percentile, d.truncation.percentile),
            }
            for name, (wanted, actual) in expected.items():
                if actual != wanted:
                    raise ValueError(
                        f"definitions.{name} is {actual} but the MSSP benchmark measures {wanted} "
                        "(42 CFR 425.652): the benchmark and the actual spending use one set of definitions"
                    )
        return self

    def component(self, component_id: str) -> ComponentBase:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)

    def period(self, name: str) -> Period:
        """The named period, or the calendar year when ``name`` is a 4-digit year (1900-2199) not listed.

        Raises
        ------
        KeyError
            ``name`` is neither (year 0000 is no calendar year; 9999 none any claims file holds).
        """
        if name in self.periods:
            return self.periods[name]
        if len(name) == 4 and name.isdigit() and CALENDAR_YEARS[0] <= int(name) <= CALENDAR_YEARS[1]:
            year = int(name)
            return Period(start=date(year, 1, 1), end=date(year, 12, 31))
        raise KeyError(name)

    def _period_start(self, name: str) -> date:
        return self.period(name).start

    def _steps_through(self, name: str) -> list[GlideStep]:
        """Glide-path steps whose period starts on or before ``name``'s start, in start-date order."""
        start = self._period_start(name)
        applied = [step for step in self.glide_path if self._period_start(step.period) <= start]
        return sorted(applied, key=lambda step: self._period_start(step.period))

    def _with_steps(self, steps: list[GlideStep]) -> Contract:
        data = self.model_dump(mode="python", exclude_none=False)
        for section in DOMAIN_SECTIONS:
            # domain sections keep what the document set (their validators tell given values from defaults)
            value = getattr(self, section)
            if value is not None:
                data[section] = value.model_dump(mode="python", exclude_unset=True)
        index = {c["id"]: c for c in data["components"]}
        for step in steps:
            for key, value in step.set.items():
                component_id, *path = key.split(".")
                node = index[component_id]
                for part in path[:-1]:
                    if not isinstance(node.get(part), dict):
                        raise ConfigurationError(
                            f"glide_path period {step.period}: {key!r} does not name a section"
                        )
                    node = node[part]
                # a copy: a later step that sets a field inside this value must not change the step's own data
                node[path[-1]] = copy.deepcopy(value)
        data["glide_path"] = []
        resolved = Contract.model_validate(data)
        return resolved.model_copy(update={"glide_path": list(self.glide_path)})

    def for_period(self, name: str) -> tuple[Contract, list[GlideStep]]:
        """The contract with every glide-path step up to ``name`` applied, and the steps applied.

        Steps apply cumulatively in the order their periods start (a 2027 step keeps what 2026 set unless it
        overrides it); a step applies to every period starting on or after its own period's start, so
        ``PY10`` follows ``PY9`` and a calendar year picks the steps of the named periods before it.

        Raises
        ------
        KeyError
            ``name`` is neither a named period nor a calendar year (1900-2199).
        """
        applied = self._steps_through(name)
        if not applied:
            return self, []
        return self._with_steps(applied), applied


def _references_of(component: ComponentBase) -> list[str]:
    return list(getattr(component, "applies_to", None) or [])


__all__ = [
    "SCHEMA_VERSION",
    "Contract",
    "Definitions",
    "ExpenditureRules",
    "GlideStep",
    "Period",
    "Rounding",
    "TargetRules",
    "Truncation",
]
