"""Properties of episode overlap resolution on random stays (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.definitions import cjr_definition
from apmkit.episodes.spec import EpisodeBuildSpec
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS

from .test_build import YEAR_2023, covered, stay


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["anchor_start"] <= b["window_end"] and b["anchor_start"] <= a["window_end"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 6), st.integers(1, 9)), min_size=1, max_size=7))
def test_kept_episodes_never_overlap_and_dropped_ones_are_covered(
    engine: Engine, stays: list[tuple[int, int, int]]
) -> None:
    start = dt.date(2023, 1, 1)
    claims = [
        stay(
            "R",
            start + dt.timedelta(days=offset),
            start + dt.timedelta(days=offset + length),
            "470",
            f"{paid}000.00",
        )
        for offset, length, paid in stays
    ]
    tables = {
        "medical_claims": engine.from_rows(claims, MEDICAL_CLAIMS),
        "enrollment": engine.from_rows(covered("R", YEAR_2023), ENROLLMENT),
    }
    rows = engine.to_arrow(
        build_episodes(
            tables,
            EpisodeBuildSpec(definitions=(cjr_definition(),)),
            fetch=engine.rows,
            materialize=engine.materialize,
        ).episodes
    ).to_pylist()
    kept = [r for r in rows if r["status"] == "kept"]
    dropped = [r for r in rows if r["status"] == "overlap_dropped"]
    assert kept, "the earliest episode is always kept"
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert not _overlaps(a, b)
    # greedy maximality: a dropped episode overlaps a kept one that comes first in priority order
    for d in dropped:
        assert any(
            _overlaps(d, k) and (k["anchor_start"], k["episode_key"]) < (d["anchor_start"], d["episode_key"])
            for k in kept
        )
    # spending of a kept episode is never more than the member's total payments
    total = sum(paid * 1000 for _, _, paid in stays)
    assert all(k["total_amount"] <= total for k in kept)
