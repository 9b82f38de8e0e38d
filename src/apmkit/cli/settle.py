"""``apmkit settle``: settle a contract for a period from claims (a canonical folder) or aggregate inputs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.cli.contract import read_contract_text
from apmkit.contracts import parse_contract
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.settlement import claims as claims_path
from apmkit.settlement import quality_link
from apmkit.settlement.engine import settle as run_settlement
from apmkit.settlement.inputs import EntityInputs, ReadReport, apply_benchmarks, read_entity_rows
from apmkit.settlement.render import (
    lines_table,
    settlement_to_excel,
    settlement_to_html,
    settlement_to_json,
    summary_table,
)
from apmkit.settlement.statement import Settlement, StatementLine

FORMATS = ("json", "parquet", "html", "xlsx")


def read_aggregate_csv(path: Path) -> tuple[list[EntityInputs], ReadReport]:
    """Read a CSV of per-entity aggregate inputs (one row per entity)."""
    if not path.is_file():
        raise InputFileError(path, "no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "entity_id" not in [f.strip().lower() for f in reader.fieldnames]:
            raise InputFileError(path, "the header must name an entity_id column", line=1, field="entity_id")
        return read_entity_rows(reader, path.name)


def write_outputs(settlement: Settlement, out: Path, formats: list[str]) -> list[Path]:
    """Write the statement files; Parquet goes through the engine (the only place that writes tables)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "json" in formats:
        target = out / "statement.json"
        target.write_text(settlement_to_json(settlement), encoding="utf-8")
        written.append(target)
    if "parquet" in formats:
        with open_engine() as engine:
            for name, table in (("summary", summary_table(settlement)), ("lines", lines_table(settlement))):
                written.append(engine.write_parquet(engine.from_arrow(table), out / f"{name}.parquet"))
    if "html" in formats:
        target = out / "statement.html"
        target.write_text(settlement_to_html(settlement), encoding="utf-8")
        written.append(target)
    if "xlsx" in formats:
        target = out / "statement.xlsx"
        target.write_bytes(settlement_to_excel(settlement))
        written.append(target)
    if settlement.rejected:
        target = out / "rejected.csv"
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["source_file", "source_line", "reason"])
            writer.writeheader()
            writer.writerows(settlement.rejected)
        written.append(target)
    return written


