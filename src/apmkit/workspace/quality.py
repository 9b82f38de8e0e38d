"""Quality jobs (``apmkit quality evaluate | gaps | score``): the inputs from FHIR and/or canonical tables, and
scoring entities from rate rows. The CLI parses options, calls these and prints."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.ingest.report import IngestReport
from apmkit.quality.claims import clinical_with_claims
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.evaluate import POPULATIONS
from apmkit.quality.gaps import care_gaps
from apmkit.quality.scoring import EntityScore, measure_rates, rates_from_rows, row_decimal, score_entity
from apmkit.quality.spec import QualitySpec
from apmkit.schemas import MEDICAL_CLAIMS, MEMBERS, PROVIDERS


@dataclass
class QualityInputs:
    """The tables the quality commands read (clinical includes the claims as clinical evidence)."""

    members: ibis.Table
    clinical: ibis.Table
    medical_claims: ibis.Table
    providers: ibis.Table


@contextmanager
def quality_inputs(
    engine: Engine,
    fhir: Path | None,
    canonical: Path | None,
    *,
    on_step: Callable[[str], None] | None = None,
    on_report: Callable[[IngestReport], None] | None = None,
) -> Iterator[QualityInputs]:
    """Canonical tables from ``fhir`` (loaded through the FHIR loader into a temporary folder) and/or the
    ``canonical`` folder, combined; a patient in both keeps one demographic row."""
    if fhir is None and canonical is None:
        raise ConfigurationError("give --fhir DIR and/or --from CANONICAL_DIR")
    from apmkit.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="apmkit-quality-") as work:
        sources = []
        if fhir is not None:
            if not fhir.exists():
                raise InputFileError(fhir, "no such file or folder")
            report = ingest(engine, "fhir", fhir, Path(work), on_step=on_step)
            if on_report is not None:
                on_report(report)
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
        members = members.filter(
            ibis.row_number().over(group_by=members.member_id, order_by=members.birth_date.desc()) == 0
        )
        claims = combined("medical_claims")
        yield QualityInputs(
            members=engine.materialize(MEMBERS.select_from(members)),
            clinical=engine.materialize(clinical_with_claims(combined("clinical"), claims)),
            medical_claims=engine.materialize(MEDICAL_CLAIMS.select_from(claims)),
            providers=PROVIDERS.select_from(combined("providers")),
        )


def open_gaps(
    engine: Engine,
    inputs: QualityInputs,
    measures: Sequence[str],
    start: date,
    end: date,
    *,
    attribution: Sequence[Mapping[str, str]] | None = None,
) -> ibis.Table:
    """Open gaps in care of every listed eCQM (one row per patient and gap), with each patient's entity
    when ``attribution`` rows (``member_id, entity_id``) are given; materialized."""
    parts = [
        care_gaps(
            ECQM_DEFINITIONS[name],
            inputs.members,
            inputs.clinical,
            start,
            end,
            providers=inputs.providers,
            materialize=engine.materialize,
        )
        for name in measures
    ]
    gaps = parts[0]
    for part in parts[1:]:
        gaps = gaps.union(part, distinct=False)
    if attribution is not None:
        assigned = engine.from_arrow(
            pa.table(
                {
                    "member_id": pa.array([r["member_id"] for r in attribution], pa.string()),
                    "entity_id": pa.array([r["entity_id"] for r in attribution], pa.string()),
                }
            )
        )
        gaps = gaps.left_join(assigned, gaps.patient_id == assigned.member_id).drop("member_id")
    return engine.materialize(gaps)


def rate_rows_from_populations(engine: Engine, path: Path) -> list[dict[str, str]]:
    """Per-entity rate rows from populations CSV(s) with ``entity_id`` and ``measure`` columns."""
    types = {column: pa.int64() for column in POPULATIONS}
    types.update(entity_id=pa.string(), measure=pa.string(), patient_id=pa.string())
    try:
        read = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputFileError(path, f"cannot read CSV ({exc.__class__.__name__})") from None
    if "entity_id" not in read.column_names or "measure" not in read.column_names:
        raise InputFileError(path, "missing column(s) entity_id, measure", line=1)
    aggregated = engine.rows(measure_rates(engine.from_arrow(read), "entity_id"))
    return [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in aggregated]


def score_rows(
    quality: QualitySpec,
    rows: Sequence[Mapping[str, str | None]],
    *,
    source: Path,
    entities: Mapping[str, Mapping[str, str]] | None = None,
    entities_source: Path | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score every entity of the rate rows on the spec's scoring section.

    Returns
    -------
    (scores, measures)
        One row per entity (``entity_id, method, quality_score, ...``) and one per entity and measure.
    """
    if quality.scoring is None:
        raise InputFileError(source, "the quality spec has no scoring section", field="scoring")
    extras = entities or {}
    extra_source = entities_source or source
    output: list[dict[str, Any]] = []
    measure_rows: list[dict[str, Any]] = []
    for entity, rates in sorted(rates_from_rows(rows, source=str(source)).items()):
        extra = extras.get(entity, {})
        reported = (extra.get("reported_ecqms") or "").strip()
        scored: EntityScore = score_entity(
            quality.scoring,
            entity,
            rates.measures,
            baselines=rates.baselines,
            underserved_multiplier=row_decimal(
                extra.get("underserved_multiplier"), str(extra_source), None, "underserved_multiplier"
            )
            or Decimal(0),
            quality_score=row_decimal(extra.get("quality_score"), str(extra_source), None, "quality_score"),
            reported_ecqms=int(reported) if reported.isdigit() else None,
            max_sharing_rate=row_decimal(
                extra.get("max_sharing_rate"), str(extra_source), None, "max_sharing_rate"
            ),
        )
        result: dict[str, Any] = {
            "entity_id": entity,
            "method": scored.method,
            "quality_score": scored.quality_score,
        }
        if scored.mssp is not None:
            result.update(
                health_equity_bonus=scored.mssp.health_equity_bonus,
                adjusted_score=scored.adjusted_score,
                meets_standard=scored.standard_met,
                meets_alternative=scored.alternative_met,
                route=scored.mssp.route,
            )
        else:
            result["gate_passed"] = scored.standard_met
        result["sharing_multiplier"] = scored.sharing_multiplier
        if scored.final_sharing_rate is not None:
            result["final_sharing_rate"] = scored.final_sharing_rate
        output.append(result)
        for m in scored.measures:
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
    return output, measure_rows


__all__ = ["QualityInputs", "open_gaps", "quality_inputs", "rate_rows_from_populations", "score_rows"]
