"""Scenarios of a contract's population: member-years resampled, with churn, trend, utilization, coding and quality.

A scenario redraws each entity's performance period from what the run measured:

* **panel size** — the entity's attributed population times a mean-one log-normal factor (``panel_sd``);
* **bootstrap of member-years** — that many member-years drawn with replacement from the entity's own
  performance-period member rows (months, truncated spending, stop-loss excess, risk score, cell), the
  population's own history rather than a fitted curve;
* **attribution churn** — a binomial share (``churn``) of the panel replaced by member-years drawn from the
  members the entity does not hold (other entities and unattributed members of the same data);
* **trend and utilization** — spending multiplied by ``(1 + trend) × (1 + utilization) × (1 − cost_reduction)``
  with ``trend ~ N(trend, trend_sd)``, ``utilization ~ N(utilization, utilization_sd)`` (to millionths, then
  integer half-up cents);
* **coding intensity** — risk scores multiplied by ``1 + d``, ``d ~ N(coding_intensity, coding_sd)``: a
  risk-adjusted benchmark (and a risk-adjusted capitation) moves with them;
* **quality** — the quality score drawn from a beta distribution with the run's score (or ``quality_mean``) as
  mean and ``quality_sd`` as standard deviation, to 4 decimals; with ``quality_standard_min`` the quality
  standard is met when the score reaches it.

With every spread zero and ``resample`` off a scenario is the run itself (the correctness anchor: it settles to
the run's statement to the cent). Sums over members are integer cents; random numbers come from one
``numpy.random.Generator`` per entity seeded from ``(seed, entity index)``, so a seed reproduces every draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

import numpy as np
import numpy.typing as npt

from apmkit.errors import ConfigurationError
from apmkit.simulation.exact import Bools, Ints, Objects, div_round_half_up, full
from apmkit.simulation.terms import FixedInputs, ScenarioInputs

PPM = 1_000_000
"""Multipliers are drawn to millionths and applied to cents with integer half-up division."""

_CHUNK_DRAWS = 1 << 19
"""Member-year draws gathered at once (small enough to stay in cache and reuse memory)."""


@dataclass(frozen=True)
class Assumptions:
    """The spreads a simulation draws from (all rates as fractions: 0.03 = 3 %)."""

    resample: bool = True
    """Bootstrap member-years (False: every scenario holds the run's own members)."""
    trend: float = 0.0
    """Mean change of spending against the measured period."""
    trend_sd: float = 0.0
    utilization: float = 0.0
    """Mean change of utilization (spending) against the measured period, on top of the trend."""
    utilization_sd: float = 0.0
    coding_intensity: float = 0.0
    """Mean risk-score drift (coding intensity)."""
    coding_sd: float = 0.0
    quality_mean: float | None = None
    """Mean quality score (None: the run's score)."""
    quality_sd: float = 0.0
    quality_standard_min: float | None = None
    """Score at which the quality standard is met in a scenario (None: the run's flag)."""
    panel_sd: float = 0.0
    """Standard deviation of the log panel size (mean-one log-normal factor)."""
    panel_scale: float = 1.0
    """Expected panel size as a multiple of the entity's attributed population."""
    churn: float = 0.0
    """Share of the panel replaced by members from outside the entity."""
    cost_reduction: float = 0.0
    """Spending reduction an initiative achieves (0.02 = spending 2 % lower)."""
    care_management_pmpm: Decimal = Decimal(0)
    """The provider's own care-management cost per member per month (for the net margin)."""

    def check(self) -> None:
        """Refuse impossible spreads, naming the assumption."""
        for name in ("trend", "utilization", "coding_intensity"):
            if not -1 < getattr(self, name) < 10 or not math.isfinite(getattr(self, name)):
                raise ConfigurationError(f"assumption {name}: must be above -1 and below 10")
        for name in ("trend_sd", "utilization_sd", "coding_sd", "quality_sd", "panel_sd"):
            if getattr(self, name) < 0 or not math.isfinite(getattr(self, name)):
                raise ConfigurationError(f"assumption {name}: must be a finite number ≥ 0")
        if not 0 <= self.churn <= 1:
            raise ConfigurationError("assumption churn: must be between 0 and 1")
        if not -1 < self.cost_reduction < 1:
            raise ConfigurationError("assumption cost_reduction: must be above -1 and below 1")
        if self.quality_mean is not None and not 0 <= self.quality_mean <= 1:
            raise ConfigurationError("assumption quality_mean: must be between 0 and 1")
        if self.care_management_pmpm < 0:
            raise ConfigurationError("assumption care_management_pmpm: must be ≥ 0")
        if not 0 < self.panel_scale <= 100 or not math.isfinite(self.panel_scale):
            raise ConfigurationError("assumption panel_scale: must be above 0 and at most 100")
        if not self.resample and (self.panel_sd or self.churn or self.panel_scale != 1):
            raise ConfigurationError(
                "assumptions panel_sd, panel_scale and churn redraw members: they need resampling (resample: true)"
            )


@dataclass(frozen=True)
class MemberPool:
    """One entity's performance-period member rows (one element per member-year)."""

    months: Ints
    truncated_cents: Ints
    excess_cents: Ints
    score_micro: Ints
    """Risk score in millionths (0 when unscored)."""
    scored: Bools
    cell: Ints
    """Index into ``cells`` (-1: no cell)."""
    cells: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return int(self.months.shape[0])

    @classmethod
    def from_columns(
        cls,
        months: Ints,
        truncated_cents: Ints,
        excess_cents: Ints | None = None,
        score_micro: Ints | None = None,
        scored: Bools | None = None,
        cell_codes: Ints | None = None,
        cells: tuple[str, ...] = (),
    ) -> MemberPool:
        """A pool from member columns; ``cell_codes`` index ``cells`` (-1: no cell)."""
        n = int(np.asarray(months).shape[0])
        codes = np.full(n, -1, np.int64) if cell_codes is None else np.asarray(cell_codes, np.int64)
        if codes.size and (codes.max(initial=-1) >= len(cells) or codes.min(initial=-1) < -1):
            raise ValueError("cell codes must index the cell names")
        return cls(
            months=np.asarray(months, dtype=np.int64),
            truncated_cents=np.asarray(truncated_cents, dtype=np.int64),
            excess_cents=np.zeros(n, np.int64)
            if excess_cents is None
            else np.asarray(excess_cents, np.int64),
            score_micro=np.zeros(n, np.int64) if score_micro is None else np.asarray(score_micro, np.int64),
            scored=np.zeros(n, bool) if scored is None else np.asarray(scored, bool),
            cell=codes,
            cells=tuple(cells),
        )

    def concat(self, other: MemberPool) -> MemberPool:
        names = tuple(sorted(set(self.cells) | set(other.cells)))
        index = {name: i for i, name in enumerate(names)}

        def remap(pool: MemberPool) -> Ints:
            table = np.asarray([index[n] for n in pool.cells] + [-1], np.int64)
            return table[pool.cell]  # -1 indexes the appended -1

        return MemberPool(
            months=np.concatenate([self.months, other.months]),
            truncated_cents=np.concatenate([self.truncated_cents, other.truncated_cents]),
            excess_cents=np.concatenate([self.excess_cents, other.excess_cents]),
            score_micro=np.concatenate([self.score_micro, other.score_micro]),
            scored=np.concatenate([self.scored, other.scored]),
            cell=np.concatenate([remap(self), remap(other)]),
            cells=names,
        )


@dataclass(frozen=True)
class Totals:
    """An entity's sums over members in every scenario (integer cents and months)."""

    population: Ints
    member_months: Ints
    truncated_cents: Ints
    excess_cents: Ints
    score_months_micro: Ints
    scored_months: Ints
    cell_months: dict[str, Ints] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.population.shape[0])


