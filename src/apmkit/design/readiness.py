"""APM readiness: a stakeholder/KPI checklist, the capability assessment, and reserves against the downside.

The downside is the contract's **95th-percentile loss**: the settlement engine settles the contract over
simulated expenditure scenarios (actual = benchmark x (1 + e), e ~ Normal(trend, sd), seeded), and the loss
exceeded in only 5 % of them is the amount the practice must be able to pay. Without a simulation (no
benchmark), the downside is the contract's loss cap (the most the contract can take back); the report says
which method was used. Scenario settlement is exact Decimal arithmetic per scenario (a few hundred scenarios
of one entity), not a per-member loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apmkit.contracts import Contract
from apmkit.contracts import components as c
from apmkit.design.capability import CapabilityAssessment, assess, reserve_level
from apmkit.errors import ConfigurationError
from apmkit.money import round_money, to_decimal
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs

CHECKLIST: tuple[tuple[str, str, str], ...] = (
    ("stakeholders", "leadership", "Practice leadership and board have approved joining the APM"),
    ("stakeholders", "clinician_champion", "A clinician champion leads the care-model changes"),
    ("stakeholders", "finance_lead", "A finance lead owns the APM budget, reserves and cash flow"),
    ("stakeholders", "data_lead", "A data/IT lead owns claims feeds, EHR reports and attribution lists"),
    ("stakeholders", "care_team", "Care managers and front-office staff are trained on the new workflows"),
    (
        "stakeholders",
        "payer_contact",
        "A payer contact is named for data, attribution and settlement questions",
    ),
    ("kpis", "ledger", "Monthly P&L by location is available (operating margin, overhead ratio)"),
    ("kpis", "revenue_cycle", "Billing/remittance data are available (collections, denials, A/R)"),
    ("kpis", "payer_mix", "Revenue by payer and payer mix are tracked"),
    ("kpis", "value_based_revenue", "Value-based revenue is booked separately from fee-for-service revenue"),
    ("kpis", "downside_covered", "Reserves cover the contract's 95th-percentile downside"),
)


@dataclass(frozen=True)
class Downside:
    """The contract's downside and how it was obtained."""

    method: str
    p95_loss: Decimal
    expected_net: Decimal | None
    scenarios: int
    detail: str


