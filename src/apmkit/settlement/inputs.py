"""One entity's aggregate settlement inputs, and the reader for a CSV of them (one row per entity).

The aggregate path lets a user check a payer's reconciliation report without claims: benchmark, expenditure,
person-years, population and quality score per entity are enough for shared savings; the other columns feed
the other mechanisms. The claims path (:mod:`apmkit.settlement.claims`) fills the same model from canonical
tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MONTHS_PREFIX = "months."
"""CSV columns ``months.<cell>`` give member months by cell (risk tier, capitation cell)."""

GROUP_COLUMNS: dict[str, str] = {
    "episodes.": "episodes_by_group",
    "benchmark_price.": "benchmark_price_by_group",
    "hospital_price.": "hospital_price_by_group",
    "regional_price.": "regional_price_by_group",
}
"""CSV columns ``<field>.<price group>`` give episode counts and prices per episode price group (the group name
keeps its case: ``benchmark_price.A0001-IP``)."""


_Count = Annotated[int, Field(ge=0)]
_Price = Annotated[Decimal, Field(ge=0)]


class EntityInputs(BaseModel):
    """Aggregate inputs of one entity for one period. Every field but ``entity_id`` is optional; a mechanism
    that needs a missing one stops with an error naming it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_id: str = Field(min_length=1)
    source: str = Field(
        default="", description="Where the row came from (file and line), cited on statement lines"
    )
    benchmark: Decimal | None = Field(
        default=None, gt=0, description="Total benchmark / target for the period ($)"
    )
    expenditure: Decimal | None = Field(default=None, ge=0, description="Total actual expenditure ($)")
    person_years: Decimal | None = Field(default=None, gt=0)
    population: int | None = Field(default=None, ge=0, description="Assigned / attributed beneficiaries")
    member_months: int | None = Field(default=None, ge=0)
    months_by_cell: dict[str, int] = Field(default_factory=dict, description="Member months by tier or cell")
    dual_member_months: int | None = Field(default=None, ge=0)
    risk_score: Decimal | None = Field(
        default=None, gt=0, description="Member-month-weighted average risk score (risk-adjusted capitation)"
    )
    quality_score: Decimal | None = Field(
        default=None, ge=0, description="Quality score on the component's scale (0-1; CJR's CQS 0-20)"
    )
    quality_standard_met: bool | None = None
    alternative_quality_standard_met: bool = False
    performance_score: Decimal | None = None
    utilization_score: Decimal | None = None
    performance_adjustment: Decimal | None = Field(
        default=None, description="Performance-based adjustment as a fraction"
    )
    reported: bool | None = None
    participant_revenue: Decimal | None = Field(default=None, ge=0)
    premium: Decimal | None = Field(default=None, ge=0, description="Total premium for the period ($)")
    base_payments: Decimal | None = Field(
        default=None, ge=0, description="Payments a withhold is taken from ($)"
    )
    risk_group: str | None = None
    visits: int | None = Field(default=None, ge=0)
    episodes: int | None = Field(default=None, ge=0)
    hospital_price: Decimal | None = Field(
        default=None, ge=0, description="Hospital-specific historical episode price"
    )
    regional_price: Decimal | None = Field(
        default=None, ge=0, description="Regional historical episode price"
    )
    benchmark_price: Decimal | None = Field(
        default=None, ge=0, description="Episode benchmark price, when given directly"
    )
    episode_payments: Decimal | None = Field(
        default=None, ge=0, description="Actual episode payments, capped ($)"
    )
    episodes_by_group: dict[str, _Count] = Field(
        default_factory=dict, description="Episodes by price group (several target prices per entity)"
    )
    benchmark_price_by_group: dict[str, _Price] = Field(
        default_factory=dict, description="The payer's benchmark episode price by price group"
    )
    hospital_price_by_group: dict[str, _Price] = Field(
        default_factory=dict, description="Hospital-specific historical episode price by price group"
    )
    regional_price_by_group: dict[str, _Price] = Field(
        default_factory=dict, description="Regional historical episode price by price group"
    )
    outlier_excess: Decimal | None = Field(
        default=None, ge=0, description="Episode costs above the outlier threshold"
    )
    stop_loss_excess: Decimal | None = Field(
        default=None, ge=0, description="Member costs above the attachment point"
    )
    carved_out_expenditure: Decimal | None = Field(default=None, ge=0)
    guardrail_applies: bool | None = Field(
        default=None,
        description="Whether the loss benchmark guardrail applies (MSSP: agreement period from 2024, two-sided)",
    )
    recalculated_benchmark: Decimal | None = Field(
        default=None,
        gt=0,
        description="Total benchmark recalculated without the ACPT (MSSP two-way blend), for the guardrail ($)",
    )
    below_msr_sharing_eligible: bool | None = Field(
        default=None,
        description="Eligible for half-rate sharing below the MSR (MSSP: low-revenue BASIC ACO, agreement 2024+)",
    )
    terminated_during_year: bool = Field(
        default=False, description="The agreement ended during the period (MSSP 42 CFR 425.221(b))"
    )
    termination_loss_share: Decimal | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of owed losses a terminated entity is liable for (MSSP: pro-rated share)",
    )
    euc_affected_fraction: Decimal = Field(default=Decimal(0), ge=0, le=1)
    euc_loss_reduction: Decimal = Field(default=Decimal(0), ge=0)
    interim_paid: Decimal | None = Field(default=None, ge=0)
    detail: dict[str, str] = Field(default_factory=dict, description="How measured values were derived")


