"""Quality specification: which measures are evaluated, over which period, and how they are scored.

:class:`QualitySpec` is the ``quality:`` section of a contract (composed by ``apmkit.contracts``) and the
parameter object of :mod:`apmkit.quality` (``evaluate``, ``gaps``, ``score``). Two scoring methods:

- ``mssp``: the MSSP quality performance standard (42 CFR 425.512; docs/reference/methodology.md §1.3). The ACO's quality
  score is its MIPS quality score (measure achievement points from benchmark deciles) plus the health equity
  adjustment (HEA) bonus, capped at 100 %. The standard is met at or above a percentile of MIPS quality
  scores (30th PY2021-2023, 40th PY2024+); the alternative standard is met at or above the 10th percentile of
  one outcome measure, and then savings are shared on a sliding scale (maximum rate × HEA-adjusted score).
- ``points``: a generic points scorecard as payers write them: per-measure attainment points between an
  attainment threshold and a benchmark (or by benchmark deciles), improvement points against the entity's
  baseline rate, a total score, a gate and a sliding scale of the sharing rate by score band.

Rates are fractions between 0 and 1 (0.852 = 85.2 %); YAML numbers are read through their text so they stay
exact decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from apmkit.errors import ConfigurationError
from apmkit.money import to_decimal

Rate = Annotated[Decimal, Field(ge=0, le=1)]
"""A fraction between 0 and 1 inclusive."""

MeasureId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,39}$")]
"""Any measure identifier (letters first; letters, digits, ``_``, ``.``, ``-``; up to 40 characters).

apmkit evaluates the :data:`EVALUATED_MEASURES` itself; every other measure of a contract is *supplied*: its
rate comes with the entity's inputs (e.g. CAHPS for MIPS from the survey vendor, CMS-computed claims
measures such as hospital-wide readmission ``HWR`` or multiple-chronic-conditions admissions ``MCC``; the
MSSP sets per year are in :mod:`apmkit.quality.measure_sets`)."""

EVALUATED_MEASURES: tuple[str, ...] = ("CMS122", "CMS165", "CMS2", "CMS125", "CMS130", "CMS529", "ACR", "PQI")
"""Measures apmkit evaluates: the five APP Plus eCQMs, the hybrid hospital-wide readmission core clinical
data elements (CMS529), a claims-based all-cause readmission rate (ACR) and the AHRQ PQI composite of
ambulatory-care-sensitive admissions (PQI)."""

ECQMS: tuple[str, ...] = ("CMS122", "CMS165", "CMS2", "CMS125", "CMS130")
"""The MSSP APP Plus eCQMs apmkit evaluates from clinical data and claims."""


def _exact(value: Any) -> Any:
    if isinstance(value, float):
        return to_decimal(value)
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _floats_to_decimal(cls, data: Any) -> Any:
        return _exact(data)


class MeasurementPeriod(_Frozen):
    """The measurement period (inclusive dates); eCQMs for 2025 use 2025-01-01..2025-12-31."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> MeasurementPeriod:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @classmethod
    def parse(cls, text: str) -> MeasurementPeriod:
        """Read ``YYYY-MM-DD..YYYY-MM-DD`` (the CLI's ``--period``) or a bare year ``YYYY``."""
        text = text.strip()
        if text.isdigit() and len(text) == 4:
            year = int(text)
            return cls(start=date(year, 1, 1), end=date(year, 12, 31))
        start, sep, end = text.partition("..")
        if not sep:
            raise ValueError(f"period {text!r} is not START..END (e.g. 2025-01-01..2025-12-31) or a year")
        return cls(start=date.fromisoformat(start.strip()), end=date.fromisoformat(end.strip()))


class DecileBenchmark(_Frozen):
    """A measure's benchmark as the performance rates at which deciles 2..10 begin (MIPS benchmarks).

    Parameters
    ----------
    measure
        Measure the benchmark belongs to.
    decile_floors
        Nine rates, the lowest rate of deciles 2 through 10, in the direction of better performance
        (ascending for normal measures, descending for inverse measures such as CMS122).
    inverse
        Lower rates are better (CMS122 poor glycemic control).
    """

    measure: MeasureId
    decile_floors: tuple[Annotated[Decimal, Field(ge=0)], ...] = Field(min_length=9, max_length=9)
    """Proportions (0-1) for the eCQMs; supplied measures keep their own scale (e.g. admissions per 100
    person-years, CAHPS summary scores)."""
    inverse: bool = False

    @model_validator(mode="after")
    def _proportions(self) -> DecileBenchmark:
        if self.measure in ECQMS and any(floor > 1 for floor in self.decile_floors):
            raise ValueError(f"decile_floors of {self.measure} are rates between 0 and 1")
        return self

    @model_validator(mode="after")
    def _monotonic(self) -> DecileBenchmark:
        pairs = zip(self.decile_floors, self.decile_floors[1:], strict=False)
        ok = all((b <= a) if self.inverse else (a <= b) for a, b in pairs)
        if not ok:
            order = "descending" if self.inverse else "ascending"
            raise ValueError(f"decile_floors of {self.measure} must be {order}")
        return self


