"""``apmkit ingest FORMAT PATH --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apmkit.cli.common import progress, state
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError
from apmkit.ingest import DEFAULT_MEMORY_LIMIT, FORMATS, IngestReport, ingest


def print_report(report: IngestReport) -> None:
    table = Table(title=f"ingest {report.format}: {report.source}")
    for header in ("table", "read", "loaded", "quarantined", "final action", "superseded"):
        table.add_column(header, justify="right" if header != "table" else "left")
    for name, counts in report.tables.items():
        table.add_row(
            name,
            f"{counts.read:,}",
            f"{counts.loaded:,}",
            f"{counts.quarantined:,}",
            "" if counts.final_action is None else f"{counts.final_action:,}",
            "" if counts.superseded is None else f"{counts.superseded:,}",
        )
    totals = report.totals
    table.add_row(
        "total", f"{totals.read:,}", f"{totals.loaded:,}", f"{totals.quarantined:,}", "", "", style="bold"
    )
    state.console.print(table)
    for check in report.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        state.console.print(f"check {check.name}: {mark} {check.detail}", highlight=False)
    for warning in report.warnings:
        state.console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    shown = report.quarantine[:10]
    for entry in shown:
        state.console.print(
            f"quarantined {entry['source_file']} line {entry['source_line']}: {entry['reason']}",
            highlight=False,
        )
    if len(report.quarantine) > len(shown):
        state.console.print(
            f"... {len(report.quarantine) - len(shown)} more in quarantine.parquet", highlight=False
        )
    state.console.print(
        f"counts reconcile (read = loaded + quarantined): {'yes' if report.reconciles else 'NO'}"
    )


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
        path: Annotated[Path, typer.Argument(help="Input file or folder.")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Output folder for the canonical Parquet tables.")
        ] = None,
        into: Annotated[
            Path | None,
            typer.Option(
                "--into",
                help="Multi-payer folder: replace only --payer's rows in it and rebuild the combined tables.",
            ),
        ] = None,
        payer: Annotated[
            str | None,
            typer.Option("--payer", help="Payer of this feed: set on every enrollment, claim and ADT row."),
        ] = None,
        db: Annotated[
            Path | None, typer.Option("--db", help="Also load the tables into this DuckDB database file.")
        ] = None,
        fail_on_quarantine: Annotated[
            bool,
            typer.Option("--fail-on-quarantine", help="Exit with status 1 if any record was quarantined."),
        ] = False,
        memory_limit: Annotated[
            str | None,
            typer.Option(
                "--memory-limit",
                envvar="APMKIT_MEMORY_LIMIT",
                help=f"DuckDB memory limit, e.g. 8GB (default {DEFAULT_MEMORY_LIMIT}); the rest spills to disk.",
            ),
        ] = None,
        temp_dir: Annotated[
            Path | None,
            typer.Option(
                "--temp-dir",
                envvar="APMKIT_TEMP_DIR",
                help="Folder for DuckDB's spill files (default: the system temp folder).",
            ),
        ] = None,
    ) -> None:
        """Load FORMAT files at PATH into canonical tables (OUT/<table>.parquet), with quarantine and report.

        OUT is replaced whole when the ingest succeeds; on any error it is left as it was. With
        --payer P --into DIR, only payer P's rows in the multi-payer folder DIR are replaced.
        """
        if (out is None) == (into is None):
            raise ConfigurationError("give exactly one of --out DIR or --into DIR (with --payer)")
        target = out if out is not None else into
        assert target is not None
        engine = Engine.connect(
            state.engine_name, memory_limit=memory_limit or DEFAULT_MEMORY_LIMIT, temp_directory=temp_dir
        )
        with engine, progress() as bar:
            task = bar.add_task(f"ingest {fmt}", total=None)
            report = ingest(
                engine,
                fmt,
                path,
                target,
                database=db,
                on_step=lambda msg: bar.update(task, description=msg),
                payer=payer,
                into=into is not None,
            )
            bar.update(task, description="done")
        print_report(report)
        if into is not None:
            state.console.print(
                f"wrote payer {payer} into {into}/ (reports: {into / 'payers' / str(payer) / 'ingest_report.json'},"
                f" combined {into / 'ingest_report.json'})",
                highlight=False,
            )
        else:
            state.console.print(f"wrote {target}/ (report: {target / 'ingest_report.json'})")
        failed = [check.name for check in report.checks if not check.passed]
        if failed:
            state.console.print(f"[red]error:[/] failed check(s): {', '.join(failed)}", highlight=False)
            raise typer.Exit(1)
        if fail_on_quarantine and report.totals.quarantined:
            raise typer.Exit(1)
