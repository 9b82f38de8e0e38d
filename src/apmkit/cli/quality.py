"""``apmkit quality evaluate | gaps | score``: eCQMs and claims measures, gaps in care, quality scores."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import typer
from pydantic import ValidationError
from rich.table import Table

from apmkit.cli.common import open_engine, progress, state
from apmkit.documents import read_csv_rows, read_yaml
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.quality import cms529
from apmkit.quality.claims import all_cause_readmission, claims_as_clinical, pqi_admissions
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.evaluate import POPULATIONS, evaluate_definition
from apmkit.quality.gaps import care_gaps, gaps_by
from apmkit.quality.scoring import (
    MeasureScore,
    exact_rate,
    final_sharing_rate,
    measure_rates,
    score_mssp,
    score_points,
)
from apmkit.quality.spec import MeasurementPeriod, MsspScoring, QualitySpec
from apmkit.schemas import CLINICAL, MEDICAL_CLAIMS, MEMBERS, PROVIDERS

MEASURES = (*ECQM_DEFINITIONS, "CMS529", "ACR", "PQI")
OUTPUT_COLUMNS = ("patient_id", *POPULATIONS, "evidence")

quality_app = typer.Typer(
    name="quality", help="Quality measures: evaluate, gaps in care, scores.", no_args_is_help=True
)


@dataclass
class Inputs:
    members: ibis.Table
    clinical: ibis.Table
    medical_claims: ibis.Table
    providers: ibis.Table


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
def _inputs(engine: Engine, fhir: Path | None, canonical: Path | None) -> Iterator[Inputs]:
    """Canonical tables from --fhir (through the fhir loader) and/or --from, combined."""
    if fhir is None and canonical is None:
        raise ConfigurationError("give --fhir DIR and/or --from CANONICAL_DIR")
    from apmkit.cli.ingest import print_report
    from apmkit.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="apmkit-quality-") as work:
        sources = []
        if fhir is not None:
            if not fhir.exists():
                raise InputFileError(fhir, "no such file or folder")
            with progress() as bar:
                task = bar.add_task("load FHIR", total=None)
                report = ingest(
                    engine, "fhir", fhir, Path(work), on_step=lambda msg: bar.update(task, description=msg)
                )
            print_report(report)
            sources.append(engine.canonical(Path(work)))
        if canonical is not None:
            sources.append(engine.canonical(canonical))

        def combined(name: str) -> ibis.Table:
            parts = [source[name] for source in sources]
            table = parts[0]
            for part in parts[1:]:
                table = table.union(part, distinct=False)
            return table

        members = combined("members")
        # A patient may come from both sources: keep one demographic row per member.
        members = members.filter(
            ibis.row_number().over(group_by=members.member_id, order_by=members.birth_date.desc()) == 0
        )
        claims = combined("medical_claims")
        clinical = combined("clinical").union(claims_as_clinical(claims), distinct=False)
        yield Inputs(
            members=engine.materialize(MEMBERS.select_from(members)),
            clinical=engine.materialize(CLINICAL.select_from(clinical)),
            medical_claims=engine.materialize(MEDICAL_CLAIMS.select_from(claims)),
            providers=PROVIDERS.select_from(combined("providers")),
        )


def _write_csv(engine: Engine, expr: ibis.Table, out: Path) -> pa.Table:
    data = engine.to_arrow(expr)
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(data, out)
    return data


def _populations(measure: str, inputs: Inputs, period: MeasurementPeriod, engine: Engine) -> ibis.Table:
    start, end = period.start, period.end
    people = inputs.members.select(patient_id=inputs.members.member_id)
    blank = ibis.null("int8")
    if measure in ECQM_DEFINITIONS:
        full = evaluate_definition(
            ECQM_DEFINITIONS[measure],
            inputs.members,
            inputs.clinical,
            start,
            end,
            materialize=engine.materialize,
        )
        return full.select(*OUTPUT_COLUMNS)
    if measure == "CMS529":
        counts = cms529.initial_population(inputs.members, inputs.clinical, start, end)
        return counts.select(
            "patient_id",
            initial_population=counts.initial_population,
            denominator=blank,
            denominator_exclusion=blank,
            denominator_exception=blank,
            numerator=blank,
            numerator_exclusion=blank,
            evidence=counts.evidence,
        )
    if measure == "ACR":
        stays = all_cause_readmission(inputs.medical_claims, start, end)
        per = stays.group_by("member_id").aggregate(
            stays=stays.claim_id.nunique(),
            readmitted=stays.readmitted.cast("int32").sum(),
            evidence=stays.claim_id.group_concat(","),
        )
        joined = people.left_join(per, people.patient_id == per.member_id)
        count = joined.stays.fill_null(0).cast("int32")
        return joined.select(
            "patient_id",
            initial_population=count,
            denominator=count,
            denominator_exclusion=blank,
            denominator_exception=blank,
            numerator=joined.readmitted.fill_null(0).cast("int32"),
            numerator_exclusion=blank,
            evidence=ibis.ifelse(
                joined.evidence.isnull(), "", "index stays: " + joined.evidence.fill_null("")
            ),
        )
    admissions = pqi_admissions(inputs.medical_claims, inputs.members, start, end)
    per = admissions.group_by("member_id").aggregate(
        admissions=admissions.claim_id.nunique(),
        evidence=(admissions.pqi + "=" + admissions.claim_id).group_concat(","),
    )
    joined = people.left_join(per, people.patient_id == per.member_id)
    return joined.select(
        "patient_id",
        initial_population=ibis.literal(1, type="int32"),
        denominator=blank,
        denominator_exclusion=blank,
        denominator_exception=blank,
        numerator=joined.admissions.fill_null(0).cast("int32"),
        numerator_exclusion=blank,
        evidence=joined.evidence.fill_null(""),
    )


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


def _load_spec(path: Path) -> QualitySpec:
    document = read_yaml(path)
    if isinstance(document, dict) and "quality" in document:
        document = document["quality"]
    try:
        return QualitySpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputFileError(path, first["msg"], field=field or None) from exc


def _read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    return read_csv_rows(path, required=required)[1]


def _decimal(path: Path, line: int, field: str, value: str | None) -> Decimal | None:
    if value is None or value.strip() == "":
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:
        raise InputFileError(path, "not a number", line=line, field=field) from exc


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
            data = _write_csv(
                engine, _populations(chosen, inputs, window, engine).order_by("patient_id"), out
            )
            bar.update(task, description=f"evaluated {chosen}")
        if ccde is not None and chosen == "CMS529":
            elements = cms529.core_clinical_data_elements(
                inputs.members, inputs.clinical, window.start, window.end
            )
            _write_csv(engine, elements.order_by(["member_id", "encounter_id", "element"]), ccde)
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
        parts = [
            care_gaps(
                ECQM_DEFINITIONS[name],
                inputs.members,
                inputs.clinical,
                window.start,
                window.end,
                providers=inputs.providers,
                materialize=engine.materialize,
            )
            for name in chosen
        ]
        gaps = parts[0]
        for part in parts[1:]:
            gaps = gaps.union(part, distinct=False)
        if attribution is not None:
            rows = _read_csv_rows(attribution, ("member_id", "entity_id"))
            assigned = engine.from_arrow(
                pa.table(
                    {
                        "member_id": pa.array([r["member_id"] for r in rows], pa.string()),
                        "entity_id": pa.array([r["entity_id"] for r in rows], pa.string()),
                    }
                )
            )
            gaps = gaps.left_join(assigned, gaps.patient_id == assigned.member_id).drop("member_id")
        gaps = engine.materialize(gaps)
        data = _write_csv(engine, gaps.order_by(["measure", "patient_id"]), out)
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
    quality = _load_spec(spec)
    if quality.scoring is None:
        raise InputFileError(spec, "the quality spec has no scoring section", field="scoring")
    if (rates is None) == (populations is None):
        raise ConfigurationError("give exactly one of --rates and --populations")
    per_entity: dict[str, list[tuple[int, dict[str, str]]]] = {}
    source = rates or populations
    assert source is not None
    if populations is not None:
        with open_engine() as engine:
            # Blank population columns (the measure has no such population) must still read as integers.
            types = {column: pa.int64() for column in POPULATIONS}
            types.update(entity_id=pa.string(), measure=pa.string(), patient_id=pa.string())
            try:
                read = pacsv.read_csv(populations, convert_options=pacsv.ConvertOptions(column_types=types))
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputFileError(populations, f"cannot read CSV: {exc}") from exc
            if "entity_id" not in read.column_names or "measure" not in read.column_names:
                raise InputFileError(populations, "missing column(s) entity_id, measure", line=1)
            table = engine.from_arrow(read)
            aggregated = engine.to_arrow(measure_rates(table, "entity_id")).to_pylist()
        rows = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in aggregated]
    else:
        rows = _read_csv_rows(source, ("entity_id", "measure", "eligible", "numerator"))
    for line, row in enumerate(rows, start=2):
        per_entity.setdefault(row["entity_id"], []).append((line, row))
    extras: dict[str, dict[str, str]] = {}
    if entities is not None:
        for row in _read_csv_rows(entities, ("entity_id",)):
            extras[row["entity_id"]] = row
    output: list[dict[str, Any]] = []
    measure_rows: list[dict[str, Any]] = []
    for entity, items in sorted(per_entity.items()):
        scores: list[MeasureScore] = []
        baselines: dict[str, Decimal] = {}
        for line, row in items:
            try:
                eligible, numerator = int(row["eligible"]), int(row["numerator"])
            except ValueError as exc:
                raise InputFileError(
                    source, "eligible and numerator must be whole numbers", line=line
                ) from exc
            third = row.get("third") or None
            if third not in (None, "top", "middle", "bottom"):
                raise InputFileError(source, "third must be top, middle or bottom", line=line, field="third")
            scores.append(
                MeasureScore(
                    row["measure"],
                    eligible,
                    numerator,
                    exact_rate(numerator, eligible),
                    third=third,  # type: ignore[arg-type]
                )
            )
            baseline = _decimal(source, line, "baseline_rate", row.get("baseline_rate"))
            if baseline is not None:
                baselines[row["measure"]] = baseline
        extra = extras.get(entity, {})
        max_rate = _decimal(entities or source, 0, "max_sharing_rate", extra.get("max_sharing_rate"))
        result: dict[str, Any] = {"entity_id": entity, "method": quality.scoring.method}
        if isinstance(quality.scoring, MsspScoring):
            reported = extra.get("reported_ecqms")
            mssp = score_mssp(
                quality.scoring,
                scores,
                underserved_multiplier=_decimal(
                    entities or source, 0, "underserved_multiplier", extra.get("underserved_multiplier")
                )
                or Decimal(0),
                quality_score=_decimal(entities or source, 0, "quality_score", extra.get("quality_score")),
                reported_ecqms=int(reported) if reported else None,
            )
            result.update(
                quality_score=mssp.quality_score,
                health_equity_bonus=mssp.health_equity_bonus,
                adjusted_score=mssp.adjusted_score,
                meets_standard=mssp.meets_standard,
                meets_alternative=mssp.meets_alternative,
                route=mssp.route,
                sharing_multiplier=(
                    Decimal(1)
                    if mssp.meets_standard
                    else mssp.adjusted_fraction
                    if mssp.meets_alternative
                    else Decimal(0)
                ),
            )
            if max_rate is not None:
                result["final_sharing_rate"] = final_sharing_rate(
                    max_rate,
                    quality.scoring.performance_year,
                    mssp.meets_standard,
                    mssp.meets_alternative,
                    mssp.adjusted_fraction,
                )
            scored = mssp.measures
        else:
            card = score_points(quality.scoring, scores, baselines)
            result.update(
                quality_score=card.total_score,
                gate_passed=card.gate_passed,
                sharing_multiplier=card.sharing_multiplier,
            )
            if max_rate is not None:
                result["final_sharing_rate"] = max_rate * card.sharing_multiplier
            scored = card.measures
        output.append(result)
        for m in scored:
            measure_rows.append(
                {
                    "entity_id": entity,
                    "measure": m.measure,
                    "eligible": m.eligible,
                    "numerator": m.numerator,
                    "rate": m.rate,
                    "decile": m.decile,
                    "third": m.third,
                    "attainment_points": m.attainment_points,
                    "improvement_points": m.improvement_points,
                    "points": m.points,
                }
            )
    columns = sorted(
        {key for row in output for key in row}, key=lambda k: (k != "entity_id", k != "method", k)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(output)
    measures_out = out.with_name(out.stem + "_measures.csv")
    with open(measures_out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(measure_rows[0]) if measure_rows else ["entity_id"])
        writer.writeheader()
        writer.writerows(measure_rows)
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
