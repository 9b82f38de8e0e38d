"""FHIR loader on real public files: BFD v2 responses, BCDA-style NDJSON, eCQM test-deck patients.

Every expected value below was read from the fixture JSON itself (file and element noted), not from the
loader's output.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apmkit.engines import Engine
from apmkit.ingest import IngestReport, ingest

FHIR = Path(__file__).parent.parent / "fixtures" / "fhir"


def _load(engine: Engine, source: Path, out: Path) -> tuple[IngestReport, dict[str, list[dict[str, Any]]]]:
    report = ingest(engine, "fhir", source, out)
    tables = engine.canonical(out)
    rows = {name: engine.to_arrow(tables[name]).to_pylist() for name in tables.present()}
    return report, rows


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    # One load of the whole fixture folder (the three sources share no claim or patient ids).
    return _load(engine, FHIR, tmp_path_factory.mktemp("fhir"))


def _part(loaded, folder: str):
    report, rows = loaded
    mine = {name: [r for r in table if r["source_file"].startswith(folder)] for name, table in rows.items()}
    return report, mine


@pytest.fixture(scope="module")
def bfd(loaded):
    return _part(loaded, "bfd_v2/")


@pytest.fixture(scope="module")
def bcda(loaded):
    return _part(loaded, "bcda/")


@pytest.fixture(scope="module")
def ecqm(loaded):
    return _part(loaded, "ecqm/")


def _claim(rows: list[dict[str, Any]], claim_id: str) -> dict[str, Any]:
    found = [r for r in rows if r["claim_id"] == claim_id]
    assert len(found) == 1, claim_id
    return found[0]


# ---- BFD v2: the eight claim types --------------------------------------------------------------------
def test_bfd_counts_reconcile_and_every_claim_type_loads(bfd):
    report, rows = bfd
    assert report.reconciles
    # One EOB per file, one item each (eobRead*.json `item` arrays); PDE goes to pharmacy_claims.
    assert {r["claim_type"] for r in rows["medical_claims"]} == {
        "inpatient",
        "outpatient",
        "professional",
        "snf",
        "hha",
        "hospice",
        "dme",
    }
    assert len(rows["medical_claims"]) == 7 and len(rows["pharmacy_claims"]) == 1
    assert not [q for q in report.quarantine if q["source_file"].startswith("bfd_v2/")]
    assert len(rows["members"]) == 1
    # coverageRead.json is the same Part A resource as the searchset's first entry: loaded once.
    part_a = [r for r in rows["clinical"] if r["record_id"] == "Patient/567834/Coverage/part-a-567834"]
    assert len(part_a) == 1


def test_bfd_inpatient_claim_fields(bfd):
    _, rows = bfd
    claim = _claim(rows["medical_claims"], "333333222222")  # identifier clm_id
    assert claim["claim_type"] == "inpatient"  # eob-type INPATIENT, nch_clm_type_cd 60
    assert claim["member_id"] == "567834"  # patient.reference Patient/567834
    assert (claim["claim_from_date"], claim["claim_thru_date"]) == (date(2016, 1, 15), date(2016, 1, 27))
    assert (claim["admission_date"], claim["discharge_date"]) == (date(2016, 1, 15), date(2016, 1, 27))
    assert claim["ms_drg"] == "695"  # supportingInfo clm_drg_cd
    assert claim["admitting_dx"] == "A37"  # diagnosis sequence 1, type admitting
    # Principal (sequence 2) first, then sequences 3..8 in order.
    assert [claim[f"dx_{i}"] for i in range(1, 9)] == ["A40", "A52", "A06", "A15", "B01", "A01", "A02", None]
    assert [claim[f"px_{i}"] for i in range(1, 7)] == [
        "BQ0HZZZ",
        "CD1YYZZ",
        "2W52X6Z",
        "BP17ZZZ",
        "D9YD8ZZ",
        "F00ZCKZ",
    ]
    assert claim["bill_type"] == "111"  # clm_fac_type_cd 1 + clm_srvc_clsfctn_type_cd 1 + clm_freq_cd 1
    assert claim["discharge_status"] == "51"
    assert claim["admit_source"] == "4"  # clm_src_ip_admsn_cd
    assert claim["facility_ccn"] == "777776"  # contained Organization, identifier type PRN
    assert claim["operating_npi"] == "3333444555"
    assert claim["attending_npi"] is None  # careTeam attending "161999999" has 9 digits: not an NPI
    assert claim["billing_npi"] == "0000000000"  # contained Organization us-npi
    assert claim["revenue_code"] == "6767" and claim["hcpcs_code"] == "M55"
    assert claim["units"] == Decimal("77.000")
    assert claim["charge_amount"] == Decimal("84888.88")  # rev_cntr_tot_chrg_amt
    assert claim["paid_amount"] == Decimal("7699.48")  # payment.amount (header) on the only line
    assert claim["allowed_amount"] is None
    assert claim["processed_date"] == date(2016, 2, 19)  # fi_clm_proc_dt
    assert claim["line_of_business"] == "medicare_ffs"
    assert claim["adjustment_type"] == "original"


def test_bfd_carrier_and_dme_line_amounts(bfd):
    _, rows = bfd
    carrier = _claim(rows["medical_claims"], "9991831999")
    assert carrier["claim_type"] == "professional" and carrier["claim_line_number"] == 6
    assert carrier["hcpcs_code"] == "92999" and carrier["hcpcs_modifier_1"] == "LT"
    assert carrier["place_of_service"] == "11"
    assert carrier["allowed_amount"] == Decimal("47.84")  # line_alowd_chrg_amt
    assert carrier["paid_amount"] == Decimal("37.50")  # line_nch_pmt_amt
    assert carrier["charge_amount"] == Decimal("75.00")  # line_sbmtd_chrg_amt
    assert carrier["billing_npi"] == "1234567890"  # provider carr_clm_blg_npi_num
    assert [carrier[f"dx_{i}"] for i in range(1, 6)] == ["A02", "A06", "B04", "B05", "A52"]
    assert carrier["service_date"] == date(1999, 10, 27)
    dme = _claim(rows["medical_claims"], "2188888888")
    assert dme["claim_type"] == "dme"
    assert (dme["allowed_amount"], dme["paid_amount"], dme["charge_amount"]) == (
        Decimal("129.45"),
        Decimal("123.45"),
        Decimal("130.45"),
    )
    assert dme["rendering_npi"] == "1244444444" and dme["rendering_specialty"] == "A5"
    assert dme["place_of_service"] == "12" and dme["units"] == Decimal("60.000")


def test_bfd_other_institutional_claims(bfd):
    _, rows = bfd
    snf = _claim(rows["medical_claims"], "777777777")
    assert snf["claim_type"] == "snf" and snf["ms_drg"] == "645"
    assert snf["dx_1"] == "3736"  # the principal is diagnosis sequence 2
    assert snf["paid_amount"] == Decimal("3333.33") and snf["units"] == Decimal("234.567")
    assert snf["admission_date"] == date(2013, 11, 5)
    outpatient = _claim(rows["medical_claims"], "1234567890")
    assert outpatient["claim_line_number"] == 25 and outpatient["revenue_code"] == "0001"
    assert outpatient["paid_amount"] == Decimal("693.11") and outpatient["charge_amount"] == Decimal("999.85")
    assert outpatient["hcpcs_modifier_1"] == "XX"
    assert outpatient["service_date"] == date(1942, 1, 3)  # item servicedDate, as the sample has it
    hha = _claim(rows["medical_claims"], "2925555555")
    assert (
        hha["claim_type"] == "hha"
        and hha["revenue_code"] == "0023"
        and hha["paid_amount"] == Decimal("188.00")
    )
    hospice = _claim(rows["medical_claims"], "9992223422")
    assert hospice["claim_type"] == "hospice" and hospice["revenue_code"] == "0651"
    assert hospice["attending_npi"] == "8888888888" and hospice["paid_amount"] == Decimal("130.32")


def test_bfd_pde_members_and_enrollment(bfd):
    _, rows = bfd
    [pde] = rows["pharmacy_claims"]
    assert pde["claim_id"] == "89" and pde["member_id"] == "567834"
    assert pde["dispensing_date"] == date(2015, 5, 12)
    assert pde["allowed_amount"] == Decimal("550.00")  # tot_rx_cst_amt
    assert pde["paid_amount"] == Decimal("126.99")  # cvrd_d_plan_pd_amt
    assert pde["quantity"] == Decimal("60.000") and pde["days_supply"] == 30
    assert pde["prescriber_npi"] == "1750384806" and pde["pharmacy_npi"] == "1023011079"
    assert pde["processed_date"] == date(2015, 5, 27)  # payment.date
    assert pde["line_of_business"] == "medicare_part_d"
    [member] = rows["members"]
    assert member["member_id"] == "567834" and member["birth_date"] == date(1981, 3, 17)
    assert (member["sex"], member["race_code"], member["zip_code"], member["state_code"]) == (
        "M",
        "1",
        "12345",
        "MO",
    )
    assert (member["orec"], member["crec"], member["esrd"]) == ("1", "1", False)  # Part A Coverage
    months = {r["month"]: r for r in rows["enrollment"]}
    # rfrnc_yr 2018; buyin01-12 "C" (A and B); hmo_ind_01-10 "1", 11-12 "0"; ptdcntrct01-11 S4607, 12 "0".
    assert sorted(months) == [date(2018, m, 1) for m in range(1, 13)]
    assert all(r["part_a"] and r["part_b"] for r in months.values())
    assert [months[date(2018, m, 1)]["line_of_business"] for m in (1, 10, 11, 12)] == [
        "medicare_advantage",
        "medicare_advantage",
        "medicare_ffs",
        "medicare_ffs",
    ]
    assert [months[date(2018, m, 1)]["part_d"] for m in (1, 11, 12)] == [True, True, False]
    assert all(r["dual_status_code"] is None for r in months.values())  # dual_NN "**": no data


def test_bfd_paid_total_over_all_claims(bfd):
    _, rows = bfd
    # Header payment.amount of the five Part A claims + line NCH payments of the carrier and DME lines.
    expected = sum(
        Decimal(x) for x in ("7699.48", "693.11", "3333.33", "188.00", "130.32", "37.50", "123.45")
    )
    assert sum(r["paid_amount"] for r in rows["medical_claims"]) == expected == Decimal("12205.19")


# ---- BCDA-style NDJSON (Blue Button v1 shapes) -------------------------------------------------------------
def test_bcda_ndjson_subset(bcda):
    report, rows = bcda
    assert report.reconciles
    # 11 lines: 2 inpatient, 2 outpatient, 2 carrier, 2 DME, 1 hospice (9 medical), 2 PDE.
    assert len(rows["medical_claims"]) == 9 and len(rows["pharmacy_claims"]) == 2
    assert {r["source_line"] for r in rows["medical_claims"]} == {1, 2, 3, 4, 5, 6, 9, 10, 11}
    inpatient = _claim(rows["medical_claims"], "-10000000020384")  # line 1
    assert inpatient["member_id"] == "-10000000000066"
    assert inpatient["admitting_dx"] == "J208" and (inpatient["dx_1"], inpatient["dx_2"]) == ("J208", "R0902")
    assert inpatient["facility_ccn"] == "220135" and inpatient["billing_npi"] == "8886687531"
    assert inpatient["paid_amount"] == Decimal("22436.56") and inpatient["charge_amount"] == Decimal(
        "17872.13"
    )
    assert inpatient["claim_from_date"] == date(2020, 3, 13)
    hospice = _claim(rows["medical_claims"], "-10000000019758")  # line 11
    assert hospice["bill_type"] == "819"  # clm_fac_type_cd 8, clm_srvc_clsfctn_type_cd 1, clm_freq_cd 9
    assert hospice["paid_amount"] == Decimal("3860.96") and hospice["revenue_code"] == "0650"
    carrier = _claim(rows["medical_claims"], "-10000000020519")  # line 4
    assert carrier["charge_amount"] == Decimal("786.33") and carrier["paid_amount"] == Decimal("0.00")
    pde = _claim(rows["pharmacy_claims"], "-10000001604")  # line 7
    assert pde["ndc"] == "68071071630" and pde["days_supply"] == 365 and pde["quantity"] == Decimal("365.000")
    assert pde["allowed_amount"] == Decimal("0.02") and pde["dispensing_date"] == date(2011, 12, 31)


# ---- eCQM test-deck patients (QI-Core) -------------------------------------------------------------------
def _records(rows: list[dict[str, Any]], member: str, resource_type: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["member_id"] == member and r["resource_type"] == resource_type]


def test_ecqm_patients_and_reconciliation(ecqm):
    report, rows = ecqm
    assert report.reconciles
    assert len(rows["members"]) == 7  # seven test cases copied
    ignored = next(w for w in report.warnings if w.startswith("ignored"))
    assert "MeasureReport 7" in ignored  # one expected-result report per case folder: not input
    # CMS529 cases ship a second, different version of their Coverage at the measure root (payor
    # differs): quarantined as duplicates, in clinical and in enrollment.
    duplicates = [
        q for q in report.quarantine if "duplicate" in q["reason"] and q["source_file"].startswith("ecqm/")
    ]
    assert {(q["table"], q["source_file"].split("/")[-1][:17]) for q in duplicates} == {
        ("clinical", "Coverage-106187d8"),
        ("clinical", "Coverage-13de8d19"),
        ("enrollment", "Coverage-106187d8"),
        ("enrollment", "Coverage-13de8d19"),
    }


def test_ecqm_blood_pressure_components(ecqm):
    _, rows = ecqm
    # ControllingHighBloodPressureFHIR/Observation-53f79ffe...: 85354-9 with 8480-6 = 139, 8462-4 = 89 mm[Hg].
    bp = [
        r
        for r in rows["clinical"]
        if r["record_id"]
        == "Patient/f2d1fd7e-35ae-45cd-86e6-8b874c3e3fb9/Observation/53f79ffe-b90d-4157-8a7e-4557a09f62ff"
    ]
    by_component = {r["component_index"]: r for r in bp}
    assert sorted(by_component) == [0, 1, 2]
    assert {r["code"] for r in bp} == {"85354-9"} and {r["code_system"] for r in bp} == {"http://loinc.org"}
    assert (by_component[1]["component_code"], by_component[1]["value_numeric"]) == ("8480-6", 139.0)
    assert (by_component[2]["component_code"], by_component[2]["value_numeric"]) == ("8462-4", 89.0)
    assert by_component[2]["value_unit"] == "mm[Hg]"
    assert by_component[0]["effective_start"] == datetime(2025, 1, 2)


def test_ecqm_negation_patterns(ecqm):
    _, rows = ecqm
    # CMS2 8007ca87: Observations bd09c4a8... and adult-depression-screening-assessment-d70a are 73832-8,
    # status cancelled, with qicore-notDoneReason 720834000; e707 is a screening that was done.
    observations = {
        r["record_id"].rsplit("/", 1)[1]: r
        for r in _records(rows["clinical"], "8007ca87-67d4-4bbb-865c-392aa442bcf9", "Observation")
    }
    screening = [
        observations["bd09c4a8-d774-4bf8-b548-67f3308e0537"],
        observations["adult-depression-screening-assessment-d70a"],
    ]
    assert all(r["negated"] and r["status"] == "cancelled" and r["code"] == "73832-8" for r in screening)
    assert observations["adult-depression-screening-assessment-e707"]["negated"] is False
    assert {(r["reason_code_system"], r["reason_code"]) for r in screening} == {
        ("http://snomed.info/sct", "720834000")
    }
    assert {r["recorded_at"] for r in screening} == {datetime(2025, 6, 28, 8, 0)}  # issued, +00:00
    # CMS122 5433549b: DeviceRequest with modifierExtension qicore-doNotPerform = true.
    devices = _records(rows["clinical"], "5433549b-9ad5-4a8f-acc4-ce0f1b411712", "DeviceRequest")
    assert devices and any(r["negated"] for r in devices)


def test_ecqm_medication_reference_resolves(ecqm):
    _, rows = ecqm
    # CMS165 45e01fed: MedicationRequest.medicationReference Medication/Medication-1 (in the case folder).
    requests = _records(rows["clinical"], "45e01fed-56bb-483d-a860-af3d566bda11", "MedicationRequest")
    assert requests and all(r["code"] is not None for r in requests)
