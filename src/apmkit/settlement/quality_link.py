"""The contract's ``quality:`` section in settlement: measure rates per entity, the score, statement lines.

When a contract has a ``quality:`` section (:class:`~apmkit.quality.spec.QualitySpec`), the claims path of
``apmkit settle`` evaluates its measures on the canonical tables for each entity's attributed members
(:func:`entity_measure_rates`, ibis over whole tables), scores each entity with :mod:`apmkit.quality.scoring`
(:func:`score_entities`, plain Decimal on a handful of numbers per entity) and sets the entity's quality
inputs from the result (:func:`apply_quality`): the score as a fraction (0-1) and whether the quality
standard (MSSP) or gate (points scorecard) is met. A ``quality_score`` given for an entity in ``--inputs``
overrides the computed one; the statement says so.

Every step leaves statement lines (component ``quality``): each measure's denominator, exclusions,
exceptions, numerator and rate, its points and the rule that produced them, and the score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis

from apmkit.contracts.spec import Contract
from apmkit.errors import ConfigurationError
from apmkit.quality.claims import clinical_with_claims
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.evaluate import POPULATIONS, evaluate_measures
from apmkit.quality.logic import Materialize
from apmkit.quality.scoring import (
    HUNDRED,
    EntityRates,
    MeasureScore,
    MsspQualityResult,
    ScorecardResult,
    exact_rate,
    measure_rates,
    score_mssp,
    score_points,
)
from apmkit.quality.spec import MsspScoring, PointsScoring, QualitySpec
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.statement import StatementLine, Unit

COMPONENT_ID = "quality"
RATE_COLUMNS: tuple[str, ...] = (
    "entity_id",
    "measure",
    "initial_population",
    "denominator",
    "denominator_exclusion",
    "denominator_exception",
    "numerator",
    "eligible",
)
"""Columns of :func:`entity_measure_rates`, one row per entity and measure with anyone in it."""


def quality_spec(contract: Contract) -> QualitySpec | None:
    """The contract's ``quality:`` section when it has measures to score, else None."""
    section = contract.quality
    if section is None:
        return None
    if not isinstance(section, QualitySpec):
        raise ConfigurationError(f"contract {contract.id}: the quality section is not a valid quality spec")
    return section


def measurement_window(
    spec: QualitySpec, period_start: dt.date, period_end: dt.date
) -> tuple[dt.date, dt.date]:
    """The spec's measurement period, or the settlement period when the spec gives none."""
    if spec.measurement_period is not None:
        return spec.measurement_period.start, spec.measurement_period.end
    return period_start, period_end


def computed_measures(spec: QualitySpec) -> list[str]:
    """The spec's measures settlement evaluates from the data (the eCQMs); the others are supplied."""
    return [m for m in spec.measures if m in ECQM_DEFINITIONS]


def supplied_measures(spec: QualitySpec) -> list[str]:
    """The spec's measures whose rates must be given (CAHPS, CMS-computed claims measures, ...)."""
    return [m for m in spec.measures if m not in ECQM_DEFINITIONS]