@dataclass(frozen=True)
class Draws:
    """Per-scenario multipliers and scores (integers in millionths; quality as Decimals or None)."""

    spending_ppm: Ints
    coding_ppm: Ints
    quality: Objects | None


def pool_totals(pool: MemberPool, scenarios: int, *, cells: bool) -> Totals:
    """Every scenario equal to the pool itself (no resampling)."""
    weights = {c: int(pool.months[pool.cell == i].sum()) for i, c in enumerate(pool.cells)} if cells else {}
    return Totals(
        population=np.full(scenarios, pool.size, np.int64),
        member_months=np.full(scenarios, int(pool.months.sum()), np.int64),
        truncated_cents=np.full(scenarios, int(pool.truncated_cents.sum()), np.int64),
        excess_cents=np.full(scenarios, int(pool.excess_cents.sum()), np.int64),
        score_months_micro=np.full(scenarios, int((pool.score_micro * pool.months).sum()), np.int64),
        scored_months=np.full(scenarios, int(pool.months[pool.scored].sum()), np.int64),
        cell_months={c: np.full(scenarios, m, np.int64) for c, m in weights.items()},
    )


def _segment_sums(values: npt.NDArray[np.int64], lengths: Ints) -> npt.NDArray[np.int64]:
    """Sums of consecutive row segments of ``values`` with the given lengths (empty segments sum to 0)."""
    out = np.zeros((lengths.shape[0], *values.shape[1:]), np.int64)
    filled = np.flatnonzero(lengths)
    if filled.size:
        starts = (np.cumsum(lengths) - lengths)[filled]
        out[filled] = np.add.reduceat(values, starts, axis=0)
    return out