def settle_command(
    contract: Annotated[Path, typer.Option("--contract", help="Contract YAML file.")],
    period: Annotated[
        str, typer.Option("--period", help="Performance period (a 4-digit year or a contract period).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the statements.")],
    source: Annotated[
        Path,
        typer.Option(
            "--from", help="Folder of canonical tables (claims path) or a CSV of per-entity aggregate inputs."
        ),
    ],
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
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated outputs: json, parquet, html, xlsx.")
    ] = ",".join(FORMATS),
) -> None:
    """Settle a contract for a period: per entity population, benchmark, expenditure, savings, each payment
    mechanism's amount and the net settlement, as JSON, Parquet, HTML and Excel statements."""
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        raise ConfigurationError(f"--format: unknown {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    document = parse_contract(read_contract_text(contract), source=str(contract))
    resolved, _ = document.for_period(period)
    try:
        resolved.period(period)
    except KeyError as exc:
        raise ConfigurationError(
            f"--period {period}: not a 4-digit year nor a period of {contract} ({', '.join(document.periods)})"
        ) from exc

    if source.is_file() and source.suffix.lower() == ".csv":
        entities, report = read_aggregate_csv(source)
        counts = {
            "rows_read": report.read,
            "rows_loaded": report.loaded,
            "rows_rejected": len(report.rejected),
        }
        rejected = report.rejected
        quality_lines: dict[str, tuple[StatementLine, ...]] = {}
    elif source.is_dir():
        entities, counts, rejected, quality_lines = _claims_entities(
            resolved, period, source, inputs, attribution, risk_scores, out
        )
    else:
        raise InputFileError(
            source, "--from must be a folder of canonical tables or a .csv of aggregate inputs"
        )

    if benchmark is not None:
        if not benchmark.exists():
            raise InputFileError(benchmark, "no such benchmark file")
        with open_engine() as engine:
            benchmark_rows = engine.to_arrow(engine.read_parquet(benchmark)).to_pylist()
        entities = apply_benchmarks(entities, benchmark_rows, benchmark.name)

    with progress() as bar:
        task = bar.add_task("settling", total=len(entities))
        settlement = run_settlement(
            document, period, entities, rejected=rejected, counts=counts, extra_lines=quality_lines
        )
        bar.update(task, completed=len(entities))
    written = write_outputs(settlement, out, chosen)
    console = state.console
    console.print(
        " ".join(f"{k.replace('_', ' ')}: {v};" for k, v in settlement.counts.items())
        + f" total net settlement: {settlement.total_net:,}"
    )
    for warning in settlement.warnings:
        console.print(f"[yellow]⚠ {warning}[/]")
    for path in written:
        typer.echo(str(path))


def _claims_entities(
    contract: object,
    period: str,
    folder: Path,
    inputs: Path | None,
    attribution: Path | None,
    risk_scores: Path | None,
    out: Path,
) -> tuple[list[EntityInputs], dict[str, int], list[dict[str, str]], dict[str, tuple[StatementLine, ...]]]:
    from apmkit.contracts.spec import Contract

    assert isinstance(contract, Contract)
    given: dict[str, EntityInputs] = {}
    counts: dict[str, int] = {}
    rejected: list[dict[str, str]] = []
    if inputs is not None:
        rows, report = read_aggregate_csv(inputs)
        given = {row.entity_id: row for row in rows}
        counts.update(
            inputs_read=report.read, inputs_loaded=report.loaded, inputs_rejected=len(report.rejected)
        )
        rejected.extend(report.rejected)
    spec = claims_path.ClaimsMeasureSpec.from_contract(contract, period)
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("measuring population and expenditure", total=2)
        tables = engine.canonical(folder)
        attribution_path = attribution or (folder / "attribution.parquet")
        links = engine.read_parquet(attribution_path) if attribution_path.exists() else None
        if attribution is not None and links is None:
            raise InputFileError(attribution, "no such attribution file")
        if links is None and contract.attribution is not None and not isinstance(contract.attribution, dict):
            links = _run_attribution(tables, contract, period)
            counts["attributed_by_contract_section"] = 1
        elif links is not None:
            missing = {"member_id", "entity_id"} - set(links.columns)
            if missing:
                raise InputFileError(
                    attribution_path, "missing required columns", field=", ".join(sorted(missing))
                )
        scores = None
        if risk_scores is not None:
            scores = engine.read_parquet(risk_scores)
            missing_score_columns = {"member_id", "score"} - set(scores.columns)
            if missing_score_columns:
                raise InputFileError(
                    risk_scores, "missing required columns", field=", ".join(sorted(missing_score_columns))
                )
        members = engine.materialize(claims_path.member_measures(tables, links, spec, risk_scores=scores))
        measures, cells = claims_path.measure(tables, links, spec, members=members)
        out.mkdir(parents=True, exist_ok=True)
        engine.write_parquet(claims_path.member_detail(members), out / "member_detail.parquet")
        measured = engine.to_arrow(measures).to_pylist()
        bar.update(task, advance=1)
        cell_rows = engine.to_arrow(cells).to_pylist()
        bar.update(task, advance=1)
        counts.update(
            claim_lines_counted=sum(int(r["claim_lines"]) for r in measured),
            members=sum(int(r["population"]) for r in measured),
        )
        quality = quality_link.quality_spec(contract)
        quality_rows: list[dict[str, object]] = []
        if quality is not None:
            quality_task = bar.add_task("evaluating the quality section's measures", total=1)
            start, end = quality_link.measurement_window(quality, spec.period.start, spec.period.end)
            rates = quality_link.entity_measure_rates(
                tables,
                members.select("entity_id", "member_id"),
                quality,
                start,
                end,
                materialize=engine.materialize,
            )
            quality_rows = engine.to_arrow(rates).to_pylist()
            bar.update(quality_task, advance=1)
    entities = claims_path.entity_inputs(
        measured,
        cell_rows,
        spec,
        contract,
        given,
        source=f"claims in {folder} (member rows: member_detail.parquet)",
    )
    counts["entities"] = len(entities)
    quality_lines: dict[str, tuple[StatementLine, ...]] = {}
    if quality is not None:
        computed = quality_link.score_entities(
            quality,
            quality_rows,
            [entity.entity_id for entity in entities],
            source=f"quality measures on the canonical tables in {folder}, attributed members",
        )
        entities, quality_lines = quality_link.apply_quality(entities, computed, given)
        counts["quality_entities_scored"] = len(computed)
        counts["quality_scores_from_inputs"] = sum(
            1 for e in entities if e.entity_id in given and given[e.entity_id].quality_score is not None
        )
    return entities, counts, rejected, quality_lines


def _run_attribution(tables: object, contract: object, period: str) -> object:
    """Attribute members with the contract's ``attribution:`` section as of the period end."""
    from apmkit.attribution.assign import AttributionInputs, attribute_many
    from apmkit.contracts.spec import Contract

    assert isinstance(contract, Contract)
    result = attribute_many(
        AttributionInputs.from_tables(tables),  # type: ignore[arg-type]
        [contract.attribution],
        contract.period(period).end,
    )
    return result.attribution


def register(app: typer.Typer) -> None:
    app.command("settle")(settle_command)
