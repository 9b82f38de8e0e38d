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

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apmkit.contracts import Contract
from apmkit.engines import Engine, check_output, staged_output
from apmkit.errors import ConfigurationError
from apmkit.money import decimal_to_cents, to_cents
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
    "savings": MONEY,
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


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    """An integer column as numpy (nulls as 0)."""
    return np.asarray(pc.fill_null(table.column(name), 0).to_numpy(), dtype=np.int64)


def _member_pool(rows: pa.Table) -> MemberPool:
    """A pool from the member columns :func:`_member_columns` selected (integer cents and millionths)."""
    encoded = pc.dictionary_encode(rows.column("cell")).combine_chunks()
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
    return MemberPool.from_columns(
        months=_numbers(rows, "member_months"),
        truncated_cents=_numbers(rows, "truncated_cents"),
        excess_cents=_numbers(rows, "excess_cents"),
        score_micro=_numbers(rows, "score_micro"),
        scored=np.asarray(rows.column("scored").to_numpy(zero_copy_only=False), dtype=bool),
        cell_codes=codes,
        cells=tuple(str(name) for name in encoded.dictionary.to_pylist()),
    )


def _member_columns(detail: ir.Table) -> ir.Table:
    """``member_detail`` as the simulation reads it: cents, score in millionths, scored flag, cell text."""
    score = detail.risk_score.cast("decimal(38, 6)")
    return detail.select(
        entity_id=detail.entity_id.cast("string"),
        member_id=detail.member_id.cast("string"),
        member_months=detail.member_months.cast("int64"),
        truncated_cents=to_cents(detail.truncated_expenditure),
        excess_cents=to_cents(detail.stop_loss_excess),
        score_micro=(score * 1_000_000).cast("int64").fill_null(0),
        scored=detail.risk_score.notnull(),
        cell=detail.cell.cast("string"),
    )


def _resolve(document: Contract, period: str) -> Contract:
    """The contract with its glide path applied for ``period`` (an unknown period is an error naming it)."""
    try:
        resolved, _ = document.for_period(period)
    except KeyError:
        raise ConfigurationError(
            f"period {period!r} is neither a period of contract {document.id} "
            f"({', '.join(document.periods) or 'none named'}) nor a calendar year (1900-2199)"
        ) from None
    return resolved


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
    resolved = _resolve(document, period)
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
        spec = claims_path.ClaimsMeasureSpec.from_contract(resolved, period)
        detail_table = engine.read_parquet(Path(work) / "run" / "member_detail.parquet")
        detail = engine.to_arrow(_member_columns(detail_table))
        years = engine.read_parquet(Path(work) / "run" / "member_years.parquet")
        performance = years.filter(years.year == spec.year)
        outside = performance.anti_join(detail_table.select("member_id"), "member_id").select(
            member_id=performance.member_id.cast("string"),
            member_months=performance.member_months.cast("int64"),
            truncated_cents=performance.truncated_cents.cast("int64"),
            cost_cents=performance.cost_cents.cast("int64"),
        )
        scores_file = Path(work) / "run" / "risk_scores.parquet"
        if scores_file.exists():
            scores = engine.read_parquet(scores_file)
            per_member = scores.group_by(member_id=scores.member_id.cast("string")).aggregate(
                score=scores.score.cast("decimal(38, 6)").max()
            )
            outside = outside.left_join(per_member, "member_id").select(
                "member_months",
                "truncated_cents",
                "cost_cents",
                score_micro=(ibis._.score * 1_000_000).cast("int64"),
            )
        unattributed = engine.to_arrow(outside)
    settled = {s.entity_id: s for s in result.settlement.statements}
    entities: dict[str, EntityInputs] = {e.entity_id: e for e in result.entities if e.entity_id in settled}
    notes: list[str] = []
    refused = len(result.entities) - len(entities)
    if refused:
        notes.append(f"{refused} entities were not settled by the run and are not simulated")
    outside_rows = _unattributed(unattributed, spec, resolved)
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
        mine = pc.fill_null(pc.equal(detail.column("entity_id"), entity_id), False)
        pool = _member_pool(detail.filter(mine))
        others = detail.filter(pc.invert(mine))
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
        notes.append(
            "attribution churn, if chosen, draws from the entity's own members: the data hold no other members"
        )
    return Prepared(resolved, period, result.settlement, setups, notes)


