"""``apmkit settle``: settle a contract for a period from claims (a canonical folder) or aggregate inputs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pacsv
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
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.settlement.reconcile import PAYER_COLUMNS, diff_text
from apmkit.workspace import Overrides, Workspace
from apmkit.workspace.reconcile import breakdown, diff_payer_report, true_up_statements
from apmkit.workspace.run import settle_aggregate

settle_app = typer.Typer(
    name="settle",
    help="Settle a contract for a period (options below), or compare statements: diff, true-up, breakdown.",
    invoke_without_command=True,
)


@settle_app.callback()
def settle_command(
    ctx: typer.Context,
    contract: Annotated[Path | None, typer.Option("--contract", help="Contract YAML file.")] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Performance period (a 4-digit year or a contract period).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the statements.")] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Folder of canonical tables (claims path) or a CSV of per-entity aggregate inputs."
        ),
    ] = None,
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
    quality_rates: QualityRatesOption = None,
    formats: FormatsOption = ",".join(STATEMENT_FORMATS),
) -> None:
    """Settle a contract for a period: per entity population, benchmark, expenditure, savings, each payment
    mechanism's amount and the net settlement, as JSON, Parquet, HTML and Excel statements."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        name
        for name, value in (
            ("--contract", contract),
            ("--period", period),
            ("--out", out),
            ("--from", source),
        )
        if value is None
    ]
    if missing:
        raise typer.BadParameter(f"missing option {', '.join(missing)}", param_hint="apmkit settle")
    assert contract is not None and period is not None and out is not None and source is not None
    chosen = statement_formats(formats)
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


@settle_app.command("diff")
def diff_command(
    ours: Annotated[
        Path, typer.Argument(help="Our statement: statement.json or the run/settle output folder.")
    ],
    payer: Annotated[
        Path, typer.Argument(help="The payer's reconciliation report (CSV, one row per entity).")
    ],
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            help="STEP=HEADER: the payer's header for a step (entity_id, benchmark, expenditure, savings, quality, "
            "sharing_rate, payment); repeatable.",
        ),
    ] = None,
    tolerance: Annotated[
        str, typer.Option("--tolerance", help="Money differences up to this many dollars count as equal.")
    ] = "0",
    out: Annotated[Path | None, typer.Option("--out", help="Write the comparison as CSV.")] = None,
) -> None:
    """Line up a payer's reconciliation with our statement per entity: each difference and the first step
    where the two diverge. Exit 1 when any entity differs."""
    columns = _columns(column or [])
    with open_engine() as engine:
        result = diff_payer_report(engine, ours, payer, columns=columns, money_tolerance=_money(tolerance))
        if out is not None:
            _write_csv(engine, result.to_table(), out)
    typer.echo(diff_text(result))
    if any(entity.status != "matches" for entity in result.entities):
        raise typer.Exit(1)


@settle_app.command("true-up")
def true_up_command(
    earlier: Annotated[
        Path, typer.Argument(help="The earlier statement (preliminary): statement.json or folder.")
    ],
    later: Annotated[Path, typer.Argument(help="The same period settled again after run-out.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the true-up as CSV.")] = None,
) -> None:
    """The true-up of a period settled again after run-out: per entity, what changed and the amount owed."""
    with open_engine() as engine:
        result = true_up_statements(engine, earlier, later)
        if out is not None:
            _write_csv(engine, result.to_table(), out)
    for entity in result.entities:
        typer.echo(
            f"{entity.entity_id}: {entity.status}; net {entity.earlier_net} -> {entity.later_net}, "
            f"true-up {entity.true_up}"
        )
    typer.echo(f"total true-up: {result.total_true_up}")


@settle_app.command("breakdown")
def breakdown_command(
    run: Annotated[
        Path, typer.Argument(help="Output folder of `apmkit run` (summary, member_detail, attribution).")
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV of the participants' shares.")],
    by: Annotated[str, typer.Option("--by", help="tin or npi.")] = "tin",
    basis: Annotated[
        str, typer.Option("--basis", help="member_months (attributed lives) or spending.")
    ] = "member_months",
) -> None:
    """Each entity's net settlement distributed to its participant TINs (or NPIs) pro rata by attributed member
    months or spending; the parts of an entity add up to its amount to the cent."""
    with open_engine() as engine:
        table = breakdown(engine, run, level=by, basis=basis)
        _write_csv(engine, table, out)
    typer.echo(f"{table.num_rows} participant rows -> {out}")


def _columns(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    mapped = dict(PAYER_COLUMNS)
    for pair in pairs:
        step, sep, header = pair.partition("=")
        if not sep or step.strip() not in PAYER_COLUMNS or not header.strip():
            raise ConfigurationError(
                f"--column: expected STEP=HEADER with STEP one of {', '.join(PAYER_COLUMNS)}"
            )
        mapped[step.strip()] = header.strip()
    return mapped


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ConfigurationError("--tolerance: not a number") from None
    if not value.is_finite() or value < 0:
        raise ConfigurationError("--tolerance: must be a non-negative number")
    return value


def _write_csv(engine: Engine, table: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out)


def register(app: typer.Typer) -> None:
    app.add_typer(settle_app, name="settle")
