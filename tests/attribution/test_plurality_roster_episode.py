"""Claims plurality, overrides, rosters and episodes on hand-built members.

Expected assignments follow from the method definitions in docs/attribution.md (visit = member x NPI x
date; tie-breaks in the configured order; rosters override claims) and, for episodes, from the CJR rule
that the day of discharge is day 1 of the 90-day post-anchor period (42 CFR 510.210(a)), counted here by
hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from tests.attribution.conftest import Scenario, assignment, claim, enrolled, member, months, provider

from apmkit.attribution.spec import (
    EligibilitySpec,
    EpisodeAnchor,
    EpisodeSpec,
    PluralitySpec,
    RosterSpec,
)

T1, T2, T3 = "500000001", "500000002", "500000003"
P1 = ("5000000001", T1, "08")
P2 = ("5000000002", T1, "11")
P3 = ("5000000003", T2, "08")
P4 = ("5000000005", T3, "08")
S1 = ("5000000004", T2, "06")
PROVIDERS = [provider(n, t, s, s != "06") for n, t, s in (P1, P2, P3, P4, S1)]


def v(
    member_id: str,
    who: tuple[str, str, str],
    day: str,
    allowed: str = "50.00",
    code: str = "99213",
    **kw: Any,
) -> dict[str, Any]:
    return claim(member_id, who[0], who[1], who[2], code, day, allowed, **kw)


def tin_npi(who: tuple[str, str, str]) -> str:
    return f"TIN_NPI:{who[1]}|{who[0]}"


CLAIMS = [
    *[v("visits_vs_allowed", P1, f"2025-0{m}-01", "50.00") for m in (2, 3, 4)],
    *[v("visits_vs_allowed", P3, f"2025-0{m}-01", "100.00") for m in (5, 6)],
    # Two qualifying lines on one day with one clinician are one visit.
    v("same_day", P1, "2025-03-01", "50.00"),
    v("same_day", P1, "2025-03-01", "10.00", code="96160"),
    v("same_day", P3, "2025-02-01", "60.00"),
    v("tie_recent", P1, "2025-03-01", "80.00"),
    v("tie_recent", P3, "2025-02-01", "90.00"),
    v("tie_allowed", P1, "2025-03-01", "80.00"),
    v("tie_allowed", P3, "2025-03-01", "90.00"),
    v("tie_lowest", P1, "2025-03-01", "80.00"),
    v("tie_lowest", P3, "2025-03-01", "80.00"),
    v("tie_most_visits", P1, "2025-03-01", "40.00"),
    v("tie_most_visits", P1, "2025-04-01", "40.00"),
    v("tie_most_visits", P3, "2025-05-01", "80.00"),
    *[v("specialist_only", S1, f"2025-0{m}-01") for m in (2, 3, 4)],
    claim("unknown_provider", "9999999999", T1, "08", "99213", "2025-03-01", "500.00", claim_id="UNK1"),
    v("unknown_provider", P3, "2025-02-01"),
    claim("no_tin", "9999999998", None, "08", "99213", "2025-03-01", "500.00", claim_id="NOTIN1"),
    v("old_visit", P1, "2024-03-01"),
    *[v("awv", P1, f"2025-0{m}-01") for m in (2, 3, 4)],
    v("awv", P3, "2025-06-01", code="G0439"),
    v("tin_level", P1, "2025-02-01"),
    v("tin_level", P2, "2025-09-01"),
    v("tin_level", P3, "2025-03-01"),
    v("tin_level", P3, "2025-04-01"),
    v("small_panel", P4, "2025-02-01"),
    *[
        v(m, P1, "2025-02-01")
        for m in ("roster_and_pcp", "pcp_only", "roster_expired", "roster_overlap", "t1_a", "t1_b")
    ],
    *[v(m, P3, "2025-02-01") for m in ("t2_a", "t2_b")],
]
MEMBERS = sorted({c["member_id"] for c in CLAIMS} | {"not_on_roster"})

ROSTER = [
    assignment("roster_and_pcp", entity="R1", tin=T2, start="2025-01-01", line=2),
    assignment("roster_expired", entity="R1", tin=T2, start="2025-01-01", end="2025-06-30", line=3),
    assignment("roster_overlap", entity="R1", tin=T2, start="2025-01-01", line=4),
    assignment("roster_overlap", entity="R2", tin=T3, start="2025-03-01", line=5),
]
SELECTED = [
    assignment("roster_and_pcp", tin=T1, npi=P1[0], start="2025-01-01", line=2, source="pcp.csv"),
    assignment("pcp_only", tin=T2, npi=P3[0], start="2025-01-01", line=3, source="pcp.csv"),
]


@cache
def _run(engine: Any, spec: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    scenario = Scenario(engine)
    enrollment = [row for m in MEMBERS for row in enrolled(m, months(2024) + months(2025))]
    inputs = scenario.inputs(
        claims=CLAIMS,
        enrollment=enrollment,
        members=[member(m) for m in MEMBERS],
        providers=PROVIDERS,
        roster=ROSTER,
        member_selected_pcp=SELECTED,
    )
    return scenario.run(inputs, spec, dt.date(2025, 12, 31))


DEFAULT = PluralitySpec(name="visits", performance_year=2025)
BY_ALLOWED = PluralitySpec(
    name="allowed", performance_year=2025, basis="allowed", tie_breaks=("most_visits", "lowest_id")
)
TIN_AWV_PANEL = PluralitySpec(
    name="tin", performance_year=2025, level="tin", awv_trigger=True, minimum_panel=2
)
LOOKBACK_24 = PluralitySpec(name="24m", performance_year=2025, lookback_months=24)
OVERRIDES = PluralitySpec(
    name="overrides", performance_year=2025, overrides=("roster", "member_selected_pcp")
)
ROSTER_ONLY = RosterSpec(name="roster", performance_year=2025, overlap="reject")

WINNERS = [
    # (spec, member, winner id, winner visits, tie_break)
    (DEFAULT, "visits_vs_allowed", tin_npi(P1), 3, None),
    (BY_ALLOWED, "visits_vs_allowed", tin_npi(P3), 2, None),
    (DEFAULT, "same_day", tin_npi(P1), 1, "most_recent_visit"),
    (DEFAULT, "tie_recent", tin_npi(P1), 1, "most_recent_visit"),
    (DEFAULT, "tie_allowed", tin_npi(P3), 1, "highest_allowed"),
    (DEFAULT, "tie_lowest", tin_npi(P1), 1, "lowest_id"),
    (BY_ALLOWED, "tie_most_visits", tin_npi(P1), 2, "most_visits"),
    (DEFAULT, "unknown_provider", tin_npi(P3), 1, None),
    (LOOKBACK_24, "old_visit", tin_npi(P1), 1, None),
    (DEFAULT, "awv", tin_npi(P1), 3, None),
    (DEFAULT, "tin_level", tin_npi(P3), 2, None),
    (TIN_AWV_PANEL, "tin_level", f"TIN:{T1}", 2, "most_recent_visit"),
]


@pytest.mark.parametrize(("spec", "member_id", "winner", "visits", "tie_break"), WINNERS)
def test_plurality_winner(
    engine: Any, spec: Any, member_id: str, winner: str, visits: int, tie_break: str | None
) -> None:
    row = _run(engine, spec)[0][member_id]
    assert row["attributed"] is True
    assert (row["winner_id"], row["winner_visits"], row["tie_break"]) == (winner, visits, tie_break)


def test_same_day_lines_add_their_charges_to_one_visit(engine: Any) -> None:
    row = _run(engine, DEFAULT)[0]["same_day"]
    assert (row["winner_visits"], row["winner_allowed"]) == (1, Decimal("60.00"))


def test_awv_trigger_assigns_the_wellness_visit_clinician(engine: Any) -> None:
    row = _run(engine, TIN_AWV_PANEL)[0]["awv"]
    assert (row["step"], row["winner_id"], row["tin"], row["npi"]) == ("awv", f"TIN:{T2}", T2, P3[0])


def test_tin_level_names_the_top_clinician_inside_the_tin(engine: Any) -> None:
    row = _run(engine, TIN_AWV_PANEL)[0]["tin_level"]
    # P1 and P2 have one visit each in T1; the default tie-breaks pick P2's later visit.
    assert (row["entity_id"], row["tin"], row["npi"]) == (T1, T1, P2[0])


def test_minimum_panel_drops_small_panels(engine: Any) -> None:
    rows = _run(engine, TIN_AWV_PANEL)[0]
    assert (rows["small_panel"]["attributed"], rows["small_panel"]["reason"]) == (
        False,
        "below_minimum_panel",
    )
    assert rows["small_panel"]["winner_id"] == f"TIN:{T3}"


@pytest.mark.parametrize(
    ("member_id", "reason"),
    [
        # A cardiologist (not a primary care provider) is the only clinician seen: the reason says so.
        ("specialist_only", "no_qualifying_service_by_primary_care_provider"),
        ("no_tin", "no_qualifying_services"),
        ("old_visit", "no_qualifying_services"),
    ],
)
def test_not_attributed(engine: Any, member_id: str, reason: str) -> None:
    row = _run(engine, DEFAULT)[0][member_id]
    assert (row["attributed"], row["reason"], row["winner_id"]) == (False, reason, None)


def test_visits_without_npi_or_tin_or_known_provider_are_rejected_and_kept(engine: Any) -> None:
    rejects = {r["record_id"]: r for r in _run(engine, DEFAULT)[1]}
    assert (rejects["UNK1:1"]["field"], rejects["UNK1:1"]["reason"]) == (
        "rendering_npi",
        "rendering NPI not in the providers table",
    )
    assert (rejects["NOTIN1:1"]["field"], rejects["NOTIN1:1"]["reason"]) == (
        "billing_tin",
        "visit without a billing TIN",
    )


OVERRIDE_CASES = [
    # roster outranks the member's own selection, which outranks claims (P1)
    ("roster_and_pcp", "roster", "R1", T2, None),
    ("pcp_only", "member_selected_pcp", T2, T2, P3[0]),
    ("roster_expired", "plurality", T1, T1, P1[0]),
    # two roster rows in force: the later start (R2, March) wins; the earlier one is reported
    ("roster_overlap", "roster", "R2", T3, None),
]


@pytest.mark.parametrize(("member_id", "step", "entity", "tin", "npi"), OVERRIDE_CASES)
def test_override_precedence(
    engine: Any, member_id: str, step: str, entity: str, tin: str, npi: str | None
) -> None:
    row = _run(engine, OVERRIDES)[0][member_id]
    assert (row["attributed"], row["step"], row["entity_id"], row["tin"], row["npi"]) == (
        True,
        step,
        entity,
        tin,
        npi,
    )


def test_superseded_overlapping_roster_row_is_reported(engine: Any) -> None:
    rejects = [r for r in _run(engine, OVERRIDES)[1] if r["input"] == "roster"]
    assert [(r["source_line"], r["reason"]) for r in rejects] == [
        (4, "overlapping roster row superseded by a later start_date")
    ]


def test_roster_method_with_overlaps_rejected(engine: Any) -> None:
    rows, rejects = _run(engine, ROSTER_ONLY)
    assert (rows["roster_and_pcp"]["step"], rows["roster_and_pcp"]["entity_id"]) == ("roster", "R1")
    assert (rows["roster_overlap"]["attributed"], rows["roster_overlap"]["reason"]) == (
        False,
        "roster_conflict",
    )
    assert (rows["not_on_roster"]["attributed"], rows["not_on_roster"]["reason"]) == (False, "not_on_roster")
    assert rows["roster_expired"]["reason"] == "not_on_roster"
    assert sorted(r["source_line"] for r in rejects if r["input"] == "roster") == [4, 5]


# ---- episodes -----------------------------------------------------------------------------------------
def inpatient(
    member_id: str, claim_id: str, drg: str, admit: str, discharge: str, ccn: str | None
) -> dict[str, Any]:
    return claim(
        member_id,
        None,
        "600000001",
        None,
        None,  # type: ignore[arg-type]
        admit,
        "15000.00",
        claim_id=claim_id,
        claim_type="inpatient",
        admission_date=dt.date.fromisoformat(admit),
        discharge_date=dt.date.fromisoformat(discharge),
        claim_thru_date=dt.date.fromisoformat(discharge),
        ms_drg=drg,
        facility_ccn=ccn,
        billing_npi="6000000001",
        attending_npi=P1[0],
        place_of_service=None,
    )


EPISODE_CLAIMS = [
    inpatient("ep1", "IP1", "470", "2025-03-01", "2025-03-04", "360001"),
    inpatient("ep1", "IP2", "469", "2025-04-15", "2025-04-20", "360001"),
    inpatient("ep_ma", "IP3", "470", "2025-05-02", "2025-05-05", "360001"),
    inpatient("ep_no_ccn", "IP4", "470", "2025-05-02", "2025-05-05", None),
    inpatient("not_anchor", "IP5", "291", "2025-05-02", "2025-05-05", "360001"),
    claim(
        "ep2",
        None,
        "600000001",
        None,
        "27447",
        "2025-07-10",
        "9000.00",
        claim_id="OP1",
        claim_type="outpatient",
        facility_ccn="360002",
        billing_npi="6000000002",
        attending_npi=P3[0],
    ),
]
CJR = (EpisodeAnchor(name="lejr", ms_drgs=("469", "470")), EpisodeAnchor(name="op_tka", hcpcs=("27447",)))
ELIGIBILITY = EligibilitySpec(require_part_a=True, require_part_b=True, exclude_medicare_advantage=True)


@cache
def _episodes(engine: Any, attribute_to: str) -> dict[str, dict[str, Any]]:
    scenario = Scenario(engine)
    people = ["ep1", "ep_ma", "ep_no_ccn", "not_anchor", "ep2"]
    enrollment = [row for m in people if m != "ep_ma" for row in enrolled(m, months(2025))]
    enrollment += enrolled("ep_ma", months(2025, 1, 4)) + enrolled("ep_ma", months(2025, 5, 12), ma=True)
    inputs = scenario.inputs(
        claims=EPISODE_CLAIMS, enrollment=enrollment, members=[member(m) for m in people], providers=PROVIDERS
    )
    spec = EpisodeSpec(
        name="cjr",
        performance_year=2025,
        anchors=CJR,
        attribute_to=attribute_to,
        eligibility=ELIGIBILITY,  # type: ignore[arg-type]
    )
    rows, rejects = scenario.run(inputs, spec, dt.date(2025, 12, 31))
    rows["_rejects"] = {"rows": rejects}
    return rows


def test_inpatient_episode_runs_90_days_from_discharge(engine: Any) -> None:
    row = _episodes(engine, "facility")["IP1"]
    # Discharge 2025-03-04 is day 1; day 90 is 2025-06-01.
    assert (row["episode_anchor"], row["episode_start"], row["episode_end"]) == (
        "lejr",
        dt.date(2025, 3, 1),
        dt.date(2025, 6, 1),
    )
    assert (row["attributed"], row["entity_id"], row["tin"]) == (True, "360001", "600000001")


def test_outpatient_anchor_episode(engine: Any) -> None:
    row = _episodes(engine, "facility")["OP1"]
    assert (row["episode_anchor"], row["episode_end"], row["entity_id"]) == (
        "op_tka",
        dt.date(2025, 10, 7),
        "360002",
    )


@pytest.mark.parametrize(
    ("episode", "reason"),
    [
        ("IP2", "anchor_within_earlier_episode"),
        ("IP3", "not_eligible:day_one"),
        ("IP4", "missing_facility_ccn"),
    ],
)
def test_episode_not_attributed(engine: Any, episode: str, reason: str) -> None:
    rows = _episodes(engine, "facility")
    assert (rows[episode]["attributed"], rows[episode]["reason"]) == (False, reason)
    assert "IP5" not in rows


def test_episode_attributed_to_attending_physician_tin(engine: Any) -> None:
    rows = _episodes(engine, "attending")
    assert (rows["IP1"]["entity_id"], rows["IP1"]["tin"], rows["IP1"]["npi"]) == (T1, T1, P1[0])
    assert (rows["OP1"]["tin"], rows["OP1"]["npi"]) == (T2, P3[0])


def test_episode_without_facility_is_rejected_and_kept(engine: Any) -> None:
    rejects = _episodes(engine, "facility")["_rejects"]["rows"]
    assert [(r["record_id"], r["field"]) for r in rejects] == [("IP4", "facility_ccn")]
