"""``apmkit simulate``: Monte Carlo of a contract's settlement (and ``sensitivity``, ``compare``, ``msr``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import QualityRatesOption, open_engine, progress, state
from apmkit.errors import ConfigurationError
from apmkit.simulation.model import Assumptions
from apmkit.workspace import Overrides

app = typer.Typer(
    help="Monte Carlo of a contract's settlement on the population: distribution per entity, sensitivity, "
    "comparison of contracts, MSR calibration.",
    no_args_is_help=False,
)

ContractOption = Annotated[Path | None, typer.Option("--contract", help="Contract YAML.")]
DataOption = Annotated[Path | None, typer.Option("--from", help="Folder of canonical tables.")]
PeriodOption = Annotated[
    str | None, typer.Option("--period", help="Performance period (year or contract period).")
]
OutOption = Annotated[Path | None, typer.Option("--out", help="Output folder, replaced whole on success.")]
ScenariosOption = Annotated[int, typer.Option("--scenarios", help="Number of scenarios.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (a seed reproduces every draw).")]
InputsOption = Annotated[
    Path | None,
    typer.Option("--inputs", help="CSV of per-entity values claims cannot hold (as `apmkit run`)."),
]
ResampleOption = Annotated[
    bool,
    typer.Option("--resample/--no-resample", help="Bootstrap member-years (off: the run's own members)."),
]
TrendOption = Annotated[
    float, typer.Option("--trend", help="Mean spending change against the period (0.03 = +3 %).")
]
TrendSdOption = Annotated[float, typer.Option("--trend-sd", help="Standard deviation of the spending trend.")]
UtilizationOption = Annotated[
    float, typer.Option("--utilization", help="Mean utilization change on top of the trend (0.02 = +2 %).")
]
PanelScaleOption = Annotated[
    float,
    typer.Option("--panel-scale", help="Expected panel size as a multiple of the attributed population."),
]
UtilizationSdOption = Annotated[
    float, typer.Option("--utilization-sd", help="Standard deviation of utilization.")
]
CodingOption = Annotated[
    float, typer.Option("--coding-intensity", help="Mean risk-score drift (coding intensity).")
]
CodingSdOption = Annotated[
    float, typer.Option("--coding-sd", help="Standard deviation of the risk-score drift.")
]
QualityMeanOption = Annotated[
    float | None, typer.Option("--quality-mean", help="Mean quality score (default: the run's score).")
]
QualitySdOption = Annotated[
    float, typer.Option("--quality-sd", help="Standard deviation of the quality score.")
]
QualityMinOption = Annotated[
    float | None,
    typer.Option(
        "--quality-standard-min", help="Score at which the quality standard is met (default: the run's flag)."
    ),
]
PanelSdOption = Annotated[float, typer.Option("--panel-sd", help="Standard deviation of the log panel size.")]
ChurnOption = Annotated[
    float, typer.Option("--churn", help="Share of the panel replaced by outside members.")
]
CostOption = Annotated[
    str,
    typer.Option("--care-management-pmpm", help="The provider's care-management cost per member month ($)."),
]
ReductionOption = Annotated[
    float,
    typer.Option("--cost-reduction", help="Spending reduction an initiative achieves (0.02 = 2 % lower)."),
]


def _money(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigurationError(f"{option}: not a number") from None
    if not value.is_finite():
        raise ConfigurationError(f"{option}: not a finite number")
    return value


def _required(**values: object) -> None:
    missing = [
        f"--{name.replace('_', '-').replace('data', 'from')}"
        for name, value in values.items()
        if value is None
    ]
    if missing:
        raise ConfigurationError(f"missing option {', '.join(missing)}")


def assumptions_from(
    resample: bool,
    trend: float,
    trend_sd: float,
    utilization: float,
    utilization_sd: float,
    coding_intensity: float,
    coding_sd: float,
    quality_mean: float | None,
    quality_sd: float,
    quality_standard_min: float | None,
    panel_sd: float,
    panel_scale: float,
    churn: float,
    care_management_pmpm: str,
    cost_reduction: float,
) -> Assumptions:
    chosen = Assumptions(
        resample=resample,
        trend=trend,
        trend_sd=trend_sd,
        utilization=utilization,
        utilization_sd=utilization_sd,
        coding_intensity=coding_intensity,
        coding_sd=coding_sd,
        quality_mean=quality_mean,
        quality_sd=quality_sd,
        quality_standard_min=quality_standard_min,
        panel_sd=panel_sd,
        panel_scale=panel_scale,
        churn=churn,
        cost_reduction=cost_reduction,
        care_management_pmpm=_money(care_management_pmpm, "--care-management-pmpm"),
    )
    chosen.check()
    return chosen


@app.callback(invoke_without_command=True)
def simulate_command(
    ctx: typer.Context,
    contract: ContractOption = None,
    data: DataOption = None,
    period: PeriodOption = None,
    out: OutOption = None,
    scenarios: ScenariosOption = 10_000,
    seed: SeedOption = 1,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
    resample: ResampleOption = True,
    trend: TrendOption = 0.0,
    trend_sd: TrendSdOption = 0.0,
    utilization: UtilizationOption = 0.0,
    utilization_sd: UtilizationSdOption = 0.0,
    coding_intensity: CodingOption = 0.0,
    coding_sd: CodingSdOption = 0.0,
    quality_mean: QualityMeanOption = None,
    quality_sd: QualitySdOption = 0.0,
    quality_standard_min: QualityMinOption = None,
    panel_sd: PanelSdOption = 0.0,
    panel_scale: PanelScaleOption = 1.0,
    churn: ChurnOption = 0.0,
    care_management_pmpm: CostOption = "0",
    cost_reduction: ReductionOption = 0.0,
) -> None:
    """Simulate a contract's settlement: the contract runs once, then each entity's performance period is
    redrawn (bootstrap of member-years, panel size, churn, trend, utilization, coding, quality) and settled under
    the contract's terms. Writes OUT/summary.parquet (one row per entity: expected_net, p05_net, p95_net,
    prob_owe, cvar95, prob_clear_msr, ...), scenarios.parquet, distribution.parquet, charts/*.vl.json."""
    if ctx.invoked_subcommand is not None:
        return
    _required(contract=contract, data=data, period=period, out=out)
    assert contract is not None and data is not None and period is not None and out is not None
    chosen = assumptions_from(
        resample,
        trend,
        trend_sd,
        utilization,
        utilization_sd,
        coding_intensity,
        coding_sd,
        quality_mean,
        quality_sd,
        quality_standard_min,
        panel_sd,
        panel_scale,
        churn,
        care_management_pmpm,
        cost_reduction,
    )
    from apmkit.workspace.simulate import run_simulation

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("simulate", total=None)

        def tell(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        result = run_simulation(
            data,
            contract,
            period,
            scenarios=scenarios,
            seed=seed,
            assumptions=chosen,
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=tell,
        )
    console = state.console
    for row in result.summary:
        clear = row["prob_clear_msr"]
        console.print(
            f"entity {row['entity_id']}: expected net {row['expected_net']:,} (5th-95th percentile "
            f"{row['p05_net']:,} to {row['p95_net']:,}); CVaR 95 % {row['cvar95']:,}; P(owe) {row['prob_owe']:.1%}"
            + ("" if clear is None else f"; P(clear MSR) {clear:.1%}"),
            highlight=False,
        )
    for note in result.prepared.notes:
        console.print(f"[yellow]⚠ {note}[/]")
    typer.echo(str(out))


AssumeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--assume",
        help="An assumption NAME=VALUE (repeatable): trend, trend_sd, utilization, utilization_sd, coding_intensity, "
        "coding_sd, quality_mean, quality_sd, quality_standard_min, panel_sd, panel_scale, churn, cost_reduction, "
        "care_management_pmpm.",
    ),
]
AnalysisScenarios = Annotated[int, typer.Option("--scenarios", help="Scenarios per alternative.")]


def _assumed(texts: list[str] | None, resample: bool) -> Assumptions:
    from apmkit.simulation.analysis import with_assumption

    chosen = Assumptions(resample=resample)
    for text in texts or []:
        name, _, value = text.partition("=")
        if not value:
            raise ConfigurationError(f"--assume {text!r}: write NAME=VALUE")
        chosen = with_assumption(chosen, name.strip(), value.strip())
    chosen.check()
    return chosen


def _bar_progress(bar: object, task: object) -> object:
    def tell(stage: str, done: int, total: int) -> None:
        bar.update(task, description=stage, completed=done, total=total or None)  # type: ignore[attr-defined]

    return tell


@app.command("sensitivity")
def sensitivity_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML.")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    period: Annotated[str, typer.Option("--period", help="Performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
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
    scenarios: AnalysisScenarios = 2000,
    seed: SeedOption = 1,
    assume: AssumeOption = None,
    resample: ResampleOption = True,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Tornado: the expected net settlement as each contract term or assumption moves from a low to a high value
    (same random numbers for every row), and named assumption sets side by side. Writes OUT/sensitivity.parquet,
    named_scenarios.parquet (with --named) and charts/tornado.vl.json."""
    from apmkit.workspace.simulate import run_sensitivity

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("sensitivity", total=None)
        result = run_sensitivity(
            data,
            contract,
            period,
            scenarios=scenarios,
            seed=seed,
            assumptions=_assumed(assume, resample),
            variations=vary or [],
            named=named or [],
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=_bar_progress(bar, task),  # type: ignore[arg-type]
        )
    for row in result.tables["sensitivity"]:
        state.console.print(
            f"{row['entity_id']}: {row['parameter']} {row['low_value']} -> {row['high_value']}: expected net "
            f"{row['expected_net_low']:,} to {row['expected_net_high']:,}",
            highlight=False,
        )
    for row in result.tables["named_scenarios"]:
        state.console.print(
            f"{row['entity_id']}: {row['scenario']}: expected net {row['expected_net']:,}; CVaR 95 % {row['cvar95']:,}",
            highlight=False,
        )
    typer.echo(str(out))


@app.command("compare")
def compare_command(
    contracts: Annotated[
        list[str],
        typer.Argument(
            help="Two or more contract YAML files; FILE@PERIOD takes the terms the file's glide path sets for PERIOD."
        ),
    ],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    period: Annotated[str, typer.Option("--period", help="Performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
    scenarios: AnalysisScenarios = 2000,
    seed: SeedOption = 1,
    assume: AssumeOption = None,
    resample: ResampleOption = True,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Compare contracts on the same population and random numbers: expected net against CVaR 95 %, the
    frontier, and which contract is best at each risk appetite. Writes OUT/compare.parquet, appetite.parquet and
    charts/frontier.vl.json."""
    from apmkit.workspace.simulate import run_compare

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("compare", total=None)
        result = run_compare(
            data,
            contracts,
            period,
            scenarios=scenarios,
            seed=seed,
            assumptions=_assumed(assume, resample),
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=_bar_progress(bar, task),  # type: ignore[arg-type]
        )
    for row in result.tables["compare"]:
        state.console.print(
            f"{row['contract']} / {row['entity_id']}: expected net {row['expected_net']:,}; CVaR 95 % "
            f"{row['cvar95']:,}" + ("; on the frontier" if row["on_frontier"] else ""),
            highlight=False,
        )
    for note in result.notes:
        state.console.print(f"[yellow]⚠ {note}[/]")
    typer.echo(str(out))


@app.command("roi")
def roi_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML.")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    period: Annotated[str, typer.Option("--period", help="Performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
    initiative: Annotated[
        list[str] | None,
        typer.Option(
            "--initiative", help="NAME:SPENDING_REDUCTION:COST_PMPM (repeatable), e.g. admissions:0.012:3.5"
        ),
    ] = None,
    scenarios: AnalysisScenarios = 2000,
    seed: SeedOption = 1,
    assume: AssumeOption = None,
    resample: ResampleOption = True,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Break-even and ROI: the spending reduction at which each entity is whole after its care-management cost
    (--assume care_management_pmpm=...), and the expected gain and ROI of named initiatives. Writes
    OUT/break_even.parquet and initiatives.parquet."""
    from apmkit.workspace.simulate import run_roi

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("break-even and ROI", total=None)
        result = run_roi(
            data,
            contract,
            period,
            scenarios=scenarios,
            seed=seed,
            assumptions=_assumed(assume, resample),
            initiatives=initiative or [],
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=_bar_progress(bar, task),  # type: ignore[arg-type]
        )
    for row in result.tables["break_even"]:
        value = row["break_even_reduction"]
        state.console.print(
            f"{row['entity_id']}: break-even spending reduction "
            + (f"{value:.2%}" if value is not None else f"none ({row['note']})"),
            highlight=False,
        )
    for row in result.tables["initiatives"]:
        roi = row["roi"]
        state.console.print(
            f"{row['initiative']} / {row['entity_id']}: expected gain after cost {row['expected_gain_after_cost']:,}"
            + ("" if roi is None else f"; ROI {roi:.2f}"),
            highlight=False,
        )
    typer.echo(str(out))


@app.command("cashflow")
def cashflow_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML.")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    period: Annotated[str, typer.Option("--period", help="Performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
    settlement_lag_months: Annotated[
        int,
        typer.Option(
            "--settlement-lag-months",
            help="Months after the period's last month when the settlement is paid or recouped (required: it is "
            "in your agreement).",
        ),
    ],
    scenarios: AnalysisScenarios = 2000,
    seed: SeedOption = 1,
    assume: AssumeOption = None,
    resample: ResampleOption = True,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Monthly cash flow under the contract: payments during the period (capitation, fees, interim payments), the
    settlement or recoupment, the care-management cost; expected with 5th-95th percentiles. Writes
    OUT/cashflow.parquet and charts/cash_position.vl.json."""
    from apmkit.workspace.simulate import run_cashflow

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("cash flow", total=None)
        run_cashflow(
            data,
            contract,
            period,
            scenarios=scenarios,
            seed=seed,
            assumptions=_assumed(assume, resample),
            settlement_lag_months=settlement_lag_months,
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=_bar_progress(bar, task),  # type: ignore[arg-type]
        )
    typer.echo(str(out))


@app.command("msr")
def msr_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML (its population is measured).")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    period: Annotated[str, typer.Option("--period", help="Performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
    confidence: Annotated[
        float,
        typer.Option("--confidence", help="Confidence that savings at the MSR are not chance (0.9 = 90 %)."),
    ] = 0.9,
    panel_sizes: Annotated[
        str | None,
        typer.Option("--panel-sizes", help="Comma-separated panel sizes (default 1,000 to 60,000)."),
    ] = None,
    scenarios: AnalysisScenarios = 2000,
    seed: SeedOption = 1,
    assume: AssumeOption = None,
    inputs: InputsOption = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """MSR calibration: by panel size, the minimum savings rate a null population (spending exactly its
    benchmark on average) exceeds by chance with probability 1 − confidence, from the data's own member-years,
    next to CMS's published MSR table and the false-positive rate that table implies. Writes OUT/msr.parquet and
    charts/msr.vl.json."""
    from apmkit.simulation.msr import parse_panel_sizes
    from apmkit.workspace.simulate import run_msr

    sizes = parse_panel_sizes(panel_sizes)
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("MSR calibration", total=None)
        result = run_msr(
            data,
            contract,
            period,
            confidence=confidence,
            panel_sizes=sizes,
            scenarios=scenarios,
            seed=seed,
            assumptions=_assumed(assume, True),
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=_bar_progress(bar, task),  # type: ignore[arg-type]
        )
    for row in result.tables["msr"]:
        published = row["published_msr"]
        state.console.print(
            f"{row['panel_size']:>7,} members: simulated MSR {row['simulated_msr']:.2%}"
            + (
                ""
                if published is None
                else f"; CMS {published:.2%} (false-positive rate {row['false_positive_rate_published']:.1%})"
            ),
            highlight=False,
        )
    typer.echo(str(out))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="simulate")
