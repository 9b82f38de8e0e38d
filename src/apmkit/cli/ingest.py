"""``apmkit ingest FORMAT PATH --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apmkit.cli.common import progress, state
from apmkit.engines import Engine
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
        out: Annotated[Path, typer.Option("--out", help="Output folder for the canonical Parquet tables.")],
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

        OUT is replaced whole when the ingest succeeds; on any error it is left as it was.
        """
        engine = Engine.connect(
            state.engine_name, memory_limit=memory_limit or DEFAULT_MEMORY_LIMIT, temp_directory=temp_dir
        )
        with engine, progress() as bar:
            task = bar.add_task(f"ingest {fmt}", total=None)
            report = ingest(
                engine, fmt, path, out, database=db, on_step=lambda msg: bar.update(task, description=msg)
            )
            bar.update(task, description="done")
        print_report(report)
        state.console.print(f"wrote {out}/ (report: {out / 'ingest_report.json'})")
        failed = [check.name for check in report.checks if not check.passed]
        if failed:
            state.console.print(f"[red]error:[/] failed check(s): {', '.join(failed)}", highlight=False)
            raise typer.Exit(1)
        if fail_on_quarantine and report.totals.quarantined:
            raise typer.Exit(1)
