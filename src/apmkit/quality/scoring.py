"""Quality scoring: entity measure rates → points, quality score, gate and sharing-rate scaling.

Two methods, chosen by the ``scoring`` section of :class:`~apmkit.quality.spec.QualitySpec`:

- :func:`score_mssp` — the MSSP quality performance standard (42 CFR 425.512; docs/reference/methodology.md §1.3): measure
  achievement points from benchmark deciles, the MIPS-style quality score (0-100), the health equity
  adjustment (HEA) bonus, the standard (HEA-adjusted score at or above the 30th/40th percentile of MIPS
  quality scores, or the eCQM route) and the alternative standard (10th percentile on one outcome
  measure); :func:`final_sharing_rate` and :func:`enhanced_loss_rate` turn them into rates
  (42 CFR 425.605(d), 425.610(d), (f)).
- :func:`score_points` — a generic scorecard: attainment points between a threshold and a benchmark (or
  one point per decile), improvement points against a baseline, a weighted total score (0-100), a gate and
  a sliding scale.

Scoring works on a handful of numbers per entity, so it is plain Python :class:`~decimal.Decimal`; the
rates come from :func:`measure_rates`, an ibis aggregation of the populations table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import ibis

from apmkit.money import to_decimal
from apmkit.quality.spec import (
    DecileBenchmark,
    HealthEquityAdjustment,
    MeasureTarget,
    MsspScoring,
    PointsScoring,
)

HUNDRED = Decimal(100)
Third = Literal["top", "middle", "bottom"]


def measure_rates(populations: ibis.Table, entity_column: str | None = None) -> ibis.Table:
    """Aggregate patient populations to measure rates, per entity when ``entity_column`` is given.

    The performance rate is numerator / (denominator − exclusions − exceptions), the eCQM convention;
    NULL when nobody is eligible.

    Parameters
    ----------
    populations
        Rows with ``measure`` and the population columns of :func:`apmkit.quality.evaluate.evaluate_definition`.
    entity_column
        Column to group by (e.g. ``entity_id``, ``tin``, ``npi``).
    """
    keys = ([entity_column] if entity_column else []) + ["measure"]

    def total(column: str) -> ibis.Value:
        return populations[column].fill_null(0).cast("int64").sum()

    rates = populations.group_by(keys).aggregate(
        initial_population=total("initial_population"),
        denominator=total("denominator"),
        denominator_exclusion=total("denominator_exclusion"),
        denominator_exception=total("denominator_exception"),
        numerator=total("numerator"),
    )
    eligible = rates.denominator - rates.denominator_exclusion - rates.denominator_exception
    return rates.mutate(
        eligible=eligible,
        performance_rate=rates.numerator.cast("float64") / eligible.nullif(0).cast("float64"),
    )


@dataclass(frozen=True)
class MeasureScore:
    """One measure's rate and the points it earned.

    Attributes
    ----------
    measure
        Measure identifier.
    eligible, numerator
        Performance denominator (after exclusions and exceptions) and numerator.
    rate
        numerator / eligible, exact; ``None`` when nobody is eligible.
    points
        Achievement (or the better of attainment and improvement) points; ``None`` when not scored.
    decile
        Benchmark decile reached (1-10), when scored on deciles.
    third
        Third of performance for the HEA (top, middle, bottom), when known.
    """

    measure: str
    eligible: int
    numerator: int
    rate: Decimal | None
    points: Decimal | None = None
    decile: int | None = None
    third: Third | None = None
    attainment_points: Decimal | None = None
    improvement_points: Decimal | None = None
    supplied: bool = False
    """The rate was supplied (CAHPS, CMS-computed claims measures) rather than counted from patients:
    ``eligible``/``numerator`` may be 0 (unknown), and ``minimum_denominator`` applies only when known."""


def exact_rate(numerator: int, eligible: int) -> Decimal | None:
    return None if eligible <= 0 else Decimal(numerator) / Decimal(eligible)


def decile_of(rate: Decimal, benchmark: DecileBenchmark) -> int:
    """Benchmark decile (1-10) a rate falls in: 1 + the number of decile floors reached."""
    if benchmark.inverse:
        return 1 + sum(1 for floor in benchmark.decile_floors if rate <= floor)
    return 1 + sum(1 for floor in benchmark.decile_floors if rate >= floor)


def reaches_percentile(rate: Decimal, benchmark: DecileBenchmark, percentile: int) -> bool:
    """Whether ``rate`` is at or beyond the given percentile (a multiple of 10) of the benchmark.

    The floor of decile k+1 is the k×10th percentile (deciles 2..10 start at the 10th..90th percentiles).
    """
    if percentile % 10 or not 10 <= percentile <= 90:
        raise ValueError(f"percentile {percentile} is not one of 10, 20, ..., 90")
    floor = benchmark.decile_floors[percentile // 10 - 1]
    return rate <= floor if benchmark.inverse else rate >= floor


def health_equity_bonus(
    thirds: Sequence[Third | None], underserved_multiplier: Decimal, terms: HealthEquityAdjustment
) -> tuple[Decimal, Decimal]:
    """The HEA measure performance scaler and bonus points.

    scaler = Σ 4 (top third), 2 (middle), 0 (bottom or unscored); bonus = min(max, scaler × multiplier), and
    0 when the underserved multiplier is below the minimum (20 %) or the adjustment is disabled.

    Examples
    --------
    The docs/reference/methodology.md §1.3 derived example: six measures top/top/middle/middle/bottom/unscored and an
    underserved multiplier of 0.40.

    >>> health_equity_bonus(["top", "top", "middle", "middle", "bottom", None], Decimal("0.40"),
    ...                     HealthEquityAdjustment())
    (Decimal('12'), Decimal('4.80'))
    """
    points = {
        "top": terms.top_third_points,
        "middle": terms.middle_third_points,
        "bottom": terms.bottom_third_points,
    }
    scaler = sum((points[third] for third in thirds if third is not None), Decimal(0))
    if not terms.enabled or underserved_multiplier < terms.minimum_multiplier:
        return scaler, Decimal(0)
    return scaler, min(terms.max_bonus, scaler * underserved_multiplier)


@dataclass(frozen=True)
class MsspQualityResult:
    """The MSSP quality determination of one ACO for one performance year.

    Attributes
    ----------
    measures
        Per-measure rates, deciles and achievement points.
    quality_score
        MIPS-style quality score, 0-100 (achievement points earned / points available × 100), unless given.
    health_equity_scaler, health_equity_bonus
        HEA measure performance scaler and bonus points.
    adjusted_score
        HEA-adjusted quality score, capped at 100.
    standard_threshold
        The MIPS quality score percentile the adjusted score had to reach.
    meets_standard, meets_alternative
        Quality performance standard / alternative standard met.
    route
        How the standard was met: ``score``, ``ecqm``, ``first_year``, or ``none``.
    """

    measures: tuple[MeasureScore, ...]
    quality_score: Decimal
    health_equity_scaler: Decimal
    health_equity_bonus: Decimal
    adjusted_score: Decimal
    standard_threshold: Decimal | None
    meets_standard: bool
    meets_alternative: bool
    route: str
    notes: tuple[str, ...] = field(default=())

    @property
    def adjusted_fraction(self) -> Decimal:
        """The HEA-adjusted score as a fraction (0-1), the factor of the sliding scale."""
        return self.adjusted_score / HUNDRED


def score_mssp(
    scoring: MsspScoring,
    measures: Sequence[MeasureScore],
    *,
    underserved_multiplier: Decimal = Decimal(0),
    quality_score: Decimal | None = None,
    reported_ecqms: int | None = None,
) -> MsspQualityResult:
    """Apply the MSSP quality performance standard.

    Parameters
    ----------
    scoring
        The ``mssp`` scoring terms (year, percentiles, benchmarks, HEA terms).
    measures
        Measure rates; ``third`` (for the HEA) may be given by the caller, else it is derived from the
        benchmark decile (deciles 1-3 bottom, 4-7 middle, 8-10 top — an approximation of CMS's thirds of
        ACO performance; give the thirds CMS reports when you have them).
    underserved_multiplier
        max(share of assigned beneficiaries in ADI ≥ 85 block groups, share LIS-or-dual), 0-1.
    quality_score
        The ACO's MIPS quality category score (0-100) when known (e.g. from CMS); otherwise it is computed
        from the measures' achievement points.
    reported_ecqms
        Number of eCQMs/MIPS CQMs reported with complete data (the eCQM route needs 3); defaults to the
        number of measures given that are not supplied rates.
    """
    benchmarks = {b.measure: b for b in scoring.benchmarks}
    scored: list[MeasureScore] = []
    for item in measures:
        benchmark = benchmarks.get(item.measure)
        if item.rate is None or benchmark is None:
            scored.append(item)
            continue
        decile = decile_of(item.rate, benchmark)
        third = item.third or ("top" if decile >= 8 else "middle" if decile >= 4 else "bottom")
        scored.append(
            MeasureScore(
                item.measure,
                item.eligible,
                item.numerator,
                item.rate,
                Decimal(decile),
                decile,
                third,
                supplied=item.supplied,
            )
        )
    points = [m.points for m in scored if m.points is not None]
    if quality_score is None:
        quality_score = (
            (sum(points, Decimal(0)) / (Decimal(10) * len(points)) * HUNDRED) if points else Decimal(0)
        )
    scaler, bonus = health_equity_bonus(
        [m.third for m in scored], underserved_multiplier, scoring.health_equity
    )
    adjusted = min(HUNDRED, quality_score + bonus)
    threshold = scoring.quality_score_percentiles.get(scoring.standard_percentile)
    notes: list[str] = []
    if threshold is None and not scoring.first_year_reporting_only:
        notes.append(
            f"no MIPS quality score {scoring.standard_percentile}th percentile given: the score route is not tested"
        )
    by_score = threshold is not None and adjusted >= threshold
    outcome_10th = any(
        m.rate is not None
        and m.measure in benchmarks
        and m.measure in scoring.outcome_measures
        and reaches_percentile(m.rate, benchmarks[m.measure], scoring.alternative_percentile)
        for m in scored
    )
    other_at_standard = any(
        m.rate is not None
        and m.measure in benchmarks
        and m.measure not in scoring.outcome_measures
        and reaches_percentile(m.rate, benchmarks[m.measure], scoring.standard_percentile)
        for m in scored
    )
    # Supplied rates (CAHPS, CMS-computed claims measures) are not eCQMs/CQMs the ACO reported.
    reported = sum(1 for m in measures if not m.supplied) if reported_ecqms is None else reported_ecqms
    by_ecqm = scoring.performance_year >= 2022 and reported >= 3 and outcome_10th and other_at_standard
    if scoring.first_year_reporting_only:
        route = "first_year"
    elif by_score:
        route = "score"
    elif by_ecqm:
        route = "ecqm"
    else:
        route = "none"
    meets = route != "none"
    alternative = scoring.performance_year >= 2023 and not meets and outcome_10th
    return MsspQualityResult(
        measures=tuple(scored),
        quality_score=quality_score,
        health_equity_scaler=scaler,
        health_equity_bonus=bonus,
        adjusted_score=adjusted,
        standard_threshold=threshold,
        meets_standard=meets,
        meets_alternative=alternative,
        route=route,
        notes=tuple(notes),
    )


def final_sharing_rate(
    max_rate: Decimal, performance_year: int, meets_standard: bool, meets_alternative: bool, score: Decimal
) -> Decimal:
    """MSSP final sharing rate from the quality determination (42 CFR 425.605(d), 425.610(d)).

    ``score`` is the quality score as a fraction (0-1): HEA-adjusted from PY2023.

    Examples
    --------
    docs/reference/methodology.md §1.7 B (BASIC level E, 50 %): standard met → 0.50; only the alternative standard met with
    an HEA-adjusted score of 0.60 → 0.30; PY2018 A1001 (Track 1, 50 % × 0.9084) → 0.4542.

    >>> final_sharing_rate(Decimal("0.50"), 2025, True, False, Decimal("0.60"))
    Decimal('0.50')
    >>> final_sharing_rate(Decimal("0.50"), 2025, False, True, Decimal("0.60"))
    Decimal('0.3000')
    >>> final_sharing_rate(Decimal("0.50"), 2018, True, False, Decimal("0.9084"))
    Decimal('0.454200')
    """
    if performance_year <= 2020:
        return max_rate * score if meets_standard else Decimal(0)
    if meets_standard:
        return max_rate
    if performance_year >= 2023 and meets_alternative:
        return max_rate * score
    return Decimal(0)


def enhanced_loss_rate(
    performance_year: int, meets_standard: bool, meets_alternative: bool, score: Decimal
) -> Decimal:
    """ENHANCED track shared-loss rate: 1 − 0.75 × quality, within [0.40, 0.75]; 0.75 when no standard is met.

    From PY2023 the score is HEA-adjusted and the alternative standard also counts (42 CFR 425.610(f)).

    Examples
    --------
    docs/reference/methodology.md §1.7 C: score 0.90 → 0.40; score 0.50 → 0.625; standard failed → 0.75.

    >>> enhanced_loss_rate(2025, True, False, Decimal("0.90"))
    Decimal('0.40')
    >>> enhanced_loss_rate(2025, True, False, Decimal("0.50"))
    Decimal('0.6250')
    >>> enhanced_loss_rate(2025, False, False, Decimal("0.90"))
    Decimal('0.75')
    """
    floor, ceiling = Decimal("0.40"), Decimal("0.75")
    qualifies = meets_standard or (performance_year >= 2023 and meets_alternative)
    if not qualifies:
        return ceiling
    return max(floor, min(ceiling, Decimal(1) - Decimal("0.75") * score))


# ---- generic points scorecard ----------------------------------------------------------------------------


def _progress(rate: Decimal, start: Decimal, goal: Decimal) -> Decimal:
    """How far ``rate`` has gone from ``start`` towards ``goal`` (either direction), unbounded."""
    return (rate - start) / (goal - start)


def _whole(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def attainment_points(rate: Decimal, target: MeasureTarget, max_points: Decimal) -> Decimal:
    """Attainment points: 0 below the threshold, ``max`` at or beyond the benchmark, otherwise
    (max − 1) × progress + 0.5 rounded half up (the value-based purchasing construction), or with deciles
    one point per decile reached."""
    if target.deciles is not None:
        return Decimal(decile_of(rate, target.deciles)) * max_points / Decimal(10)
    assert target.attainment_threshold is not None and target.benchmark is not None
    progress = _progress(rate, target.attainment_threshold, target.benchmark)
    if progress >= 1:
        return max_points
    if progress < 0:
        return Decimal(0)
    return min(max_points, _whole((max_points - 1) * progress + Decimal("0.5")))


def improvement_points(
    rate: Decimal, baseline: Decimal, target: MeasureTarget, max_points: Decimal
) -> Decimal:
    """Improvement points: max × progress from baseline to benchmark − 0.5, rounded half up, within
    [0, max − 1]; 0 when the rate did not improve on the baseline."""
    benchmark = target.benchmark
    if benchmark is None:
        return Decimal(0)
    better = (lambda a, b: a < b) if target.inverse else (lambda a, b: a > b)
    # Only a baseline short of the benchmark leaves room to improve, and only a better rate improves it.
    if not better(benchmark, baseline) or not better(rate, baseline):
        return Decimal(0)
    progress = _progress(rate, baseline, benchmark)
    if progress <= 0:
        return Decimal(0)
    return max(Decimal(0), min(max_points - 1, _whole(max_points * progress - Decimal("0.5"))))


@dataclass(frozen=True)
class ScorecardResult:
    """A points scorecard for one entity.

    Attributes
    ----------
    measures
        Per-measure rates and points (``None`` points: not scored, reweighted away).
    total_score
        Weighted points earned / weighted points available × 100 (0-100).
    gate_passed
        The quality gate (minimum score and minimum number of scored measures).
    sharing_multiplier
        Factor applied to the sharing rate: 0 when the gate fails, else the sliding-scale band's multiplier
        (or the score as a fraction when no bands are set).
    """

    measures: tuple[MeasureScore, ...]
    total_score: Decimal
    gate_passed: bool
    sharing_multiplier: Decimal


def score_points(
    scoring: PointsScoring,
    measures: Sequence[MeasureScore],
    baselines: Mapping[str, Decimal] | None = None,
) -> ScorecardResult:
    """Score an entity on a points scorecard.

    Parameters
    ----------
    scoring
        The ``points`` scoring terms.
    measures
        The entity's measure rates (from :func:`measure_rates`).
    baselines
        The entity's baseline rate per measure (improvement points); optional.
    """
    baselines = baselines or {}
    rates = {m.measure: m for m in measures}
    scored: list[MeasureScore] = []
    earned = Decimal(0)
    available = Decimal(0)
    for target in scoring.measures:
        item = rates.get(target.measure)
        too_few = item is not None and item.eligible < scoring.minimum_denominator
        if item is not None and item.supplied and item.eligible == 0:
            too_few = False  # a supplied rate without its denominator: the supplier applied case minimums
        if item is None or item.rate is None or too_few:
            scored.append(item or MeasureScore(target.measure, 0, 0, None))
            continue
        attained = attainment_points(item.rate, target, scoring.max_points)
        improved = None
        if scoring.improvement and target.measure in baselines and target.deciles is None:
            improved = improvement_points(
                item.rate, to_decimal(baselines[target.measure]), target, scoring.max_points
            )
        points = max(attained, improved) if improved is not None else attained
        scored.append(
            MeasureScore(
                item.measure,
                item.eligible,
                item.numerator,
                item.rate,
                points,
                attainment_points=attained,
                improvement_points=improved,
                supplied=item.supplied,
            )
        )
        earned += points * target.weight
        available += scoring.max_points * target.weight
    total = earned / available * HUNDRED if available else Decimal(0)
    scored_count = sum(1 for m in scored if m.points is not None)
    gate = total >= scoring.gate_min_score and scored_count >= scoring.gate_min_measures
    if not gate:
        multiplier = Decimal(0)
    elif scoring.sliding_scale:
        multiplier = Decimal(0)
        for band in scoring.sliding_scale:
            if total >= band.min_score:
                multiplier = band.sharing_multiplier
    else:
        multiplier = total / HUNDRED
    return ScorecardResult(tuple(scored), total, gate, multiplier)


# ---- one entity, either method: what ``apmkit quality score`` computes and ``settle`` can call --------------


@dataclass(frozen=True)
class EntityRates:
    """One entity's measure rates and baseline rates, as read by :func:`rates_from_rows`."""

    measures: tuple[MeasureScore, ...]
    baselines: Mapping[str, Decimal]