def _draw_sums(
    pool: MemberPool,
    lengths: Ints,
    rng: np.random.Generator,
    *,
    cells: bool,
    scores: bool,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Ints]:
    """Sums over ``lengths[k]`` member-years drawn with replacement from ``pool``, for every scenario ``k``.

    The member columns are one row per member (``members x columns``); each chunk of draws gathers whole rows
    and sums them per scenario, so memory stays at a chunk of draws whatever the number of scenarios.
    """
    columns: dict[str, Ints] = {"months": pool.months, "truncated": pool.truncated_cents}
    if pool.excess_cents.any():
        columns["excess"] = pool.excess_cents
    if scores:
        columns["score_months"] = pool.score_micro * pool.months
        columns["scored_months"] = np.where(pool.scored, pool.months, 0)
    if cells:
        for i, c in enumerate(pool.cells):
            columns[f"cell:{c}"] = np.where(pool.cell == i, pool.months, 0)
    names = list(columns)
    rows = np.ascontiguousarray(np.stack([columns[n] for n in names], axis=1), dtype=np.int64)
    sums = np.zeros((lengths.shape[0], len(names)), np.int64)
    index_type = np.uint32 if pool.size < 2**32 else np.uint64
    start = 0
    count = lengths.shape[0]
    while start < count:
        # as many scenarios as fit in one chunk of draws (at least one)
        cumulative = np.cumsum(lengths[start:])
        stop = start + max(1, int(np.searchsorted(cumulative, _CHUNK_DRAWS, side="right")))
        part = lengths[start:stop]
        draws = int(part.sum())
        if draws:
            index = rng.integers(0, pool.size, size=draws, dtype=index_type)
            sums[start:stop] = _segment_sums(np.take(rows, index, axis=0), part)
        if progress is not None:
            progress(stop - start)
        start = stop
    out = {name: sums[:, j].copy() for j, name in enumerate(names)}
    return out