class HealthEquityAdjustment(_Frozen):
    """MSSP health equity adjustment (PY2023+; 42 CFR 425.512(b); docs/reference/methodology.md §1.3).

    bonus = min(max_bonus, performance scaler × underserved multiplier); the scaler sums
    ``top_third_points`` / ``middle_third_points`` / ``bottom_third_points`` over the measures by the third of
    performance the ACO falls in; no bonus when the underserved multiplier is below ``minimum_multiplier``.
    The adjusted score is capped at 100.
    """

    enabled: bool = True
    top_third_points: Decimal = Decimal(4)
    middle_third_points: Decimal = Decimal(2)
    bottom_third_points: Decimal = Decimal(0)
    max_bonus: Decimal = Decimal(10)
    minimum_multiplier: Rate = Decimal("0.20")


class MsspScoring(_Frozen):
    """The MSSP quality performance standard (APP / APP Plus measure sets).

    Parameters
    ----------
    performance_year
        Performance year (selects the standard: gate from 2021, sliding scale from 2023).
    quality_score_percentiles
        MIPS quality category score (0-100) at named percentiles of all MIPS scores for the year, e.g.
        ``{30: 75.59, 40: 77.83}``; published by CMS each year, so an explicit input.
    standard_percentile
        Percentile the HEA-adjusted score must reach: 30 (PY2021-2023) or 40 (PY2024+).
    outcome_measures
        Measures counted for the alternative standard (an outcome measure at or above its 10th percentile).
    alternative_percentile
        Measure-level percentile of the alternative standard (10).
    benchmarks
        Decile benchmarks of the measures, used for achievement points and the alternative standard.
    first_year_reporting_only
        First performance year of the first agreement: the standard is met by complete reporting.
    health_equity
        Health equity adjustment terms.
    """

    method: Literal["mssp"] = "mssp"
    performance_year: int = Field(ge=2021)
    quality_score_percentiles: dict[int, Decimal] = Field(default_factory=dict)
    standard_percentile: int = 40
    outcome_measures: tuple[MeasureId, ...] = ("CMS122", "CMS165")
    """With a ``measure_set`` in the quality section and no ``outcome_measures`` given, the set's outcome
    measures for the year are used."""
    alternative_percentile: int = 10
    benchmarks: tuple[DecileBenchmark, ...] = ()
    first_year_reporting_only: bool = False
    health_equity: HealthEquityAdjustment = HealthEquityAdjustment()


class MeasureTarget(_Frozen):
    """One measure's weight and performance targets in a points scorecard.

    Parameters
    ----------
    measure
        Measure scored.
    weight
        Relative weight of the measure's points in the total score.
    attainment_threshold
        Rate that earns the first attainment point (e.g. the 30th percentile).
    benchmark
        Rate that earns full attainment points (e.g. the 90th percentile).
    inverse
        Lower rates are better (CMS122); thresholds are then compared the other way.
    deciles
        Instead of threshold/benchmark interpolation, one point per decile reached (MIPS style).
    """

    measure: MeasureId
    weight: Decimal = Field(default=Decimal(1), gt=0)
    attainment_threshold: Annotated[Decimal, Field(ge=0)] | None = None
    benchmark: Annotated[Decimal, Field(ge=0)] | None = None
    inverse: bool = False
    deciles: DecileBenchmark | None = None

    @model_validator(mode="after")
    def _targets(self) -> MeasureTarget:
        if self.deciles is None and (self.attainment_threshold is None or self.benchmark is None):
            raise ValueError(f"{self.measure}: give attainment_threshold and benchmark, or deciles")
        if self.attainment_threshold is not None and self.benchmark is not None:
            better = (
                self.benchmark < self.attainment_threshold
                if self.inverse
                else (self.benchmark > self.attainment_threshold)
            )
            if not better:
                raise ValueError(f"{self.measure}: benchmark must be better than attainment_threshold")
        return self


class SlidingScaleBand(_Frozen):
    """At a total score of at least ``min_score`` the sharing rate is multiplied by ``sharing_multiplier``."""

    min_score: Decimal = Field(ge=0, le=100)
    sharing_multiplier: Rate