def row_decimal(value: str | None, source: str, line: int | None, field_name: str) -> Decimal | None:
    """A finite number from a CSV cell (blank = None); anything else is an error naming file, line and field."""
    from apmkit.errors import InputFileError

    text = (value or "").strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        raise InputFileError(source, f"{field_name} is not a number", line=line, field=field_name)
    return number


def rates_from_rows(rows: Sequence[Mapping[str, str | None]], *, source: str) -> dict[str, EntityRates]:
    """Measure rates per entity from rate rows (the ``--rates`` CSV of ``apmkit quality score``).

    Each row: ``entity_id``, ``measure`` (any measure id), and either ``eligible`` + ``numerator`` (counts,
    the rate is numerator / eligible) or ``rate`` (a supplied rate on the measure's own scale, e.g. CAHPS
    for MIPS or a CMS-computed claims measure such as ``HWR`` or ``MCC``; ``eligible`` may be given too);
    optional ``third`` (top/middle/bottom, for the HEA) and ``baseline_rate`` (improvement points).
    Lines are numbered from 2 (line 1 is the header).

    Raises
    ------
    InputFileError
        Naming ``source``, the line and the field (never the value).
    """
    from apmkit.errors import InputFileError

    by_entity: dict[str, tuple[list[MeasureScore], dict[str, Decimal]]] = {}
    for line, row in enumerate(rows, start=2):
        entity = (row.get("entity_id") or "").strip()
        measure = (row.get("measure") or "").strip()
        if not entity:
            raise InputFileError(source, "missing entity_id", line=line, field="entity_id")
        if not measure:
            raise InputFileError(source, "missing measure", line=line, field="measure")
        counts: dict[str, int | None] = {}
        for name in ("eligible", "numerator"):
            text = (row.get(name) or "").strip()
            try:
                counts[name] = int(text) if text else None
            except ValueError:
                raise InputFileError(
                    source, f"{name} must be a whole number", line=line, field=name
                ) from None
            if counts[name] is not None and counts[name] < 0:  # type: ignore[operator]
                raise InputFileError(source, f"{name} must not be negative", line=line, field=name)
        supplied_rate = row_decimal(row.get("rate"), source, line, "rate")
        eligible, numerator = counts["eligible"], counts["numerator"]
        if supplied_rate is not None:
            if supplied_rate < 0:
                raise InputFileError(source, "rate must not be negative", line=line, field="rate")
            item = MeasureScore(measure, eligible or 0, numerator or 0, supplied_rate, supplied=True)
        elif eligible is None or numerator is None:
            raise InputFileError(
                source, "give eligible and numerator, or a supplied rate", line=line, field="eligible"
            )
        else:
            if numerator > eligible:
                raise InputFileError(
                    source, "numerator is larger than eligible", line=line, field="numerator"
                )
            item = MeasureScore(measure, eligible, numerator, exact_rate(numerator, eligible))
        third = (row.get("third") or "").strip() or None
        if third not in (None, "top", "middle", "bottom"):
            raise InputFileError(source, "third must be top, middle or bottom", line=line, field="third")
        if third is not None:
            item = replace(item, third=third)  # type: ignore[arg-type]
        scores, baselines = by_entity.setdefault(entity, ([], {}))
        if any(existing.measure == measure for existing in scores):
            raise InputFileError(source, "the entity has this measure twice", line=line, field="measure")
        scores.append(item)
        baseline = row_decimal(row.get("baseline_rate"), source, line, "baseline_rate")
        if baseline is not None:
            baselines[measure] = baseline
    return {
        entity: EntityRates(tuple(scores), baselines) for entity, (scores, baselines) in by_entity.items()
    }


