"""``apmkit simulate``: the contract run once, then its settlement drawn over scenarios (application job).

:func:`prepare` runs the contract through :class:`~apmkit.workspace.Workspace` (one contract, one run) into a
temporary folder and turns what it measured into the simulation's inputs: each settled entity's inputs, its
performance-period member rows (``member_detail``), the members it does not hold (for attribution churn) and the
run's statement. :func:`run_simulation` draws and settles the scenarios (:mod:`apmkit.simulation`, numpy) and
writes the outputs, staged so OUT is replaced whole or not at all.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine, check_output, staged_output
from apmkit.errors import ConfigurationError
from apmkit.money import decimal_to_cents
from apmkit.settlement import claims as claims_path
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.statement import Settlement
from apmkit.simulation import charts
from apmkit.simulation.contract import EntityOutcome, EntitySetup, scenario_rows, simulate, summary_rows
from apmkit.simulation.model import Assumptions, MemberPool, RunFigures
from apmkit.simulation.stats import histogram
from apmkit.workspace.run import Overrides, Workspace, read_contract

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the CLI's progress bar."""

MONEY = pa.decimal128(18, 2)

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
    "savings_rate": pa.float64(),
    "quality_score": pa.float64(),
    "cleared_msr": pa.bool_(),
    "net_settlement": MONEY,
    "balance_due": MONEY,
    "care_management_cost": MONEY,
    "margin": MONEY,
}


@dataclass
class Prepared:
    """The run's settlement and each settled entity's simulation inputs."""

    contract: Contract
    """The contract resolved for the period (glide path applied)."""
    period: str
    settlement: Settlement
    setups: list[EntitySetup]
    notes: list[str] = field(default_factory=list)


@dataclass
class SimulationResult:
    """What a simulation produced."""

    prepared: Prepared
    outcomes: list[EntityOutcome]
    summary: list[dict[str, Any]]
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def _cents(values: list[Any]) -> np.ndarray:
    return np.asarray([0 if v is None else decimal_to_cents(Decimal(v)) for v in values], dtype=np.int64)


def _member_pool(rows: pa.Table) -> MemberPool:
    scores = _column(rows, "risk_score")
    return MemberPool.from_columns(
        months=np.asarray(_column(rows, "member_months"), dtype=np.int64),
        truncated_cents=_cents(_column(rows, "truncated_expenditure")),
        excess_cents=_cents(_column(rows, "stop_loss_excess")),
        score_micro=np.asarray(
            [0 if s is None else int((Decimal(s) * 1_000_000).to_integral_value()) for s in scores], np.int64
        ),
        scored=np.asarray([s is not None for s in scores], dtype=bool),
        cell=[None if c is None else str(c) for c in _column(rows, "cell")],
    )


