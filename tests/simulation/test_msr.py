"""MSR calibration: on a simulated null population the calibrated MSR gives the nominal false-positive rate, it
follows the normal approximation z × CV / √N, and the published column is CMS's 42 CFR 425.604(b) table."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.rules import one_sided_msr_table
from apmkit.simulation import Assumptions, MemberPool
from apmkit.simulation.msr import calibrate, parse_panel_sizes


def null_pool(members: int = 5000, seed: int = 2) -> MemberPool:
    costs = np.rint(np.random.default_rng(seed).lognormal(np.log(9000), 1.0, members) * 100).astype(np.int64)
    return MemberPool.from_columns(months=np.full(members, 12, np.int64), truncated_cents=costs)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_calibrated_msr_reproduces_the_nominal_false_positive_rate(confidence: float) -> None:
    scenarios = 4000
    rows = calibrate(
        null_pool(), [2000], confidence=confidence, scenarios=scenarios, seed=5, assumptions=Assumptions()
    )
    nominal = 1 - confidence
    # the check uses scenarios drawn independently of the calibration: both carry binomial error
    tolerance = 4.5 * math.sqrt(2 * nominal * (1 - nominal) / scenarios)
    assert abs(rows[0]["false_positive_rate_simulated"] - nominal) < tolerance


def test_calibrated_msr_follows_the_normal_approximation() -> None:
    """N member-years with coefficient of variation CV: the null savings rate is ≈ N(0, CV² / N), so the MSR at
    90 % is ≈ z₀.₉ × CV / √N."""
    pool = null_pool()
    values = pool.truncated_cents.astype(float)
    cv = values.std() / values.mean()
    z = NormalDist().inv_cdf(0.9)
    rows = calibrate(pool, [1000, 4000], confidence=0.9, scenarios=6000, seed=9, assumptions=Assumptions())
    for row in rows:
        expected = z * cv / math.sqrt(row["panel_size"])
        assert row["simulated_msr"] == pytest.approx(expected, rel=0.08)
    assert rows[0]["simulated_msr"] > rows[1]["simulated_msr"]


def test_published_column_is_the_cfr_table() -> None:
    """42 CFR 425.604(b): 3.9 % at 5,000-5,999 (low end), 3.0 % at 10,000, 2.5 % at 20,000, 2.0 % from 60,000."""
    rows = calibrate(
        null_pool(),
        [5000, 10000, 20000, 60000],
        confidence=0.9,
        scenarios=200,
        seed=1,
        assumptions=Assumptions(),
        published=one_sided_msr_table(),
    )
    assert [r["published_msr"] for r in rows] == [0.039, 0.030, 0.025, 0.020]
    assert all(
        r["difference"] == pytest.approx(r["simulated_msr"] - r["published_msr"], abs=1e-6) for r in rows
    )


def test_bad_options_are_errors() -> None:
    with pytest.raises(ConfigurationError, match="--confidence"):
        calibrate(null_pool(), [100], confidence=1.0, scenarios=200, seed=1, assumptions=Assumptions())
    with pytest.raises(ConfigurationError, match="--panel-sizes"):
        parse_panel_sizes("10,x")
    assert parse_panel_sizes("500,2000") == (500, 2000)
