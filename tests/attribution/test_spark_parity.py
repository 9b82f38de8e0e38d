"""The same attribution expression gives the same answer on PySpark local as on DuckDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.attribution.conftest import Scenario, enrolled, member, months
from tests.attribution.test_plurality_roster_episode import CLAIMS, MEMBERS, PROVIDERS, ROSTER, SELECTED

from apmkit.attribution.spec import PluralitySpec

COLUMNS = (
    "member_id",
    "attributed",
    "step",
    "entity_id",
    "tin",
    "npi",
    "winner_id",
    "winner_visits",
    "winner_allowed",
    "runner_up_id",
    "runner_up_allowed",
    "tie_break",
    "reason",
)


@pytest.mark.spark
def test_plurality_with_overrides_matches_duckdb(spark_engine: Any, duckdb_engine: Any) -> None:
    spec = PluralitySpec(
        name="parity", performance_year=2025, overrides=("roster", "member_selected_pcp"), minimum_panel=2
    )
    answers = []
    for engine in (duckdb_engine, spark_engine):
        scenario = Scenario(engine)
        inputs = scenario.inputs(
            claims=CLAIMS,
            enrollment=[row for m in MEMBERS for row in enrolled(m, months(2024) + months(2025))],
            members=[member(m) for m in MEMBERS],
            providers=PROVIDERS,
            roster=ROSTER,
            member_selected_pcp=SELECTED,
        )
        rows, rejects = scenario.run(inputs, spec, dt.date(2025, 12, 31))
        answers.append(
            (
                {m: tuple(r[c] for c in COLUMNS) for m, r in rows.items()},
                sorted((r["input"], r["record_id"], r["reason"]) for r in rejects),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][0]["roster_and_pcp"][2] == "roster"
