"""Synthea CSV loader on a real Synthea export subset (5 patients with all their rows).

Expected values are read from the CSV files with the standard library (file, line and column noted), an
implementation independent of the loader's ibis code.
"""

from __future__ import annotations

import csv
import shutil
import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.ingest.synthea import pseudo_npi, pseudo_tin

SYNTHEA = Path(__file__).parent.parent / "fixtures" / "synthea"
CHILD = "593aaa05-d864-1df7-5b96-155fbdb19f28"


def _csv(name: str) -> list[dict[str, str]]:
    with (SYNTHEA / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synthea")
    report = ingest(engine, "synthea", SYNTHEA, out)
    tables = engine.canonical(out)
    rows = {name: engine.to_arrow(tables[name]).to_pylist() for name in tables.present()}
    return report, rows


def test_counts_reconcile(loaded):
    report, rows = loaded
    assert report.reconciles and report.totals.quarantined == 0
    assert len(rows["members"]) == len(_csv("patients.csv")) == 5
    assert len(rows["medical_claims"]) == len(_csv("claims.csv")) == 517
    providers, organizations = _csv("providers.csv"), _csv("organizations.csv")
    assert len(rows["providers"]) == len(providers) + len(organizations) == 28


def test_member_fields(loaded):
    _, rows = loaded
    member = next(m for m in rows["members"] if m["member_id"] == CHILD)
    # patients.csv line 2: BIRTHDATE 2021-08-22, GENDER M, RACE white, STATE California, ZIP 93291.
    assert member["birth_date"] == date(2021, 8, 22) and member["death_date"] is None
    assert (member["sex"], member["race_code"], member["state_code"], member["zip_code"]) == (
        "M",
        "white",
        "California",
        "93291",
    )
    assert member["medicaid"] is True  # payer_transitions.csv line 2: payer 7c4411ce... = Medicaid


def test_enrollment_months_from_payer_transitions(loaded):
    _, rows = loaded
    child = sorted((r for r in rows["enrollment"] if r["member_id"] == CHILD), key=lambda r: r["month"])
    # payer_transitions.csv line 2: 2021-08-30T03:26:50Z to 2022-08-30T03:26:50Z, Medicaid: Aug 2021..Aug 2022.
    assert [r["month"] for r in child] == [date(2021 + (7 + i) // 12, (7 + i) % 12 + 1, 1) for i in range(13)]
    assert {(r["payer"], r["line_of_business"]) for r in child} == {("Medicaid", "medicaid")}
    # Every member-month of the file, computed independently: month span of each period, de-duplicated.
    names = {p["Id"]: p["NAME"] for p in _csv("payers.csv")}
    expected = set()
    for t in _csv("payer_transitions.csv"):
        y, m = int(t["START_YEAR"][:4]), int(t["START_YEAR"][5:7])
        last = (int(t["END_YEAR"][:4]), int(t["END_YEAR"][5:7]))
        while (y, m) <= last:
            expected.add((t["PATIENT"], date(y, m, 1), names[t["PAYER"]]))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    assert {(r["member_id"], r["month"], r["payer"]) for r in rows["enrollment"]} == expected
    lob = {r["payer"]: r["line_of_business"] for r in rows["enrollment"]}
    assert (lob["Medicare"], lob["Dual Eligible"], lob["NO_INSURANCE"], lob["Humana"]) == (
        "medicare_ffs",
        "dual",
        "self_pay",
        "commercial",
    )


def test_claim_fields(loaded):
    _, rows = loaded
    claim = next(c for c in rows["medical_claims"] if c["claim_id"] == "1ab2dc8c-00ca-b6b3-35cd-880e2c3413a4")
    # claims.csv line 2 (HEALTHCARECLAIMTYPEID1 1, APPOINTMENTID 33dc326d...), encounters.csv line 2
    # (wellness, TOTAL_CLAIM_COST 1306.55, PAYER_COVERAGE 1241.22), the encounter's only claim.
    assert claim["member_id"] == CHILD and claim["claim_type"] == "professional"
    assert claim["service_date"] == date(2021, 8, 23) and claim["place_of_service"] == "11"
    assert (claim["charge_amount"], claim["allowed_amount"], claim["paid_amount"]) == (
        Decimal("1306.55"),
        Decimal("1306.55"),
        Decimal("1241.22"),
    )
    assert claim["payer"] == "Medicaid" and claim["line_of_business"] == "medicaid"
    assert claim["rendering_npi"] == pseudo_npi("f663e896-5910-3b27-a135-ebad4c58cb79")  # PROVIDERID
    assert claim["billing_tin"] == pseudo_tin(
        "f7101ee7-56cc-356d-ba31-406635a8e221"
    )  # encounter ORGANIZATION
    assert claim["dx_1"] is None  # DIAGNOSIS1 410620009 is SNOMED CT: kept in clinical, not as ICD-10


def test_claim_types_and_paid_totals_per_encounter(loaded):
    _, rows = loaded
    encounters = {e["Id"]: e for e in _csv("encounters.csv")}
    institutional = {"inpatient": "inpatient", "snf": "snf", "hospice": "hospice", "home": "hha"}
    expected_types = {}
    for c in _csv("claims.csv"):
        klass = encounters[c["APPOINTMENTID"]]["ENCOUNTERCLASS"]
        expected_types[c["Id"]] = (
            institutional.get(klass, "outpatient") if c["HEALTHCARECLAIMTYPEID1"] == "2" else "professional"
        )
    assert {c["claim_id"]: c["claim_type"] for c in rows["medical_claims"]} == expected_types
    # Hospice and home-health encounters in this subset only have professional (type 1) claims.
    assert set(expected_types.values()) == {"inpatient", "snf", "outpatient", "professional"}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    by_claim = {c["Id"]: c["APPOINTMENTID"] for c in _csv("claims.csv")}
    for c in rows["medical_claims"]:
        paid[by_claim[c["claim_id"]]] += c["paid_amount"]
    # Each encounter's claims add up to its PAYER_COVERAGE exactly (cost on its first claim).
    assert paid == {e: Decimal(encounters[e]["PAYER_COVERAGE"]) for e in paid}


def test_clinical_rows(loaded):
    _, rows = loaded
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows["clinical"]:
        by_type[r["resource_type"]].append(r)
    assert len(by_type["Condition"]) == len(_csv("conditions.csv"))
    assert len(by_type["Procedure"]) == len(_csv("procedures.csv"))
    assert len(by_type["Encounter"]) == len(_csv("encounters.csv"))
    diagnoses = sum(1 for c in _csv("claims.csv") for i in range(1, 9) if c[f"DIAGNOSIS{i}"])
    assert len([r for r in by_type["Other"] if r["category"] == "claim-diagnosis"]) == diagnoses
    assert {r["code_system"] for r in by_type["Condition"]} == {"http://snomed.info/sct"}
    first = _csv("conditions.csv")[0]  # conditions.csv line 2
    match = [r for r in by_type["Condition"] if r["source_line"] == 2]
    assert match[0]["code"] == first["CODE"] and match[0]["member_id"] == first["PATIENT"]
    assert match[0]["encounter_id"] == f"Patient/{first['PATIENT']}/Encounter/{first['ENCOUNTER']}"
    encounter_ids = {r["record_id"] for r in by_type["Encounter"]}
    assert match[0]["encounter_id"] in encounter_ids  # joins to the Encounter record
    assert match[0]["status"] == ("resolved" if first["STOP"] else "active")


def test_providers(loaded):
    _, rows = loaded
    by_npi = {p["npi"]: p for p in rows["providers"]}
    provider = _csv("providers.csv")[0]  # providers.csv line 2: GENERAL PRACTICE at organization 8da4b26f...
    row = by_npi[pseudo_npi(provider["Id"])]
    assert row["entity_type"] == "individual" and row["is_primary_care"] is True
    assert row["tin"] == pseudo_tin(provider["ORGANIZATION"])
    assert row["organization"] == "PARADISE VALLEY HOSPITAL"
    organization = by_npi[pseudo_npi(provider["ORGANIZATION"])]
    assert organization["entity_type"] == "organization" and organization["tin"] == row["tin"]


@given(st.uuids())
def test_pseudo_ids_are_stable_and_well_formed(value: uuid.UUID):
    npi, tin = pseudo_npi(str(value)), pseudo_tin(str(value))
    assert npi == f"9{value.int % 10**9:09d}" and len(npi) == 10 and npi == pseudo_npi(str(value).upper())
    assert tin == f"99{value.int % 10**7:07d}" and len(tin) == 9


# ---- failure modes ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_load(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bad_synthea")
    for name in ("payers.csv", "providers.csv", "organizations.csv", "encounters.csv"):
        shutil.copy(SYNTHEA / name, folder / name)
    patients = (SYNTHEA / "patients.csv").read_bytes().split(b"\n")
    identifier, _birth, rest = patients[2].split(b",", 2)
    patients[2] = identifier + b",1946-02-31," + rest  # impossible BIRTHDATE
    patients[3] = patients[3].split(b",", 3)[0] + b",1950-01-01"  # truncated line
    patients[4] = patients[4].replace(b",", b",\xff", 1)  # invalid UTF-8
    patients[5] = patients[1]  # duplicate Id of line 2
    (folder / "patients.csv").write_bytes(b"\n".join(patients))
    claims = (SYNTHEA / "claims.csv").read_text().split("\n")
    header = claims[0].split(",")
    bad = claims[1].split(",")
    bad[header.index("SERVICEDATE")] = "2021-02-30T00:00:00Z"
    claims[1] = ",".join(bad)
    (folder / "claims.csv").write_text("\n".join(claims))
    transitions = (SYNTHEA / "payer_transitions.csv").read_text().split("\n")
    row = transitions[1].split(",")
    row[2] = "someday"
    transitions[1] = ",".join(row)
    (folder / "payer_transitions.csv").write_text("\n".join(transitions))
    # Hand-written rows in the Synthea CSV data-dictionary layout (the fixture export has none of these).
    (folder / "observations.csv").write_text(
        "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
        f"2021-08-23T03:26:50Z,{CHILD},33dc326d-4b64-921b-4afe-6456415a2e78,vital-signs,8480-6,Systolic Blood Pressure,118.0,mm[Hg],numeric\n"
        f"2021-08-23T03:26:50Z,{CHILD},33dc326d-4b64-921b-4afe-6456415a2e78,survey,72166-2,Tobacco smoking status,Never smoked tobacco (finding),{{nominal}},text\n"
    )
    (folder / "immunizations.csv").write_text(
        f"DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST\n2021-09-27T03:26:50Z,{CHILD},aa782438-0cfb-d46f-458a-7aca9d3fa9bf,08,Hep B adolescent or pediatric,140.52\n"
    )
    (folder / "medications.csv").write_text(
        "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
        f"2021-09-27T03:26:50Z,,{CHILD},7c4411ce-02f1-39b5-b9ec-dfbea9ad3c1a,aa782438-0cfb-d46f-458a-7aca9d3fa9bf,308182,Amoxicillin 250 MG Oral Capsule,6.46,0.0,1,6.46,65363002,Otitis media\n"
    )
    out = tmp_path_factory.mktemp("bad_synthea_out")
    report = ingest(engine, "synthea", folder, out)
    clinical = engine.to_arrow(engine.canonical(out).clinical).to_pylist()
    return report, clinical


def _entry(report, file: str, line: int, table: str | None = None) -> dict:
    found = [
        q
        for q in report.quarantine
        if q["source_file"] == file and q["source_line"] == line and table in (None, q["table"])
    ]
    assert len(found) == 1, (file, line, report.quarantine)
    return found[0]


def test_bad_rows_are_quarantined(bad_load):
    report, _ = bad_load
    assert report.reconciles
    assert "truncated line" in _entry(report, "patients.csv", 4)["reason"]
    assert "invalid UTF-8" in _entry(report, "patients.csv", 5)["reason"]
    duplicate = _entry(report, "patients.csv", 6)
    assert (
        duplicate["field"] == "member_id" and "first loaded from patients.csv line 2" in duplicate["reason"]
    )
    assert _entry(report, "claims.csv", 2, "medical_claims")["field"] == "claim_from_date"
    # The claim's SNOMED diagnoses (clinical rows) carry the same bad date and are quarantined too.
    assert _entry(report, "claims.csv", 2, "clinical")["field"] == "effective_start"
    period = _entry(report, "payer_transitions.csv", 2)
    assert period["table"] == "enrollment" and period["field"] == "month"
    assert _entry(report, "patients.csv", 3)["field"] == "birth_date"
    assert report.tables["members"].loaded == 1  # only line 2 of the five data lines survives


def test_observations_immunizations_medications(bad_load):
    _, clinical = bad_load
    by_type = {r["resource_type"]: [] for r in clinical}
    for r in clinical:
        by_type[r["resource_type"]].append(r)
    systolic, smoking = sorted(by_type["Observation"], key=lambda r: r["source_line"])
    assert (systolic["code_system"], systolic["code"], systolic["value_numeric"], systolic["value_unit"]) == (
        "http://loinc.org",
        "8480-6",
        118.0,
        "mm[Hg]",
    )
    assert systolic["encounter_id"] == f"Patient/{CHILD}/Encounter/33dc326d-4b64-921b-4afe-6456415a2e78"
    assert smoking["value_numeric"] is None  # TYPE text: the value is not a number
    [vaccine] = by_type["Immunization"]
    assert (vaccine["code_system"], vaccine["code"], vaccine["status"]) == (
        "http://hl7.org/fhir/sid/cvx",
        "08",
        "completed",
    )
    [medication] = by_type["MedicationRequest"]
    assert (medication["code"], medication["reason_code"]) == ("308182", "65363002")
    assert (
        medication["effective_start"] == datetime(2021, 9, 27, 3, 26, 50)
        and medication["effective_end"] is None
    )


def test_folder_without_patients_is_an_error(engine: Engine, tmp_path: Path):
    from apmkit.errors import InputFileError

    (tmp_path / "claims.csv").write_text("Id\n1\n")
    with pytest.raises(InputFileError, match=r"no patients\.csv"):
        ingest(engine, "synthea", tmp_path, tmp_path / "out")
