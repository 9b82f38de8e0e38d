"""The same attribution expression gives the same answer on PySpark local as on DuckDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.attribution.conftest import Scenario
from tests.attribution.test_mssp_stepwise import build

from apmkit.attribution.spec import MsspStepwiseSpec

COLUMNS = (
    "member_id",
    "attributed",
    "step",
    "entity_id",
    "tin",
    "npi",
    "winner_id",
    "winner_allowed",
    "runner_up_id",
    "runner_up_allowed",
    "tie_break",
    "reason",
)


@pytest.mark.spark
def test_mssp_scenarios_match_duckdb(spark_engine: Any, duckdb_engine: Any) -> None:
    spec = MsspStepwiseSpec(performance_year=2025, timing="retrospective", overrides=("voluntary_alignment",))
    answers = []
    for engine in (duckdb_engine, spark_engine):
        scenario = Scenario(engine)
        rows, rejects = scenario.run(build(scenario), spec, dt.date(2025, 12, 31))
        answers.append(
            (
                {m: tuple(r[c] for c in COLUMNS) for m, r in rows.items()},
                sorted((r["record_id"], r["reason"]) for r in rejects),
            )
        )
    assert answers[0] == answers[1]
