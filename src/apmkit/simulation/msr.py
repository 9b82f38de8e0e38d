"""Minimum savings rate calibration: the MSR that gives a chosen confidence that savings are not random variation.

For a panel of N members the **null population** spends, on average, exactly its benchmark: each scenario draws N
member-years with replacement from the population's own performance-period member rows (plus the trend and
utilization spread of the assumptions) and sets the benchmark to the population's mean spending per member month
× the scenario's member months. The savings rate ``s = (B − E) / B`` of a null scenario is pure chance; the
calibrated MSR at confidence ``c`` is the ``c`` quantile of ``s`` (numpy's ``higher`` method: a value taken by a
scenario), so a null entity clears it with probability at most ``1 − c``. The table compares it, panel size by panel
size, with a published MSR table (CMS's, 42 CFR 425.604(b)) and gives the false-positive rate that table implies
for this population.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from apmkit.contracts.shared_savings_terms import MinimumRateTerms
from apmkit.errors import ConfigurationError
from apmkit.simulation.model import PPM, Assumptions, MemberPool, draw_multipliers, draw_totals
from apmkit.simulation.terms import variable_rates

DEFAULT_PANEL_SIZES: tuple[int, ...] = (
    1_000,
    2_000,
    3_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    50_000,
    60_000,
)


def null_savings_rates(
    pool: MemberPool,
    panel_size: int,
    *,
    scenarios: int,
    rng: np.random.Generator,
    assumptions: Assumptions,
) -> np.ndarray:
    """Savings rates of ``scenarios`` null panels of ``panel_size`` members (benchmark = expected spending)."""
    if pool.size == 0 or int(pool.months.sum()) == 0:
        raise ConfigurationError("MSR calibration: the population has no member months")
    if panel_size < 1:
        raise ConfigurationError("--panel-sizes: every panel size must be at least 1")
    per_month = float(pool.truncated_cents.sum()) / float(pool.months.sum())
    if per_month <= 0:
        raise ConfigurationError("MSR calibration: the population has no spending")
    drawn = dataclasses.replace(
        assumptions, resample=True, panel_sd=0.0, churn=0.0, panel_scale=panel_size / pool.size
    )
    totals = draw_totals(pool, None, scenarios, drawn, rng)
    factor = draw_multipliers(scenarios, assumptions, rng, None).spending_ppm / PPM
    spending = totals.truncated_cents * factor
    benchmark = per_month * totals.member_months
    return np.asarray((benchmark - spending) / benchmark, dtype=np.float64)


def calibrated_msr(rates: np.ndarray, confidence: float) -> float:
    """The ``confidence`` quantile of null savings rates (a value some scenario took)."""
    return float(np.quantile(rates, confidence, method="higher"))


def calibrate(
    pool: MemberPool,
    panel_sizes: Sequence[int],
    *,
    confidence: float,
    scenarios: int,
    seed: int,
    assumptions: Assumptions,
    published: MinimumRateTerms | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Per panel size: the calibrated MSR, the published MSR (when a table is given and covers the size), and the
    false-positive rate each implies on fresh null scenarios (drawn with an independent generator)."""
    if not 0.5 <= confidence < 1:
        raise ConfigurationError("--confidence: must be at least 0.5 and below 1")
    if scenarios < 100:
        raise ConfigurationError("--scenarios: MSR calibration needs at least 100 scenarios")
    assumptions.check()
    rows: list[dict[str, Any]] = []
    for index, size in enumerate(sorted(set(panel_sizes))):
        rates = null_savings_rates(
            pool,
            size,
            scenarios=scenarios,
            rng=np.random.default_rng([seed, index, 0]),
            assumptions=assumptions,
        )
        check = null_savings_rates(
            pool,
            size,
            scenarios=scenarios,
            rng=np.random.default_rng([seed, index, 1]),
            assumptions=assumptions,
        )
        msr = calibrated_msr(rates, confidence)
        cms: float | None = None
        if published is not None:
            try:
                cms = float(variable_rates(published, np.asarray([size], np.int64))[0])
            except ConfigurationError:
                cms = None
        rows.append(
            {
                "panel_size": size,
                "confidence": confidence,
                "simulated_msr": round(msr, 6),
                "published_msr": None if cms is None else round(cms, 6),
                "difference": None if cms is None else round(msr - cms, 6),
                "false_positive_rate_simulated": float((check >= msr).mean()),
                "false_positive_rate_published": None if cms is None else float((check >= cms).mean()),
                "null_rate_sd": float(rates.std()),
                "scenarios": scenarios,
            }
        )
        if progress is not None:
            progress(1)
    return rows


def parse_panel_sizes(text: str | None) -> tuple[int, ...]:
    """``--panel-sizes 1000,5000,20000`` (default: 1,000 to 60,000)."""
    if not text:
        return DEFAULT_PANEL_SIZES
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError("--panel-sizes: write whole numbers separated by commas") from None
    if not sizes or min(sizes) < 1:
        raise ConfigurationError("--panel-sizes: every panel size must be at least 1")
    return sizes


__all__ = [
    "DEFAULT_PANEL_SIZES",
    "calibrate",
    "calibrated_msr",
    "null_savings_rates",
    "parse_panel_sizes",
]
