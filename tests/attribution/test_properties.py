"""Invariants of attribution on generated claims (hypothesis)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.attribution.conftest import Scenario, claim, enrolled, member, months, provider

from apmkit.attribution.assign import attribute
from apmkit.attribution.reports import panel_summary
from apmkit.attribution.spec import PluralitySpec

CLINICIANS = [
    ("6000000001", "600000001"),
    ("6000000002", "600000001"),
    ("6000000003", "600000002"),
    ("6000000004", "600000003"),
]
MEMBERS = [f"m{i}" for i in range(6)]

visits = st.lists(
    st.tuples(
        st.sampled_from(MEMBERS),
        st.integers(0, len(CLINICIANS) - 1),
        st.integers(1, 360),  # day of 2025
        st.integers(1, 30000),  # allowed cents
    ),
    min_size=1,
    max_size=25,
)
specs = st.sampled_from(
    [
        PluralitySpec(name="p", performance_year=2025),
        PluralitySpec(name="p", performance_year=2025, basis="allowed", level="tin"),
        PluralitySpec(
            name="p", performance_year=2025, tie_breaks=("most_visits", "highest_allowed", "lowest_id")
        ),
    ]
)


def rows_for(generated: list[tuple[str, int, int, int]]) -> list[dict[str, Any]]:
    out = []
    for member_id, who, day, cents in generated:
        npi, tin = CLINICIANS[who]
        date = (dt.date(2025, 1, 1) + dt.timedelta(days=day - 1)).isoformat()
        out.append(claim(member_id, npi, tin, "08", "99213", date, str(Decimal(cents) / 100)))
    return out


def run(engine: Any, claims: list[dict[str, Any]], spec: PluralitySpec) -> tuple[list[dict[str, Any]], Any]:
    scenario = Scenario(engine)
    inputs = scenario.inputs(
        claims=claims,
        enrollment=[r for m in MEMBERS for r in enrolled(m, months(2025))],
        members=[member(m) for m in MEMBERS],
        providers=[provider(npi, tin, "08", True) for npi, tin in CLINICIANS],
    )
    result = attribute(inputs, spec, dt.date(2025, 12, 31), materialize=engine.materialize)
    return engine.to_arrow(result.attribution).to_pylist(), result.attribution


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=visits, spec=specs)
def test_attribution_invariants(
    engine: Any, generated: list[tuple[str, int, int, int]], spec: PluralitySpec
) -> None:
    claims = rows_for(generated)
    rows, table = run(engine, claims, spec)
    # Each eligible member appears once and is attributed at most once per contract.
    assert Counter(r["member_id"] for r in rows) == Counter(MEMBERS)
    attributed = [r for r in rows if r["attributed"]]
    assert {r["member_id"] for r in attributed} == {m for m, *_ in generated}
    # The winner is never behind the runner-up on the basis that decides.
    key = "winner_allowed" if spec.basis == "allowed" else "winner_visits"
    runner_key = "runner_up_allowed" if spec.basis == "allowed" else "runner_up_visits"
    assert all(r[runner_key] is None or r[key] >= r[runner_key] for r in attributed)
    # An entity's (TIN/NPI's) panel count equals its attributed members.
    panels = engine.to_arrow(panel_summary(table)).to_pylist()
    expected = Counter((r["entity_id"], r["tin"], r["npi"]) for r in attributed)
    assert {(p["entity_id"], p["tin"], p["npi"]): p["members"] for p in panels} == dict(expected)
    # Adding a visit for the winner never loses the member.
    first = attributed[0]
    winner_npi = first["npi"]
    winner_tin = first["tin"]
    extra = claim(first["member_id"], winner_npi, winner_tin, "08", "99213", "2025-12-30", "75.00")
    again, _ = run(engine, [*claims, extra], spec)
    after = next(r for r in again if r["member_id"] == first["member_id"])
    assert (after["attributed"], after["winner_id"]) == (True, first["winner_id"])