def draw_totals(
    pool: MemberPool,
    outside: MemberPool | None,
    scenarios: int,
    assumptions: Assumptions,
    rng: np.random.Generator,
    *,
    cells: bool = False,
    scores: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Totals:
    """An entity's member sums in every scenario: panel size, bootstrap and churn (see the module text)."""
    if pool.size == 0:
        raise ConfigurationError("an entity has no member rows to resample")
    if not assumptions.resample:
        if progress is not None:
            progress(scenarios)
        return pool_totals(pool, scenarios, cells=cells)
    n = pool.size * assumptions.panel_scale
    if assumptions.panel_sd:
        sigma = assumptions.panel_sd
        factor = np.exp(rng.normal(-(sigma**2) / 2, sigma, scenarios))
        panel = np.maximum(1, np.rint(n * factor)).astype(np.int64)
    else:
        panel = np.full(scenarios, max(1, round(n)), np.int64)
    churned = (
        rng.binomial(panel, assumptions.churn).astype(np.int64) if assumptions.churn else np.zeros_like(panel)
    )
    source = outside if outside is not None and outside.size else pool
    both = pool.concat(source) if cells else pool  # the same cell names on both sides
    own_pool = MemberPool(
        both.months[: pool.size],
        both.truncated_cents[: pool.size],
        both.excess_cents[: pool.size],
        both.score_micro[: pool.size],
        both.scored[: pool.size],
        both.cell[: pool.size],
        both.cells,
    )
    in_pool = (
        MemberPool(
            both.months[pool.size :],
            both.truncated_cents[pool.size :],
            both.excess_cents[pool.size :],
            both.score_micro[pool.size :],
            both.scored[pool.size :],
            both.cell[pool.size :],
            both.cells,
        )
        if cells
        else source
    )
    own = _draw_sums(own_pool, panel - churned, rng, cells=cells, scores=scores, progress=progress)
    moved = (
        _draw_sums(in_pool, churned, rng, cells=cells, scores=scores)
        if churned.any()
        else {k: np.zeros(scenarios, np.int64) for k in own}
    )

    def total(name: str) -> Ints:
        return own.get(name, np.zeros(scenarios, np.int64)) + moved.get(name, np.zeros(scenarios, np.int64))

    return Totals(
        population=panel,
        member_months=total("months"),
        truncated_cents=total("truncated"),
        excess_cents=total("excess"),
        score_months_micro=total("score_months"),
        scored_months=total("scored_months"),
        cell_months={c: total(f"cell:{c}") for c in own_pool.cells} if cells else {},
    )


def draw_multipliers(
    scenarios: int, assumptions: Assumptions, rng: np.random.Generator, quality: Decimal | None
) -> Draws:
    """Spending and coding multipliers (millionths) and quality scores for every scenario."""
    a = assumptions
    factor = np.full(scenarios, 1.0 + a.trend)
    if a.trend_sd:
        factor = 1.0 + rng.normal(a.trend, a.trend_sd, scenarios)
    if a.utilization_sd:
        factor = factor * (1.0 + rng.normal(a.utilization, a.utilization_sd, scenarios))
    elif a.utilization:
        factor = factor * (1.0 + a.utilization)
    factor = np.maximum(factor * (1.0 - a.cost_reduction), 0.0)
    spending = np.rint(factor * PPM).astype(np.int64)
    coding = np.full(scenarios, round(a.coding_intensity * PPM), np.int64)
    if a.coding_sd:
        coding = np.rint(rng.normal(a.coding_intensity, a.coding_sd, scenarios) * PPM).astype(np.int64)
    scores: Objects | None = None
    mean = a.quality_mean if a.quality_mean is not None else (None if quality is None else float(quality))
    if mean is not None:
        if a.quality_sd and 0 < mean < 1:
            variance = a.quality_sd**2
            if variance >= mean * (1 - mean):
                raise ConfigurationError(
                    f"assumption quality_sd: {a.quality_sd} is too wide for a mean score of {mean:.4f} "
                    "(a beta distribution needs sd² < mean × (1 − mean))"
                )
            common = mean * (1 - mean) / variance - 1
            drawn = rng.beta(mean * common, (1 - mean) * common, scenarios)
            ten_thousandths = np.rint(drawn * 10_000).astype(np.int64)
            scores = np.empty(scenarios, dtype=object)
            scores[:] = [Decimal(int(v)).scaleb(-4) for v in ten_thousandths.tolist()]
        else:
            value = quality if a.quality_mean is None and quality is not None else Decimal(str(mean))
            scores = full(scenarios, value)
    return Draws(spending, coding, scores)


@dataclass(frozen=True)
class RunFigures:
    """What the run measured for one entity: the anchor every scenario is scaled from."""

    benchmark: Decimal
    expenditure: Decimal
    member_months: int
    truncated_cents: int
    completion_factor: Decimal
    benchmark_risk_adjusted: bool


def scenario_inputs(
    fixed: FixedInputs,
    run: RunFigures,
    totals: Totals,
    draws: Draws,
    assumptions: Assumptions,
    *,
    risk_score: Decimal | None,
) -> ScenarioInputs:
    """The entity's settlement inputs in every scenario.

    * benchmark = run benchmark × scenario member months / run member months × (1 + coding drift when the
      benchmark is risk-adjusted); the recalculated benchmark of the MSSP loss guardrail scales the same way;
    * expenditure = scenario truncated spending × completion factor when the run's expenditure is exactly that
      (the claims path), else run expenditure × scenario / run truncated spending (e.g. MSSP's per-type
      measurement);
    * stop-loss excess and spending scaled by the spending multiplier; risk score = member-month-weighted mean
      of the drawn members' scores × (1 + coding drift).
    """
    size = totals.size
    spending = div_round_half_up(totals.truncated_cents * draws.spending_ppm, PPM)
    excess = div_round_half_up(totals.excess_cents * draws.spending_ppm, PPM)
    if run.member_months <= 0:
        raise ConfigurationError(f"entity {fixed.entity_id}: the run has no member months")
    months = [Decimal(int(v)) for v in totals.member_months.tolist()]
    coding = [Decimal(int(v)).scaleb(-6) for v in draws.coding_ppm.tolist()]
    run_months = Decimal(run.member_months)
    claims_path = run.expenditure == Decimal(run.truncated_cents).scaleb(-2) * run.completion_factor
    if not claims_path and run.truncated_cents <= 0:
        raise ConfigurationError(f"entity {fixed.entity_id}: the run measured no spending to scale")
    with localcontext() as context:
        context.prec = 50
        benchmark = np.empty(size, dtype=object)
        benchmark[:] = [
            run.benchmark * m / run_months * ((1 + d) if run.benchmark_risk_adjusted and d else 1)
            for m, d in zip(months, coding, strict=True)
        ]
        recalculated: Objects | None = None
        if fixed.recalculated_benchmark is not None:
            # the MSSP guardrail's two-way benchmark scales as the benchmark does
            recalculated = np.empty(size, dtype=object)
            recalculated[:] = [
                fixed.recalculated_benchmark
                * m
                / run_months
                * ((1 + d) if run.benchmark_risk_adjusted and d else 1)
                for m, d in zip(months, coding, strict=True)
            ]
        expenditure = np.empty(size, dtype=object)
        if claims_path:
            expenditure[:] = [Decimal(int(t)).scaleb(-2) * run.completion_factor for t in spending.tolist()]
        else:
            truncated = Decimal(run.truncated_cents)
            expenditure[:] = [
                run.expenditure
                if int(t) == run.truncated_cents
                else run.expenditure * Decimal(int(t)) / truncated
                for t in spending.tolist()
            ]
        stop_loss = np.empty(size, dtype=object)
        stop_loss[:] = [Decimal(int(v)).scaleb(-2) for v in excess.tolist()]
    scores: Objects | None = None
    if risk_score is not None:
        scores = np.empty(size, dtype=object)
        with localcontext() as context:
            context.prec = 28  # the claims path's division (apmkit.settlement.claims.entity_inputs)
            values = []
            for s, m, d in zip(
                totals.score_months_micro.tolist(), totals.scored_months.tolist(), coding, strict=True
            ):
                base = Decimal(int(s)).scaleb(-6) / Decimal(int(m)) if m else risk_score
                values.append(base * (1 + d) if d else base)
        scores[:] = values
    met: Bools | None = None
    if assumptions.quality_standard_min is not None and draws.quality is not None:
        threshold = Decimal(str(assumptions.quality_standard_min))
        met = np.asarray([q >= threshold for q in draws.quality.tolist()], dtype=bool)
    elif fixed.quality_standard_met is not None:
        met = np.full(size, bool(fixed.quality_standard_met))
    return ScenarioInputs(
        fixed=fixed,
        benchmark=benchmark,
        expenditure=expenditure,
        population=totals.population,
        member_months=totals.member_months,
        quality_score=draws.quality,
        quality_standard_met=met,
        stop_loss_excess=stop_loss,
        risk_score=scores,
        months_by_cell=dict(totals.cell_months),
        recalculated_benchmark=recalculated,
    )


def care_management_cost(member_months: Ints, pmpm: Decimal) -> Ints:
    """The provider's care-management cost in cents: member months × PMPM, half-up to cents."""
    micro = int((pmpm * PPM).to_integral_value())
    if Decimal(micro) != pmpm * PPM:
        raise ConfigurationError("assumption care_management_pmpm: at most 6 decimal places")
    return div_round_half_up(member_months * micro * 100, PPM)


__all__ = [
    "PPM",
    "Assumptions",
    "Draws",
    "MemberPool",
    "RunFigures",
    "Totals",
    "care_management_cost",
    "draw_multipliers",
    "draw_totals",
    "pool_totals",
    "scenario_inputs",
]
