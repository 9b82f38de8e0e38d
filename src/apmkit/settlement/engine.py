"""The settlement engine: a contract, a period and per-entity inputs become statements.

:func:`settle` runs every component of the contract (glide path applied for the period) for each entity, in
contract order, and assembles an :class:`EntityStatement` whose ``amount`` lines sum to the net settlement.
Arithmetic is exact Decimal; rounding happens only where the contract says (component amounts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, localcontext

from pydantic import ValidationError

from apmkit.contracts.spec import Contract, Period
from apmkit.errors import ConfigurationError
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.mechanisms import (
    MECHANISMS,
    ZERO,
    Context,
    LineBuilder,
    MissingInputError,
    check_terms,
)
from apmkit.settlement.statement import ComponentResult, EntityStatement, Settlement, StatementLine, Unit

_PRECISION = 50

SUMMARY_INPUTS: tuple[str, ...] = (
    "population",
    "person_years",
    "member_months",
    "benchmark",
    "expenditure",
    "quality_score",
)
"""Entity inputs repeated on every statement summary (then shared-savings figures, component amounts)."""

SUMMARY_FIGURES: tuple[str, ...] = (
    "savings",
    "savings_rate",
    "minimum_savings_rate",
    "minimum_loss_rate",
    "outcome",
    "final_sharing_rate",
    "loss_rate",
    "savings_cap",
    "loss_cap",
    "earned_savings",
    "owed_losses",
)


def settle_entity(
    contract: Contract,
    period_name: str,
    entity: EntityInputs,
    extra_lines: Sequence[StatementLine] = (),
) -> EntityStatement:
    """Settle one entity under a contract already resolved for the period (see :meth:`Contract.for_period`).

    ``extra_lines`` (e.g. how the quality score was computed) follow the input lines on the statement.
    """
    try:
        period = contract.period(period_name)
    except KeyError as exc:
        raise ConfigurationError(
            f"period {period_name!r} is not defined in contract {contract.id} (periods: "
            f"{', '.join(contract.periods) or 'none; use a calendar year, 1900-2199'})"
        ) from exc
    check_terms(contract)
    check_performance_year(contract, period_name, period)
    ctx = Context(contract=contract, period_name=period_name, period=period, entity=entity)
    with localcontext() as decimal_context:
        decimal_context.prec = _PRECISION
        for index, component in enumerate(contract.components):
            builder = LineBuilder(ctx, component, index)
            result = MECHANISMS[component.type](component, ctx, builder)
            ctx.results[component.id] = result
    return _statement(contract, period_name, entity, list(ctx.results.values()), extra_lines)


def _statement(
    contract: Contract,
    period_name: str,
    entity: EntityInputs,
    results: Sequence[ComponentResult],
    extra_lines: Sequence[StatementLine] = (),
) -> EntityStatement:
    net: Decimal = sum((r.amount for r in results), ZERO)
    paid: Decimal = sum((r.paid_during_period for r in results), ZERO)
    balance = net - paid
    lines: list[StatementLine] = list(_input_lines(contract, entity))
    lines.extend(extra_lines)
    for result in results:
        lines.extend(result.lines)
    closing = [
        ("Net settlement for the period", net, "Σ component amounts (lines with role amount)"),
        ("Paid during the period", paid, "Σ prepaid and interim amounts (lines with role paid)"),
        (
            "Balance due at settlement (+ to entity, − to payer)",
            balance,
            "net settlement − paid during the period",
        ),
    ]
    for label, value, formula in closing:
        lines.append(
            StatementLine(
                entity_id=entity.entity_id,
                sequence=0,
                component_id="total",
                component_type="total",
                label=label,
                value=value,
                text=None,
                role="total",
                formula=formula,
                source=entity.source,
                clause=f"contract {contract.id} v{contract.version}",
            )
        )
    numbered = tuple(dataclasses.replace(line, sequence=n) for n, line in enumerate(lines, start=1))

    summary: dict[str, Decimal | str | int | None] = {"entity_id": entity.entity_id}
    for name in SUMMARY_INPUTS:
        summary[name] = getattr(entity, name)
    figures: dict[str, Decimal | str | None] = {}
    for result in results:
        for key, figure in result.figures.items():
            figures.setdefault(key, figure)
    for name in SUMMARY_FIGURES:
        summary[name] = figures.get(name)
    if summary["benchmark"] is None:
        summary["benchmark"] = figures.get("benchmark")
    if summary["expenditure"] is None:
        summary["expenditure"] = figures.get("expenditure")
    if summary["savings"] is None and summary["benchmark"] is not None and summary["expenditure"] is not None:
        summary["savings"] = Decimal(str(summary["benchmark"])) - Decimal(str(summary["expenditure"]))
    for result in results:
        summary[f"amount_{result.component_id}"] = result.amount
    summary["net_settlement"] = net
    summary["paid_during_period"] = paid
    summary["balance_due"] = balance
    return EntityStatement(
        entity_id=entity.entity_id,
        contract_id=contract.id,
        contract_version=contract.version,
        period=period_name,
        summary=summary,
        components=tuple(results),
        net_settlement=net,
        paid_during_period=paid,
        balance_due=balance,
        lines=numbered,
    )


_INPUT_LABELS: tuple[tuple[str, str, Unit], ...] = (
    ("population", "Population (assigned / attributed members)", "count"),
    ("member_months", "Member months", "count"),
    ("person_years", "Person-years", "count"),
    ("benchmark", "Benchmark / target", "USD"),
    ("recalculated_benchmark", "Recalculated benchmark (two-way blend, loss guardrail)", "USD"),
    ("expenditure", "Actual expenditure", "USD"),
    ("quality_score", "Quality score", "score"),
)


def _input_lines(contract: Contract, entity: EntityInputs) -> list[StatementLine]:
    """The entity's inputs as the first lines of its statement, with how measured values were derived."""
    lines = []
    for name, label, unit in _INPUT_LABELS:
        value = getattr(entity, name)
        if value is None:
            continue
        formula = "input"
        inputs: dict[str, str] = {}
        measured = "expenditure_truncated" in entity.detail
        if name == "expenditure" and measured:
            formula = "Σ per-member expenditure truncated per member × completion factor (claims in period + run-out)"
            inputs = {
                k: v
                for k, v in entity.detail.items()
                if k not in ("benchmark_source", "quality_source", "benchmark_pmpm", "guardrail_status")
            }
        elif name == "person_years" and measured:
            formula = "member months / 12"
        elif name == "benchmark" and "benchmark_source" in entity.detail:
            formula = "from the benchmark build-up (benchmark_lines)"
            inputs = {"source": entity.detail["benchmark_source"]}
            for key in ("benchmark_pmpm", "guardrail_status"):
                if key in entity.detail:
                    inputs[key] = entity.detail[key]
        elif name == "quality_score" and "quality_source" in entity.detail:
            formula = entity.detail["quality_source"]
        elif name == "benchmark" and measured and contract.target.benchmark_per_person_year:
            formula = "benchmark per person-year × person-years (unless given per entity)"
            inputs = {"benchmark_per_person_year": str(contract.target.benchmark_per_person_year)}
        lines.append(
            StatementLine(
                entity_id=entity.entity_id,
                sequence=0,
                component_id="inputs",
                component_type="inputs",
                label=label,
                value=Decimal(value),
                text=None,
                unit=unit,
                role="step",
                formula=formula,
                inputs=inputs,
                source=entity.source,
                clause="expenditure rules" if name == "expenditure" and measured else "",
            )
        )
    return lines