_NOT_COLUMNS = ("source", "months_by_cell", "detail", *GROUP_COLUMNS.values())

INPUT_COLUMNS: tuple[str, ...] = tuple(name for name in EntityInputs.model_fields if name not in _NOT_COLUMNS)

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@dataclass
class ReadReport:
    """What reading an aggregate CSV did: rows read, loaded and rejected (with the reasons)."""

    read: int = 0
    loaded: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)


def _cell_value(raw: str, annotation: Any) -> Any:
    text = raw.strip()
    if text == "":
        return None
    kind = str(annotation)
    if "bool" in kind:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true/false (or 1/0)")
    if "Decimal" in kind:
        try:
            return Decimal(text.replace(",", "").replace("$", ""))
        except InvalidOperation as exc:
            raise ValueError("expected a number") from exc
    if "int" in kind:
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError("expected a whole number") from exc
        if number != number.to_integral_value():
            raise ValueError("expected a whole number")
        return int(number)
    return text


def read_entity_rows(
    rows: Iterable[Mapping[str, str | None]], source: str, *, first_line: int = 2
) -> tuple[list[EntityInputs], ReadReport]:
    """Validate CSV rows (as dicts of text) into :class:`EntityInputs`.

    Parameters
    ----------
    rows
        Rows from ``csv.DictReader`` (header names are matched case-insensitively).
    source
        File name, used in messages and on statement lines.
    first_line
        Line number of the first data row (2 after a header).

    Returns
    -------
    (inputs, report)
        The valid rows and a report; a rejected row keeps its line and every reason, never its values.
    """
    report = ReadReport()
    loaded: list[EntityInputs] = []
    seen: dict[str, int] = {}
    kept: dict[int, EntityInputs] = {}
    for offset, row in enumerate(rows):
        line = first_line + offset
        report.read += 1
        values: dict[str, Any] = {"source": f"{source} line {line}"}
        months: dict[str, int] = {}
        groups: dict[str, dict[str, Any]] = {}
        reasons: list[str] = []
        for header, raw in row.items():
            if header is None:
                reasons.append("more values than header columns")
                continue
            name = header.strip().lower()
            text = "" if raw is None else str(raw)
            if name.startswith(MONTHS_PREFIX):
                try:
                    value = _cell_value(text, int)
                except ValueError as exc:
                    reasons.append(f"field {header}: {exc}")
                    continue
                if value is not None:
                    months[name.removeprefix(MONTHS_PREFIX)] = value
                continue
            prefix = next((p for p in GROUP_COLUMNS if name.startswith(p) and len(name) > len(p)), None)
            if prefix is not None:
                try:
                    value = _cell_value(text, int if prefix == "episodes." else Decimal)
                except ValueError as exc:
                    reasons.append(f"field {header.strip()}: {exc}")
                    continue
                if value is not None:
                    groups.setdefault(GROUP_COLUMNS[prefix], {})[header.strip()[len(prefix) :]] = value
                continue
            if name not in EntityInputs.model_fields or name in _NOT_COLUMNS:
                reasons.append(
                    f"field {header}: unknown column (known: {', '.join(INPUT_COLUMNS)}, months.<cell>, "
                    "episodes.<group>, benchmark_price.<group>, hospital_price.<group>, regional_price.<group>)"
                )
                continue
            try:
                value = _cell_value(text, EntityInputs.model_fields[name].annotation)
            except ValueError as exc:
                reasons.append(f"field {name}: {exc}")
                continue
            if value is not None:
                values[name] = value
        if months:
            values["months_by_cell"] = months
        values.update(groups)
        if not reasons:
            try:
                entity = EntityInputs.model_validate(values)
            except ValidationError as exc:
                for problem in exc.errors(include_url=False, include_input=False):
                    where = ".".join(str(p) for p in problem["loc"]) or "row"
                    reasons.append(f"field {where}: {problem['msg']}")
            else:
                if entity.entity_id in seen:
                    # Two rows for one entity: neither can be trusted over the other, so both are refused.
                    first = seen[entity.entity_id]
                    reasons.append(f"field entity_id: repeats the entity of line {first}")
                    if first in kept:
                        loaded.remove(kept.pop(first))
                        report.loaded -= 1
                        report.rejected.append(
                            {
                                "source_file": source,
                                "source_line": str(first),
                                "reason": f"field entity_id: the entity is repeated on line {line}",
                            }
                        )
                else:
                    seen[entity.entity_id] = line
                    kept[line] = entity
                    loaded.append(entity)
                    report.loaded += 1
                    continue
        report.rejected.append(
            {"source_file": source, "source_line": str(line), "reason": "; ".join(reasons)}
        )
    return loaded, report


