"""What ``apmkit simulate`` and ``apmkit project`` share: option declarations, the request built from them, and one
call that opens the engine and a progress bar around a job. (A leading underscore: not a command module.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.errors import ConfigurationError
from apmkit.simulation.model import Assumptions
from apmkit.workspace import Overrides
from apmkit.workspace.simulate.job import SimulationRequest

Result = TypeVar("Result")

# the options every job takes
ContractOption = Annotated[Path, typer.Option("--contract", help="Contract YAML.")]
DataOption = Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")]
PeriodOption = Annotated[str, typer.Option("--period", help="Performance period.")]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (a seed reproduces every draw).")]
InputsOption = Annotated[
    Path | None,
    typer.Option("--inputs", help="CSV of per-entity values claims cannot hold (as `apmkit run`)."),
]
ResampleOption = Annotated[
    bool,
    typer.Option("--resample/--no-resample", help="Bootstrap member-years (off: the run's own members)."),
]
AnalysisScenarios = Annotated[int, typer.Option("--scenarios", help="Scenarios per alternative.")]
AssumeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--assume",
        help="An assumption NAME=VALUE (repeatable): trend, trend_sd, utilization, utilization_sd, coding_intensity, "
        "coding_sd, quality_mean, quality_sd, quality_standard_min, panel_sd, panel_scale, churn, cost_reduction, "
        "care_management_pmpm.",
    ),
]

# the default command's own (optional: the command has subcommands) and its assumptions (the analyses take
# them as --assume NAME=VALUE)
MaybeContract = Annotated[Path | None, typer.Option("--contract", help="Contract YAML.")]
MaybeData = Annotated[Path | None, typer.Option("--from", help="Folder of canonical tables.")]
MaybePeriod = Annotated[
    str | None, typer.Option("--period", help="Performance period (year or contract period).")
]
MaybeOut = Annotated[Path | None, typer.Option("--out", help="Output folder, replaced whole on success.")]
ScenariosOption = Annotated[int, typer.Option("--scenarios", help="Number of scenarios.")]
TrendOption = Annotated[
    float, typer.Option("--trend", help="Mean spending change against the period (0.03 = +3 %).")
]
TrendSdOption = Annotated[float, typer.Option("--trend-sd", help="Standard deviation of the spending trend.")]
UtilizationOption = Annotated[
    float, typer.Option("--utilization", help="Mean utilization change on top of the trend (0.02 = +2 %).")
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
PanelScaleOption = Annotated[
    float,
    typer.Option("--panel-scale", help="Expected panel size as a multiple of the attributed population."),
]
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


def required(**values: object) -> None:
    """Each option named (``data`` is ``--from``) given, or one error naming the missing ones."""
    missing = [
        f"--{name.replace('_', '-').replace('data', 'from')}"
        for name, value in values.items()
        if value is None
    ]
    if missing:
        raise ConfigurationError(f"missing option {', '.join(missing)}")


def assumptions_from(options: Mapping[str, Any]) -> Assumptions:
    """The assumptions from the default command's options (``--trend``, ..., ``--care-management-pmpm``)."""
    names = [f.name for f in dataclasses.fields(Assumptions) if f.name != "care_management_pmpm"]
    chosen = Assumptions(
        **{name: options[name] for name in names},
        care_management_pmpm=_money(options["care_management_pmpm"], "--care-management-pmpm"),
    )
    chosen.check()
    return chosen


def assumed(texts: list[str] | None, resample: bool) -> Assumptions:
    """The assumptions from ``--assume NAME=VALUE`` (repeatable) and ``--resample``."""
    from apmkit.simulation.analysis import with_assumption

    chosen = Assumptions(resample=resample)
    for text in texts or []:
        name, _, value = text.partition("=")
        if not value:
            raise ConfigurationError(f"--assume {text!r}: write NAME=VALUE")
        chosen = with_assumption(chosen, name.strip(), value.strip())
    chosen.check()
    return chosen


def request(
    data: Path,
    contract: Path | None,
    period: str,
    scenarios: int,
    seed: int,
    assumptions: Assumptions | None,
    inputs: Path | None,
    quality_rates: Path | None,
) -> SimulationRequest:
    """The job's request from the parsed options."""
    return SimulationRequest(
        data,
        contract,
        period,
        scenarios,
        seed,
        assumptions or Assumptions(),
        inputs,
        Overrides(quality_rates=quality_rates),
    )


def run_job(label: str, job: Callable[..., Result], *args: Any, **options: Any) -> Result:
    """``job(*args, **options)`` on the engine chosen with ``--engine``, with a progress bar labelled ``label``."""
    with open_engine() as engine, progress() as bar:
        task = bar.add_task(label, total=None)

        def tell(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        return job(*args, engine=engine, progress=tell, **options)


def show(lines: Iterable[str], notes: Iterable[str], out: Path) -> None:
    """The command's lines and notes on stderr, then OUT on stdout."""
    for line in lines:
        state.console.print(line, highlight=False)
    for note in notes:
        state.console.print(f"[yellow]⚠ {note}[/]")
    typer.echo(str(out))
