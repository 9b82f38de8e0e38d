"""``apmkit attribute``: attribute members to entities, TINs and clinicians under a contract's method."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.errors import ConfigurationError
from apmkit.workspace.attribution import load_specs, run_attribution_job


def register(app: typer.Typer) -> None:
    """Add the ``attribute`` command to the ``apmkit`` command."""
    app.command("attribute")(attribute_command)


def attribute_command(
    contract: Annotated[
        Path, typer.Option("--contract", help="Contract YAML (its attribution: section) or a spec YAML.")
    ],
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables (apmkit ingest / synth).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Run date, YYYY-MM-DD.")],
    out: Annotated[
        Path, typer.Option("--out", help="Attribution Parquet file (a CSV is written beside it).")
    ],
    participants: Annotated[
        Path | None, typer.Option("--participants", help="CSV: entity_id, tin[, npi, start_date, end_date].")
    ] = None,
    roster: Annotated[
        Path | None,
        typer.Option("--roster", help="CSV: member_id, entity_id/tin/npi, start_date[, end_date]."),
    ] = None,
    member_selected_pcp: Annotated[
        Path | None, typer.Option("--member-selected-pcp", help="CSV, same columns as --roster.")
    ] = None,
    voluntary_alignment: Annotated[
        Path | None, typer.Option("--voluntary-alignment", help="CSV, same columns as --roster.")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="An earlier attribution Parquet: write the change report."),
    ] = None,
    monthly: Annotated[
        bool, typer.Option("--monthly", help="Also run at every month end of the program year up to --as-of.")
    ] = False,
    fhir: Annotated[
        Path | None, typer.Option("--fhir", help="Write the Da Vinci ATR Group bundle (JSON).")
    ] = None,
    member_system: Annotated[
        str, typer.Option("--member-system", help="FHIR identifier system of member_id in the ATR export.")
    ] = "urn:apmkit:member-id",
) -> None:
    """Attribute members (plurality, MSSP step-wise, roster or episode) and explain every assignment.

    Writes OUT (+ .csv), OUT_rejects, OUT_list (monthly attribution list by entity/TIN/NPI), OUT_panels,
    and with --previous or --monthly OUT_changes (adds, drops, transfers with reasons).
    """
    try:
        run_date = dt.date.fromisoformat(as_of)
    except ValueError:
        raise ConfigurationError(f"option --as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    specs = load_specs(contract)
    engine = open_engine()
    try:
        with progress() as bar:
            task = bar.add_task("attributing", total=None)
            report = run_attribution_job(
                engine,
                specs,
                data=data,
                run_date=run_date,
                out=out,
                inputs_csv={
                    "participants": participants,
                    "roster": roster,
                    "member_selected_pcp": member_selected_pcp,
                    "voluntary_alignment": voluntary_alignment,
                },
                previous=previous,
                monthly=monthly,
                fhir=fhir,
                member_system=member_system,
                on_run=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        engine.close()
    for line in report:
        state.console.print(line, highlight=False)
