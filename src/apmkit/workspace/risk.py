"""Risk-scoring jobs (``apmkit risk score``): persons and diagnoses from CSV files or canonical tables, CMS-HCC
scores, blended payment scores, rejects and explanations written. The CLI parses options, calls this, prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from apmkit.engines import Engine
from apmkit.ingest.readers import RECORD, SOURCE_FILE, read_delimited, rejects_to_arrow
from apmkit.risk import payment_scores, score
from apmkit.risk.claims import (
    data_year_months,
    diagnoses_from_claims,
    new_enrollee_rule,
    persons_from_members,
)
from apmkit.risk.inputs import DIAGNOSIS_REQUIRED, PERSON_REQUIRED, REJECT_COLUMNS
from apmkit.risk.spec import HccModel, RiskAdjustmentSpec


@dataclass(frozen=True)
class RiskJobReport:
    """What a scoring job read, rejected and wrote (counts only: no member data)."""

    persons_read: int
    persons_rejected: int
    diagnoses_read: int
    diagnoses_rejected: int
    scored: int
    rule: str | None
    """Which new-enrollee rule applied (scores from canonical tables)."""


def _read_csv(
    engine: Engine, path: Path, required: tuple[str, ...], table: str
) -> tuple[object, pa.Table, int]:
    """Read a CSV as strings with line numbers; return (ibis table, parse rejects, records read)."""
    # Parsed rows' text is never shown here (only parse rejects keep theirs): not built on the fast path.
    raw = read_delimited(
        path, required_columns=required, normalize_header=True, keep_record=False, keep_source_file=False
    )
    data = raw.table.drop_columns([c for c in (SOURCE_FILE, RECORD) if c in raw.table.column_names])
    parse_rejects = rejects_to_arrow(raw.rejects, table)
    return engine.from_arrow(data), parse_rejects, raw.read


def _write(engine: Engine, expr: object, path: Path) -> int:
    """Write a table as CSV (or Parquet when the name ends in .parquet); return its row count."""
    data = engine.to_arrow(expr)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(data, path)
    else:
        pcsv.write_csv(data, path)
    return data.num_rows


def risk_score_job(
    engine: Engine,
    *,
    model: HccModel,
    payment_year: int,
    source: Path | None,
    persons: Path | None,
    diagnoses: Path | None,
    normalization_factor: Decimal | None,
    coding_adjustment: Decimal | None,
    blend: RiskAdjustmentSpec | None,
    out: Path,
    rejects: Path,
    explain: Path | None,
    on_step: Callable[[str], None] | None = None,
) -> RiskJobReport:
    """Score persons from ``source`` (canonical tables: CMS's new-enrollee rule when the enrollment covers the
    data year) or from ``persons``/``diagnoses`` CSVs; write scores to ``out``, rejects, explanations."""
    step = on_step or (lambda _message: None)
    parse_rejects: list[pa.Table] = []
    rule: str | None = None
    if source is not None:
        tables = engine.canonical(source)
        months_covered = int(engine.execute(data_year_months(tables.enrollment, payment_year=payment_year)))
        rule = new_enrollee_rule(months_covered, payment_year=payment_year)
        persons_t = persons_from_members(
            tables.members,
            tables.enrollment,
            payment_year=payment_year,
            covers_data_year=months_covered >= 12,
        )
        # Extracted once: it is counted here and read again by the scoring.
        diagnoses_t = engine.materialize(
            diagnoses_from_claims(
                tables.medical_claims, payment_year=payment_year, materialize=engine.materialize
            )
        )
        persons_name, diagnoses_name = "members", "medical_claims"
        persons_read = engine.count(persons_t)
        diagnoses_read = engine.count(diagnoses_t)
    else:
        assert persons is not None and diagnoses is not None
        persons_t, persons_bad, persons_read = _read_csv(engine, persons, PERSON_REQUIRED, "persons")
        diagnoses_t, dx_bad, diagnoses_read = _read_csv(engine, diagnoses, DIAGNOSIS_REQUIRED, "diagnoses")
        parse_rejects = [persons_bad, dx_bad]
        persons_name, diagnoses_name = persons.name, diagnoses.name
    step("scoring")
    result = score(
        persons_t,
        diagnoses_t,
        model=model,
        payment_year=payment_year,
        normalization_factor=normalization_factor,
        coding_intensity_adjustment=coding_adjustment,
        persons_source=persons_name,
        diagnoses_source=diagnoses_name,
        materialize=engine.materialize,
        rejects_read=True,
    )
    scores = result.scores
    if blend is not None:
        blended = payment_scores(result.persons, result.diagnoses, blend)
        blended = blended.select(
            blend_member_id=blended.member_id, blended_payment_score=blended.payment_score
        )
        scores = scores.left_join(blended, scores.member_id == blended.blend_member_id).drop(
            "blend_member_id"
        )
    scored = _write(engine, scores, out)
    step("writing rejects")
    rejected = engine.to_arrow(result.rejects.select(*REJECT_COLUMNS))
    for extra in parse_rejects:
        if extra.num_rows:
            extra = extra.select(list(REJECT_COLUMNS)).cast(rejected.schema)
            rejected = pa.concat_tables([rejected, extra])
    persons_rejected = pc.sum(pc.equal(rejected.column("table"), "persons")).as_py() or 0
    rejects.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(rejected, rejects)
    if explain is not None:
        step("writing explanations")
        _write(engine, result.explanations, explain)
    step("done")
    return RiskJobReport(
        persons_read=persons_read,
        persons_rejected=persons_rejected,
        diagnoses_read=diagnoses_read,
        diagnoses_rejected=rejected.num_rows - persons_rejected,
        scored=scored,
        rule=rule,
    )


__all__ = ["RiskJobReport", "risk_score_job"]