def prepare(
    workspace: Workspace,
    contract: Contract | str | Path,
    period: str,
    *,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    progress: Callable[[str], None] | None = None,
) -> Prepared:
    """Run the contract once (into a temporary folder) and build every settled entity's simulation inputs.

    Raises
    ------
    ApmkitError
        As :meth:`Workspace.run`; or a component of the contract is not simulated.
    """
    from apmkit.simulation.terms import check_simulated

    document = read_contract(contract)
    try:
        resolved, _ = document.for_period(period)
    except KeyError:
        raise ConfigurationError(
            f"period {period!r} is neither a period of contract {document.id} "
            f"({', '.join(document.periods) or 'none named'}) nor a calendar year (1900-2199)"
        ) from None
    check_simulated(resolved)
    engine = workspace.engine
    with tempfile.TemporaryDirectory(prefix="apmkit-simulate-") as work:
        result = workspace.run(
            document,
            period,
            out=Path(work) / "run",
            inputs=inputs,
            formats=(),
            progress=progress,
            overrides=overrides,
        )
        detail = engine.to_arrow(engine.read_parquet(Path(work) / "run" / "member_detail.parquet"))
        years = engine.to_arrow(engine.read_parquet(Path(work) / "run" / "member_years.parquet"))
    spec = claims_path.ClaimsMeasureSpec.from_contract(resolved, period)
    settled = {s.entity_id: s for s in result.settlement.statements}
    entities: dict[str, EntityInputs] = {e.entity_id: e for e in result.entities if e.entity_id in settled}
    notes: list[str] = []
    refused = len(result.entities) - len(entities)
    if refused:
        notes.append(f"{refused} entities were not settled by the run and are not simulated")
    entity_ids = detail.column("entity_id").to_numpy(zero_copy_only=False).astype(str)
    outside_rows = _unattributed(years, detail, spec)
    benchmark = resolved.benchmark
    risk_adjusted = bool(
        benchmark is not None
        and (
            (
                benchmark.method == "general"
                and benchmark.general is not None
                and benchmark.general.risk_adjust
            )
            or (benchmark.method == "mssp" and resolved.risk_adjustment is not None)
        )
    )
    setups: list[EntitySetup] = []
    for entity_id, entity in entities.items():
        mine = entity_ids == entity_id
        pool = _member_pool(detail.filter(pa.array(mine)))
        others = detail.filter(pa.array(~mine))
        outside = _member_pool(others) if others.num_rows else None
        if outside_rows is not None:
            outside = outside_rows if outside is None else outside.concat(outside_rows)
        if entity.benchmark is None or entity.expenditure is None or not entity.member_months:
            raise ConfigurationError(
                f"entity {entity_id}: the run gave no benchmark, expenditure or member months"
            )
        run = RunFigures(
            benchmark=entity.benchmark,
            expenditure=entity.expenditure,
            member_months=int(entity.member_months),
            truncated_cents=int(pool.truncated_cents.sum()),
            completion_factor=resolved.definitions.completion_factor,
            benchmark_risk_adjusted=risk_adjusted,
        )
        setups.append(
            EntitySetup(
                fixed=entity,
                pool=pool,
                run=run,
                risk_score=entity.risk_score,
                deterministic_net=settled[entity_id].net_settlement,
                outside=outside,
            )
        )
    if outside_rows is None and len(setups) == 1:
        notes.append("attribution churn draws from the entity's own members: the data hold no other members")
    return Prepared(resolved, period, result.settlement, setups, notes)


def _unattributed(
    years: pa.Table, detail: pa.Table, spec: claims_path.ClaimsMeasureSpec
) -> MemberPool | None:
    """Performance-period member-years of members no entity holds (unscored; stop-loss excess from the
    attachment point on their whole cost, carve-outs not known for them)."""
    held = set(detail.column("member_id").to_pylist())
    year = spec.year
    mask = [
        y == year and m not in held
        for y, m in zip(_column(years, "year"), _column(years, "member_id"), strict=True)
    ]
    rows = years.filter(pa.array(mask))
    if not rows.num_rows:
        return None
    cost = np.asarray([int(v or 0) for v in _column(rows, "cost_cents")], np.int64)
    attachment = spec.stop_loss_attachment
    excess = (
        np.maximum(cost - decimal_to_cents(attachment), 0) if attachment is not None else np.zeros_like(cost)
    )
    return MemberPool.from_columns(
        months=np.asarray(_column(rows, "member_months"), np.int64),
        truncated_cents=np.asarray([int(v or 0) for v in _column(rows, "truncated_cents")], np.int64),
        excess_cents=excess,
    )