def baselines_from_rates(rate_rows: Sequence[Mapping[str, object]]) -> dict[str, dict[str, Decimal]]:
    """Baseline rates per entity and measure from rows of a baseline period's rates.

    ``rate_rows`` are rows with ``entity_id``, ``measure``, ``eligible`` and ``numerator`` -- e.g.
    :func:`apmkit.settlement.quality_link.entity_measure_rates` evaluated over the baseline period, or
    :func:`measure_rates` rows. Measures with nobody eligible have no baseline (no improvement points).
    """
    out: dict[str, dict[str, Decimal]] = {}
    for row in rate_rows:
        rate = exact_rate(int(row["numerator"]), int(row["eligible"]))  # type: ignore[call-overload]
        if rate is not None:
            out.setdefault(str(row["entity_id"]), {})[str(row["measure"])] = rate
    return out


@dataclass(frozen=True)
class EntityScore:
    """One entity scored on a quality spec's ``scoring`` section (either method).

    Attributes
    ----------
    quality_score
        0-100: the MSSP quality score (MIPS score, before the HEA) or the scorecard total.
    adjusted_score
        The HEA-adjusted MSSP score (= ``quality_score`` for a points scorecard).
    standard_met, alternative_met
        MSSP quality performance standard / alternative standard, or the scorecard gate (alternative: False).
    sharing_multiplier
        Factor on the sharing rate: MSSP 1 (standard), the adjusted score as a fraction (alternative only) or
        0; scorecard: its sliding scale (or score / 100), 0 when the gate fails.
    final_sharing_rate
        ``max_sharing_rate`` turned into the final rate (MSSP: 42 CFR 425.605(d)/425.610(d)), when given.
    measures
        Per-measure rates and points, with attainment and improvement points (scorecards).
    """

    entity_id: str
    method: str
    quality_score: Decimal
    adjusted_score: Decimal
    standard_met: bool
    alternative_met: bool
    sharing_multiplier: Decimal
    final_sharing_rate: Decimal | None
    measures: tuple[MeasureScore, ...]
    mssp: MsspQualityResult | None = None
    scorecard: ScorecardResult | None = None

    @property
    def score_fraction(self) -> Decimal:
        """The score settlement uses, as a fraction (HEA-adjusted for MSSP)."""
        return self.adjusted_score / HUNDRED


