"""Monte Carlo of a contract's settlement: every entity's scenarios drawn and settled under the contract's terms.

:func:`simulate` takes what a run measured (per entity: its inputs, its member rows and the figures scenarios
are scaled from) and returns, per entity, the scenario arrays and the settled outcomes; :func:`summary_rows`
turns them into the one-row-per-entity table of ``apmkit simulate`` (``OUT/summary.parquet``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from apmkit.contracts import Contract
from apmkit.simulation.exact import Ints
from apmkit.simulation.model import (
    Assumptions,
    MemberPool,
    RunFigures,
    Totals,
    care_management_cost,
    draw_multipliers,
    draw_totals,
    scenario_inputs,
)
from apmkit.simulation.stats import cents_mean, cvar, percentile, share
from apmkit.simulation.terms import (
    FixedInputs,
    ScenarioInputs,
    ScenarioSettlement,
    check_simulated,
    settle_scenarios,
)


@dataclass(frozen=True)
class EntitySetup:
    """One entity as the run left it: inputs, member rows, the figures to scale from, its statement's net."""

    fixed: FixedInputs
    pool: MemberPool
    run: RunFigures
    risk_score: Decimal | None = None
    deterministic_net: Decimal | None = None
    outside: MemberPool | None = None


@dataclass(frozen=True)
class EntityOutcome:
    """An entity's scenarios: inputs, totals, settlement and the provider's care-management cost (cents)."""

    setup: EntitySetup
    totals: Totals
    inputs: ScenarioInputs
    settlement: ScenarioSettlement
    cost: Ints

    @property
    def entity_id(self) -> str:
        return self.setup.fixed.entity_id

    @property
    def margin(self) -> Ints:
        """Net settlement minus the care-management cost (cents)."""
        return self.settlement.net - self.cost


def needs_cells(contract: Contract) -> bool:
    """Whether a component reads member months by cell."""
    return any(
        comp.type == "care_management_fee"
        or (
            comp.type == "capitation"
            and getattr(comp, "basis", "") == "pmpm"
            and getattr(comp, "pmpm_by_cell", {})
        )
        for comp in contract.components
    )


def needs_scores(contract: Contract) -> bool:
    """Whether a component reads the entity's risk score."""
    return any(
        comp.type == "capitation" and getattr(comp, "risk_adjusted", False) for comp in contract.components
    )


