"""``apmkit quality evaluate | gaps | score``: eCQMs and claims measures, gaps in care, quality scores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from apmkit.cli.common import open_engine, progress, state
from apmkit.documents import read_csv_rows
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.quality import cms529
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.evaluate import MEASURES, POPULATIONS, measure_populations
from apmkit.quality.gaps import gaps_by
from apmkit.quality.spec import MeasurementPeriod
from apmkit.workspace.quality import (
    QualityInputs,
    open_gaps,
    quality_inputs,
    rate_rows_from_populations,
    score_rows,
)
from apmkit.workspace.quality_scores import load_quality_spec, write_scores, write_table_csv

quality_app = typer.Typer(
    name="quality", help="Quality measures: evaluate, gaps in care, scores.", no_args_is_help=True
)


def _period(text: str) -> MeasurementPeriod:
    try:
        return MeasurementPeriod.parse(text)
    except ValueError as exc:
        raise ConfigurationError(f"--period: {exc}") from exc


def _measure(text: str) -> str:
    chosen = text.strip().upper()
    if chosen not in MEASURES:
        raise ConfigurationError(f"--measure {text!r}: choose one of {', '.join(MEASURES)}")
    return chosen


@contextmanager
def _inputs(engine: Engine, fhir: Path | None, canonical: Path | None) -> Iterator[QualityInputs]:
    """The quality inputs, with a progress line while FHIR loads and its ingest report printed."""
    from apmkit.cli.ingest import print_report

    with progress() as bar:
        task = bar.add_task("load inputs", total=None)
        with quality_inputs(
            engine,
            fhir,
            canonical,
            on_step=lambda message: bar.update(task, description=message),
            on_report=print_report,
        ) as inputs:
            bar.update(task, description="inputs loaded")
            yield inputs


def _summary(data: pa.Table, title: str) -> None:
    table = Table(title=title)
    table.add_column("population")
    table.add_column("patients with 1+", justify="right")
    table.add_column("total", justify="right")
    for column in POPULATIONS:
        values = [v for v in data.column(column).to_pylist() if v is not None]
        if not values:
            continue
        table.add_row(column, f"{sum(1 for v in values if v):,}", f"{sum(values):,}")
    state.console.print(table)


def _read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    return read_csv_rows(path, required=required)[1]


def register(app: typer.Typer) -> None:
    app.add_typer(quality_app, name="quality")


@quality_app.command("evaluate")
def evaluate_command(
    measure: Annotated[str, typer.Option("--measure", help=f"One of: {', '.join(MEASURES)}.")],
    period: Annotated[
        str, typer.Option("--period", help="START..END (e.g. 2025-01-01..2025-12-31) or YYYY.")
    ],
    out: Annotated[Path, typer.Option("--out", help="populations.csv to write.")],
    fhir: Annotated[
        Path | None, typer.Option("--fhir", help="Folder (or file) of FHIR R4 JSON/Bundles/NDJSON.")
    ] = None,
    canonical: Annotated[
        Path | None, typer.Option("--from", help="Folder of canonical tables (apmkit ingest / synth).")
    ] = None,
    ccde: Annotated[
        Path | None,
        typer.Option("--ccde", help="CMS529 only: also write the core clinical data elements CSV."),
    ] = None,
) -> None:
    """Evaluate one measure: one row per patient with its populations (0/1, blank if none) and evidence."""
    chosen = _measure(measure)
    window = _period(period)
    with open_engine() as engine, _inputs(engine, fhir, canonical) as inputs:
        with progress() as bar:
            task = bar.add_task(f"evaluate {chosen}", total=None)
            populations = measure_populations(
                chosen,
                inputs.members,
                inputs.clinical,
                inputs.medical_claims,
                window.start,
                window.end,
                materialize=engine.materialize,
            )
            data = write_table_csv(engine, populations.order_by("patient_id"), out)
            bar.update(task, description=f"evaluated {chosen}")
        if ccde is not None and chosen == "CMS529":
            elements = cms529.core_clinical_data_elements(
                inputs.members, inputs.clinical, window.start, window.end
            )
            write_table_csv(engine, elements.order_by(["member_id", "encounter_id", "element"]), ccde)
            state.console.print(f"wrote {ccde}")
    _summary(data, f"{chosen} {window.start}..{window.end}: {data.num_rows:,} patients")
    state.console.print(f"wrote {out}")


@quality_app.command("gaps")
def gaps_command(
    measure: Annotated[list[str], typer.Option("--measure", help="eCQM(s) to report; repeat for several.")],
    period: Annotated[str, typer.Option("--period", help="START..END or YYYY.")],
    out: Annotated[Path, typer.Option("--out", help="gaps.csv to write (one row per patient and gap).")],
    fhir: Annotated[Path | None, typer.Option("--fhir", help="Folder of FHIR R4 resources.")] = None,
    canonical: Annotated[Path | None, typer.Option("--from", help="Folder of canonical tables.")] = None,
    by: Annotated[
        str, typer.Option("--by", help="Summarize open gaps by npi, tin or entity (needs --attribution).")
    ] = "npi",
    attribution: Annotated[
        Path | None,
        typer.Option("--attribution", help="CSV member_id,entity_id assigning patients to entities."),
    ] = None,
) -> None:
    """Open gaps in care per patient: last relevant value and date, what closes the gap, NPI/TIN/entity."""
    chosen = [_measure(m) for m in measure]
    for name in chosen:
        if name not in ECQM_DEFINITIONS:
            raise ConfigurationError(
                f"--measure {name}: gaps are reported for the eCQMs {', '.join(ECQM_DEFINITIONS)}"
            )
    if by not in ("npi", "tin", "entity"):
        raise ConfigurationError("--by: choose npi, tin or entity")
    if by == "entity" and attribution is None:
        raise ConfigurationError("--by entity needs --attribution member_id,entity_id CSV")
    window = _period(period)
    with open_engine() as engine, _inputs(engine, fhir, canonical) as inputs:
        assigned = _read_csv_rows(attribution, ("member_id", "entity_id")) if attribution else None
        gaps = open_gaps(engine, inputs, chosen, window.start, window.end, attribution=assigned)
        data = write_table_csv(engine, gaps.order_by(["measure", "patient_id"]), out)
        level = "entity_id" if by == "entity" else by
        summary = engine.to_arrow(gaps_by(gaps, level)).to_pylist()
    table = Table(title=f"open gaps by {by} ({data.num_rows:,} in all)")
    for header in ("measure", level, "open gaps"):
        table.add_column(header)
    for row in summary[:20]:
        table.add_row(row["measure"], str(row[level] or "(none)"), f"{row['open_gaps']:,}")
    state.console.print(table)
    state.console.print(f"wrote {out}")


@quality_app.command("score")
def score_command(
    spec: Annotated[
        Path, typer.Option("--spec", help="Quality spec YAML (or a contract with a quality: section).")
    ],
    out: Annotated[Path, typer.Option("--out", help="scores.csv to write (one row per entity).")],
    rates: Annotated[
        Path | None,
        typer.Option("--rates", help="CSV entity_id,measure,eligible,numerator[,third][,baseline_rate]."),
    ] = None,
    populations: Annotated[
        Path | None,
        typer.Option(
            "--populations",
            help="populations CSV(s) with entity_id and measure columns (instead of --rates).",
        ),
    ] = None,
    entities: Annotated[
        Path | None,
        typer.Option(
            "--entities",
            help="CSV entity_id[,underserved_multiplier][,quality_score][,max_sharing_rate][,reported_ecqms].",
        ),
    ] = None,
) -> None:
    """Score entities: measure rates, deciles/points, quality score, gate and sharing-rate scaling."""
    quality = load_quality_spec(spec)
    if quality.scoring is None:
        raise InputFileError(spec, "the quality spec has no scoring section", field="scoring")
    if (rates is None) == (populations is None):
        raise ConfigurationError("give exactly one of --rates and --populations")
    source = rates or populations
    assert source is not None
    if populations is not None:
        with open_engine() as engine:
            rows = rate_rows_from_populations(engine, populations)
    else:
        rows = _read_csv_rows(source, ("entity_id", "measure"))
    extras = {row["entity_id"]: row for row in _read_csv_rows(entities, ("entity_id",))} if entities else {}
    output, measure_rows = score_rows(quality, rows, source=source, entities=extras, entities_source=entities)
    measures_out = write_scores(out, output, measure_rows)
    table = Table(title=f"quality scores ({quality.scoring.method})")
    for header in ("entity", "score", "standard / gate", "sharing multiplier"):
        table.add_column(header)
    for row in output:
        gate = row.get("meets_standard", row.get("gate_passed"))
        table.add_row(
            row["entity_id"], f"{row['quality_score']:.2f}", str(gate), f"{row['sharing_multiplier']:.4f}"
        )
    state.console.print(table)
    state.console.print(f"wrote {out} and {measures_out}")
