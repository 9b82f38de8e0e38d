"""MSSP step-wise assignment, one member per rule of 42 CFR 425.400-425.402.

Every expected assignment below is written from the regulation text (eCFR, as amended by 89 FR 98562,
Dec 9 2024), not from apmkit's output; the paragraph is cited on each case.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from tests.attribution.conftest import (
    Scenario,
    assignment,
    claim,
    enrolled,
    member,
    months,
    participant,
    provider,
)

from apmkit.attribution.spec import MsspStepwiseSpec

TIN_A1, TIN_A2, TIN_B, TIN_X, TIN_Y, TIN_SHARED = (
    "100000001",
    "100000002",
    "200000001",
    "300000001",
    "300000002",
    "400000001",
)
# Rendering clinicians: (npi, tin, CMS specialty)
A_PCP = ("1000000011", TIN_A1, "08")  # family practice, ACO A
A2_NP = ("1000000012", TIN_A2, "50")  # nurse practitioner, ACO A (second TIN)
A_NP = ("1000000013", TIN_A1, "50")
A_CARDIO = ("1000000014", TIN_A1, "06")  # cardiology: 425.402(c)(1)
A_ORTHO = ("1000000015", TIN_A1, "20")  # orthopedic surgery: not in 425.402(c)
B_PCP = ("2000000011", TIN_B, "11")
X_PCP = ("3000000011", TIN_X, "11")
X_NP = ("3000000012", TIN_X, "50")
X_CARDIO = ("3000000013", TIN_X, "06")
Y_NEURO = ("3000000021", TIN_Y, "13")
SHARED_PCP = ("4000000011", TIN_SHARED, "08")
CLINICIANS = [A_PCP, A2_NP, A_NP, A_CARDIO, A_ORTHO, B_PCP, X_PCP, X_NP, X_CARDIO, Y_NEURO, SHARED_PCP]


def visit(
    member_id: str, who: tuple[str, str, str], day: str, allowed: str, code: str = "99213", **kw: Any
) -> dict[str, Any]:
    npi, tin, specialty = who
    return claim(member_id, npi, tin, specialty, code, day, allowed, **kw)


CLAIMS = [
    # 425.402(b)(3) step 1: ACO PCP charges greater than the unaffiliated TIN's -> assigned.
    visit("s1_win", A_PCP, "2025-03-01", "120.00"),
    visit("s1_win", X_PCP, "2025-04-01", "100.00"),
    # ... and smaller -> not assigned.
    visit("s1_lose", A_PCP, "2025-03-01", "100.00"),
    visit("s1_lose", X_PCP, "2025-04-01", "120.00"),
    # Step 1 sums all PCPs and NPPs of the ACO (two participant TINs): 60 + 60 > 100.
    visit("s1_sum", A_PCP, "2025-03-01", "60.00"),
    visit("s1_sum", A2_NP, "2025-03-02", "60.00"),
    visit("s1_sum", X_PCP, "2025-04-01", "100.00"),
    # Step 1 compares with ACO professionals in any other ACO: B's 150 beats A's 120 -> B.
    visit("s1_other_aco", A_PCP, "2025-03-01", "120.00"),
    visit("s1_other_aco", B_PCP, "2025-04-01", "150.00"),
    # Specialist charges do not count in step 1 once a PCP/NPP service exists anywhere (425.402(b)(3)-(4)).
    visit("s1_specialist", A_CARDIO, "2025-03-01", "500.00"),
    visit("s1_specialist", X_NP, "2025-04-01", "50.00"),
    # 425.402(b)(4) step 2: no PCP/NPP service anywhere; listed specialists' charges decide.
    visit("s2_win", A_CARDIO, "2025-03-01", "200.00"),
    visit("s2_win", X_CARDIO, "2025-04-01", "150.00"),
    visit("s2_lose", A_CARDIO, "2025-03-01", "100.00"),
    visit("s2_lose", Y_NEURO, "2025-04-01", "150.00"),
    # 425.402(b)(1): a specialty outside 425.402(c) does not identify the beneficiary.
    visit("prestep_unlisted", A_ORTHO, "2025-03-01", "300.00"),
    # 425.402(b)(5) step 3 (PY2025+): ACO NP in the window, ACO physician in the expanded (24-month) window;
    # charges of PCPs, specialists and NPPs over the expanded window: 100 + 80.
    visit("s3_win", A_NP, "2025-02-01", "100.00"),
    visit("s3_win", A_PCP, "2024-06-01", "80.00"),
    visit("s3_win", X_PCP, "2024-07-01", "150.00"),
    # Step 3 needs the ACO physician service: NP alone is not enough.
    visit("s3_no_physician", A_NP, "2025-02-01", "100.00"),
    # No tie rule in 425.402: the spec's tie_breaks decide (default most recent visit, then lowest id).
    visit("tie_recent", A_PCP, "2025-05-01", "100.00"),
    visit("tie_recent", X_PCP, "2025-06-01", "100.00"),
    visit("tie_same_day", A_PCP, "2025-06-01", "100.00"),
    visit("tie_same_day", X_PCP, "2025-06-01", "100.00"),
    # Voluntary alignment to an outside professional blocks claims assignment (425.402(e)(2)(ii)(C)).
    visit("va_outside", A_PCP, "2025-03-01", "200.00"),
    # 425.400(c)(1)(ix)(A)(6): nursing facility codes furnished in a SNF (POS 31) are excluded.
    visit("snf", A_PCP, "2025-03-01", "300.00", code="99309", place_of_service="31"),
    visit("snf", X_PCP, "2025-04-01", "100.00"),
    # (ix)(A)(9): 99354 counts only when the base code is also a primary care service code.
    visit("addon_alone", A_PCP, "2025-03-01", "300.00", code="99354"),
    visit("addon_alone", X_PCP, "2025-04-01", "100.00"),
    visit("addon_with_base", A_PCP, "2025-03-01", "50.00", claim_id="ADDON1", claim_line_number=1),
    visit(
        "addon_with_base", A_PCP, "2025-03-01", "100.00", code="99354", claim_id="ADDON1", claim_line_number=2
    ),
    visit("addon_with_base", X_PCP, "2025-04-01", "100.00"),
    # 425.400(a)(2)(iii): services billed through a TIN in more than one ACO are excluded.
    visit("shared_tin", SHARED_PCP, "2025-03-01", "200.00", claim_id="SHARED1"),
    visit("shared_tin", X_PCP, "2025-04-01", "100.00"),
    # Bad input is reported and kept: a visit without a rendering NPI.
    claim("no_npi", None, TIN_A1, "08", "99213", "2025-03-01", "500.00", claim_id="NONPI1"),
    visit("no_npi", X_PCP, "2025-04-01", "100.00"),
    # ... and a visit whose specialty is unknown (none on the line, NPI not in providers).
    claim(
        "unknown_specialty", "9000000001", TIN_A1, None, "99213", "2025-03-01", "500.00", claim_id="NOSPEC1"
    ),
    # Not a primary care code (colonoscopy) does not count at all.
    visit("not_primary_care", A_PCP, "2025-03-01", "900.00", code="45378"),
    # 425.401(a): eligibility.
    visit("ma_month", A_PCP, "2025-03-01", "100.00"),
    visit("part_a_only", A_PCP, "2025-03-01", "100.00"),
    visit("abroad", A_PCP, "2025-03-01", "100.00"),
    visit("died_2024", A_PCP, "2024-03-01", "100.00"),
    # Windows: prospective (12 months ending Sep 30 before the PY) and quarterly preliminary runs.
    visit("windows", A_PCP, "2024-09-15", "100.00"),
    visit("windows", X_PCP, "2024-10-15", "300.00"),
    visit("windows", A_PCP, "2025-02-01", "150.00"),
    visit("windows", X_PCP, "2025-04-10", "400.00"),
    # PY2024: step 3 does not exist yet.
    visit("np_only_2024", A_NP, "2024-03-01", "100.00"),
    visit("np_only_2024", A_PCP, "2023-05-01", "100.00"),
]

ENROLLED = [
    "s1_win",
    "s1_lose",
    "s1_sum",
    "s1_other_aco",
    "s1_specialist",
    "s2_win",
    "s2_lose",
    "prestep_unlisted",
    "s3_win",
    "s3_no_physician",
    "tie_recent",
    "tie_same_day",
    "va_inside",
    "va_outside",
    "snf",
    "addon_alone",
    "addon_with_base",
    "shared_tin",
    "no_npi",
    "unknown_specialty",
    "not_primary_care",
    "abroad",
    "died_2024",
    "windows",
    "np_only_2024",
]


def build(scenario: Scenario) -> Any:
    enrollment = []
    for m in ENROLLED:
        enrollment += enrolled(m, months(2023) + months(2024) + months(2025))
    enrollment += enrolled("ma_month", months(2025, 1, 5)) + enrolled("ma_month", months(2025, 6, 6), ma=True)
    enrollment += enrolled("part_a_only", months(2025, 1, 11)) + enrolled(
        "part_a_only", months(2025, 12), part_b=False
    )
    people = [member(m) for m in ENROLLED if m not in ("abroad", "died_2024")]
    people += [member("abroad", state="ZZ"), member("died_2024", death=dt.date(2024, 11, 30))]
    people += [member("ma_month"), member("part_a_only"), member("never_enrolled")]
    providers = [provider(npi, tin, spec, spec in ("08", "11", "50")) for npi, tin, spec in CLINICIANS]
    participants = [
        participant("A", TIN_A1, line=2),
        participant("A", TIN_A2, line=3),
        participant("B", TIN_B, line=4),
        participant("A", TIN_SHARED, line=5),
        participant("B", TIN_SHARED, line=6),
    ]
    alignment = [
        assignment("va_inside", npi=A_PCP[0], tin=TIN_A1, start="2024-11-01", line=2, source="va.csv"),
        assignment("va_outside", npi=X_PCP[0], tin=TIN_X, start="2024-11-01", line=3, source="va.csv"),
    ]
    return scenario.inputs(
        claims=CLAIMS,
        enrollment=enrollment,
        members=people,
        providers=providers,
        participants=participants,
        voluntary_alignment=alignment,
    )


@pytest.fixture(scope="module")
def py2025(engine: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    scenario = Scenario(engine)
    spec = MsspStepwiseSpec(performance_year=2025, timing="retrospective", overrides=("voluntary_alignment",))
    return scenario.run(build(scenario), spec, dt.date(2025, 12, 31))


ASSIGNED = {
    # member: (step, entity, winner allowed, runner-up id, runner-up allowed)
    "s1_win": ("step1", "A", "120.00", "TIN:300000001", "100.00"),
    "s1_sum": ("step1", "A", "120.00", "TIN:300000001", "100.00"),
    "s1_other_aco": ("step1", "B", "150.00", "ENTITY:A", "120.00"),
    "s2_win": ("step2", "A", "200.00", "TIN:300000001", "150.00"),
    "s3_win": ("step3", "A", "180.00", "TIN:300000001", "150.00"),
    "tie_same_day": ("step1", "A", "100.00", "TIN:300000001", "100.00"),
    "addon_with_base": ("step1", "A", "150.00", "TIN:300000001", "100.00"),
}


@pytest.mark.parametrize("member_id", sorted(ASSIGNED))
def test_assigned_by_claims(py2025: Any, member_id: str) -> None:
    rows, _ = py2025
    row = rows[member_id]
    step, entity, allowed, runner, runner_allowed = ASSIGNED[member_id]
    assert row["attributed"] is True
    assert (row["step"], row["entity_id"], row["winner_id"]) == (step, entity, f"ENTITY:{entity}")
    assert row["winner_allowed"] == Decimal(allowed)
    assert (row["runner_up_id"], row["runner_up_allowed"]) == (runner, Decimal(runner_allowed))
    assert row["reason"] is None


NOT_ASSIGNED = {
    "s1_lose": ("step1", "plurality_elsewhere", "TIN:300000001"),
    "s1_specialist": ("step1", "plurality_elsewhere", "TIN:300000001"),
    "s2_lose": ("step2", "plurality_elsewhere", "TIN:300000002"),
    "tie_recent": ("step1", "plurality_elsewhere", "TIN:300000001"),
    # Reasons name the real cause: only outside services left (the ACO line did not count) ...
    "snf": (None, "no_primary_care_service_with_aco_professional", None),
    "addon_alone": (None, "no_primary_care_service_with_aco_professional", None),
    "shared_tin": (None, "no_primary_care_service_with_aco_professional", None),
    "no_npi": (None, "no_primary_care_service_with_aco_professional", None),
    # ... no usable primary care service at all (the only line was rejected, or not a primary care code) ...
    "unknown_specialty": (None, "no_primary_care_service", None),
    "not_primary_care": (None, "no_primary_care_service", None),
    # ... ACO services, but none by an ACO PCP or 425.402(c) specialist (orthopedics; an ACO NP only).
    "prestep_unlisted": (None, "no_primary_care_service_by_aco_physician", None),
    "s3_no_physician": (None, "no_primary_care_service_by_aco_physician", None),
    "va_outside": ("voluntary_alignment", "designated_outside_contract", "TIN_NPI:300000001|3000000011"),
    "ma_month": (None, "not_eligible:medicare_advantage_months", None),
    "part_a_only": (None, "not_eligible:part_a_only_or_part_b_only_months", None),
    "abroad": (None, "not_eligible:non_us_residence", None),
    "died_2024": (None, "not_eligible:deceased", None),
    "never_enrolled": (None, "not_eligible:no_enrollment_in_window", None),
}


@pytest.mark.parametrize("member_id", sorted(NOT_ASSIGNED))
def test_not_assigned_with_reason(py2025: Any, member_id: str) -> None:
    rows, _ = py2025
    row = rows[member_id]
    step, reason, winner = NOT_ASSIGNED[member_id]
    assert row["attributed"] is False
    assert (row["step"], row["reason"], row["winner_id"]) == (step, reason, winner)
    assert row["entity_id"] is None


def test_voluntary_alignment_to_aco_professional_assigns_without_claims(py2025: Any) -> None:
    # 425.402(e)(1): designation of an ACO professional assigns "notwithstanding" the claims method.
    row = py2025[0]["va_inside"]
    assert (row["attributed"], row["step"], row["entity_id"], row["npi"]) == (
        True,
        "voluntary_alignment",
        "A",
        A_PCP[0],
    )


def test_tie_breaks_are_named(py2025: Any) -> None:
    rows, _ = py2025
    assert rows["tie_recent"]["tie_break"] == "most_recent_visit"
    assert rows["tie_same_day"]["tie_break"] == "lowest_id"
    assert rows["s1_win"]["tie_break"] is None


def test_assigned_member_names_the_top_aco_clinician(py2025: Any) -> None:
    row = py2025[0]["s1_sum"]
    # Both ACO clinicians billed 60.00; the default tie-breaks pick the more recent visit (the NP, March 2).
    assert (row["tin"], row["npi"]) == (TIN_A2, A2_NP[0])


def test_bad_lines_are_rejected_and_kept(py2025: Any) -> None:
    _, rejects = py2025
    by_record = {r["record_id"]: r for r in rejects}
    assert by_record["NONPI1:1"]["field"] == "rendering_npi"
    assert by_record["NOSPEC1:1"]["field"] == "rendering_specialty"
    assert by_record["SHARED1:1"]["reason"].startswith("TIN (or TIN/NPI) belongs to more than one entity")
    assert all(r["input"] == "medical_claims" and r["source_file"] == "claims.csv" for r in rejects)
    assert all(r["source_line"] is not None for r in rejects)


def test_every_member_has_exactly_one_row(py2025: Any) -> None:
    rows, _ = py2025
    assert set(rows) == {*ENROLLED, "ma_month", "part_a_only", "never_enrolled"}


def run_windows(engine: Any, spec: MsspStepwiseSpec, as_of: dt.date) -> dict[str, Any]:
    scenario = Scenario(engine)
    rows, _ = scenario.run(build(scenario), spec, as_of)
    return rows


def test_prospective_window_is_the_twelve_months_before_the_offset(engine: Any) -> None:
    # 425.400(a)(3): assigned at the beginning of the year on the most recent 12 months of data; with a
    # 3-month offset the window is Oct 2023 - Sep 2024: only the September 2024 ACO visit counts.
    rows = run_windows(
        engine, MsspStepwiseSpec(performance_year=2025, timing="prospective"), dt.date(2025, 12, 31)
    )
    row = rows["windows"]
    assert (row["window_start"], row["window_end"]) == (dt.date(2023, 10, 1), dt.date(2024, 9, 30))
    assert (row["attributed"], row["entity_id"], row["winner_allowed"]) == (True, "A", Decimal("100.00"))


def test_quarterly_preliminary_run_uses_the_last_complete_quarter(engine: Any) -> None:
    # 425.400(a)(2)(ii): quarterly updates on the most recent 12 months: on 2025-05-15 that is Apr 2024 -
    # Mar 2025, which has X's October visit (300.00) and A's February visit (150.00).
    spec = MsspStepwiseSpec(performance_year=2025, timing="hybrid")
    rows = run_windows(engine, spec, dt.date(2025, 5, 15))
    row = rows["windows"]
    assert (row["window_start"], row["window_end"]) == (dt.date(2024, 4, 1), dt.date(2025, 3, 31))
    assert (row["attributed"], row["winner_id"], row["winner_allowed"]) == (
        False,
        "TIN:300000001",
        Decimal("300.00"),
    )
    # Final reconciliation uses the performance year: X's April 2025 visit (400.00) beats A's 150.00.
    final = run_windows(engine, spec, dt.date(2025, 12, 31))["windows"]
    assert (final["window_start"], final["window_end"]) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert (final["winner_allowed"], final["runner_up_allowed"]) == (Decimal("400.00"), Decimal("150.00"))


def test_step3_starts_in_performance_year_2025(engine: Any) -> None:
    # PY2024: the NP-only beneficiary is not identified by the pre-step and step 3 does not exist.
    default = run_windows(
        engine, MsspStepwiseSpec(performance_year=2024, timing="retrospective"), dt.date(2024, 12, 31)
    )
    # Only an ACO nurse practitioner in the window: the reason says an ACO physician was missing.
    assert default["np_only_2024"]["reason"] == "no_primary_care_service_by_aco_physician"
    forced = run_windows(
        engine,
        MsspStepwiseSpec(performance_year=2024, timing="retrospective", include_step3=True),
        dt.date(2024, 12, 31),
    )
    row = forced["np_only_2024"]
    assert (row["attributed"], row["step"], row["winner_allowed"]) == (True, "step3", Decimal("200.00"))
