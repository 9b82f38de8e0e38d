"""``apmkit project``: the year-end settlement projected from a mid-year run (completion by chain ladder)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from apmkit.cli import _simulation as sim
from apmkit.cli.common import QualityRatesOption
from apmkit.errors import ConfigurationError


def project_command(
    contract: sim.ContractOption,
    data: sim.DataOption,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Date the data are known to (YYYY-MM-DD), within the period.")
    ],
    out: sim.OutOption,
    period: Annotated[
        str | None,
        typer.Option("--period", help="Performance period (default: the as-of date's calendar year)."),
    ] = None,
    scenarios: Annotated[int, typer.Option("--scenarios", help="Scenarios for the projection band.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    inputs: sim.InputsOption = None,
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

    job = sim.request(data, contract, period or str(day.year), scenarios, seed, None, inputs, quality_rates)
    result = sim.run_job("projection", run_projection, job, as_of=day, out=out)
    lines = [
        f"entity {row['entity_id']}: paid to date {row['paid_to_date']:,}, completed {row['completed_to_date']:,}; "
        f"projected year-end net {row['projected_net']:,} ({row['projected_net_p05']:,} to "
        f"{row['projected_net_p95']:,})"
        for row in result.tables["projection"]
    ]
    sim.show(lines, result.notes, out)


def register(app: typer.Typer) -> None:
    app.command("project")(project_command)
