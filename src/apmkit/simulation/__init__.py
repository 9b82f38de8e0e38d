"""Contract simulation: Monte Carlo of a contract's settlement over scenarios of its population (numpy).

The package is pure computation on arrays: the application layer (:mod:`apmkit.workspace.simulate`) runs the
contract once, hands the run's per-entity inputs and member rows here, and writes what comes back. See
docs/simulation.md.
"""

from apmkit.simulation.contract import (
    EntityOutcome,
    EntitySetup,
    Simulator,
    scenario_rows,
    simulate,
    summary_row,
    summary_rows,
)
from apmkit.simulation.model import Assumptions, MemberPool, RunFigures
from apmkit.simulation.terms import SIMULATED_TYPES, ScenarioInputs, settle_scenarios

__all__ = [
    "SIMULATED_TYPES",
    "Assumptions",
    "EntityOutcome",
    "EntitySetup",
    "MemberPool",
    "RunFigures",
    "ScenarioInputs",
    "Simulator",
    "scenario_rows",
    "settle_scenarios",
    "simulate",
    "summary_row",
    "summary_rows",
]
