"""``apmkit profile --from DIR``: the data-quality summary of a folder of canonical tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apmkit.cli.common import open_engine, state
from apmkit.reports.data_quality import DataQualityProfile, profile


def print_profile(result: DataQualityProfile) -> None:
    console = state.console
    rows = Table(title="canonical tables")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, n in result.rows.items():
        rows.add_row(name, f"{n:,}")
    console.print(rows)
    console.print(
        f"members {result.members:,}; member-months {result.member_months:,} "
        f"(Medicare FFS {result.ffs_member_months:,}); services {result.first_service} .. {result.last_service}"
    )
    spend = Table(title="allowed spend by claim type")
    for header in ("claim type", "claims", "lines", "allowed", "PMPM"):
        spend.add_column(header, justify="left" if header == "claim type" else "right")
    for row in result.spend_by_claim_type:
        spend.add_row(
            row["claim_type"],
            f"{row['claims']:,}",
            f"{row['lines']:,}",
            f"{row['allowed']:,}",
            f"{row['pmpm']:,}",
        )
    spend.add_row("total", "", "", f"{result.allowed_total:,}", f"{result.allowed_pmpm:,}", style="bold")
    console.print(spend)
    fill = Table(title="field completeness")
    for header in ("table", "column", "filled", "share"):
        fill.add_column(header, justify="right" if header in ("filled", "share") else "left")
    for c in result.completeness:
        fill.add_row(c.table, c.column, f"{c.filled:,}/{c.rows:,}", f"{c.share:.1%}")
    console.print(fill)
    console.print(f"members with claims but no enrollment: {result.claims_without_enrollment:,}")


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_command(
        source: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Also write the profile as JSON.")
        ] = None,
    ) -> None:
        """Print a data-quality summary of canonical tables (volumes, spend PMPM, field completeness)."""
        with open_engine() as engine:
            result = profile(engine.canonical(source))
        print_profile(result)
        if json_out:
            json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