def settle(
    contract: Contract,
    period_name: str,
    entities: Iterable[EntityInputs],
    *,
    rejected: Sequence[dict[str, str]] = (),
    counts: dict[str, int] | None = None,
    extra_lines: Mapping[str, Sequence[StatementLine]] | None = None,
) -> Settlement:
    """Settle every entity for ``period_name`` under ``contract`` (its glide path applied first).

    Parameters
    ----------
    contract
        The validated contract.
    period_name
        A period named in the contract, or a 4-digit calendar year.
    entities
        One :class:`EntityInputs` per entity.
    rejected, counts
        Input rows rejected upstream and the read/loaded/rejected counts, carried onto the settlement.
    extra_lines
        Per entity id, lines placed after its input lines (the quality score's derivation).

    Raises
    ------
    ConfigurationError
        The period is unknown, or an entity lacks an input a component needs (the message names the entity's
        source row, the field and the component).
    """
    resolved, steps = contract.for_period(period_name)
    period = resolved.period(period_name) if _known_period(resolved, period_name) else None
    if period is None:
        raise ConfigurationError(
            f"period {period_name!r} is not defined in contract {contract.id} (periods: "
            f"{', '.join(contract.periods) or 'none; use a calendar year, 1900-2199'})"
        )
    check_terms(resolved)
    check_performance_year(resolved, period_name, period)
    settled: list[EntityStatement] = []
    refused = list(rejected)
    for entity in entities:
        try:
            extra = (extra_lines or {}).get(entity.entity_id, ())
            settled.append(settle_entity(resolved, period_name, entity, extra))
        except (MissingInputError, ValidationError) as exc:
            # One entity's incomplete or out-of-range inputs must not stop the others; it is reported with its
            # reason (field and rule, never the value).
            file, _, line = entity.source.rpartition(" line ")
            reason = str(exc) if isinstance(exc, MissingInputError) else _validation_reason(entity, exc)
            refused.append(
                {"source_file": file or entity.source, "source_line": line if file else "", "reason": reason}
            )
    statements = tuple(settled)
    run_counts = dict(counts or {})
    run_counts["entities_settled"] = len(statements)
    run_counts["entities_not_settled"] = len(refused) - len(rejected)
    warnings = tuple(
        f"unverified parameter (confirm in the agreement): {item}" for item in resolved.unverified
    )
    return Settlement(
        contract_id=resolved.id,
        contract_name=resolved.name,
        contract_version=resolved.version,
        period=period_name,
        period_start=period.start.isoformat(),
        period_end=period.end.isoformat(),
        glide_path_applied=tuple(
            f"{s.period}: " + ", ".join(f"{k}={v}" for k, v in s.set.items()) for s in steps
        ),
        statements=statements,
        rejected=tuple(refused),
        counts=run_counts,
        warnings=warnings,
    )


def check_performance_year(contract: Contract, period_name: str, period: Period) -> None:
    """Refuse a period outside the contract's ``performance_years`` (a contract written for PY2013-2021 has no
    terms for 2012 or 2030; settling it there would pay on terms nobody agreed)."""
    years = contract.performance_years
    if not years or (period.start.year in years and period.end.year in years):
        return
    ordered = sorted(set(years))
    contiguous = ordered == list(range(ordered[0], ordered[-1] + 1))
    valid = f"{ordered[0]}-{ordered[-1]}" if contiguous else ", ".join(str(y) for y in ordered)
    raise ConfigurationError(
        f"period {period_name!r} ({period.start.isoformat()} to {period.end.isoformat()}) is outside the "
        f"performance years of contract {contract.id}: its terms cover {valid}"
    )


def _validation_reason(entity: EntityInputs, error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False)
    return f"entity {entity.entity_id}: " + "; ".join(
        f"field {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}" for problem in problems
    )


def _known_period(contract: Contract, name: str) -> bool:
    try:
        contract.period(name)
    except KeyError:
        return False
    return True
