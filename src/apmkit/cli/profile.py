"""``apmkit profile --from DIR``: the data-quality summary of a folder of canonical tables."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apmkit.cli.common import open_engine, state
from apmkit.reports.data_quality import DataQualityProfile, profile


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,}"


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
    basis = (
        "Medicare FFS member-months"
        if result.denominator == "medicare_ffs"
        else "member-months (no Medicare FFS months in the feed)"
    )
    console.print(
        f"PMPM denominator: {result.denominator_member_months:,} {basis}; only claims dated in those months "
        "count (others are listed below)",
        highlight=False,
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
            _money(row["pmpm"]),
        )
    spend.add_row("total", "", "", f"{result.allowed_total:,}", f"{result.allowed_pmpm:,}", style="bold")
    if result.pharmacy:
        rx = result.pharmacy
        spend.add_row(
            f"pharmacy (per {rx['member_months']:,} FFS months with Part D)",
            f"{rx['claims']:,}",
            f"{rx['lines']:,}",
            f"{rx['allowed']:,}",
            _money(rx["pmpm"]),
        )
    console.print(spend)
    if result.outside_denominator:
        outside = Table(title="claims outside the PMPM denominator (not in the spend above)")
        for header in ("table", "reason", "claims", "lines", "allowed"):
            outside.add_column(header, justify="left" if header in ("table", "reason") else "right")
        for item in result.outside_denominator:
            outside.add_row(
                item["table"],
                item["reason"].replace("_", " "),
                f"{item['claims']:,}",
                f"{item['lines']:,}",
                f"{item['allowed']:,}",
            )
        console.print(outside)
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
            result = profile(engine.canonical(source), engine.rows)
        print_profile(result)
        if json_out:
            json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