class PointsScoring(_Frozen):
    """A generic points-based scorecard (attainment and improvement points, gate, sliding scale).

    Measure points follow the attainment/improvement construction CMS uses in value-based purchasing
    (attainment 0-``max_points`` between threshold and benchmark, improvement up to ``max_points`` − 1
    against the entity's baseline; the better of the two counts). The total score is the weighted share of
    points available, 0-100.

    Parameters
    ----------
    measures
        Scored measures with weights and targets.
    max_points
        Points a measure earns at or beyond its benchmark.
    improvement
        Award improvement points when a baseline rate is given.
    gate_min_score
        The quality gate: no sharing below this total score.
    gate_min_measures
        The gate also requires at least this many measures with a non-empty denominator.
    minimum_denominator
        Measures with fewer eligible patients are not scored (reweighted away).
    sliding_scale
        Bands of total score → sharing-rate multiplier; empty means the score itself (0-1) scales sharing.
    """

    method: Literal["points"] = "points"
    measures: tuple[MeasureTarget, ...] = Field(min_length=1)
    max_points: Decimal = Field(default=Decimal(10), gt=0)
    improvement: bool = True
    gate_min_score: Decimal = Field(default=Decimal(0), ge=0, le=100)
    gate_min_measures: int = Field(default=0, ge=0)
    minimum_denominator: int = Field(default=20, ge=0)
    sliding_scale: tuple[SlidingScaleBand, ...] = ()

    @model_validator(mode="after")
    def _bands_increasing(self) -> PointsScoring:
        scores = [band.min_score for band in self.sliding_scale]
        if scores != sorted(scores) or len(set(scores)) != len(scores):
            raise ValueError("sliding_scale bands must have strictly increasing min_score")
        return self


Scoring = Annotated[MsspScoring | PointsScoring, Field(discriminator="method")]


class MeasureSetRef(_Frozen):
    """A published measure set by program and performance year (:mod:`apmkit.quality.measure_sets`)."""

    program: Literal["mssp"] = "mssp"
    performance_year: int = Field(ge=2021)


class QualitySpec(_Frozen):
    """The ``quality:`` section of a contract.

    Parameters
    ----------
    measures
        Measures evaluated (eCQMs, CMS529 core clinical data elements, claims measures).
    measurement_period
        Period the measures are evaluated over; ``None`` = the contract's performance period.
    scoring
        ``mssp`` quality performance standard or a ``points`` scorecard; ``None`` = report rates only.

    Examples
    --------
    >>> spec = QualitySpec.model_validate(
    ...     {"measures": ["CMS122", "CMS165"],
    ...      "measurement_period": {"start": "2025-01-01", "end": "2025-12-31"},
    ...      "scoring": {"method": "mssp", "performance_year": 2025,
    ...                  "quality_score_percentiles": {40: 77.83}}})
    >>> spec.scoring.standard_percentile
    40
    """

    measures: tuple[MeasureId, ...] = ECQMS
    measure_set: MeasureSetRef | None = None
    """A published measure set (``{program: mssp, performance_year: 2025}``): its measures replace the
    default list (give ``measures`` or ``measure_set``, not both)."""
    measurement_period: MeasurementPeriod | None = None
    baseline_period: MeasurementPeriod | None = None
    """Period whose rates are each entity's baseline for improvement points (points scorecards); None = no
    improvement points unless a supplied rate row gives ``baseline_rate``."""
    scoring: Scoring | None = None

    @model_validator(mode="before")
    @classmethod
    def _measure_set(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("measure_set") is None:
            return data
        if "measures" in data:
            raise ValueError("give measures or measure_set, not both")
        from apmkit.quality.measure_sets import measure_set

        ref = MeasureSetRef.model_validate(data["measure_set"])
        try:
            entries = measure_set(ref.program, ref.performance_year)
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("quality spec: ")) from None
        data = {**data, "measures": [e.measure_id for e in entries]}
        scoring = data.get("scoring")
        if (
            isinstance(scoring, dict)
            and scoring.get("method") == "mssp"
            and "outcome_measures" not in scoring
        ):
            data["scoring"] = {**scoring, "outcome_measures": [e.measure_id for e in entries if e.outcome]}
        return data

    @model_validator(mode="after")
    def _unique(self) -> QualitySpec:
        if len(set(self.measures)) != len(self.measures):
            raise ValueError("measures must not repeat")
        return self

    @property
    def supplied_measures(self) -> tuple[str, ...]:
        """Measures of the spec apmkit does not evaluate: their rates must be supplied."""
        return tuple(m for m in self.measures if m not in EVALUATED_MEASURES)
