"""``apmkit simulate``: the contract run once, then its settlement drawn over scenarios (application job).

:func:`run_simulation` prepares the run (:mod:`.preparation`), draws and settles the scenarios
(:mod:`apmkit.simulation`, numpy) and writes the outputs, staged so OUT is replaced whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from apmkit.engines import Engine
from apmkit.simulation import charts
from apmkit.simulation.contract import EntityOutcome, scenario_rows, simulate, summary_rows
from apmkit.simulation.stats import histogram
from apmkit.workspace.simulate.job import (
    MONEY,
    Progress,
    SimulationRequest,
    assumption_values,
    open_job,
    write_tables,
)
from apmkit.workspace.simulate.preparation import Prepared

SUMMARY_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "scenarios": pa.int64(),
    "deterministic_net": MONEY,
    "expected_net": MONEY,
    "p05_net": MONEY,
    "p50_net": MONEY,
    "p95_net": MONEY,
    "prob_owe": pa.float64(),
    "cvar95": MONEY,
    "prob_clear_msr": pa.float64(),
    "expected_earned_savings": MONEY,
    "expected_owed_losses": MONEY,
    "expected_care_management_cost": MONEY,
    "expected_margin": MONEY,
    "p05_margin": MONEY,
    "cvar95_margin": MONEY,
    "prob_margin_negative": pa.float64(),
    "expected_population": pa.float64(),
}
"""``OUT/summary.parquet``: one row per entity."""

SCENARIO_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "scenario": pa.int64(),
    "population": pa.int64(),
    "member_months": pa.int64(),
    "benchmark": MONEY,
    "expenditure": MONEY,
    "savings": MONEY,
    "savings_rate": pa.float64(),
    "quality_score": pa.float64(),
    "cleared_msr": pa.bool_(),
    "net_settlement": MONEY,
    "balance_due": MONEY,
    "care_management_cost": MONEY,
    "margin": MONEY,
}
DISTRIBUTION_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "bin_start": MONEY,
    "bin_end": MONEY,
    "scenarios": pa.int64(),
    "share": pa.float64(),
}


@dataclass
class SimulationResult:
    """What a simulation produced."""

    prepared: Prepared
    outcomes: list[EntityOutcome]
    summary: list[dict[str, Any]]
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)


def settings(prepared: Prepared, request: SimulationRequest) -> dict[str, Any]:
    """What ``simulation.json`` records: contract, period, scenarios, seed, assumptions, notes."""
    return {
        "contract_id": prepared.contract.id,
        "contract_version": prepared.contract.version,
        "period": prepared.period,
        "scenarios": request.scenarios,
        "seed": request.seed,
        "assumptions": assumption_values(request.assumptions),
        "run_total_net": str(prepared.settlement.total_net),
        "notes": prepared.notes,
    }


def run_simulation(
    request: SimulationRequest,
    *,
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run the contract once and simulate ``request.scenarios`` scenarios of its settlement (seeded).

    Writes to ``out`` (staged: replaced whole on success): ``summary.parquet`` (one row per entity),
    ``scenarios.parquet`` (every scenario), ``distribution.parquet`` (histogram bins), ``charts/*.vl.json``
    (Vega-Lite) and ``simulation.json`` (assumptions, seed, notes).
    """
    with open_job(request, out, engine, progress) as job:
        prepared = job.prepare(total=request.scenarios)
        total = request.scenarios * len(prepared.setups)
        done = [0]

        def advance(count: int) -> None:
            done[0] += count
            job.tell("scenarios", done[0], total)

        outcomes = simulate(
            prepared.contract,
            prepared.setups,
            scenarios=request.scenarios,
            seed=request.seed,
            assumptions=request.assumptions,
            progress=advance,
        )
        summary = summary_rows(outcomes)
        files: dict[str, Path] = {}
        if job.out is not None:
            job.tell("writing", total, total)
            files = write_outputs(job.workspace.engine, job.out, prepared, outcomes, summary, request)
    return SimulationResult(prepared, outcomes, summary, job.out, files)


def write_outputs(
    engine: Engine,
    out: Path,
    prepared: Prepared,
    outcomes: list[EntityOutcome],
    summary: list[dict[str, Any]],
    request: SimulationRequest,
) -> dict[str, Path]:
    """The simulation's files, staged into ``out``."""
    bins = [
        {"entity_id": outcome.entity_id, **row}
        for outcome in outcomes
        for row in histogram(outcome.settlement.net)
    ]
    scenarios, seed = request.scenarios, request.seed
    title = f"{prepared.contract.id}, period {prepared.period}, {scenarios:,} scenarios (seed {seed})"
    return write_tables(
        engine,
        out,
        {
            "summary": (summary, SUMMARY_COLUMNS),
            "scenarios": (scenario_rows(outcomes), SCENARIO_COLUMNS),
            "distribution": (bins, DISTRIBUTION_COLUMNS),
        },
        {
            "net_distribution": charts.distribution_chart(bins, f"Net settlement: {title}"),
            "summary": charts.summary_chart(summary, f"Expected net and downside: {title}"),
        },
        settings(prepared, request),
    )


__all__ = [
    "SCENARIO_COLUMNS",
    "SUMMARY_COLUMNS",
    "SimulationResult",
    "run_simulation",
    "settings",
    "write_outputs",
]