def run_simulation(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions | None = None,
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run the contract once and simulate ``scenarios`` scenarios of its settlement (seeded).

    Writes to ``out`` (staged: replaced whole on success): ``summary.parquet`` (one row per entity),
    ``scenarios.parquet`` (every scenario), ``distribution.parquet`` (histogram bins), ``charts/*.vl.json``
    (Vega-Lite) and ``simulation.json`` (assumptions, seed, notes).
    """
    chosen = assumptions or Assumptions()
    chosen.check()
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _stage, _done, _total: None)
    with Workspace(data, engine=engine) as workspace:
        prepared = prepare(
            workspace,
            contract,
            period,
            inputs=inputs,
            overrides=overrides,
            progress=lambda stage: tell(f"run: {stage}", 0, scenarios),
        )
        total = scenarios * len(prepared.setups)
        done = [0]

        def advance(count: int) -> None:
            done[0] += count
            tell("scenarios", done[0], total)

        outcomes = simulate(
            prepared.contract,
            prepared.setups,
            scenarios=scenarios,
            seed=seed,
            assumptions=chosen,
            progress=advance,
        )
        summary = summary_rows(outcomes)
        files: dict[str, Path] = {}
        if out is not None:
            tell("writing", total, total)
            files = write_outputs(
                workspace.engine,
                Path(out),
                prepared,
                outcomes,
                summary,
                chosen,
                scenarios=scenarios,
                seed=seed,
            )
    return SimulationResult(prepared, outcomes, summary, None if out is None else Path(out), files)


def arrow_table(
    rows: Sequence[dict[str, Any]] | dict[str, list[Any]], schema: dict[str, pa.DataType]
) -> pa.Table:
    """Rows (or columns) as an Arrow table with the given column types."""
    columns = rows if isinstance(rows, dict) else {name: [row.get(name) for row in rows] for name in schema}
    return pa.table({name: pa.array(columns[name], type=kind) for name, kind in schema.items()})


def settings(prepared: Prepared, assumptions: Assumptions, *, scenarios: int, seed: int) -> dict[str, Any]:
    """What ``simulation.json`` records: contract, period, scenarios, seed, assumptions, notes."""
    values = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in assumptions.__dict__.items()}
    return {
        "contract_id": prepared.contract.id,
        "contract_version": prepared.contract.version,
        "period": prepared.period,
        "scenarios": scenarios,
        "seed": seed,
        "assumptions": values,
        "run_total_net": str(prepared.settlement.total_net),
        "notes": prepared.notes,
    }


def write_outputs(
    engine: Engine,
    out: Path,
    prepared: Prepared,
    outcomes: list[EntityOutcome],
    summary: list[dict[str, Any]],
    assumptions: Assumptions,
    *,
    scenarios: int,
    seed: int,
) -> dict[str, Path]:
    """The simulation's files, staged into ``out``."""
    bins: list[dict[str, Any]] = []
    for outcome in outcomes:
        for row in histogram(outcome.settlement.net):
            bins.append({"entity_id": outcome.entity_id, **row})
    distribution = arrow_table(
        bins,
        {
            "entity_id": pa.string(),
            "bin_start": MONEY,
            "bin_end": MONEY,
            "scenarios": pa.int64(),
            "share": pa.float64(),
        },
    )
    title = f"{prepared.contract.id}, period {prepared.period}, {scenarios:,} scenarios (seed {seed})"
    files: dict[str, Path] = {}
    with staged_output(out) as staging:
        for name, table in (
            ("summary", arrow_table(summary, SUMMARY_COLUMNS)),
            ("scenarios", arrow_table(scenario_rows(outcomes), SCENARIO_COLUMNS)),
            ("distribution", distribution),
        ):
            files[name] = engine.write_parquet(engine.from_arrow(table), staging / f"{name}.parquet")
        (staging / "charts").mkdir()
        for name, spec in (
            ("net_distribution", charts.distribution_chart(bins, f"Net settlement: {title}")),
            ("summary", charts.summary_chart(summary, f"Expected net and downside: {title}")),
        ):
            path = staging / "charts" / f"{name}.vl.json"
            path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
            files[f"charts/{name}"] = path
        path = staging / "simulation.json"
        path.write_text(
            json.dumps(settings(prepared, assumptions, scenarios=scenarios, seed=seed), indent=2),
            encoding="utf-8",
        )
        files["simulation.json"] = path
        written = {name: out / path.relative_to(staging) for name, path in files.items()}
    return written


__all__ = [
    "SCENARIO_COLUMNS",
    "SUMMARY_COLUMNS",
    "Prepared",
    "SimulationResult",
    "arrow_table",
    "prepare",
    "run_simulation",
    "settings",
    "write_outputs",
]
