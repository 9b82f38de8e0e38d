"""The contract run once and turned into the simulation's inputs (the prepare step every simulation job shares).

:func:`prepare` runs the contract through :class:`~apmkit.workspace.Workspace` (one contract, one run) into a
temporary folder and turns what it measured into the simulation's inputs: each settled entity's inputs, its
performance-period member rows (``member_detail``), the members it does not hold (for attribution churn) and the
run's statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apmkit.contracts import Contract
from apmkit.errors import ConfigurationError
from apmkit.money import decimal_to_cents, to_cents
from apmkit.settlement import claims as claims_path
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.statement import Settlement
from apmkit.simulation.contract import EntitySetup
from apmkit.simulation.model import MemberPool, RunFigures
from apmkit.workspace.run import Workspace, read_contract
from apmkit.workspace.simulate.job import SimulationRequest, resolve, run_once


@dataclass
class Prepared:
    """The run's settlement and each settled entity's simulation inputs."""

    contract: Contract
    """The contract resolved for the period (glide path applied)."""
    period: str
    settlement: Settlement
    setups: list[EntitySetup]
    notes: list[str] = field(default_factory=list)
    entity_tins: pa.Table | None = None
    """Distinct ``entity_id``, ``tin`` pairs of the run's attributed members (``attribution.parquet``): the TINs
    whose fee-for-service claims are the entity's receipts; ``None`` when the run has no attribution."""


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


def prepare(
    workspace: Workspace, request: SimulationRequest, *, progress: Callable[[str], None] | None = None
) -> Prepared:
    """Run the request's contract once (into a temporary folder) and build every settled entity's simulation inputs.

    Raises
    ------
    ApmkitError
        As :meth:`Workspace.run`; or a component of the contract is not simulated.
    """
    from apmkit.simulation.terms import check_simulated

    if request.contract is None:
        raise ConfigurationError("missing option --contract")
    document = read_contract(request.contract)
    period = request.period
    resolved = resolve(document, period)
    check_simulated(resolved)
    engine = workspace.engine
    running = run_once(workspace, request, document, prefix="apmkit-simulate-", progress=progress)
    with running as (result, marts):
        spec = claims_path.ClaimsMeasureSpec.from_contract(resolved, period)
        detail_table = engine.read_parquet(marts / "member_detail.parquet")
        detail = engine.to_arrow(_member_columns(detail_table))
        years = engine.read_parquet(marts / "member_years.parquet")
        performance = years.filter(years.year == spec.year)
        outside = performance.anti_join(detail_table.select("member_id"), "member_id").select(
            member_id=performance.member_id.cast("string"),
            member_months=performance.member_months.cast("int64"),
            truncated_cents=performance.truncated_cents.cast("int64"),
            cost_cents=performance.cost_cents.cast("int64"),
        )
        scores_file = marts / "risk_scores.parquet"
        if scores_file.exists():
            scores = engine.read_parquet(scores_file)
            per_member = scores.group_by(member_id=scores.member_id.cast("string")).aggregate(
                score=scores.score.cast("decimal(38, 6)").max()
            )
            outside = outside.left_join(per_member, "member_id").select(
                "member_id",
                "member_months",
                "truncated_cents",
                "cost_cents",
                score_micro=(ibis._.score * 1_000_000).cast("int64"),
            )
        attribution_file = marts / "attribution.parquet"
        entity_tins = None
        if attribution_file.exists():
            links = engine.read_parquet(attribution_file)
            links = links.filter(links.attributed & links.entity_id.notnull() & links.tin.notnull())
            entity_tins = engine.to_arrow(
                links.select(entity_id=links.entity_id.cast("string"), tin=links.tin.cast("string"))
                .distinct()
                .order_by(["entity_id", "tin"])
            )
        # in member order: a join's row order is the engine's, and churn draws rows by position (same seed, same draws)
        unattributed = engine.to_arrow(
            outside.order_by(["member_id", "member_months", "truncated_cents", "cost_cents"])
        )
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
    return Prepared(resolved, period, result.settlement, setups, notes, entity_tins)


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


__all__ = ["Prepared", "population_pool", "prepare"]