def entity_measure_rates(
    tables: Mapping[str, ibis.Table],
    population: ibis.Table,
    spec: QualitySpec,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> ibis.Table:
    """Each entity's population counts per measure, over its attributed members.

    Parameters
    ----------
    tables
        Canonical tables: ``members``, ``clinical`` and ``medical_claims`` (claims count as clinical
        evidence through :func:`apmkit.quality.claims.claims_as_clinical`, as in ``apmkit quality``).
    population
        ``entity_id, member_id``: the members each entity is settled for (the claims path's population).
    spec
        The quality section (its eCQMs are evaluated).
    start, end
        Measurement period (inclusive).
    materialize
        ``Engine.materialize``, so the tagged records and facts are computed once.

    Returns
    -------
    ibis.Table
        :data:`RATE_COLUMNS`; ``eligible`` = denominator − exclusions − exceptions.

    Only the eCQMs of the spec are evaluated (:func:`computed_measures`); supplied measures come from
    :func:`apmkit.quality.scoring.rates_from_rows`.
    """
    links = population.select(
        entity_id=population.entity_id.cast("string"), member_id=population.member_id.cast("string")
    ).distinct()
    attributed = links.select("member_id").distinct()
    members = tables["members"].semi_join(attributed, "member_id")
    claims = tables["medical_claims"].semi_join(attributed, "member_id")
    if materialize is not None:
        # Filtered once: claims_as_clinical reads the claims in several passes (lines, diagnoses, procedures).
        claims = materialize(claims)
    clinical = clinical_with_claims(tables["clinical"].semi_join(attributed, "member_id"), claims)
    if materialize is not None:
        members, clinical = materialize(members), materialize(clinical)
    definitions = [ECQM_DEFINITIONS[m] for m in computed_measures(spec)]
    results = evaluate_measures(definitions, members, clinical, start, end, materialize=materialize)
    parts = [table.select("patient_id", "measure", *POPULATIONS) for table in results.values()]
    populations = parts[0]
    for part in parts[1:]:
        populations = populations.union(part, distinct=False)
    joined = links.inner_join(populations, links.member_id == populations.patient_id)
    rates = measure_rates(joined, "entity_id")
    return rates.select(*RATE_COLUMNS).order_by(["entity_id", "measure"])


@dataclass(frozen=True)
class EntityQuality:
    """One entity's computed quality: the inputs settlement uses and the lines that explain them."""

    entity_id: str
    quality_score: Decimal | None
    """The score as a fraction, 0-1 (HEA-adjusted MSSP score / 100, or scorecard total / 100); None when the
    quality section has no scoring (rates are then reported only)."""
    standard_met: bool
    alternative_standard_met: bool
    lines: tuple[StatementLine, ...]


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return "" if value is None else str(value)


class _Lines:
    def __init__(self, entity_id: str, clause: str, source: str) -> None:
        self.entity_id, self.clause, self.source = entity_id, clause, source
        self.lines: list[StatementLine] = []

    def add(
        self,
        label: str,
        value: Decimal | int | None,
        unit: Unit,
        formula: str,
        inputs: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> None:
        self.lines.append(
            StatementLine(
                entity_id=self.entity_id,
                sequence=0,
                component_id=COMPONENT_ID,
                component_type="quality",
                label=label,
                value=None if value is None else Decimal(value),
                text=text,
                unit=unit,
                role="step",
                formula=formula,
                inputs={k: _text(v) for k, v in (inputs or {}).items()},
                source=self.source,
                clause=self.clause,
            )
        )


def _inverse(spec: QualitySpec, measure: str) -> bool:
    definition = ECQM_DEFINITIONS.get(measure)
    if definition is not None and definition.inverse:
        return True
    scoring = spec.scoring
    if isinstance(scoring, PointsScoring):
        return any(
            t.inverse or (t.deciles is not None and t.deciles.inverse)
            for t in scoring.measures
            if t.measure == measure
        )
    if isinstance(scoring, MsspScoring):
        return any(b.inverse for b in scoring.benchmarks if b.measure == measure)
    return False


def _rate_lines(out: _Lines, spec: QualitySpec, row: Mapping[str, Any]) -> MeasureScore:
    measure = str(row["measure"])
    eligible, numerator = int(row["eligible"]), int(row["numerator"])
    out.add(
        f"{measure} eligible population",
        eligible,
        "count",
        "denominator − denominator exclusions − denominator exceptions",
        {
            "initial_population": row["initial_population"],
            "denominator": row["denominator"],
            "denominator_exclusion": row["denominator_exclusion"],
            "denominator_exception": row["denominator_exception"],
        },
    )
    out.add(f"{measure} numerator", numerator, "count", "patients in the numerator")
    rate = exact_rate(numerator, eligible)
    inverse = _inverse(spec, measure)
    direction = "inverse measure: lower is better" if inverse else "higher is better"
    out.add(
        f"{measure} performance rate",
        rate,
        "rate",
        f"numerator / eligible ({direction})",
        {"numerator": numerator, "eligible": eligible},
        text=None if rate is not None else "not computable: nobody eligible",
    )
    return MeasureScore(measure, eligible, numerator, rate)


def _points_lines(out: _Lines, scoring: PointsScoring, card: ScorecardResult) -> Decimal:
    targets = {t.measure: t for t in scoring.measures}
    for item in card.measures:
        target = targets[item.measure]
        if item.points is None:
            why = (
                "nobody eligible"
                if item.rate is None
                else f"eligible {item.eligible} < minimum_denominator {scoring.minimum_denominator}"
            )
            out.add(
                f"{item.measure} points",
                None,
                "text",
                "not scored: reweighted away",
                {"eligible": item.eligible, "minimum_denominator": scoring.minimum_denominator},
                text=f"not scored ({why})",
            )
            continue
        if target.deciles is not None:
            formula = "one point per benchmark decile reached × max_points / 10"
            inputs: dict[str, Any] = {"rate": item.rate, "decile_floors": list(target.deciles.decile_floors)}
        else:
            formula = (
                "attainment: 0 short of the threshold, max_points at or beyond the benchmark, else "
                "(max_points − 1) × (rate − threshold) / (benchmark − threshold) + 0.5 rounded half up"
            )
            inputs = {
                "rate": item.rate,
                "attainment_threshold": target.attainment_threshold,
                "benchmark": target.benchmark,
                "inverse": target.inverse,
            }
        inputs.update(
            max_points=scoring.max_points, weight=target.weight, attainment_points=item.attainment_points
        )
        if item.improvement_points is not None:
            formula += "; the better of attainment and improvement points"
            inputs["improvement_points"] = item.improvement_points
        out.add(f"{item.measure} points", item.points, "score", formula, inputs)
    weighted = {
        m.measure: f"{_text(m.points)} × {_text(targets[m.measure].weight)}"
        for m in card.measures
        if m.points is not None
    }
    out.add(
        "Quality scorecard total (0-100)",
        card.total_score,
        "score",
        "Σ points × weight / Σ max_points × weight of the scored measures × 100",
        {**weighted, "max_points": scoring.max_points},
    )
    scored = sum(1 for m in card.measures if m.points is not None)
    out.add(
        "Quality gate passed",
        int(card.gate_passed),
        "flag",
        "total ≥ gate_min_score and scored measures ≥ gate_min_measures",
        {
            "total": card.total_score,
            "gate_min_score": scoring.gate_min_score,
            "scored_measures": scored,
            "gate_min_measures": scoring.gate_min_measures,
        },
    )
    if scoring.sliding_scale:
        out.add(
            "Scorecard sharing multiplier (sliding scale; for reference)",
            card.sharing_multiplier,
            "rate",
            "multiplier of the highest sliding_scale band the total reaches (0 if the gate fails); the "
            "contract's components apply the quality score with their own terms",
            {f"≥ {_text(b.min_score)}": b.sharing_multiplier for b in scoring.sliding_scale},
        )
    return card.total_score / HUNDRED


def _mssp_lines(out: _Lines, scoring: MsspScoring, result: MsspQualityResult, reported: int) -> Decimal:
    benchmarks = {b.measure: b for b in scoring.benchmarks}
    for item in result.measures:
        if item.points is None:
            why = "nobody eligible" if item.rate is None else "no decile benchmark in the spec"
            out.add(
                f"{item.measure} achievement points", None, "text", "not scored", text=f"not scored ({why})"
            )
            continue
        benchmark = benchmarks[item.measure]
        out.add(
            f"{item.measure} achievement points",
            item.points,
            "score",
            "benchmark decile reached = 1 + decile floors reached (in the better direction); third for the "
            "HEA: deciles 8-10 top, 4-7 middle, 1-3 bottom",
            {
                "rate": item.rate,
                "decile_floors": list(benchmark.decile_floors),
                "inverse": benchmark.inverse,
                "third": item.third,
            },
        )
    scored = [m for m in result.measures if m.points is not None]
    out.add(
        "MIPS quality score (0-100)",
        result.quality_score,
        "score",
        "Σ achievement points / (10 × scored measures) × 100",
        {m.measure: m.points for m in scored},
    )
    out.add(
        "Health equity adjustment bonus points",
        result.health_equity_bonus,
        "score",
        "min(max_bonus, scaler × underserved multiplier); 0 below the minimum multiplier",
        {
            "scaler": result.health_equity_scaler,
            "underserved_multiplier": "0 (not measured from claims)",
        },
    )
    out.add(
        "HEA-adjusted quality score (0-100)",
        result.adjusted_score,
        "score",
        "min(100, quality score + HEA bonus)",
        {"quality_score": result.quality_score, "health_equity_bonus": result.health_equity_bonus},
    )
    out.add(
        "Quality performance standard met",
        int(result.meets_standard),
        "flag",
        "adjusted score ≥ the MIPS quality score percentile, or the eCQM route (3+ reported, an outcome "
        "measure at its 10th percentile and another measure at the standard percentile), or first year",
        {
            "route": result.route,
            "standard_percentile": scoring.standard_percentile,
            "threshold": result.standard_threshold,
            "reported_measures": reported,
            "notes": "; ".join(result.notes),
        },
    )
    out.add(
        "Alternative quality standard met",
        int(result.meets_alternative),
        "flag",
        "PY2023+: standard not met and an outcome measure at or beyond its 10th percentile",
        {"outcome_measures": ", ".join(scoring.outcome_measures)},
    )
    return result.adjusted_fraction


def score_entities(
    spec: QualitySpec,
    rate_rows: Iterable[Mapping[str, Any]],
    entity_ids: Iterable[str],
    *,
    source: str = "",
    supplied: Mapping[str, EntityRates] | None = None,
    baselines: Mapping[str, Mapping[str, Decimal]] | None = None,
) -> dict[str, EntityQuality]:
    """Score every entity on the spec's scoring section from its measure rates.

    Parameters
    ----------
    spec
        The quality section; without a ``scoring`` section only the rates are reported (no score).
    rate_rows
        Rows of :func:`entity_measure_rates`. An entity or measure without a row has nobody eligible.
    entity_ids
        Entities to score (every settled entity, including those with no measure rows).
    source
        Where the rates came from, cited on the lines.
    supplied
        Per entity, the rates of the supplied measures (:func:`apmkit.quality.scoring.rates_from_rows`); an
        entity missing one is not scored (its components that need quality then refuse it, naming the field).
    baselines
        Per entity, baseline rates by measure for improvement points (points scorecards).
    """
    scoring = spec.scoring
    by_entity: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rate_rows:
        by_entity.setdefault(str(row["entity_id"]), {})[str(row["measure"])] = row
    empty = {
        "initial_population": 0,
        "denominator": 0,
        "denominator_exclusion": 0,
        "denominator_exception": 0,
        "numerator": 0,
        "eligible": 0,
    }
    clause = f"quality: {scoring.method} scoring" if scoring is not None else "quality: rates only"
    results: dict[str, EntityQuality] = {}
    for entity_id in entity_ids:
        out = _Lines(entity_id, clause, source)
        rows = by_entity.get(entity_id, {})
        given = {m.measure: m for m in (supplied or {}).get(entity_id, EntityRates((), {})).measures}
        scores: list[MeasureScore] = []
        missing: list[str] = []
        for measure in spec.measures:
            if measure in ECQM_DEFINITIONS:
                scores.append(_rate_lines(out, spec, rows.get(measure, {"measure": measure, **empty})))
            elif measure in given:
                item = given[measure]
                out.add(f"{measure} supplied rate", item.rate, "rate", "supplied (--quality-rates)")
                scores.append(item)
            else:
                missing.append(measure)
        if missing:
            out.add(
                "quality score",
                None,
                "score",
                "not scored: no supplied rate for " + ", ".join(missing),
                text="not computable",
            )
            results[entity_id] = EntityQuality(entity_id, None, False, False, tuple(out.lines))
            continue
        score: Decimal | None
        if scoring is None:
            score, met, alternative = None, False, False
        elif isinstance(scoring, PointsScoring):
            card = score_points(scoring, scores, (baselines or {}).get(entity_id))
            score = _points_lines(out, scoring, card)
            met, alternative = card.gate_passed, False
        else:
            reported = sum(1 for s in scores if s.eligible > 0)
            result = score_mssp(scoring, scores, reported_ecqms=reported)
            score = _mssp_lines(out, scoring, result, reported)
            met, alternative = result.meets_standard, result.meets_alternative
        results[entity_id] = EntityQuality(entity_id, score, met, alternative, tuple(out.lines))
    return results


def apply_quality(
    entities: Sequence[EntityInputs],
    computed: Mapping[str, EntityQuality],
    given: Mapping[str, EntityInputs],
) -> tuple[list[EntityInputs], dict[str, tuple[StatementLine, ...]]]:
    """Set each entity's quality inputs from its computed quality, unless ``--inputs`` gave a quality score.

    Returns
    -------
    (entities, lines)
        The entities with ``quality_score``, ``quality_standard_met`` and ``alternative_quality_standard_met``
        set, and per entity the quality lines for its statement, ending with the line saying which score the
        components use.
    """
    updated: list[EntityInputs] = []
    lines: dict[str, tuple[StatementLine, ...]] = {}
    for entity in entities:
        quality = computed.get(entity.entity_id)
        if quality is None:
            updated.append(entity)
            continue
        if quality.quality_score is None:
            # Rates only: the entity keeps whatever quality inputs it was given.
            updated.append(entity)
            lines[entity.entity_id] = quality.lines
            continue
        out = _Lines(entity.entity_id, quality.lines[-1].clause if quality.lines else "", entity.source)
        base = given.get(entity.entity_id)
        if base is not None and base.quality_score is not None:
            out.add(
                "Quality score used (from --inputs; overrides the computed score)",
                base.quality_score,
                "score",
                "quality_score given for the entity in --inputs replaces the score computed from the quality section",
                {"computed_quality_score": quality.quality_score, "given_quality_score": base.quality_score},
            )
            note = (
                "given in --inputs; overrides the score computed from the quality section "
                f"({_text(quality.quality_score)})"
            )
            updated.append(entity.model_copy(update={"detail": {**entity.detail, "quality_source": note}}))
        else:
            out.add(
                "Quality score used (computed from the contract's quality section)",
                quality.quality_score,
                "score",
                "the score above as a fraction (/ 100); standard/gate met as shown",
                {
                    "quality_standard_met": quality.standard_met,
                    "alternative_quality_standard_met": quality.alternative_standard_met,
                },
            )
            updated.append(
                entity.model_copy(
                    update={
                        "quality_score": quality.quality_score,
                        "quality_standard_met": quality.standard_met,
                        "alternative_quality_standard_met": quality.alternative_standard_met,
                        "detail": {
                            **entity.detail,
                            "quality_source": "computed from the contract's quality section (quality lines)",
                        },
                    }
                )
            )
        lines[entity.entity_id] = quality.lines + tuple(out.lines)
    return updated, lines
