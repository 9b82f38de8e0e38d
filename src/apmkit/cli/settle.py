"""``apmkit settle``: settle a contract for a period from claims (a canonical folder) or aggregate inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.workspace import Overrides, Workspace
from apmkit.workspace.run import FORMATS, settle_aggregate


def settle_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML file.")],
    period: Annotated[
        str, typer.Option("--period", help="Performance period (a 4-digit year or a contract period).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the statements.")],
    source: Annotated[
        Path,
        typer.Option(
            "--from", help="Folder of canonical tables (claims path) or a CSV of per-entity aggregate inputs."
        ),
    ],
    inputs: Annotated[
        Path | None,
        typer.Option("--inputs", help="Claims path: CSV of per-entity inputs (benchmark, quality, ...)."),
    ] = None,
    attribution: Annotated[
        Path | None,
        typer.Option(
            "--attribution",
            help="Claims path: Parquet of member_id, entity_id[, cell] (default: DIR/attribution.parquet if present).",
        ),
    ] = None,
    risk_scores: Annotated[
        Path | None,
        typer.Option(
            "--risk-scores",
            help="Claims path: Parquet of member_id, score[, year] (risk tiers, risk-adjusted capitation).",
        ),
    ] = None,
    benchmark: Annotated[
        Path | None,
        typer.Option(
            "--benchmark",
            help="Parquet from `apmkit benchmark` (benchmark_entities or benchmark_summary) setting each benchmark.",
        ),
    ] = None,
    quality_rates: Annotated[
        Path | None,
        typer.Option(
            "--quality-rates",
            help="CSV entity_id, measure, rate (or eligible, numerator)[, baseline_rate] for quality measures "
            "not computed from the data (CAHPS, CMS claims measures).",
        ),
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated outputs: json, parquet, html, xlsx.")
    ] = ",".join(FORMATS),
) -> None:
    """Settle a contract for a period: per entity population, benchmark, expenditure, savings, each payment
    mechanism's amount and the net settlement, as JSON, Parquet, HTML and Excel statements."""
    chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        raise ConfigurationError(f"--format: unknown {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    if source.is_file() and source.suffix.lower() == ".csv":
        for option, given in (
            ("--inputs", inputs),
            ("--attribution", attribution),
            ("--risk-scores", risk_scores),
        ):
            if given is not None:
                raise ConfigurationError(
                    f"{option} applies to the claims path (--from a folder), not to a CSV"
                )
        with open_engine() as engine:
            settlement = settle_aggregate(contract, period, source, out=out, formats=chosen, engine=engine)
    elif source.is_dir():
        if attribution is None and (source / "attribution.parquet").exists():
            attribution = source / "attribution.parquet"  # the documented default; named on the statement
        overrides = Overrides(
            attribution=attribution, risk_scores=risk_scores, benchmark=benchmark, quality_rates=quality_rates
        )
        with open_engine() as engine, Workspace(source, engine=engine) as workspace, progress() as bar:
            task = bar.add_task("settling", total=8)
            result = workspace.run(
                contract,
                period,
                out=out,
                inputs=inputs,
                formats=chosen,
                overrides=overrides,
                progress=lambda stage: bar.update(task, advance=1, description=stage),
            )
        settlement = result.settlement
    else:
        raise InputFileError(
            source, "--from must be a folder of canonical tables or a .csv of aggregate inputs"
        )
    console = state.console
    console.print(
        " ".join(f"{k.replace('_', ' ')}: {v};" for k, v in settlement.counts.items())
        + f" total net settlement: {settlement.total_net:,}"
    )
    for warning in settlement.warnings:
        console.print(f"[yellow]⚠ {warning}[/]")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("settle")(settle_command)
