"""The ``definitions:`` section of a contract: how spending is measured, once, for benchmark and actuals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from apmkit.schemas.canonical import CLAIM_TYPES
from apmkit.spec_model import SpecModel


class _Frozen(SpecModel):
    """Frozen, strict, numbers finite and bounded (as every contract section)."""


class Truncation(_Frozen):
    """How each member's spending in a year is capped, the same rule on every base year and the performance year.

    ``none``: no cap. ``amount``: each member's spending in a year (or the performance period) is capped at
    ``amount``. ``percentile``: each member's annualized spending is capped at the ``percentile`` of annualized
    spending of every eligible member in the data that year, scaled back to the member's eligible months
    (the MSSP rule, 42 CFR 425.652(a)(4)).
    """

    method: Literal["none", "amount", "percentile"] = "none"
    amount: Decimal | None = Field(default=None, gt=0)
    percentile: Decimal | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _parameter(self) -> Truncation:
        if self.method == "amount" and self.amount is None:
            raise ValueError("method amount needs amount")
        if self.method == "percentile" and self.percentile is None:
            raise ValueError("method percentile needs percentile")
        if self.method != "amount" and self.amount is not None:
            raise ValueError(f"amount is only used with method amount (method is {self.method})")
        if self.method != "percentile" and self.percentile is not None:
            raise ValueError(f"percentile is only used with method percentile (method is {self.method})")
        return self

    def describe(self) -> str:
        if self.method == "amount":
            return f"member spending capped at {self.amount} per year"
        if self.method == "percentile":
            return f"member annualized spending capped at the {self.percentile} percentile, per year"
        return "no truncation"


EligibleMonths = Literal["enrolled", "medicare_ffs_parts_ab"]


class Definitions(_Frozen):
    """One set of definitions for the benchmark's base years and the performance year's actual spending.

    The benchmark and the actuals are measured with the same cost basis, claim types, pharmacy rule, eligible
    months, truncation, run-out and completion, so the two sides of savings compare like with like. Spending
    counts only in a member's eligible months; person-years are eligible member-months / 12.
    """

    cost_basis: Literal["paid_amount", "allowed_amount"] = Field(
        default="paid_amount", validation_alias=AliasChoices("cost_basis", "amount_field")
    )
    claim_types: list[str] | None = Field(
        default=None, description="Medical claim types counted (None = every type not excluded)"
    )
    exclude_claim_types: list[str] = Field(default_factory=list)
    include_pharmacy: bool = False
    eligible_months: EligibleMonths = Field(
        default="enrolled",
        description="enrolled: any enrollment row; medicare_ffs_parts_ab: Part A and Part B, not Medicare "
        "Advantage (MSSP)",
    )
    lines_of_business: list[str] | None = Field(
        default=None, description="Only enrollment months and claims of these lines of business count"
    )
    truncation: Truncation = Truncation()
    runout_months: int = Field(
        default=3, ge=0, le=24, description="Claims processed up to this many months after each year's end"
    )
    completion_factor: Decimal = Field(
        default=Decimal(1),
        ge=1,
        le=2,
        description="Spending x this factor completes claims not yet processed (base years and actuals)",
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_truncation(cls, data: Any) -> Any:
        # ``truncation_per_member: X`` (schema 1's flat cap) is ``truncation: {method: amount, amount: X}``.
        if isinstance(data, dict) and "truncation_per_member" in data:
            data = dict(data)
            cap = data.pop("truncation_per_member")
            if cap is not None:
                if "truncation" in data:
                    raise ValueError("give truncation or truncation_per_member, not both")
                data["truncation"] = {"method": "amount", "amount": cap}
        return data

    @field_validator("claim_types", "exclude_claim_types")
    @classmethod
    def _known_types(cls, types: list[str] | None) -> list[str] | None:
        unknown = sorted(set(types or []) - set(CLAIM_TYPES))
        if unknown:
            raise ValueError(f"unknown claim type {', '.join(unknown)} (known: {', '.join(CLAIM_TYPES)})")
        return types

    @property
    def amount_field(self) -> str:
        return self.cost_basis

    def describe(self) -> str:
        types = ", ".join(self.claim_types) if self.claim_types else "all medical claim types"
        if self.exclude_claim_types:
            types += f" except {', '.join(self.exclude_claim_types)}"
        return (
            f"{self.cost_basis.replace('_', ' ')}; {types}; pharmacy {'included' if self.include_pharmacy else 'excluded'}; "
            f"eligible months: {self.eligible_months}"
            + (f" ({', '.join(self.lines_of_business)})" if self.lines_of_business else "")
            + f"; {self.truncation.describe()}; run-out {self.runout_months} months; completion factor "
            f"{self.completion_factor}"
        )


__all__ = ["Definitions", "EligibleMonths", "Truncation"]