def score_entity(
    scoring: MsspScoring | PointsScoring,
    entity_id: str,
    measures: Sequence[MeasureScore],
    *,
    baselines: Mapping[str, Decimal] | None = None,
    underserved_multiplier: Decimal = Decimal(0),
    quality_score: Decimal | None = None,
    reported_ecqms: int | None = None,
    max_sharing_rate: Decimal | None = None,
) -> EntityScore:
    """Score one entity as ``apmkit quality score`` does: MSSP standard or points scorecard.

    With a points scorecard and ``baselines`` (the entity's baseline rate per measure) each measure earns the
    better of attainment and improvement points (:func:`score_points`); this is the one call settlement needs
    for improvement points -- pass the baselines from :func:`baselines_from_rates` or
    :func:`rates_from_rows`. The MSSP arguments are those of :func:`score_mssp`.
    """
    if isinstance(scoring, MsspScoring):
        mssp = score_mssp(
            scoring,
            measures,
            underserved_multiplier=underserved_multiplier,
            quality_score=quality_score,
            reported_ecqms=reported_ecqms,
        )
        multiplier = (
            Decimal(1)
            if mssp.meets_standard
            else mssp.adjusted_fraction
            if mssp.meets_alternative
            else Decimal(0)
        )
        final = (
            final_sharing_rate(
                max_sharing_rate,
                scoring.performance_year,
                mssp.meets_standard,
                mssp.meets_alternative,
                mssp.adjusted_fraction,
            )
            if max_sharing_rate is not None
            else None
        )
        return EntityScore(
            entity_id,
            "mssp",
            mssp.quality_score,
            mssp.adjusted_score,
            mssp.meets_standard,
            mssp.meets_alternative,
            multiplier,
            final,
            mssp.measures,
            mssp=mssp,
        )
    card = score_points(scoring, measures, baselines)
    return EntityScore(
        entity_id,
        "points",
        card.total_score,
        card.total_score,
        card.gate_passed,
        False,
        card.sharing_multiplier,
        max_sharing_rate * card.sharing_multiplier if max_sharing_rate is not None else None,
        card.measures,
        scorecard=card,
    )
