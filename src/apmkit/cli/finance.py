"""``apmkit finance``: practice KPIs from ledger, billing and 835 files; APM readiness report."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from apmkit.cli.common import open_engine, progress
from apmkit.documents import read_yaml
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.finance.kpis import DIMENSIONS
from apmkit.workspace.finance import finance_kpis, readiness, readiness_markdown

finance_app = typer.Typer(
    help="Practice finance: KPIs from ledger, billing and 835 ERA files; APM readiness."
)


def _decimal(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", "").replace("$", ""))
    except InvalidOperation as exc:
        raise ConfigurationError(f"--{name}: not a number ({text!r})") from exc


@finance_app.command("kpis")
def kpis_command(
    ledger: Annotated[list[Path] | None, typer.Option(help="General-ledger / P&L CSV (repeatable)")] = None,
    billing: Annotated[
        list[Path] | None, typer.Option(help="Billing/remittance CSV or X12 835 file (repeatable)")
    ] = None,
    visits: Annotated[
        list[Path] | None, typer.Option(help="Visit counts CSV (visit_month, visits, ...), repeatable")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Dimensions: all,month,payer,location,clinician")
    ] = "all,month,payer",
    as_of: Annotated[str | None, typer.Option(help="A/R as-of date (YYYY-MM-DD)")] = None,
    window_days: Annotated[int, typer.Option(help="Days of charges behind days in A/R")] = 90,
    contract: Annotated[Path | None, typer.Option(help="APM contract for the projected contribution")] = None,
    entity_inputs: Annotated[
        Path | None, typer.Option(help="Aggregate inputs CSV of the APM entity (settle's format)")
    ] = None,
    period: Annotated[str | None, typer.Option(help="Contract period for the APM contribution")] = None,
    out: Annotated[Path | None, typer.Option(help="Write Parquet tables and finance_kpis.json here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """KPIs by month, payer, location and clinician; denials by CARC/RARC; A/R aging and days in A/R."""
    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    for dimension in dimensions:
        if dimension not in DIMENSIONS:
            raise ConfigurationError(
                f"--by: unknown dimension {dimension!r} (choose from {', '.join(DIMENSIONS)})"
            )
    as_of_date = _date("as-of", as_of)
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("finance KPIs", total=None)
        report = finance_kpis(
            engine,
            ledger=ledger or [],
            billing=billing or [],
            visits=visits or [],
            dimensions=dimensions,
            as_of=as_of_date,
            window_days=window_days,
            contract=contract,
            entity_inputs=entity_inputs,
            period=period,
            out=out,
            on_step=lambda step: bar.update(task, description=step),
        )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print(report, dimensions)


def _date(name: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(f"--{name}: not a date YYYY-MM-DD ({text!r})") from exc


def _print(report: dict[str, Any], dimensions: list[str]) -> None:
    console = Console()
    shown = (
        "dimension_value",
        "billed",
        "collections",
        "net_collection_rate",
        "denial_rate",
        "payer_mix",
        "revenue",
        "operating_margin",
        "overhead_ratio",
        "cost_per_visit",
        "value_based_revenue_share",
    )
    for dimension in dimensions:
        table = Table(*shown, title=f"KPIs by {dimension}")
        for row in report[f"kpis_{dimension}"]:
            table.add_row(*[str(row.get(name) if row.get(name) is not None else "-") for name in shown])
        console.print(table)
    for key in ("denials_carc", "denials_rarc", "ar_aging", "days_in_ar"):
        rows = report.get(key)
        if rows:
            names = [n for n in rows[0] if n != "bucket_order"]
            extra = Table(*names, title=key.replace("_", " "))
            for row in rows:
                extra.add_row(*[str(row[n]) for n in names])
            console.print(extra)
    console.print(f"counts: {report['counts']}", highlight=False)
    for row in report["rejected"]:
        console.print(
            f"[yellow]rejected:[/] {row['source_file']}, line {row['source_line']}, field {row['field']}: {row['reason']}",
            highlight=False,
        )


@finance_app.command("readiness")
def readiness_command(
    contract: Annotated[Path, typer.Argument(help="The APM contract being considered")],
    reserves: Annotated[str, typer.Option(help="Cash reserves available for losses ($)")],
    assessment: Annotated[
        Path | None, typer.Option(help="YAML with capability levels (1-4) and checklist answers (true/false)")
    ] = None,
    entity_inputs: Annotated[
        Path | None, typer.Option(help="Aggregate inputs CSV (benchmark etc.): enables the simulation")
    ] = None,
    period: Annotated[str, typer.Option(help="Contract period to settle")] = "2025",
    scenarios: Annotated[int, typer.Option(help="Simulated expenditure scenarios")] = 400,
    sd: Annotated[str, typer.Option(help="Standard deviation of expenditure vs benchmark")] = "0.05",
    trend: Annotated[str, typer.Option(help="Mean expenditure deviation vs benchmark")] = "0",
    seed: Annotated[int, typer.Option(help="Random seed of the scenarios")] = 7,
    benchmark: Annotated[
        str | None, typer.Option(help="Benchmark/target ($) for the loss-cap method")
    ] = None,
    revenue: Annotated[
        str | None, typer.Option(help="Participant revenue ($) for revenue-based caps")
    ] = None,
    ledger: Annotated[list[Path] | None, typer.Option(help="General-ledger CSV (adds KPI evidence)")] = None,
    billing: Annotated[list[Path] | None, typer.Option(help="Billing CSV / 835 (adds KPI evidence)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write readiness.json and readiness.md here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Readiness report: checklist, capability assessment, reserves vs the contract's 95th-percentile downside."""
    answers = read_yaml(assessment) if assessment is not None else {}
    if not isinstance(answers, dict):
        raise InputFileError(assessment or Path("."), "must be a mapping with capability: and checklist:")
    reserve_amount = _decimal("reserves", reserves)
    assert reserve_amount is not None
    with open_engine() as engine:
        result = readiness(
            engine,
            contract,
            reserves=reserve_amount,
            answers=answers,
            entity_inputs=entity_inputs,
            period=period,
            scenarios=scenarios,
            sd=_decimal("sd", sd) or Decimal("0.05"),
            trend=_decimal("trend", trend) or Decimal(0),
            seed=seed,
            benchmark=_decimal("benchmark", benchmark),
            revenue=_decimal("revenue", revenue),
            ledger=ledger or [],
            billing=billing or [],
            out=out,
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(readiness_markdown(result))


def register(app: typer.Typer) -> None:
    app.add_typer(finance_app, name="finance")
