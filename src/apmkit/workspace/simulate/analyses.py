"""``apmkit simulate sensitivity | roi | cashflow | msr``: analyses on the contract run once (application jobs).

Each job opens the request's data (:func:`.job.open_job`), prepares the run once, computes its rows with
:mod:`apmkit.simulation` and stages its tables, charts and ``simulation.json`` into OUT.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from apmkit.engines import Engine
from apmkit.simulation import charts
from apmkit.workspace.simulate.distribution import settings
from apmkit.workspace.simulate.job import (
    MONEY,
    NET_DISTRIBUTION_COLUMNS,
    JobResult,
    Progress,
    SimulationRequest,
    open_job,
)
from apmkit.workspace.simulate.preparation import population_pool

AnalysisResult = JobResult

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
NAMED_COLUMNS: dict[str, pa.DataType] = {
    "scenario": pa.string(),
    "entity_id": pa.string(),
    **NET_DISTRIBUTION_COLUMNS,
}
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
    "ffs_receipts": MONEY,
}
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


def run_sensitivity(
    request: SimulationRequest,
    *,
    variations: Sequence[str] = (),
    named: Sequence[str] = (),
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Tornado: the expected net at each variation's low and high value (``--vary``; default: trend, utilization,
    coding intensity, panel size, churn, quality and each shared-savings component's main terms), and named
    assumption sets side by side (``NAME:ASSUMPTION=VALUE,...``; the base assumptions first, as ``base``)."""
    from apmkit.simulation.analysis import (
        ALL,
        Variation,
        default_variations,
        named_scenarios,
        parse_named,
        tornado,
    )

    base = request.assumptions
    sets = [parse_named(text, base) for text in named]
    with open_job(request, out, engine, progress) as job:
        prepared = job.prepare()
        quality = prepared.setups[0].fixed.quality_score if prepared.setups else None
        chosen = [Variation.parse(v) for v in variations] or default_variations(
            prepared.contract, base, quality
        )
        simulator = job.simulator(prepared)
        rows = tornado(
            simulator,
            prepared.contract,
            base,
            chosen,
            progress=lambda label: job.tell(f"varying {label}", 0, 0),
        )
        side_by_side = named_scenarios(simulator, prepared.contract, [("base", base), *sets]) if sets else []
        everyone = [r for r in rows if r["entity_id"] == (rows[-1]["entity_id"] if rows else "")]
        shown = [r for r in rows if r["entity_id"] == ALL] or everyone
        title = f"{prepared.contract.id}, period {request.period}: expected net settlement, low to high"
        files = job.write(
            {"sensitivity": (rows, SENSITIVITY_COLUMNS)}
            | ({"named_scenarios": (side_by_side, NAMED_COLUMNS)} if side_by_side else {}),
            {"tornado": charts.tornado_chart(shown, title)},
            {
                **settings(prepared, request),
                "variations": [v.__dict__ for v in chosen],
                "named": list(named),
            },
        )
    return job.result({"sensitivity": rows, "named_scenarios": side_by_side}, files, prepared.notes)


def run_roi(
    request: SimulationRequest,
    *,
    initiatives: Sequence[str] = (),
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Break-even spending reduction after the care-management cost (``care_management_pmpm``) per entity, and
    the expected gain and ROI of each named initiative (``NAME:SPENDING_REDUCTION:COST_PMPM``)."""
    from apmkit.simulation.analysis import Initiative, break_even, initiative_roi

    parsed = [Initiative.parse(text) for text in initiatives]
    with open_job(request, out, engine, progress) as job:
        prepared = job.prepare()
        simulator = job.simulator(prepared)
        job.tell("break-even", 0, 0)
        even = break_even(simulator, prepared.contract, request.assumptions)
        job.tell("initiatives", 0, 0)
        roi = initiative_roi(simulator, prepared.contract, request.assumptions, parsed)
        files = job.write(
            {"break_even": (even, BREAK_EVEN_COLUMNS), "initiatives": (roi, INITIATIVE_COLUMNS)},
            {},
            {**settings(prepared, request), "initiatives": list(initiatives)},
        )
    return job.result({"break_even": even, "initiatives": roi}, files, prepared.notes)


def run_cashflow(
    request: SimulationRequest,
    *,
    settlement_lag_months: int,
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Monthly receipts and payments under the contract per entity (expected, 5th and 95th percentile), with the
    settlement ``settlement_lag_months`` after the period's last month, and the entity's fee-for-service receipts
    from the data's ``medical_claims`` (:func:`.ffs.ffs_receipts`) in ``ffs_receipts``."""
    from apmkit.simulation.analysis import cash_flow
    from apmkit.workspace.simulate.ffs import ffs_receipts

    with open_job(request, out, engine, progress) as job:
        prepared = job.prepare()
        outcomes = job.simulator(prepared).run(prepared.contract, request.assumptions)
        contract = prepared.contract
        window = contract.period(request.period)
        start = window.start
        notes = list(prepared.notes)
        ffs = None
        if prepared.entity_tins is None:
            notes.append(
                "fee-for-service receipts left out: the contract has no attribution section, so no entity has TINs "
                "whose claims are its receipts"
            )
        else:
            job.tell("fee-for-service receipts", 0, 0)
            ffs = ffs_receipts(
                job.workspace.engine, job.workspace.data, prepared.entity_tins, start, window.end
            )
        rows = cash_flow(contract, start, outcomes, settlement_lag_months=settlement_lag_months, ffs=ffs)
        position = [
            {"month": r["month"].isoformat(), "expected": r["expected"], "entity_id": r["entity_id"]}
            for r in rows
            if r["item"] == "cumulative cash position"
        ]
        title = f"Expected cumulative cash position under {contract.id} ($)"
        files = job.write(
            {"cashflow": (rows, CASHFLOW_COLUMNS)},
            {"cash_position": charts.line_chart(position, "month", "expected", "entity_id", title)},
            {**settings(prepared, request), "settlement_lag_months": settlement_lag_months},
        )
    return job.result({"cashflow": rows}, files, notes)


def run_msr(
    request: SimulationRequest,
    *,
    confidence: float,
    panel_sizes: Sequence[int],
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """MSR by panel size at ``confidence`` from null scenarios of the run's whole population, compared with CMS's
    one-sided MSR table (42 CFR 425.604(b), as encoded in ``apmkit.programs.mssp``)."""
    from apmkit.programs.mssp.rules import one_sided_msr_table
    from apmkit.simulation.msr import calibrate

    with open_job(request, out, engine, progress) as job:
        prepared = job.prepare()
        pool = population_pool(prepared)
        done = [0]

        def advance(count: int) -> None:
            done[0] += count
            job.tell("calibrating", done[0], len(panel_sizes))

        table = one_sided_msr_table()
        rows = calibrate(
            pool,
            panel_sizes,
            confidence=confidence,
            scenarios=request.scenarios,
            seed=request.seed,
            assumptions=request.assumptions,
            published=table,
            progress=advance,
        )
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
        title = "Minimum savings rate by panel size"
        files = job.write(
            {"msr": (rows, MSR_COLUMNS)},
            {"msr": charts.line_chart(lines, "panel_size", "msr", "source", title)},
            {
                **settings(prepared, request),
                "confidence": confidence,
                "population_member_years": pool.size,
                "published_table": table.citation,
            },
        )
    return job.result({"msr": rows}, files, prepared.notes)


__all__ = [
    "AnalysisResult",
    "run_cashflow",
    "run_msr",
    "run_roi",
    "run_sensitivity",
]
