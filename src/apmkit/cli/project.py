"""``apmkit project``: the year-end settlement projected from a mid-year run (completion by chain ladder)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import QualityRatesOption, open_engine, progress, state
from apmkit.errors import ConfigurationError
from apmkit.workspace import Overrides


def project_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML.")],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Date the data are known to (YYYY-MM-DD), within the period.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced whole on success.")],
    period: Annotated[
        str | None,
        typer.Option("--period", help="Performance period (default: the as-of date's calendar year)."),
    ] = None,
    scenarios: Annotated[int, typer.Option("--scenarios", help="Scenarios for the projection band.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    inputs: Annotated[
        Path | None,
        typer.Option("--inputs", help="CSV of per-entity values claims cannot hold (as `apmkit run`)."),
    ] = None,
    quality_rates: QualityRatesOption = None,
) -> None:
    """Project the year-end settlement from the claims known at --as-of: completion factors from the data's own
    paid-lag triangle (chain ladder), the months left at the entity's completed PMPM, a 5th-95th percentile band,
    and how the projection moved month by month. Writes OUT/projection.parquet, movement.parquet,
    completion.parquet, triangle.parquet and charts/movement.vl.json."""
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise ConfigurationError(f"--as-of {as_of!r}: not a date (YYYY-MM-DD)") from None
    from apmkit.workspace.project import run_projection

    with open_engine() as engine, progress() as bar:
        task = bar.add_task("projection", total=None)

        def tell(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        result = run_projection(
            data,
            contract,
            period or str(day.year),
            as_of=day,
            scenarios=scenarios,
            seed=seed,
            out=out,
            inputs=inputs,
            overrides=Overrides(quality_rates=quality_rates),
            engine=engine,
            progress=tell,
        )
    for row in result.tables["projection"]:
        state.console.print(
            f"entity {row['entity_id']}: paid to date {row['paid_to_date']:,}, completed {row['completed_to_date']:,}; "
            f"projected year-end net {row['projected_net']:,} ({row['projected_net_p05']:,} to "
            f"{row['projected_net_p95']:,})",
            highlight=False,
        )
    for note in result.notes:
        state.console.print(f"[yellow]⚠ {note}[/]")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("project")(project_command)