def _unattributed(
    rows: pa.Table, spec: claims_path.ClaimsMeasureSpec, contract: Contract
) -> MemberPool | None:
    """Performance-period member-years of members no entity holds: their risk score when the run scored them and
    their cell from the contract's risk tiers (highest tier reached; none without a score, as on the claims path);
    stop-loss excess from the attachment point on their whole cost (carve-outs are not known for them)."""
    if not rows.num_rows:
        return None
    cost = _numbers(rows, "cost_cents")
    attachment = spec.stop_loss_attachment
    excess = (
        np.maximum(cost - decimal_to_cents(attachment), 0) if attachment is not None else np.zeros_like(cost)
    )
    scored = np.zeros(rows.num_rows, bool)
    score = np.zeros(rows.num_rows, np.int64)
    if "score_micro" in rows.column_names:
        scored = np.asarray(
            pc.is_valid(rows.column("score_micro")).to_numpy(zero_copy_only=False), dtype=bool
        )
        score = _numbers(rows, "score_micro")
    tiers = sorted(contract.target.risk_tiers, key=lambda tier: tier.min_score)
    names = tuple(sorted({tier.cell for tier in tiers}))
    codes = np.full(rows.num_rows, -1, np.int64)
    for tier in tiers:  # later, higher tiers overwrite (a handful of tiers, whole arrays)
        reached = scored & (score >= decimal_to_cents(tier.min_score * 10_000))
        codes = np.where(reached, names.index(tier.cell), codes)
    return MemberPool.from_columns(
        months=_numbers(rows, "member_months"),
        truncated_cents=_numbers(rows, "truncated_cents"),
        excess_cents=excess,
        score_micro=score,
        scored=scored,
        cell_codes=codes,
        cells=names,
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


# ---- analytics: sensitivity, comparison, break-even and ROI, cash flow ----------------------------------------

_NOT_POPULATION = {
    "id",
    "name",
    "version",
    "components",
    "glide_path",
    "unverified",
    "sources",
    "hcp_lan_category",
    "payer",
    "program",
    "line_of_business",
    "entity_type",
    "rounding",
}
"""Contract fields that do not change who is measured or how (two contracts equal elsewhere share one run)."""


def _write_tables(
    engine: Engine,
    out: Path,
    tables: dict[str, tuple[Sequence[dict[str, Any]], dict[str, pa.DataType]]],
    specs: dict[str, dict[str, Any]],
    record: dict[str, Any],
) -> dict[str, Path]:
    """Parquet tables, Vega-Lite specs and ``simulation.json``, staged into ``out``."""
    files: dict[str, Path] = {}
    with staged_output(out) as staging:
        for name, (rows, schema) in tables.items():
            files[name] = engine.write_parquet(
                engine.from_arrow(arrow_table(rows, schema)), staging / f"{name}.parquet"
            )
        if specs:
            (staging / "charts").mkdir()
        for name, spec in specs.items():
            path = staging / "charts" / f"{name}.vl.json"
            path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
            files[f"charts/{name}"] = path
        path = staging / "simulation.json"
        path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        files["simulation.json"] = path
        written = {name: out / p.relative_to(staging) for name, p in files.items()}
    return written


@dataclass
class AnalysisResult:
    """Rows of an analysis (per table name) and the files written."""

    tables: dict[str, list[dict[str, Any]]]
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _simulator(prepared: Prepared, scenarios: int, seed: int, progress: Progress | None) -> Any:
    from apmkit.simulation.contract import Simulator

    total = scenarios * len(prepared.setups)
    done = [0]

    def advance(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress("drawing scenarios", min(done[0], total), total)

    return Simulator(prepared.setups, scenarios=scenarios, seed=seed, progress=advance)


SENSITIVITY_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "parameter": pa.string(),
    "low_value": pa.string(),
    "high_value": pa.string(),
    "base_expected_net": MONEY,
    "expected_net_low": MONEY,
    "expected_net_high": MONEY,
    "swing": MONEY,
    "cvar95_low": MONEY,
    "cvar95_high": MONEY,
}


def run_sensitivity(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    variations: Sequence[str] = (),
    named: Sequence[str] = (),
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Tornado: the expected net at each variation's low and high value (``--vary``; default: trend, utilization,
    coding intensity, panel size, churn, quality and each shared-savings component's main terms), and named
    assumption sets side by side (``NAME:ASSUMPTION=VALUE,...``; the base assumptions first, as ``base``)."""
    from apmkit.simulation.analysis import (
        Variation,
        default_variations,
        named_scenarios,
        parse_named,
        tornado,
    )

    assumptions.check()
    sets = [parse_named(text, assumptions) for text in named]
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _s, _d, _t: None)
    with Workspace(data, engine=engine) as workspace:
        prepared = prepare(
            workspace,
            contract,
            period,
            inputs=inputs,
            overrides=overrides,
            progress=lambda stage: tell(f"run: {stage}", 0, 0),
        )
        quality = prepared.setups[0].fixed.quality_score if prepared.setups else None
        chosen = [Variation.parse(v) for v in variations] or default_variations(
            prepared.contract, assumptions, quality
        )
        simulator = _simulator(prepared, scenarios, seed, progress)
        rows = tornado(
            simulator,
            prepared.contract,
            assumptions,
            chosen,
            progress=lambda label: tell(f"varying {label}", 0, 0),
        )
        side_by_side = (
            named_scenarios(simulator, prepared.contract, [("base", assumptions), *sets]) if sets else []
        )
        files: dict[str, Path] = {}
        if out is not None:
            title = f"{prepared.contract.id}, period {period}: expected net settlement, low to high"
            everyone = [r for r in rows if r["entity_id"] == (rows[-1]["entity_id"] if rows else "")]
            from apmkit.simulation.analysis import ALL

            shown = [r for r in rows if r["entity_id"] == ALL] or everyone
            files = _write_tables(
                workspace.engine,
                Path(out),
                {"sensitivity": (rows, SENSITIVITY_COLUMNS)}
                | ({"named_scenarios": (side_by_side, NAMED_COLUMNS)} if side_by_side else {}),
                {"tornado": charts.tornado_chart(shown, title)},
                {
                    **settings(prepared, assumptions, scenarios=scenarios, seed=seed),
                    "variations": [v.__dict__ for v in chosen],
                    "named": list(named),
                },
            )
    return AnalysisResult(
        {"sensitivity": rows, "named_scenarios": side_by_side},
        None if out is None else Path(out),
        files,
        prepared.notes,
    )


NAMED_COLUMNS: dict[str, pa.DataType] = {
    "scenario": pa.string(),
    "entity_id": pa.string(),
    "expected_net": MONEY,
    "p05_net": MONEY,
    "p95_net": MONEY,
    "cvar95": MONEY,
    "prob_negative": pa.float64(),
}

COMPARE_COLUMNS: dict[str, pa.DataType] = {
    "contract": pa.string(),
    "entity_id": pa.string(),
    "expected_net": MONEY,
    "p05_net": MONEY,
    "p95_net": MONEY,
    "cvar95": MONEY,
    "prob_negative": pa.float64(),
    "on_frontier": pa.bool_(),
}
APPETITE_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "risk_weight": pa.float64(),
    "best_contract": pa.string(),
    "score": MONEY,
}


def _contract_at(given: str | Path, period: str) -> tuple[Contract, str]:
    """A contract file, or ``FILE@PERIOD``: the file's terms as its glide path sets them for PERIOD (a later or
    earlier step), settled on ``period``'s population. Returns the contract and its label."""
    text = str(given)
    path, at, step = text.rpartition("@")
    if not at or not path:
        document = read_contract(Path(text))
        return document, document.id
    document = read_contract(Path(path))
    stepped = _resolve(document, step)
    current = _resolve(document, period)
    # the glide path is applied: the step's components replace the period's, everything else is the period's
    changed = current.model_copy(update={"components": stepped.components, "glide_path": []})
    return changed, f"{document.id}@{step}"


def _population_key(contract: Contract) -> str:
    return json.dumps(contract.model_dump(mode="json", exclude=_NOT_POPULATION), sort_keys=True)


def run_compare(
    data: str | Path,
    contracts: Sequence[str | Path],
    period: str,
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Contracts compared on the same population and the same random numbers: distribution of the net per
    contract and entity, the expected-value / CVaR frontier, the best contract at each risk weight.

    Contracts whose population sections (definitions, attribution, risk adjustment, benchmark, quality, target)
    are equal share one run and one simulator; a contract that measures differently gets its own run, with the
    same seed.
    """
    from apmkit.simulation.analysis import compare, frontier

    if len(contracts) < 2:
        raise ConfigurationError("simulate compare: give at least two contract files")
    assumptions.check()
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _s, _d, _t: None)
    rows: list[dict[str, Any]] = []
    appetite_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    named: list[tuple[str, Contract]] = []
    seen: set[str] = set()
    for given in contracts:
        document, label = _contract_at(given, period)
        name = label if label not in seen else f"{label} ({Path(str(given)).name})"
        seen.add(name)
        named.append((name, document))
    with Workspace(data, engine=engine) as workspace:
        groups: dict[str, list[tuple[str, Contract]]] = {}
        for name, document in named:
            groups.setdefault(_population_key(_resolve(document, period)), []).append((name, document))
        if len(groups) > 1:
            notes.append(
                f"the contracts measure the population differently ({len(groups)} runs): their rows compare terms and "
                "measurement together"
            )
        all_rows: list[dict[str, Any]] = []
        simulators: list[tuple[Any, list[tuple[str, Contract]]]] = []
        for members in groups.values():
            prepared = prepare(
                workspace,
                members[0][1],
                period,
                inputs=inputs,
                overrides=overrides,
                progress=lambda stage: tell(f"run: {stage}", 0, 0),
            )
            notes.extend(prepared.notes)
            simulator = _simulator(prepared, scenarios, seed, progress)
            simulators.append((simulator, [(name, _resolve(doc, period)) for name, doc in members]))
        for simulator, alternatives in simulators:
            all_rows.extend(compare(simulator, alternatives, assumptions))
        rows = all_rows
        appetite_rows = frontier(rows)  # over every contract together
        files: dict[str, Path] = {}
        if out is not None:
            from apmkit.simulation.analysis import ALL

            shown = [r for r in rows if r["entity_id"] == ALL] or rows
            files = _write_tables(
                workspace.engine,
                Path(out),
                {"compare": (rows, COMPARE_COLUMNS), "appetite": (appetite_rows, APPETITE_COLUMNS)},
                {"frontier": charts.frontier_chart(shown, f"Contracts compared, period {period}")},
                {
                    "contracts": [n for n, _ in named],
                    "period": period,
                    "scenarios": scenarios,
                    "seed": seed,
                    "assumptions": {k: str(v) for k, v in assumptions.__dict__.items()},
                    "notes": notes,
                },
            )
    return AnalysisResult(
        {"compare": rows, "appetite": appetite_rows}, None if out is None else Path(out), files, notes
    )


BREAK_EVEN_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "break_even_reduction": pa.float64(),
    "note": pa.string(),
}
INITIATIVE_COLUMNS: dict[str, pa.DataType] = {
    "initiative": pa.string(),
    "entity_id": pa.string(),
    "spending_reduction": pa.float64(),
    "cost_pmpm": pa.decimal128(18, 6),
    "expected_net_without": MONEY,
    "expected_net_with": MONEY,
    "expected_cost": MONEY,
    "expected_gain_after_cost": MONEY,
    "roi": pa.float64(),
    "prob_gain": pa.float64(),
}
CASHFLOW_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "month": pa.date32(),
    "item": pa.string(),
    "expected": MONEY,
    "p05": MONEY,
    "p95": MONEY,
}


def run_roi(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    initiatives: Sequence[str] = (),
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Break-even spending reduction after the care-management cost (``care_management_pmpm``) per entity, and
    the expected gain and ROI of each named initiative (``NAME:SPENDING_REDUCTION:COST_PMPM``)."""
    from apmkit.simulation.analysis import Initiative, break_even, initiative_roi

    assumptions.check()
    parsed = [Initiative.parse(text) for text in initiatives]
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _s, _d, _t: None)
    with Workspace(data, engine=engine) as workspace:
        prepared = prepare(
            workspace,
            contract,
            period,
            inputs=inputs,
            overrides=overrides,
            progress=lambda stage: tell(f"run: {stage}", 0, 0),
        )
        simulator = _simulator(prepared, scenarios, seed, progress)
        tell("break-even", 0, 0)
        even = break_even(simulator, prepared.contract, assumptions)
        tell("initiatives", 0, 0)
        roi = initiative_roi(simulator, prepared.contract, assumptions, parsed)
        files: dict[str, Path] = {}
        if out is not None:
            files = _write_tables(
                workspace.engine,
                Path(out),
                {"break_even": (even, BREAK_EVEN_COLUMNS), "initiatives": (roi, INITIATIVE_COLUMNS)},
                {},
                {
                    **settings(prepared, assumptions, scenarios=scenarios, seed=seed),
                    "initiatives": list(initiatives),
                },
            )
    return AnalysisResult(
        {"break_even": even, "initiatives": roi}, None if out is None else Path(out), files, prepared.notes
    )


def run_cashflow(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    settlement_lag_months: int,
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Monthly receipts and payments under the contract per entity (expected, 5th and 95th percentile), with the
    settlement ``settlement_lag_months`` after the period's last month."""
    from apmkit.simulation.analysis import cash_flow

    assumptions.check()
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _s, _d, _t: None)
    with Workspace(data, engine=engine) as workspace:
        prepared = prepare(
            workspace,
            contract,
            period,
            inputs=inputs,
            overrides=overrides,
            progress=lambda stage: tell(f"run: {stage}", 0, 0),
        )
        simulator = _simulator(prepared, scenarios, seed, progress)
        outcomes = simulator.run(prepared.contract, assumptions)
        start = prepared.contract.period(period).start
        rows = cash_flow(prepared.contract, start, outcomes, settlement_lag_months=settlement_lag_months)
        files: dict[str, Path] = {}
        if out is not None:
            position = [r for r in rows if r["item"] == "cumulative cash position"]
            files = _write_tables(
                workspace.engine,
                Path(out),
                {"cashflow": (rows, CASHFLOW_COLUMNS)},
                {
                    "cash_position": charts.line_chart(
                        [
                            {
                                "month": r["month"].isoformat(),
                                "expected": r["expected"],
                                "entity_id": r["entity_id"],
                            }
                            for r in position
                        ],
                        "month",
                        "expected",
                        "entity_id",
                        f"Expected cumulative cash position under {prepared.contract.id} ($)",
                    )
                },
                {
                    **settings(prepared, assumptions, scenarios=scenarios, seed=seed),
                    "settlement_lag_months": settlement_lag_months,
                },
            )
    return AnalysisResult({"cashflow": rows}, None if out is None else Path(out), files, prepared.notes)


MSR_COLUMNS: dict[str, pa.DataType] = {
    "panel_size": pa.int64(),
    "confidence": pa.float64(),
    "simulated_msr": pa.float64(),
    "published_msr": pa.float64(),
    "difference": pa.float64(),
    "false_positive_rate_simulated": pa.float64(),
    "false_positive_rate_published": pa.float64(),
    "null_rate_sd": pa.float64(),
    "scenarios": pa.int64(),
}


def population_pool(prepared: Prepared) -> MemberPool:
    """Every performance-period member-year of the run: each entity's members and the members none holds."""
    pools = [setup.pool for setup in prepared.setups]
    if prepared.setups and prepared.setups[0].outside is not None:
        # the first entity's outside pool holds every other entity's members and the unattributed ones
        first = prepared.setups[0]
        assert first.outside is not None
        return first.pool.concat(first.outside)
    whole = pools[0]
    for pool in pools[1:]:
        whole = whole.concat(pool)
    return whole


def run_msr(
    data: str | Path,
    contract: Contract | str | Path,
    period: str,
    *,
    confidence: float,
    panel_sizes: Sequence[int],
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    out: str | Path | None = None,
    inputs: Path | None = None,
    overrides: Overrides | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """MSR by panel size at ``confidence`` from null scenarios of the run's whole population, compared with CMS's
    one-sided MSR table (42 CFR 425.604(b), as encoded in ``apmkit.programs.mssp``)."""
    from apmkit.programs.mssp.rules import one_sided_msr_table
    from apmkit.simulation.msr import calibrate

    assumptions.check()
    if out is not None:
        check_output(Path(out))
    tell = progress or (lambda _s, _d, _t: None)
    with Workspace(data, engine=engine) as workspace:
        prepared = prepare(
            workspace,
            contract,
            period,
            inputs=inputs,
            overrides=overrides,
            progress=lambda stage: tell(f"run: {stage}", 0, 0),
        )
        pool = population_pool(prepared)
        done = [0]

        def advance(count: int) -> None:
            done[0] += count
            tell("calibrating", done[0], len(panel_sizes))

        table = one_sided_msr_table()
        rows = calibrate(
            pool,
            panel_sizes,
            confidence=confidence,
            scenarios=scenarios,
            seed=seed,
            assumptions=assumptions,
            published=table,
            progress=advance,
        )
        files: dict[str, Path] = {}
        if out is not None:
            lines = [
                {
                    "panel_size": r["panel_size"],
                    "msr": r["simulated_msr"],
                    "source": f"simulated ({confidence:.0%})",
                }
                for r in rows
            ] + [
                {"panel_size": r["panel_size"], "msr": r["published_msr"], "source": "CMS 42 CFR 425.604(b)"}
                for r in rows
                if r["published_msr"] is not None
            ]
            files = _write_tables(
                workspace.engine,
                Path(out),
                {"msr": (rows, MSR_COLUMNS)},
                {
                    "msr": charts.line_chart(
                        lines, "panel_size", "msr", "source", "Minimum savings rate by panel size"
                    )
                },
                {
                    **settings(prepared, assumptions, scenarios=scenarios, seed=seed),
                    "confidence": confidence,
                    "population_member_years": pool.size,
                    "published_table": table.citation,
                },
            )
    return AnalysisResult({"msr": rows}, None if out is None else Path(out), files, prepared.notes)