class Simulator:
    """Scenarios of a set of entities, drawn once per population assumption and settled under any contract.

    The member draws (bootstrap, panel size, churn) of entity ``i`` come from the generator seeded
    ``(seed, i, 0)`` and the multipliers (trend, utilization, coding, quality) from ``(seed, i, 1)``: a seed
    reproduces a simulation, and two contracts or two assumption sets compared on one simulator see the same
    random numbers (common random numbers), so their difference is the terms', not the sampling's. Member draws
    are kept per population assumption (resample, panel size, churn) and reused.
    """

    def __init__(
        self,
        setups: Sequence[EntitySetup],
        *,
        scenarios: int,
        seed: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        from apmkit.errors import ConfigurationError

        if scenarios < 1:
            raise ConfigurationError("--scenarios: must be at least 1")
        self.setups = list(setups)
        self.scenarios = scenarios
        self.seed = seed
        self.progress = progress
        self._totals: dict[tuple[Any, ...], Totals] = {}

    def totals(self, position: int, assumptions: Assumptions, *, cells: bool, scores: bool) -> Totals:
        a = assumptions
        key = (position, a.resample, a.panel_sd, a.panel_scale, a.churn, cells, scores)
        if key not in self._totals:
            setup = self.setups[position]
            rng = np.random.default_rng([self.seed, position, 0])
            self._totals[key] = draw_totals(
                setup.pool,
                setup.outside,
                self.scenarios,
                assumptions,
                rng,
                cells=cells,
                scores=scores,
                progress=self.progress,
            )
        return self._totals[key]

    def run(self, contract: Contract, assumptions: Assumptions) -> list[EntityOutcome]:
        """Every entity's scenarios settled under ``contract`` (resolved for the period)."""
        assumptions.check()
        check_simulated(contract)
        cells, scores = needs_cells(contract), needs_scores(contract)
        outcomes: list[EntityOutcome] = []
        for position, setup in enumerate(self.setups):
            totals = self.totals(position, assumptions, cells=cells, scores=scores)
            rng = np.random.default_rng([self.seed, position, 1])
            draws = draw_multipliers(self.scenarios, assumptions, rng, setup.fixed.quality_score)
            inputs = scenario_inputs(
                setup.fixed, setup.run, totals, draws, assumptions, risk_score=setup.risk_score
            )
            settled = settle_scenarios(contract, inputs)
            cost = care_management_cost(totals.member_months, assumptions.care_management_pmpm)
            outcomes.append(EntityOutcome(setup, totals, inputs, settled, cost))
        return outcomes


def simulate(
    contract: Contract,
    entities: Sequence[EntitySetup],
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    progress: Callable[[int], None] | None = None,
) -> list[EntityOutcome]:
    """Draw and settle ``scenarios`` scenarios of every entity (``contract`` resolved for the period); see
    :class:`Simulator` for the seeding."""
    return Simulator(entities, scenarios=scenarios, seed=seed, progress=progress).run(contract, assumptions)


def summary_row(outcome: EntityOutcome) -> dict[str, Any]:
    """One entity's distribution summarized (the columns of ``OUT/summary.parquet``)."""
    settled = outcome.settlement
    net, margin = settled.net, outcome.margin
    earned = sum(
        (o.figures["earned_savings"] for o in settled.components.values() if "earned_savings" in o.figures),
        np.zeros(net.shape[0], np.int64),
    )
    owed = sum(
        (o.figures["owed_losses"] for o in settled.components.values() if "owed_losses" in o.figures),
        np.zeros(net.shape[0], np.int64),
    )
    return {
        "entity_id": outcome.entity_id,
        "scenarios": int(net.shape[0]),
        "deterministic_net": outcome.setup.deterministic_net,
        "expected_net": cents_mean(net),
        "p05_net": percentile(net, 5),
        "p50_net": percentile(net, 50),
        "p95_net": percentile(net, 95),
        "prob_owe": share(settled.balance < 0),
        "cvar95": cvar(net, 0.95),
        "prob_clear_msr": None if settled.cleared_msr is None else share(settled.cleared_msr),
        "expected_earned_savings": cents_mean(earned),
        "expected_owed_losses": cents_mean(owed),
        "expected_care_management_cost": cents_mean(outcome.cost),
        "expected_margin": cents_mean(margin),
        "p05_margin": percentile(margin, 5),
        "cvar95_margin": cvar(margin, 0.95),
        "prob_margin_negative": share(margin < 0),
        "expected_population": float(outcome.totals.population.mean()),
    }


def summary_rows(outcomes: Sequence[EntityOutcome]) -> list[dict[str, Any]]:
    return [summary_row(o) for o in outcomes]


def scenario_rows(outcomes: Sequence[EntityOutcome]) -> dict[str, Any]:
    """Every scenario of every entity as columns (Decimal dollars, integer counts)."""
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "entity_id",
            "scenario",
            "population",
            "member_months",
            "benchmark",
            "expenditure",
            "savings",
            "savings_rate",
            "quality_score",
            "cleared_msr",
            "net_settlement",
            "balance_due",
            "care_management_cost",
            "margin",
        )
    }
    for outcome in outcomes:
        size = outcome.totals.size
        settled = outcome.settlement
        inputs = outcome.inputs
        columns["entity_id"] += [outcome.entity_id] * size
        columns["scenario"] += list(range(1, size + 1))
        columns["population"] += outcome.totals.population.tolist()
        columns["member_months"] += outcome.totals.member_months.tolist()
        columns["benchmark"] += [_cents(v) for v in inputs.benchmark.tolist()]
        columns["expenditure"] += [_cents(v) for v in inputs.expenditure.tolist()]
        columns["savings"] += [
            _cents(b - e) for b, e in zip(inputs.benchmark.tolist(), inputs.expenditure.tolist(), strict=True)
        ]
        rates = settled.savings_rate
        if rates is None:
            with_rates = [
                (b - e) / b
                for b, e in zip(inputs.benchmark.tolist(), inputs.expenditure.tolist(), strict=True)
            ]
        else:
            with_rates = rates.tolist()
        columns["savings_rate"] += [float(r) for r in with_rates]
        columns["quality_score"] += (
            [None] * size
            if inputs.quality_score is None
            else [float(q) for q in inputs.quality_score.tolist()]
        )
        columns["cleared_msr"] += (
            [None] * size if settled.cleared_msr is None else [bool(v) for v in settled.cleared_msr.tolist()]
        )
        columns["net_settlement"] += [Decimal(int(v)).scaleb(-2) for v in settled.net.tolist()]
        columns["balance_due"] += [Decimal(int(v)).scaleb(-2) for v in settled.balance.tolist()]
        columns["care_management_cost"] += [Decimal(int(v)).scaleb(-2) for v in outcome.cost.tolist()]
        columns["margin"] += [Decimal(int(v)).scaleb(-2) for v in outcome.margin.tolist()]
    return columns


def _cents(value: Decimal) -> Decimal:
    from decimal import ROUND_HALF_UP

    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


__all__ = [
    "EntityOutcome",
    "EntitySetup",
    "Simulator",
    "needs_cells",
    "needs_scores",
    "scenario_rows",
    "simulate",
    "summary_row",
    "summary_rows",
]
