"""Public scoring API: conform inputs, score raw, and turn raw scores into payment scores.

Payment score arithmetic (CMS Rate Announcements; docs/reference/methodology.md §7), in integer thousandths::

    normalized = round(raw / normalization_factor, 3)                 per model
    blended    = round(sum(weight_m * normalized_m), 3)               blended payment years
    payment    = round(blended * (1 - coding_intensity_adjustment), 3)

Rounding is half-up; factors may carry up to 6 decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import ibis
import ibis.expr.types as ir

from apmkit.errors import ConfigurationError
from apmkit.money import div_round_half_up
from apmkit.risk.inputs import REJECT_COLUMNS, conform_diagnoses, conform_persons
from apmkit.risk.model import SCORE_TYPE, Materialize, RawScores, score_model
from apmkit.risk.reference import check_payment_year
from apmkit.risk.spec import HccModel, RiskAdjustmentSpec

_MICRO = 1_000_000


@dataclass(frozen=True)
class RiskScores:
    """Scores of one run.

    Attributes
    ----------
    scores
        One row per valid person: ``member_id, segment, score, hccs, interactions``, the nine CMS
        segment columns (raw), then ``normalized_score`` / ``payment_score`` when asked for.
    explanations
        Per member and term: kind, variable, coefficient, triggering diagnoses, dropped_by
        (see :class:`apmkit.risk.model.RawScores`).
    persons_rejects, diagnoses_rejects
        Rejected input rows with the field and every rule they broke.
    persons, diagnoses
        The valid, typed inputs that were scored.
    """

    model: HccModel
    payment_year: int
    scores: ir.Table
    persons_rejects: ir.Table
    diagnoses_rejects: ir.Table
    persons: ir.Table
    diagnoses: ir.Table
    explain: Callable[[], ir.Table] = field(repr=False, compare=False)
    """Builds ``explanations`` on first use."""

    @cached_property
    def explanations(self) -> ir.Table:
        return self.explain()

    @property
    def rejects(self) -> ir.Table:
        """Both rejects tables in one."""
        return self.persons_rejects.union(self.diagnoses_rejects)


def _micro(value: Decimal, what: str) -> int:
    value = Decimal(value)
    if not value.is_finite() or value.copy_abs() >= 1000:
        raise ConfigurationError(f"{what} must be a finite number below 1000")
    scaled = value * _MICRO
    if scaled != scaled.to_integral_value():
        raise ConfigurationError(f"{what} may have at most 6 decimals")
    return int(scaled)


def thousandths(score: ir.NumericValue) -> ir.IntegerValue:
    """A 3-decimal score as an exact integer number of thousandths."""
    return (score.cast("decimal(18, 3)") * 1000).cast("int64")


def from_thousandths(value: ir.IntegerValue) -> ir.DecimalValue:
    wide = "decimal(18, 3)"
    return (value.cast(wide) * ibis.literal("0.001", type=wide)).cast(SCORE_TYPE)


def normalize(raw_thousandths: ir.IntegerValue, factor: Decimal) -> ir.IntegerValue:
    """``round(raw / factor, 3)`` in thousandths, half-up."""
    factor_micro = _micro(factor, "normalization factor")
    if factor_micro <= 0:
        raise ConfigurationError("normalization factor must be positive")
    return div_round_half_up(raw_thousandths * _MICRO, factor_micro)


def check_coding_adjustment(adjustment: Decimal | str) -> Decimal:
    """The MA coding-intensity adjustment as a fraction: at least 0 and below 1 (0.059 = 5.9 %).

    It is a reduction of the score (Social Security Act 1853(a)(1)(C)(ii)); 1 or more would make every payment
    score zero or negative, so such values (e.g. ``5`` meant as 5 %) are refused, never applied.
    """
    try:
        value = Decimal(str(adjustment))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(0) <= value < 1:
        raise ConfigurationError(
            "coding-intensity adjustment must be a fraction from 0 to below 1 (0.059 = 5.9%)"
        )
    return value


def check_normalization_factor(factor: Decimal | str) -> Decimal:
    """A normalization factor: a positive finite number (with at most 6 decimals)."""
    try:
        value = Decimal(str(factor))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0 or value >= 1000:
        raise ConfigurationError("normalization factor must be a positive number below 1000")
    _micro(value, "normalization factor")
    return value


def apply_coding_adjustment(score_thousandths: ir.IntegerValue, adjustment: Decimal) -> ir.IntegerValue:
    """``round(score * (1 - adjustment), 3)`` in thousandths, half-up."""
    keep_micro = _MICRO - _micro(check_coding_adjustment(adjustment), "coding-intensity adjustment")
    return div_round_half_up(score_thousandths * keep_micro, _MICRO)


def score(
    persons: ir.Table,
    diagnoses: ir.Table,
    *,
    model: HccModel | str = HccModel.V28,
    payment_year: int,
    normalization_factor: Decimal | str | None = None,
    coding_intensity_adjustment: Decimal | str | None = None,
    persons_source: str = "persons",
    diagnoses_source: str = "diagnoses",
    materialize: Materialize | None = None,
    rejects_read: bool = False,
) -> RiskScores:
    """Score every person with a CMS-HCC model.

    Parameters
    ----------
    persons
        ``member_id, birth_date, sex, orec, ltimcaid, nemcaid`` and optionally ``dual_status_code,
        esrd, snp, institutional, new_enrollee`` (strings as read from CSV, or typed).
    diagnoses
        ``member_id, dx_code`` (ICD-10-CM, with or without the dot).
    model
        ``"V24"`` or ``"V28"``.
    payment_year
        2024-2027.
    normalization_factor
        When given, adds ``normalized_score = round(score / factor, 3)``.
    coding_intensity_adjustment
        When given (e.g. ``0.059``), adds ``payment_score = round(normalized * (1 - adj), 3)``
        (normalized = raw score when no factor is given).
    persons_source, diagnoses_source
        Names used in rejects.
    materialize
        Called on intermediate tables that later steps read several times (valid inputs,
        demographics, mapped CCs, kept HCCs); pass ``engine.materialize`` for large populations.
    rejects_read
        True when the caller reads ``rejects`` as well as ``scores``: with ``materialize``, the checked
        persons and the distinct diagnosis codes are then computed once for both (scores alone are faster
        without: the checks stay inside the scoring's own materializations).

    Returns
    -------
    RiskScores

    Examples
    --------
    >>> result = score(persons, diagnoses, model="V28", payment_year=2026)  # doctest: +SKIP
    >>> engine.to_arrow(result.scores)  # doctest: +SKIP
    """
    check_payment_year(payment_year)
    if normalization_factor is not None:
        normalization_factor = check_normalization_factor(normalization_factor)
    if coding_intensity_adjustment is not None:
        coding_intensity_adjustment = check_coding_adjustment(coding_intensity_adjustment)
    model = HccModel(model)
    shared = materialize if rejects_read else None
    people = conform_persons(
        persons, payment_year=payment_year, source_file=persons_source, materialize=shared
    )
    valid_people, extra_rejects = people.valid, None
    scorer: Callable[[ir.Table, ir.Table], RawScores]
    if model is HccModel.ESRD_V24:
        # The ESRD model has its own input, demographics and segments (apmkit.risk.esrd).
        from apmkit.risk.esrd import conform_transplant_months, score_esrd_model

        valid_people, extra_rejects = conform_transplant_months(
            persons, people.valid, source_file=persons_source
        )

        def scorer(valid: ir.Table, codes: ir.Table) -> RawScores:
            return score_esrd_model(valid, codes, payment_year=payment_year, materialize=materialize)

    elif model in (HccModel.RXHCC_V08_T, HccModel.RXHCC_V08_X):
        # Part D RxHCC: low-income-subsidy input, its own segments (apmkit.risk.rxhcc).
        from apmkit.risk.rxhcc import check_rxhcc_payment_year, conform_low_income, score_rxhcc_model

        check_rxhcc_payment_year(payment_year)
        valid_people, extra_rejects = conform_low_income(persons, people.valid, source_file=persons_source)

        def scorer(valid: ir.Table, codes: ir.Table) -> RawScores:
            return score_rxhcc_model(
                valid, codes, model=model, payment_year=payment_year, materialize=materialize
            )

    else:

        def scorer(valid: ir.Table, codes: ir.Table) -> RawScores:
            return score_model(valid, codes, model=model, payment_year=payment_year, materialize=materialize)

    persons_rejects = people.rejects.select(*REJECT_COLUMNS)
    if extra_rejects is not None:
        persons_rejects = persons_rejects.union(extra_rejects)
        # The added column joins every valid person to its raw row: computed once.
        valid_people = (materialize or (lambda table: table))(valid_people)
    # Otherwise valid persons stay lazy (a filter over the checked rows, which are computed once when the
    # rejects are read too): scoring materializes their demographics, the one table it reads them through.
    # Valid diagnoses stay lazy too: materializing every diagnosis row costs more than the scoring reads.
    codes = conform_diagnoses(diagnoses, valid_people, source_file=diagnoses_source, materialize=shared)
    raw = scorer(valid_people, codes.valid)
    scores = raw.scores
    current = thousandths(scores.score)
    if normalization_factor is not None:
        current = normalize(current, Decimal(str(normalization_factor)))
        scores = scores.mutate(normalized_score=from_thousandths(current))
    if coding_intensity_adjustment is not None:
        current = apply_coding_adjustment(current, Decimal(str(coding_intensity_adjustment)))
        scores = scores.mutate(payment_score=from_thousandths(current))
    return RiskScores(
        model=model,
        payment_year=payment_year,
        scores=scores,
        explain=raw.explain,
        persons_rejects=persons_rejects,
        diagnoses_rejects=codes.rejects,
        persons=valid_people,
        diagnoses=codes.valid,
    )


def payment_scores(
    persons: ir.Table,
    diagnoses: ir.Table,
    spec: RiskAdjustmentSpec,
    *,
    materialize: Materialize | None = None,
) -> ir.Table:
    """Payment scores under a :class:`RiskAdjustmentSpec` (blend, normalization, coding intensity).

    Returns one row per valid person: ``member_id, segment`` (of the first blend component),
    ``raw_<MODEL>`` per model, and ``payment_score``. Invalid rows are dropped here; use
    :func:`score` to see the rejects.
    """
    blended: ir.IntegerValue | None = None
    table: ir.Table | None = None
    for component in spec.components:
        result = score(
            persons, diagnoses, model=component.model, payment_year=spec.payment_year, materialize=materialize
        )
        part = result.scores.select("member_id", "segment", **{f"raw_{component.model.value}": "score"})
        value = thousandths(part[f"raw_{component.model.value}"])
        if component.normalization_factor is not None:
            value = normalize(value, component.normalization_factor)
        part = part.mutate(
            **{f"_weighted_{component.model.value}": value * _micro(component.weight, "weight")}
        )
        table = part if table is None else table.join(part.drop("segment"), "member_id")
    assert table is not None  # a spec always has at least one component
    for component in spec.components:
        weighted = table[f"_weighted_{component.model.value}"]
        blended = weighted if blended is None else blended + weighted
    assert blended is not None
    combined = div_round_half_up(blended, _MICRO)
    if spec.coding_intensity_adjustment:
        combined = apply_coding_adjustment(combined, spec.coding_intensity_adjustment)
    keep = ["member_id", "segment", *[f"raw_{c.model.value}" for c in spec.components]]
    return table.select(*keep, payment_score=from_thousandths(combined))


def cms_payment_spec(
    payment_year: int, normalization_factors: Mapping[HccModel | str, Decimal | str] | None = None
) -> RiskAdjustmentSpec:
    """The MA payment spec CMS announced for ``payment_year``: model blend, normalization, 5.9% coding.

    ``normalization_factors`` gives the factor of each blended model (``{"V28": "1.067"}``); a model without
    one takes the factor shipped in ``apmkit.risk.reference.NORMALIZATION_FACTORS``, which holds only
    factors checked against CMS (PY2024). For 2025-2027 the factors must be given, or this raises
    :class:`~apmkit.errors.ConfigurationError` naming the missing one.
    """
    from apmkit.risk.reference import MA_CODING_INTENSITY, PAYMENT_YEAR_BLENDS, normalization_factor
    from apmkit.risk.spec import BlendComponent

    check_payment_year(payment_year)
    given = {
        HccModel(model): check_normalization_factor(value)
        for model, value in (normalization_factors or {}).items()
    }
    blended_models = {model for model, _ in PAYMENT_YEAR_BLENDS[payment_year]}
    unused = sorted(model.value for model in given if model not in blended_models)
    if unused:
        raise ConfigurationError(
            f"normalization factor given for {', '.join(unused)}, which CMS's {payment_year} blend does not use"
        )
    blend = tuple(
        BlendComponent(
            model=model,
            weight=weight,
            normalization_factor=given.get(model) or normalization_factor(model, payment_year),
        )
        for model, weight in PAYMENT_YEAR_BLENDS[payment_year]
    )
    return RiskAdjustmentSpec(
        model=blend[-1].model,
        payment_year=payment_year,
        blend=blend,
        coding_intensity_adjustment=MA_CODING_INTENSITY,
    )
