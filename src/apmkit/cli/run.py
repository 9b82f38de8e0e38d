"""``apmkit run``: one contract, one run — claims to payment under the contract's own rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import (
    STATEMENT_FORMATS,
    FormatsOption,
    QualityRatesOption,
    open_engine,
    progress,
    state,
    statement_formats,
)
from apmkit.workspace import Overrides, Workspace

STAGES = 8


def run_command(
    contract: Annotated[
        Path, typer.Option("--contract", help="Contract YAML (e.g. from `apmkit contract template`).")
    ],
    data: Annotated[
        Path, typer.Option("--from", help="Folder of canonical tables (`apmkit ingest` output).")
    ],
    period: Annotated[
        str, typer.Option("--period", help="Performance period: a 4-digit year or a contract period.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole when the run succeeds.")],
    inputs: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            help="CSV of per-entity values claims cannot hold (entity_id, participant_revenue, quality_score, ...).",
        ),
    ] = None,
    quality_rates: QualityRatesOption = None,
    formats: FormatsOption = ",".join(STATEMENT_FORMATS),
    county_puf: Annotated[
        list[Path] | None,
        typer.Option("--county-puf", help="CMS county FFS benchmark PUF CSV (repeatable): MSSP benchmark."),
    ] = None,
    county_crosswalk: Annotated[
        Path | None,
        typer.Option(
            "--county-crosswalk", help="CSV or Parquet of county_fips, county_code (SSA) for the PUF."
        ),
    ] = None,
) -> None:
    """Run a contract for a period: attribution, risk scores, benchmark, expenditure, quality and every payment
    component, with one set of definitions for benchmark and actuals. Writes the marts (Parquet and
    OUT/run.duckdb) and the statements; a failed run leaves the previous OUT as it was."""
    chosen = statement_formats(formats)
    with open_engine() as engine, Workspace(data, engine=engine) as workspace, progress() as bar:
        task = bar.add_task("run", total=STAGES)

        def advance(stage: str) -> None:
            bar.update(task, advance=1, description=stage)

        result = workspace.run(
            contract,
            period,
            out=out,
            inputs=inputs,
            formats=chosen,
            progress=advance,
            overrides=Overrides(
                quality_rates=quality_rates,
                county_puf=tuple(county_puf or ()),
                county_crosswalk=county_crosswalk,
            ),
        )
        bar.update(task, completed=STAGES)
    settlement = result.settlement
    console = state.console
    console.print(
        " ".join(f"{k.replace('_', ' ')}: {v};" for k, v in settlement.counts.items())
        + f" total net settlement: {settlement.total_net:,}"
    )
    for warning in settlement.warnings:
        console.print(f"[yellow]⚠ {warning}[/]")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
