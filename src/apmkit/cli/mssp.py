"""``apmkit mssp``: Medicare Shared Savings Program tools (reproduce CMS's published results)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pacsv
import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.documents import read_csv_header
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.programs.mssp.puf import LINE_COLUMN, OUTPUT_COLUMNS, map_puf_header, reproduce_puf

mssp_app = typer.Typer(help="Medicare Shared Savings Program (MSSP) tools.", no_args_is_help=True)

FIRST_YEAR, LAST_YEAR = 2013, 2024


def register(app: typer.Typer) -> None:
    """Add the ``mssp`` command group to the ``apmkit`` command."""
    app.add_typer(mssp_app, name="mssp")


def read_puf_csv(path: Path) -> pa.Table:
    """Read a PUF CSV as strings, columns renamed to canonical names, with each row's line number.

    Every column is read as text so that ``$1,234``, ``2.3%`` and blanks survive to the row-level parser,
    which reports the line and field of anything it cannot read.
    """
    header = read_csv_header(path)
    mapped = map_puf_header(header, source=str(path))
    placeholder = [f"c{index}" for index in range(len(header))]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=placeholder, skip_rows=1, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(placeholder, pa.string()),
                include_columns=[placeholder[i] for i, name in enumerate(mapped) if name is not None],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputFileError(path, f"not a readable CSV file ({str(exc).splitlines()[0]})") from None
    names = [name for name in mapped if name is not None]
    table = table.rename_columns(names)
    # Header is line 1; a quoted field with a line break would shift later numbers, which PUFs do not have.
    lines = pa.array(range(2, table.num_rows + 2), pa.int64()).cast(pa.string())
    return table.append_column(LINE_COLUMN, lines)


@mssp_app.command("reproduce-puf")
def reproduce_puf_command(
    puf: Annotated[
        Path, typer.Argument(help="CMS MSSP ACO public use file (CSV), raw or standardized names.")
    ],
    performance_year: Annotated[
        int, typer.Option("--performance-year", help="Performance year whose rules apply (2013-2024).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Result CSV to write.")],
) -> None:
    """Recompute every ACO's earned shared savings / owed losses and compare with CMS's published amount.

    Writes aco_id, track, computed_earned_save_loss, published_earned_save_loss, difference, status (match
    within $2 or 0.05 %, mismatch, or "not_reproducible: <reason>") and prints the match rate.
    """
    if not FIRST_YEAR <= performance_year <= LAST_YEAR:
        raise ConfigurationError(
            f"--performance-year {performance_year}: PUF reproduction covers {FIRST_YEAR}-{LAST_YEAR}"
        )
    with progress() as bar:
        task = bar.add_task("Reading PUF", total=3)
        arrow = read_puf_csv(puf)
        bar.advance(task)
        bar.update(task, description="Recomputing ACOs")
        with open_engine() as engine:
            result = reproduce_puf(engine.rows(engine.from_arrow(arrow)), performance_year)
        bar.advance(task)
        bar.update(task, description="Writing results")
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(OUTPUT_COLUMNS)
            for row in result.rows:
                writer.writerow(
                    [
                        row.aco_id,
                        row.track,
                        _money(row.computed),
                        _money(row.published),
                        _money(row.difference),
                        row.status_text,
                    ]
                )
        bar.advance(task)

    total = len(result.rows)
    console = state.console
    console.print(
        f"rows read {result.rows_read}; loaded {total} ACOs of performance year {performance_year} "
        f"(rows of other years skipped: {result.rows_other_years}); "
        f"rejected as not reproducible {result.not_reproducible}"
    )
    for note in result.notes:
        console.print(note)
    if total == 0:
        raise InputFileError(puf, f"no rows for performance year {performance_year}")
    rate = result.match_rate * 100
    typer.echo(
        f"match {result.matched}/{total} ({rate.quantize(Decimal('0.1'))} %), mismatch {result.mismatched}, "
        f"not reproducible {result.not_reproducible}; results written to {out}"
    )


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"
