"""``apmkit risk score``: CMS-HCC V24/V28, ESRD V24 and RxHCC V08 risk scores from CSV files or canonical tables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pcsv
import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError
from apmkit.ingest.readers import RECORD, SOURCE_FILE, read_delimited, rejects_to_arrow
from apmkit.risk import cms_payment_spec, payment_scores, score
from apmkit.risk.claims import (
    data_year_months,
    diagnoses_from_claims,
    new_enrollee_rule,
    persons_from_members,
)
from apmkit.risk.inputs import DIAGNOSIS_REQUIRED, PERSON_REQUIRED, REJECT_COLUMNS
from apmkit.risk.reference import (
    MA_CODING_INTENSITY,
    NORMALIZATION_FACTORS,
    PAYMENT_YEAR_BLENDS,
    SUPPORTED_PAYMENT_YEARS,
)
from apmkit.risk.scoring import check_coding_adjustment, check_normalization_factor
from apmkit.risk.spec import HccModel


def _read_csv(
    engine: Engine, path: Path, required: tuple[str, ...], table: str
) -> tuple[object, pa.Table, int]:
    """Read a CSV as strings with line numbers; return (ibis table, parse rejects, records read)."""
    raw = read_delimited(path, required_columns=required, normalize_header=True)
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


def _payment_factor(
    model: HccModel, payment_year: int, normalize: bool, factor: float | None
) -> Decimal | None:
    if factor is not None:
        try:
            return check_normalization_factor(str(factor))
        except ConfigurationError as exc:
            raise ConfigurationError(f"--normalization-factor: {exc}") from None
    if not normalize:
        return None
    published = NORMALIZATION_FACTORS.get((model, payment_year))
    if published is None or not published[1]:
        # Fail closed: only factors checked against CMS ship (PY2024); no third-party default is used.
        raise ConfigurationError(
            f"no published normalization factor for {model.value} in {payment_year} shipped (none checked "
            f"against CMS's CY{payment_year} Rate Announcement yet): use --normalization-factor"
        )
    return published[0]


def _blend_factors(
    model: HccModel, payment_year: int, factor: Decimal | None, given: list[str]
) -> dict[HccModel | str, Decimal | str]:
    """Normalization factors for ``--blend``: ``--blend-factor MODEL=X`` entries, and the
    ``--normalization-factor`` of the scored model."""
    factors: dict[HccModel | str, Decimal | str] = {}
    if factor is not None and any(m is model for m, _ in PAYMENT_YEAR_BLENDS.get(payment_year, ())):
        factors[model] = factor
    for entry in given:
        name, sep, value = entry.partition("=")
        if not sep:
            raise ConfigurationError(f"--blend-factor: write MODEL=FACTOR (e.g. V24=1.146), not {entry!r}")
        blended = _model(name)
        try:
            factors[blended] = check_normalization_factor(value.strip())
        except ConfigurationError as exc:
            raise ConfigurationError(f"--blend-factor {blended.value}: {exc}") from None
    return factors


def _model(name: str) -> HccModel:
    """The model named on the command line, whatever its case (``esrd-v24`` = ``ESRD-V24``)."""
    for candidate in HccModel:
        if candidate.value.upper() == name.strip().upper():
            return candidate
    names = ", ".join(m.value for m in HccModel)
    raise ConfigurationError(f"--model must be one of {names}, not {name!r}")


def register(app: typer.Typer) -> None:
    risk_app = typer.Typer(
        help="CMS risk adjustment (CMS-HCC V24, V28; ESRD V24; RxHCC V08).", no_args_is_help=True
    )
    app.add_typer(risk_app, name="risk")

    @risk_app.command("score")
    def score_command(
        model: Annotated[
            str,
            typer.Option("--model", help="Model: V24, V28 (CMS-HCC), ESRD-V24, RxHCC-V08-T or RxHCC-V08-X."),
        ] = "V28",
        payment_year: Annotated[
            int, typer.Option("--payment-year", help="Payment year (2024-2027); age is taken on 1 February.")
        ] = 2026,
        persons: Annotated[
            Path | None,
            typer.Option(
                "--persons", help="persons.csv: member_id, birth_date, sex, orec, ltimcaid, nemcaid, ..."
            ),
        ] = None,
        diagnoses: Annotated[
            Path | None, typer.Option("--diagnoses", help="diagnoses.csv: member_id, dx_code.")
        ] = None,
        source: Annotated[
            Path | None,
            typer.Option(
                "--from",
                help="Folder of canonical tables (members, enrollment, medical_claims) instead of CSV files.",
            ),
        ] = None,
        out: Annotated[Path, typer.Option("--out", help="Output scores file (.csv or .parquet).")] = Path(
            "scores.csv"
        ),
        rejects: Annotated[
            Path | None, typer.Option("--rejects", help="Rejected rows file (default: <out>.rejects.csv).")
        ] = None,
        explain: Annotated[
            Path | None,
            typer.Option(
                "--explain", help="Also write per-member explanations (terms and coefficients) here."
            ),
        ] = None,
        normalize: Annotated[
            bool, typer.Option("--normalize", help="Add normalized_score with CMS's published factor.")
        ] = False,
        normalization_factor: Annotated[
            float | None, typer.Option("--normalization-factor", help="Normalization factor to use instead.")
        ] = None,
        coding_adjustment: Annotated[
            bool,
            typer.Option(
                "--coding-adjustment", help="Add payment_score with the MA coding-intensity adjustment."
            ),
        ] = False,
        coding_adjustment_rate: Annotated[
            float | None,
            typer.Option(
                "--coding-adjustment-rate", help=f"Coding-intensity rate (default {MA_CODING_INTENSITY})."
            ),
        ] = None,
        blend: Annotated[
            bool,
            typer.Option(
                "--blend",
                help="Add blended_payment_score: CMS's V24/V28 blend for the payment year, each model normalized "
                "with its factor (shipped for 2024 only: give --normalization-factor / --blend-factor for "
                "2025-2027), then the 5.9% coding adjustment.",
            ),
        ] = False,
        blend_factor: Annotated[
            list[str] | None,
            typer.Option(
                "--blend-factor",
                help="Normalization factor of a blended model, MODEL=FACTOR (repeatable), e.g. V24=1.146.",
            ),
        ] = None,
    ) -> None:
        """Score members with a CMS-HCC model and write one row per member."""
        chosen = _model(model)
        cms_hcc = chosen in (HccModel.V24, HccModel.V28)
        if not cms_hcc and blend:
            raise ConfigurationError(
                f"--blend is the CMS-HCC V24/V28 blend; it does not apply to {chosen.value}"
            )
        if not cms_hcc and source is not None:
            needed = "months_since_transplant" if chosen is HccModel.ESRD_V24 else "low_income"
            raise ConfigurationError(
                f"{chosen.value} needs {needed}, which canonical tables do not carry: use --persons/--diagnoses"
            )
        if payment_year not in SUPPORTED_PAYMENT_YEARS:
            raise ConfigurationError(
                f"--payment-year must be one of {', '.join(map(str, SUPPORTED_PAYMENT_YEARS))}"
            )
        if source is None and (persons is None or diagnoses is None):
            raise ConfigurationError("give --persons and --diagnoses, or --from DIR")
        if source is not None and (persons is not None or diagnoses is not None):
            raise ConfigurationError("--from cannot be combined with --persons/--diagnoses")
        factor = _payment_factor(chosen, payment_year, normalize, normalization_factor)
        if blend_factor and not blend:
            raise ConfigurationError("--blend-factor is used only with --blend")
        # Built before any work so that a missing factor is reported before reading the inputs.
        blend_spec = (
            cms_payment_spec(
                payment_year, _blend_factors(chosen, payment_year, factor, list(blend_factor or []))
            )
            if blend
            else None
        )
        rate: Decimal | None = None
        if coding_adjustment or coding_adjustment_rate is not None:
            try:
                rate = (
                    check_coding_adjustment(str(coding_adjustment_rate))
                    if coding_adjustment_rate is not None
                    else MA_CODING_INTENSITY
                )
            except ConfigurationError as exc:
                raise ConfigurationError(f"--coding-adjustment-rate: {exc}") from None
        rejects_path = rejects or out.with_name(out.stem + ".rejects.csv")

        engine = open_engine()
        try:
            with progress() as bar:
                task = bar.add_task("reading inputs", total=4)
                parse_rejects: list[pa.Table] = []
                rule: str | None = None
                if source is not None:
                    tables = engine.canonical(source)
                    months_covered = int(
                        engine.execute(data_year_months(tables.enrollment, payment_year=payment_year))
                    )
                    rule = new_enrollee_rule(months_covered, payment_year=payment_year)
                    persons_t = persons_from_members(
                        tables.members,
                        tables.enrollment,
                        payment_year=payment_year,
                        covers_data_year=months_covered >= 12,
                    )
                    # Extracted once: it is counted here and read again by the scoring.
                    diagnoses_t = engine.materialize(
                        diagnoses_from_claims(tables.medical_claims, payment_year=payment_year)
                    )
                    persons_name, diagnoses_name = "members", "medical_claims"
                    persons_read = engine.count(persons_t)
                    diagnoses_read = engine.count(diagnoses_t)
                else:
                    assert persons is not None and diagnoses is not None
                    persons_t, persons_bad, persons_read = _read_csv(
                        engine, persons, PERSON_REQUIRED, "persons"
                    )
                    diagnoses_t, dx_bad, diagnoses_read = _read_csv(
                        engine, diagnoses, DIAGNOSIS_REQUIRED, "diagnoses"
                    )
                    parse_rejects = [persons_bad, dx_bad]
                    persons_name, diagnoses_name = persons.name, diagnoses.name
                bar.advance(task)
                bar.update(task, description="scoring")
                result = score(
                    persons_t,
                    diagnoses_t,
                    model=chosen,
                    payment_year=payment_year,
                    normalization_factor=factor,
                    coding_intensity_adjustment=rate,
                    persons_source=persons_name,
                    diagnoses_source=diagnoses_name,
                    materialize=engine.materialize,
                )
                scores = result.scores
                if blend_spec is not None:
                    blended = payment_scores(result.persons, result.diagnoses, blend_spec)
                    blended = blended.select(
                        blend_member_id=blended.member_id, blended_payment_score=blended.payment_score
                    )
                    scores = scores.left_join(blended, scores.member_id == blended.blend_member_id).drop(
                        "blend_member_id"
                    )
                scored = _write(engine, scores, out)
                bar.advance(task)
                bar.update(task, description="writing rejects")
                rejected = engine.to_arrow(result.rejects.select(*REJECT_COLUMNS))
                for extra in parse_rejects:
                    if extra.num_rows:
                        extra = extra.select(list(REJECT_COLUMNS)).cast(rejected.schema)
                        rejected = pa.concat_tables([rejected, extra])
                persons_rejected = sum(1 for t in rejected.column("table").to_pylist() if t == "persons")
                rejects_path.parent.mkdir(parents=True, exist_ok=True)
                pcsv.write_csv(rejected, rejects_path)
                bar.advance(task)
                if explain is not None:
                    bar.update(task, description="writing explanations")
                    _write(engine, result.explanations, explain)
                bar.advance(task)
        finally:
            engine.close()
        diagnoses_rejected = rejected.num_rows - persons_rejected
        console = state.console
        console.print(
            f"persons: read {persons_read:,}, loaded {persons_read - persons_rejected:,}, "
            f"rejected {persons_rejected:,}",
            highlight=False,
        )
        console.print(
            f"diagnoses: read {diagnoses_read:,}, loaded {diagnoses_read - diagnoses_rejected:,}, "
            f"rejected {diagnoses_rejected:,}",
            highlight=False,
        )
        if rule is not None:
            console.print(rule, highlight=False)
        console.print(
            f"scored {scored:,} members with {chosen.value} PY{payment_year} -> {out}", highlight=False
        )
        if rejected.num_rows:
            console.print(f"rejected rows with reasons -> {rejects_path}", highlight=False)
