"""``apmkit simulate``: Monte Carlo of a contract's settlement (and ``sensitivity``, ``compare``, ``msr``).

Each command parses its options (shared declarations in :mod:`apmkit.cli._simulation`), builds the job's request,
calls the job in :mod:`apmkit.workspace.simulate` with the engine and a progress bar, and prints its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli import _simulation as sim
from apmkit.cli.common import QualityRatesOption

app = typer.Typer(
    help="Monte Carlo of a contract's settlement on the population: distribution per entity, sensitivity, "
    "comparison of contracts, MSR calibration.",
    no_args_is_help=False,
)


@app.callback(invoke_without_command=True)
def simulate_command(
    ctx: typer.Context,
    contract: sim.MaybeContract = None,
    data: sim.MaybeData = None,
    period: sim.MaybePeriod = None,
    out: sim.MaybeOut = None,
    scenarios: sim.ScenariosOption = 10_000,
    seed: sim.SeedOption = 1,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
    resample: sim.ResampleOption = True,
    trend: sim.TrendOption = 0.0,
    trend_sd: sim.TrendSdOption = 0.0,
    utilization: sim.UtilizationOption = 0.0,
    utilization_sd: sim.UtilizationSdOption = 0.0,
    coding_intensity: sim.CodingOption = 0.0,
    coding_sd: sim.CodingSdOption = 0.0,
    quality_mean: sim.QualityMeanOption = None,
    quality_sd: sim.QualitySdOption = 0.0,
    quality_standard_min: sim.QualityMinOption = None,
    panel_sd: sim.PanelSdOption = 0.0,
    panel_scale: sim.PanelScaleOption = 1.0,
    churn: sim.ChurnOption = 0.0,
    care_management_pmpm: sim.CostOption = "0",
    cost_reduction: sim.ReductionOption = 0.0,
) -> None:
    """Simulate a contract's settlement: the contract runs once, then each entity's performance period is
    redrawn (bootstrap of member-years, panel size, churn, trend, utilization, coding, quality) and settled under
    the contract's terms. Writes OUT/summary.parquet (one row per entity: expected_net, p05_net, p95_net,
    prob_owe, cvar95, prob_clear_msr, ...), scenarios.parquet, distribution.parquet, charts/*.vl.json."""
    if ctx.invoked_subcommand is not None:
        return
    sim.required(contract=contract, data=data, period=period, out=out)
    assert contract is not None and data is not None and period is not None and out is not None
    chosen = sim.assumptions_from(ctx.params)
    from apmkit.workspace.simulate import run_simulation

    job = sim.request(data, contract, period, scenarios, seed, chosen, inputs, quality_rates)
    result = sim.run_job("simulate", run_simulation, job, out=out)
    lines = [
        f"entity {row['entity_id']}: expected net {row['expected_net']:,} (5th-95th percentile "
        f"{row['p05_net']:,} to {row['p95_net']:,}); CVaR 95 % {row['cvar95']:,}; P(owe) {row['prob_owe']:.1%}"
        + ("" if row["prob_clear_msr"] is None else f"; P(clear MSR) {row['prob_clear_msr']:.1%}")
        for row in result.summary
    ]
    sim.show(lines, result.prepared.notes, out)


@app.command("sensitivity")
def sensitivity_command(
    contract: sim.ContractOption,
    data: sim.DataOption,
    period: sim.PeriodOption,
    out: sim.OutOption,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="term:COMPONENT.FIELD=LOW,HIGH or assumption:NAME=LOW,HIGH (repeatable; default: trend, "
            "utilization, coding, panel size, churn, quality and the main shared-savings terms).",
        ),
    ] = None,
    named: Annotated[
        list[str] | None,
        typer.Option(
            "--named",
            help="A named assumption set NAME:ASSUMPTION=VALUE[,ASSUMPTION=VALUE...] shown side by side with the "
            "base (repeatable), e.g. recession:trend=0.05,churn=0.2.",
        ),
    ] = None,
    scenarios: sim.AnalysisScenarios = 2000,
    seed: sim.SeedOption = 1,
    assume: sim.AssumeOption = None,
    resample: sim.ResampleOption = True,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Tornado: the expected net settlement as each contract term or assumption moves from a low to a high value
    (same random numbers for every row), and named assumption sets side by side. Writes OUT/sensitivity.parquet,
    named_scenarios.parquet (with --named) and charts/tornado.vl.json."""
    from apmkit.workspace.simulate import run_sensitivity

    chosen = sim.assumed(assume, resample)
    job = sim.request(data, contract, period, scenarios, seed, chosen, inputs, quality_rates)
    result = sim.run_job(
        "sensitivity", run_sensitivity, job, variations=vary or [], named=named or [], out=out
    )
    lines = [
        f"{row['entity_id']}: {row['parameter']} {row['low_value']} -> {row['high_value']}: expected net "
        f"{row['expected_net_low']:,} to {row['expected_net_high']:,}"
        for row in result.tables["sensitivity"]
    ] + [
        f"{row['entity_id']}: {row['scenario']}: expected net {row['expected_net']:,}; CVaR 95 % {row['cvar95']:,}"
        for row in result.tables["named_scenarios"]
    ]
    sim.show(lines, (), out)


@app.command("compare")
def compare_command(
    contracts: Annotated[
        list[str],
        typer.Argument(
            help="Two or more contract YAML files; FILE@PERIOD takes the terms the file's glide path sets for PERIOD."
        ),
    ],
    data: sim.DataOption,
    period: sim.PeriodOption,
    out: sim.OutOption,
    scenarios: sim.AnalysisScenarios = 2000,
    seed: sim.SeedOption = 1,
    assume: sim.AssumeOption = None,
    resample: sim.ResampleOption = True,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Compare contracts on the same population and random numbers: expected net against CVaR 95 %, the
    frontier, and which contract is best at each risk appetite. Writes OUT/compare.parquet, appetite.parquet and
    charts/frontier.vl.json."""
    from apmkit.workspace.simulate import run_compare

    chosen = sim.assumed(assume, resample)
    job = sim.request(data, None, period, scenarios, seed, chosen, inputs, quality_rates)
    result = sim.run_job("compare", run_compare, job, contracts, out=out)
    lines = [
        f"{row['contract']} / {row['entity_id']}: expected net {row['expected_net']:,}; CVaR 95 % "
        f"{row['cvar95']:,}" + ("; on the frontier" if row["on_frontier"] else "")
        for row in result.tables["compare"]
    ]
    sim.show(lines, result.notes, out)


@app.command("roi")
def roi_command(
    contract: sim.ContractOption,
    data: sim.DataOption,
    period: sim.PeriodOption,
    out: sim.OutOption,
    initiative: Annotated[
        list[str] | None,
        typer.Option(
            "--initiative", help="NAME:SPENDING_REDUCTION:COST_PMPM (repeatable), e.g. admissions:0.012:3.5"
        ),
    ] = None,
    scenarios: sim.AnalysisScenarios = 2000,
    seed: sim.SeedOption = 1,
    assume: sim.AssumeOption = None,
    resample: sim.ResampleOption = True,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Break-even and ROI: the spending reduction at which each entity is whole after its care-management cost
    (--assume care_management_pmpm=...), and the expected gain and ROI of named initiatives. Writes
    OUT/break_even.parquet and initiatives.parquet."""
    from apmkit.workspace.simulate import run_roi

    chosen = sim.assumed(assume, resample)
    job = sim.request(data, contract, period, scenarios, seed, chosen, inputs, quality_rates)
    result = sim.run_job("break-even and ROI", run_roi, job, initiatives=initiative or [], out=out)
    lines = [
        f"{row['entity_id']}: break-even spending reduction "
        + (
            f"{row['break_even_reduction']:.2%}"
            if row["break_even_reduction"] is not None
            else f"none ({row['note']})"
        )
        for row in result.tables["break_even"]
    ] + [
        f"{row['initiative']} / {row['entity_id']}: expected gain after cost {row['expected_gain_after_cost']:,}"
        + ("" if row["roi"] is None else f"; ROI {row['roi']:.2f}")
        for row in result.tables["initiatives"]
    ]
    sim.show(lines, (), out)


@app.command("cashflow")
def cashflow_command(
    contract: sim.ContractOption,
    data: sim.DataOption,
    period: sim.PeriodOption,
    out: sim.OutOption,
    settlement_lag_months: Annotated[
        int,
        typer.Option(
            "--settlement-lag-months",
            help="Months after the period's last month when the settlement is paid or recouped (required: it is "
            "in your agreement).",
        ),
    ],
    scenarios: sim.AnalysisScenarios = 2000,
    seed: sim.SeedOption = 1,
    assume: sim.AssumeOption = None,
    resample: sim.ResampleOption = True,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Monthly cash flow under the contract: payments during the period (capitation, fees, interim payments), the
    settlement or recoupment, the care-management cost; expected with 5th-95th percentiles; and the entity's
    fee-for-service receipts from the claims (column ffs_receipts). Writes OUT/cashflow.parquet and charts/cash_position.vl.json."""
    from apmkit.workspace.simulate import run_cashflow

    chosen = sim.assumed(assume, resample)
    job = sim.request(data, contract, period, scenarios, seed, chosen, inputs, quality_rates)
    sim.run_job("cash flow", run_cashflow, job, settlement_lag_months=settlement_lag_months, out=out)
    sim.show((), (), out)


@app.command("msr")
def msr_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML (its population is measured).")],
    data: sim.DataOption,
    period: sim.PeriodOption,
    out: sim.OutOption,
    confidence: Annotated[
        float,
        typer.Option("--confidence", help="Confidence that savings at the MSR are not chance (0.9 = 90 %)."),
    ] = 0.9,
    panel_sizes: Annotated[
        str | None,
        typer.Option("--panel-sizes", help="Comma-separated panel sizes (default 1,000 to 60,000)."),
    ] = None,
    scenarios: sim.AnalysisScenarios = 2000,
    seed: sim.SeedOption = 1,
    assume: sim.AssumeOption = None,
    inputs: sim.InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """MSR calibration: by panel size, the minimum savings rate a null population (spending exactly its
    benchmark on average) exceeds by chance with probability 1 − confidence, from the data's own member-years,
    next to CMS's published MSR table and the false-positive rate that table implies. Writes OUT/msr.parquet and
    charts/msr.vl.json."""
    from apmkit.simulation.msr import parse_panel_sizes
    from apmkit.workspace.simulate import run_msr

    sizes = parse_panel_sizes(panel_sizes)
    chosen = sim.assumed(assume, True)
    job = sim.request(data, contract, period, scenarios, seed, chosen, inputs, quality_rates)
    result = sim.run_job("MSR calibration", run_msr, job, confidence=confidence, panel_sizes=sizes, out=out)
    lines = [
        f"{row['panel_size']:>7,} members: simulated MSR {row['simulated_msr']:.2%}"
        + (
            ""
            if row["published_msr"] is None
            else f"; CMS {row['published_msr']:.2%} (false-positive rate {row['false_positive_rate_published']:.1%})"
        )
        for row in result.tables["msr"]
    ]
    sim.show(lines, (), out)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="simulate")
