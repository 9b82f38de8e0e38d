"""``apmkit risk score``: CMS-HCC V24/V28, ESRD V24 and RxHCC V08 risk scores from CSV files or canonical tables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from apmkit.cli.common import open_engine, progress, state
from apmkit.errors import ConfigurationError
from apmkit.risk import cms_payment_spec
from apmkit.risk.reference import (
    MA_CODING_INTENSITY,
    NORMALIZATION_FACTORS,
    PAYMENT_YEAR_BLENDS,
    SUPPORTED_PAYMENT_YEARS,
)
from apmkit.risk.scoring import check_coding_adjustment, check_normalization_factor
from apmkit.risk.spec import HccModel
from apmkit.workspace.risk import risk_score_job


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
                report = risk_score_job(
                    engine,
                    model=chosen,
                    payment_year=payment_year,
                    source=source,
                    persons=persons,
                    diagnoses=diagnoses,
                    normalization_factor=factor,
                    coding_adjustment=rate,
                    blend=blend_spec,
                    out=out,
                    rejects=rejects_path,
                    explain=explain,
                    on_step=lambda step: bar.update(task, advance=1, description=step),
                )
        finally:
            engine.close()
        persons_read, persons_rejected = report.persons_read, report.persons_rejected
        diagnoses_read, rule, scored = report.diagnoses_read, report.rule, report.scored
        diagnoses_rejected = report.diagnoses_rejected
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
        if persons_rejected or diagnoses_rejected:
            console.print(f"rejected rows with reasons -> {rejects_path}", highlight=False)