def _percentile(values: list[Decimal], q: Decimal) -> Decimal:
    """Linear-interpolated percentile (the 'linear' method of numpy/Hyndman-Fan type 7)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def simulated_downside(
    contract: Contract,
    period: str,
    entity: EntityInputs,
    *,
    scenarios: int = 400,
    trend: Decimal = Decimal(0),
    sd: Decimal = Decimal("0.05"),
    seed: int = 7,
) -> Downside:
    """Settle ``contract`` over expenditure scenarios around the entity's benchmark; return the 95th-percentile loss.

    Parameters
    ----------
    entity
        The entity's inputs (benchmark and whatever else the contract's components need); ``expenditure`` is
        replaced in each scenario.
    trend, sd
        Mean and standard deviation of the expenditure deviation from benchmark (fractions).
    """
    import numpy as np

    if entity.benchmark is None:
        raise ConfigurationError("a simulated downside needs the entity's benchmark")
    rng = np.random.default_rng(seed)
    draws = rng.normal(float(trend), float(sd), size=scenarios)
    benchmark = entity.benchmark
    # Round to a cent: scenarios are amounts a real year could produce.
    expenditures = [
        max(round_money(benchmark * (1 + to_decimal(round(float(draw), 6)))), Decimal(0)) for draw in draws
    ]
    nets = _scenario_nets(contract, period, entity, expenditures)
    fifth = _percentile(nets, Decimal("0.05"))
    mean = sum(nets, Decimal(0)) / len(nets)
    return Downside(
        method="simulation",
        p95_loss=round_money(max(-fifth, Decimal(0))),
        expected_net=round_money(mean),
        scenarios=len(nets),
        detail=(
            f"{len(nets)} scenarios of expenditure = benchmark x (1 + e), e ~ Normal({trend}, {sd}), seed {seed}; "
            "95th-percentile loss = -(5th percentile of net settlement)"
        ),
    )


def _scenario_nets(
    contract: Contract, period: str, entity: EntityInputs, expenditures: list[Decimal]
) -> list[Decimal]:
    """The net settlement of each expenditure scenario.

    The contract's terms are applied to all scenarios at once by the simulation module (its vectorized twin of
    every mechanism settles each scenario exactly as the settlement engine does); a contract with a component the
    simulation does not apply (episodes, bundles, withholds, ...) or an entity without member months is settled by
    the engine, scenario by scenario.
    """
    import numpy as np

    from apmkit.settlement.engine import check_performance_year
    from apmkit.simulation.terms import SIMULATED_TYPES, ScenarioInputs, settle_scenarios

    resolved = contract.for_period(period)[0]
    simulated = all(component.type in SIMULATED_TYPES for component in resolved.components)
    if simulated and entity.member_months is not None and resolved.rounding.money_places == 2:
        check_performance_year(resolved, period, resolved.period(period))
        size = len(expenditures)

        def same(value: object) -> np.ndarray:
            array = np.empty(size, dtype=object)
            array[:] = [value] * size
            return array

        spending = np.empty(size, dtype=object)
        spending[:] = expenditures
        inputs = ScenarioInputs(
            fixed=entity,
            benchmark=same(entity.benchmark),
            expenditure=spending,
            population=np.full(size, entity.population or 0, np.int64),
            member_months=np.full(size, entity.member_months, np.int64),
            quality_score=None if entity.quality_score is None else same(entity.quality_score),
            quality_standard_met=None
            if entity.quality_standard_met is None
            else np.full(size, bool(entity.quality_standard_met)),
            stop_loss_excess=None if entity.stop_loss_excess is None else same(entity.stop_loss_excess),
            risk_score=None if entity.risk_score is None else same(entity.risk_score),
            months_by_cell={
                cell: np.full(size, months, np.int64) for cell, months in entity.months_by_cell.items()
            },
            recalculated_benchmark=None
            if entity.recalculated_benchmark is None
            else same(entity.recalculated_benchmark),
        )
        try:
            settled = settle_scenarios(resolved, inputs)
        except ConfigurationError as exc:
            raise ConfigurationError(f"simulation: {exc}") from None
        return [Decimal(int(cents)).scaleb(-2) for cents in settled.net.tolist()]
    rows = [
        entity.model_copy(update={"expenditure": expenditure, "entity_id": f"s{index}"})
        for index, expenditure in enumerate(expenditures)
    ]
    result = settle(contract, period, rows)
    if not result.statements:
        reason = result.rejected[0]["reason"] if result.rejected else "no scenario settled"
        raise ConfigurationError(f"simulation: {reason}")
    return [s.net_settlement for s in result.statements]


def loss_cap_downside(
    contract: Contract, period: str | None, *, benchmark: Decimal | None, revenue: Decimal | None
) -> Downside:
    """The most the contract can take back: its loss caps applied to the benchmark (target) and revenue."""
    resolved = contract.for_period(period)[0] if period else contract
    total = Decimal(0)
    notes = []
    for component in resolved.components:
        if isinstance(component, c.SharedSavings) and component.terms.sided == "two_sided":
            cap = component.terms.loss_cap
            parts = []
            if cap.pct_of_benchmark is not None and benchmark is not None:
                parts.append(cap.pct_of_benchmark * benchmark)
            if cap.pct_of_revenue is not None and revenue is not None:
                parts.append(cap.pct_of_revenue * revenue)
            if not parts:
                raise ConfigurationError(
                    f"component {component.id!r}: the loss cap needs the benchmark and/or revenue (or no cap)"
                )
            total += min(parts)
            notes.append(f"{component.id}: loss cap {round_money(min(parts))}")
        elif isinstance(component, c.EpisodeReconciliation) and component.downside and component.stop_loss:
            if not isinstance(component.stop_loss, Decimal):
                raise ConfigurationError(
                    f"component {component.id!r}: stop_loss is REQUIRED: set it from the agreement first"
                )
            if benchmark is None:
                raise ConfigurationError(
                    f"component {component.id!r}: the stop-loss needs the total target price"
                )
            total += component.stop_loss * benchmark
            notes.append(f"{component.id}: stop-loss {round_money(component.stop_loss * benchmark)}")
        elif isinstance(component, c.Withhold) and revenue is not None:
            total += component.withhold_rate * revenue
            notes.append(f"{component.id}: withhold {round_money(component.withhold_rate * revenue)}")
    return Downside(
        method="loss cap",
        p95_loss=round_money(total),
        expected_net=None,
        scenarios=0,
        detail="; ".join(notes) or "no component can take money back (upside only)",
    )


def readiness_report(
    *,
    contract: Contract,
    downside: Downside,
    reserves: Decimal,
    capability_levels: dict[str, Any],
    checklist_answers: dict[str, bool],
    kpi_summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The readiness report: checklist, capability assessment, and what the practice can afford.

    The financial-reserves level of the capability assessment is derived from reserves / downside (the rubric of
    :mod:`apmkit.design.capability`) and overrides any level given for it.
    """
    levels = dict(capability_levels)
    levels["financial_reserves"] = reserve_level(reserves, downside.p95_loss)
    assessment: CapabilityAssessment = assess(levels)
    evidence = dict(checklist_answers)
    if kpi_summary is not None:
        evidence.setdefault("ledger", kpi_summary.get("revenue") is not None)
        evidence.setdefault("revenue_cycle", kpi_summary.get("billed") is not None)
        evidence.setdefault("payer_mix", kpi_summary.get("payers", 0) > 0)
        evidence.setdefault("value_based_revenue", kpi_summary.get("value_based_revenue_share") is not None)
    covered = reserves >= downside.p95_loss
    evidence["downside_covered"] = covered
    checklist = [
        {
            "group": group,
            "item": key,
            "description": text,
            "status": "done" if evidence.get(key) is True else ("to do" if key in evidence else "unknown"),
        }
        for group, key, text in CHECKLIST
    ]
    cover = None if downside.p95_loss == 0 else round_money(reserves / downside.p95_loss, 2)
    return {
        "contract_id": contract.id,
        "reserves": str(round_money(reserves)),
        "downside": {
            "method": downside.method,
            "p95_loss": str(downside.p95_loss),
            "expected_net_settlement": None if downside.expected_net is None else str(downside.expected_net),
            "scenarios": downside.scenarios,
            "detail": downside.detail,
        },
        "reserves_cover_downside": covered,
        "reserve_cover_ratio": None if cover is None else str(cover),
        "can_afford": covered,
        "capability": assessment.to_dict(),
        "checklist": checklist,
        "kpis": kpi_summary,
    }
