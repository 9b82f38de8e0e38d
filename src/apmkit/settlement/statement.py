"""Settlement results: statement lines, per-component results, per-entity statements.

Every line carries its formula, inputs, source rows and the contract clause it applies. Lines whose ``role`` is
``amount`` sum to the entity's net settlement; lines whose role is ``paid`` sum to what was already paid
during the period; ``balance_due = net_settlement − paid_during_period``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["step", "amount", "paid", "total"]
Unit = Literal["USD", "rate", "count", "score", "flag", "text"]


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One auditable line of a settlement statement.

    A plain frozen dataclass rather than a pydantic model: a settlement builds tens of lines per entity, all from
    values already typed, and validating each one dominated the run time (bench/bench_settlement.py).
    """

    entity_id: str
    sequence: int
    component_id: str
    component_type: str
    label: str
    value: Decimal | None = None
    text: str | None = None
    """Non-numeric value (an outcome, a tier, 'not computable')."""
    unit: Unit = "USD"
    role: Role = "step"
    formula: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    source: str = ""
    clause: str = ""


class ComponentResult(BaseModel):
    """What one payment mechanism produced for one entity."""

    model_config = ConfigDict(frozen=True)

    component_id: str
    component_type: str
    amount: Decimal
    paid_during_period: Decimal = Decimal(0)
    figures: dict[str, Decimal | str | None] = Field(default_factory=dict)
    lines: tuple[StatementLine, ...] = ()


class EntityStatement(BaseModel):
    """The settlement of one entity for one period."""

    model_config = ConfigDict(frozen=True)

    entity_id: str
    contract_id: str
    contract_version: str
    period: str
    summary: dict[str, Decimal | str | int | None]
    components: tuple[ComponentResult, ...]
    net_settlement: Decimal
    paid_during_period: Decimal
    balance_due: Decimal
    lines: tuple[StatementLine, ...]


class Settlement(BaseModel):
    """All entities' statements for one contract and period, plus the input counts."""

    model_config = ConfigDict(frozen=True)

    contract_id: str
    contract_name: str
    contract_version: str
    period: str
    period_start: str
    period_end: str
    glide_path_applied: tuple[str, ...] = ()
    statements: tuple[EntityStatement, ...]
    rejected: tuple[dict[str, str], ...] = ()
    counts: dict[str, int] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def total_net(self) -> Decimal:
        return sum((s.net_settlement for s in self.statements), Decimal(0))