def apply_benchmarks(
    entities: list[EntityInputs], rows: list[dict[str, Any]], source: str
) -> list[EntityInputs]:
    """Set each entity's benchmark from the output of ``apmkit benchmark``.

    Accepted layouts: ``entity_id, benchmark_pmpm`` (general method: × the entity's member months),
    ``entity_id, benchmark`` (a total), or the one-row MSSP ``benchmark_summary`` when a single entity is
    settled: ``total_benchmark`` (three-way blend) with ``total_two_way_benchmark`` as the entity's
    ``recalculated_benchmark`` and ``guardrail_applies``, so the settlement applies the guardrail (42 CFR
    425.652(b)(5)); an older summary without the two-way total gives ``settlement_benchmark``, refused when its
    status is ``no_savings_no_losses``.

    Raises
    ------
    InputFileError
        The layout is not one of these, or an MSSP summary meets several entities.
    """
    from apmkit.errors import InputFileError

    columns = set(rows[0]) if rows else set()
    updated: list[EntityInputs] = []
    if "settlement_benchmark" in columns and "entity_id" not in columns:
        if len(rows) != 1 or len(entities) != 1:
            raise InputFileError(source, "an MSSP benchmark summary has one row and settles one entity")
        summary = rows[0]
        entity = entities[0]
        guard: dict[str, Any] = {}
        if summary.get("total_two_way_benchmark") is not None and summary.get("total_benchmark") is not None:
            # The settlement applies the guardrail itself (42 CFR 425.652(b)(5)) with the contract's MLR.
            total = Decimal(str(summary["total_benchmark"]))
            how = f"{source}: total_benchmark (guardrail applied in settlement)"
            guard = {"recalculated_benchmark": Decimal(str(summary["total_two_way_benchmark"]))}
            if summary.get("guardrail_applies") is not None and entity.guardrail_applies is None:
                guard["guardrail_applies"] = bool(summary["guardrail_applies"])
        else:
            if str(summary.get("guardrail_status")) == "no_savings_no_losses":
                raise InputFileError(
                    source,
                    "guardrail status no_savings_no_losses needs total_benchmark and total_two_way_benchmark "
                    "(rebuild it with apmkit benchmark); settling on settlement_benchmark would share savings",
                    field="total_two_way_benchmark",
                )
            total = Decimal(str(summary["settlement_benchmark"]))
            how = f"{source}: settlement_benchmark"
        return [
            entity.model_copy(
                update={
                    "benchmark": total,
                    **guard,
                    "detail": {
                        **entity.detail,
                        "benchmark_source": how,
                        # the guardrail decides which blend the benchmark is; the statement must show it
                        **(
                            {"guardrail_status": str(rows[0]["guardrail_status"])}
                            if rows[0].get("guardrail_status") is not None
                            else {}
                        ),
                    },
                }
            )
        ]
    if "entity_id" not in columns or not ({"benchmark_pmpm", "benchmark"} & columns):
        raise InputFileError(source, "needs entity_id and benchmark_pmpm or benchmark", field="entity_id")
    by_entity = {str(row["entity_id"]): row for row in rows}
    for entity in entities:
        row = by_entity.get(entity.entity_id)
        if row is None:
            updated.append(entity)
            continue
        if row.get("benchmark") is not None:
            total = Decimal(str(row["benchmark"]))
            how = f"{source}: benchmark"
        else:
            if entity.member_months is None:
                raise InputFileError(
                    source, f"entity {entity.entity_id} has no member months", field="benchmark_pmpm"
                )
            total = Decimal(str(row["benchmark_pmpm"])) * entity.member_months
            how = f"{source}: benchmark_pmpm x member months"
        updated.append(
            entity.model_copy(
                update={"benchmark": total, "detail": {**entity.detail, "benchmark_source": how}}
            )
        )
    return updated
