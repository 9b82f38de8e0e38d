"""The contract document: identity, periods, expenditure rules, payment components and glide path.

A contract is data (YAML) validated into frozen pydantic models. The domain sections (attribution, risk
adjustment, benchmark, episodes, quality) are owned by their packages; when a package's spec is importable the
section is validated by it, otherwise the section is kept as given and only the payment components are used.
"""

from __future__ import annotations

import importlib
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator

from apmkit.contracts.components import Component, ComponentBase, Spec
from apmkit.errors import ConfigurationError

SCHEMA_VERSION = "1"

# section name -> (module, class) of the domain spec that validates it, when that package exists.
DOMAIN_SECTIONS: dict[str, tuple[str, str]] = {
    "attribution": ("apmkit.attribution.spec", "AttributionSpec"),
    "risk_adjustment": ("apmkit.risk.spec", "RiskAdjustmentSpec"),
    "benchmark": ("apmkit.benchmark.spec", "BenchmarkSpec"),
    "episodes": ("apmkit.episodes.spec", "EpisodesSpec"),
    "quality": ("apmkit.quality.spec", "QualitySpec"),
}


def domain_spec_adapter(section: str) -> TypeAdapter[Any] | None:
    """A validator for ``section`` from its owning package, or None while that package does not exist yet.

    The owning spec may be a model class or an annotated union (attribution methods), hence a TypeAdapter.
    """
    module_name, class_name = DOMAIN_SECTIONS[section]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    found = getattr(module, class_name, None)
    if found is None:
        return None
    return TypeAdapter(found)


class Period(Spec):
    """A performance period (inclusive dates)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class ExpenditureRules(Spec):
    """How actual expenditure is measured from claims for the claims-based settlement path."""

    amount_field: Literal["paid_amount", "allowed_amount"] = "paid_amount"
    runout_months: int = Field(
        default=3, ge=0, le=24, description="Claims processed up to this many months after period end"
    )
    completion_factor: Decimal = Field(
        default=Decimal(1),
        ge=1,
        le=2,
        description="Expenditure x this factor completes claims not yet processed",
    )
    truncation_per_member: Decimal | None = Field(
        default=None,
        gt=0,
        description="Each member's period expenditure is capped at this amount (e.g. a 99th percentile)",
    )
    exclude_claim_types: list[str] = Field(default_factory=list)
    include_pharmacy: bool = False


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
    expenditure: ExpenditureRules = ExpenditureRules()
    target: TargetRules = TargetRules()
    rounding: Rounding = Rounding()
    components: list[Component] = Field(min_length=1)
    glide_path: list[GlideStep] = Field(default_factory=list)
    unverified: list[str] = Field(
        default_factory=list,
        description="Parameters taken from secondary sources: confirm them in the agreement",
    )
    sources: list[str] = Field(default_factory=list, description="Documents the terms come from")
    attribution: Any = None
    risk_adjustment: Any = None
    benchmark: Any = None
    episodes: Any = None
    quality: Any = None
    performance_years: list[int] = Field(
        default_factory=list,
        description="Performance years the terms are written for; settling any other year is refused (empty: any)",
    )

    @field_validator("attribution", "risk_adjustment", "benchmark", "episodes", "quality", mode="before")
    @classmethod
    def _domain_section(cls, value: Any, info: Any) -> Any:
        if value is None:
            return None
        adapter = domain_spec_adapter(info.field_name)
        if adapter is not None:
            return adapter.validate_python(value)
        if not isinstance(value, dict):
            raise ValueError("must be a mapping")
        return value

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
        return self

    def component(self, component_id: str) -> ComponentBase:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)

    def period(self, name: str) -> Period:
        """The named period, or the calendar year when ``name`` is a 4-digit year not listed."""
        if name in self.periods:
            return self.periods[name]
        if len(name) == 4 and name.isdigit():
            year = int(name)
            return Period(start=date(year, 1, 1), end=date(year, 12, 31))
        raise KeyError(name)

    def for_period(self, name: str) -> tuple[Contract, list[GlideStep]]:
        """The contract with every glide-path step up to ``name`` applied, and the steps applied.

        Steps apply cumulatively in period order (a 2027 step keeps what 2026 set unless it overrides it).
        """
        applied = [step for step in self.glide_path if _period_key(step.period) <= _period_key(name)]
        applied.sort(key=lambda s: _period_key(s.period))
        if not applied:
            return self, []
        data = self.model_dump(mode="python", exclude_none=False)
        index = {c["id"]: c for c in data["components"]}
        for step in applied:
            for key, value in step.set.items():
                component_id, *path = key.split(".")
                node = index[component_id]
                for part in path[:-1]:
                    if not isinstance(node.get(part), dict):
                        raise ConfigurationError(
                            f"glide_path period {step.period}: {key!r} does not name a section"
                        )
                    node = node[part]
                node[path[-1]] = value
        data["glide_path"] = [s.model_dump() for s in self.glide_path]
        return Contract.model_validate(data), applied


def _period_key(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits[:4]) if len(digits) >= 4 else 0, name)


def _references_of(component: ComponentBase) -> list[str]:
    return list(getattr(component, "applies_to", None) or [])


__all__ = ["SCHEMA_VERSION", "Contract", "ExpenditureRules", "GlideStep", "Period", "Rounding", "TargetRules"]
