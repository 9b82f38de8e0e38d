"""The prediction models are fit on one OpenMP thread (apmkit.reports.prediction.fit_and_score)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_info, threadpool_limits

from apmkit.reports.prediction import FEATURES, fit_and_score


def _population(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {f: rng.integers(0, 12, rows).astype(float) for f in FEATURES}
    columns["member_id"] = [f"M{seed}-{i}" for i in range(rows)]
    columns["next_cost"] = rng.gamma(2.0, 500.0, rows)
    columns["next_admitted"] = (rng.random(rows) < 0.2).astype(int)
    return pa.table(columns)


def test_the_fits_run_on_one_openmp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenMP threads spin-wait for cores other processes hold (a shared server, a benchmark): the bounded fits
    run on one thread whatever the machine's setting, and the caller's setting is back afterwards."""
    seen: list[int] = []

    def recording(fit):  # type: ignore[no-untyped-def]
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
            return fit(self, *args, **kwargs)

        return wrapper

    for model in (HistGradientBoostingRegressor, HistGradientBoostingClassifier):
        monkeypatch.setattr(model, "fit", recording(model.fit))
    # The test processes run with OMP_NUM_THREADS=1 (tests/conftest.py): give the caller two threads, as a
    # 2-core machine's default would.
    with threadpool_limits(limits=2, user_api="openmp"):
        outside = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
        result = fit_and_score(_population(400, 1), _population(200, 2), _population(50, 3))
        after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]

    assert outside and set(outside) == {2}
    assert seen and set(seen) == {1}, seen  # both fits, each on one thread
    assert after == outside
    assert result["scores"].num_rows == 50  # type: ignore[attr-defined]
