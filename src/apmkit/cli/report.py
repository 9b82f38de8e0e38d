"""``apmkit report NAME --run OUT --by entity|tin|npi [--payer P] [--period P] --out FILE`` and
``apmkit report --list``: the performance reports over a run's marts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, state
from apmkit.reports.framework import GROUPINGS, ReportRequest, catalog


def report_command(
    name: Annotated[str | None, typer.Argument(help="Report name (see --list).")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="Output folder of `apmkit run`.")] = None,
    by: Annotated[str, typer.Option("--by", help="Grouping: entity, tin or npi.")] = "entity",
    payer: Annotated[str | None, typer.Option("--payer", help="Only this payer's member-months.")] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="A measured year of the run (default: its performance period)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File: .csv, .xlsx, .pdf, .json (Vega-Lite + data) or .fhir.json where a standard exists.",
        ),
    ] = None,
    list_reports: Annotated[bool, typer.Option("--list", help="Name the reports and exit.")] = False,
    planned_readmissions: Annotated[
        Path | None,
        typer.Option(
            "--planned-readmissions",
            help="CSV (category, code) of CMS's Planned Readmission Algorithm: utilization excludes planned "
            "readmissions.",
        ),
    ] = None,
) -> None:
    """Build a performance report (attribution, gaps in care, performance, utilization, ...) from a run's marts,
    by entity, TIN or NPI, and write it as CSV, Excel, PDF, JSON or FHIR."""
    if list_reports:
        for info in catalog():
            typer.echo(f"{info.name}\t{info.title}")
        return
    missing = [flag for flag, value in (("NAME", name), ("--run", run), ("--out", out)) if value is None]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)}", param_hint="apmkit report")
    if by not in GROUPINGS:
        raise typer.BadParameter(f"choose from {', '.join(GROUPINGS)}", param_hint="--by")
    assert name is not None and run is not None and out is not None
    from apmkit.workspace.reports import build_report, export_report

    request = ReportRequest(name=name, by=by, payer=payer, period=period)  # type: ignore[arg-type]
    with open_engine() as engine:
        result = build_report(run, request, engine=engine, planned_readmissions=planned_readmissions)
    written = export_report(result, out)
    for note in result.notes:
        state.console.print(f"[dim]{note}[/]", highlight=False)
    typer.echo(str(written))


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
