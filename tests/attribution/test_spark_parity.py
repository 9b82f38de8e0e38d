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


@pytest.mark.spark
def test_spec_options_match_duckdb(spark_engine: Any, duckdb_engine: Any) -> None:
    # NPI-only alignment, several TINs per NPI, $0 candidates, step-3 window, aco_id; then visit_unit tin_date
    # with a tie no rule separates (issue 15 options).
    from tests.attribution.test_spec_options import MSSP, P1, P2, P3, run_mssp, run_plurality, v

    answers = []
    tin_claims = [
        v("unit", P1, "2025-03-01"),
        v("unit", P2, "2025-03-01"),
        v("unit", P3, "2025-04-01"),
        v("tie", P1, "2025-03-01", "80.00"),
        v("tie", P3, "2025-03-01", "80.00"),
    ]
    plurality = PluralitySpec(
        name="o", performance_year=2025, level="tin", visit_unit="tin_date", tie_breaks=("highest_allowed",)
    )
    for engine in (duckdb_engine, spark_engine):
        rows, rejects = run_mssp(engine, MSSP.model_copy(update={"aco_id": "A"}))
        more, _ = run_plurality(engine, plurality, tin_claims)
        answers.append(
            (
                {m: (*(r[c] for c in COLUMNS), r["window_start"]) for m, r in {**rows, **more}.items()},
                sorted((r["input"], r["record_id"], r["reason"]) for r in rejects),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][0]["tie"][COLUMNS.index("reason")] == "tie_unresolved"
