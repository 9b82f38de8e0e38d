"""``apmkit simulate``: the contract run once, then its settlement drawn over scenarios (application jobs).

Every job takes a :class:`SimulationRequest` (data, contract, period, scenarios, seed, assumptions, the run's
inputs), opens the data (:func:`~.job.open_job`), runs the contract once (:func:`~.preparation.prepare`) and stages
its outputs into OUT (:func:`~.job.write_tables`): :func:`run_simulation` (the distribution per entity),
:func:`run_sensitivity`, :func:`run_compare`, :func:`run_roi`, :func:`run_cashflow` and :func:`run_msr`.
"""

from apmkit.workspace.simulate.analyses import AnalysisResult, run_cashflow, run_msr, run_roi, run_sensitivity
from apmkit.workspace.simulate.compare import run_compare
from apmkit.workspace.simulate.distribution import (
    SCENARIO_COLUMNS,
    SUMMARY_COLUMNS,
    SimulationResult,
    run_simulation,
)
from apmkit.workspace.simulate.job import JobResult, Progress, SimulationRequest
from apmkit.workspace.simulate.preparation import Prepared, prepare

__all__ = [
    "SCENARIO_COLUMNS",
    "SUMMARY_COLUMNS",
    "AnalysisResult",
    "JobResult",
    "Prepared",
    "Progress",
    "SimulationRequest",
    "SimulationResult",
    "prepare",
    "run_cashflow",
    "run_compare",
    "run_msr",
    "run_roi",
    "run_sensitivity",
    "run_simulation",
]
