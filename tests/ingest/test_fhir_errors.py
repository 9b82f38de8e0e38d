"""FHIR loader failure modes: every bad record is quarantined with file, line, field and reason.

Also: reference resolution (``urn:uuid`` fullUrls, ``_history``, absolute URLs), property tests of the
date and reference helpers, and DuckDB/Spark parity on the BFD sample.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.ingest.fhir_common import fhir_instant, reference_id
from apmkit.ingest.fhir_resources import _months

FHIR = Path(__file__).parent.parent / "fixtures" / "fhir"

CONDITION_CODE = {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}
PATIENT_REF = {"reference": "Patient/p1"}


def _carrier(claim_id: str, **changes: object) -> dict:
    eob = {
        "resourceType": "ExplanationOfBenefit",
        "id": f"carrier-{claim_id}",
        "identifier": [
            {"system": "https://bluebutton.cms.gov/resources/variables/clm_id", "value": claim_id}
        ],
        "type": {
            "coding": [
                {"system": "https://bluebutton.cms.gov/resources/codesystem/eob-type", "code": "CARRIER"}
            ]
        },
        "patient": PATIENT_REF,
        "billablePeriod": {"start": "2024-03-01", "end": "2024-03-01"},
        "item": [{"sequence": 1, "quantity": {"value": 1}}],
    }
    eob.update(changes)
    return eob


def _line(resource: object) -> bytes:
    return json.dumps(resource).encode()


@pytest.fixture(scope="module")
def bad_load(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bad_fhir")
    lines = [
        _line({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-02-03"}),  # 1 ok
        b'{"resourceType": "Condition", "id": "c1", ',  # 2 invalid JSON
        b'{"resourceType": "Observation", "id": "o\xff1"}',  # 3 invalid UTF-8
        _line({"resourceType": "Condition", "subject": PATIENT_REF, "code": CONDITION_CODE}),  # 4 no id
        _line(
            {"resourceType": "Observation", "id": "o2", "status": "final", "code": CONDITION_CODE}
        ),  # 5 no patient
        _line(
            {
                "resourceType": "Observation",
                "id": "o3",
                "subject": PATIENT_REF,
                "code": CONDITION_CODE,
                "effectiveDateTime": "2025-13-45",
            }
        ),  # 6 bad date
        _line(_carrier("100", item=[{"sequence": 1, "quantity": {"value": -2}}])),  # 7 negative units
        _line(
            _carrier("101", type={"coding": [{"system": "https://example.org/claim-type", "code": "DENTAL"}]})
        ),  # 8 unknown claim type
        _line(
            {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-02-03"}
        ),  # 9 duplicate id
        b"[1, 2]",  # 10 not an object
        b"",  # 11 blank: not a record
        _line({"resourceType": "Organization", "id": "org1", "name": "Clinic"}),  # 12 ignored
        _line(_carrier("102", patient=None)),  # 13 no patient reference
        _line(_carrier("103", billablePeriod={"start": "2024-02-30"})),  # 14 impossible date
        _line(_carrier("104")),  # 15 ok
        _line(
            {
                "resourceType": "Immunization",
                "id": "imm1",
                "status": "not-done",
                "statusReason": {"coding": [{"system": "http://snomed.info/sct", "code": "591000119102"}]},
                "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
                "patient": PATIENT_REF,
                "occurrenceDateTime": "2024-10-01",
            }
        ),  # 16 negated immunization
        _line(
            {
                "resourceType": "Procedure",
                "id": "proc1",
                "status": "completed",
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "45378"}]},
                "subject": PATIENT_REF,
                "performedPeriod": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T11:15:00Z"},
                "encounter": {"reference": "Encounter/e9"},
                "performer": [{"actor": {"reference": "Practitioner/pr1"}}],
            }
        ),  # 17 procedure with a period, an encounter and a performer (line 20)
        _line(
            {
                "resourceType": "MedicationDispense",
                "id": "md1",
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]
                },
                "subject": PATIENT_REF,
                "whenHandedOver": "2024-06-02T09:00:00+02:00",
            }
        ),  # 18 dispense
        _line(
            {
                "resourceType": "AllergyIntolerance",
                "id": "al1",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "category": ["medication"],
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
                "patient": PATIENT_REF,
                "onsetDateTime": "2001",
            }
        ),  # 19 allergy, partial date
        _line(
            {
                "resourceType": "Practitioner",
                "id": "pr1",
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
            }
        ),  # 20 read after the procedure that names it
        _line(
            {
                "resourceType": "Condition",
                "id": "c9",
                "subject": PATIENT_REF,
                "code": CONDITION_CODE,
                "extension": ["x"],
            }
        ),  # 21 an extension that is not an object
    ]
    (folder / "bulk.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    (folder / "broken.json").write_text('{\n  "resourceType": "Bundle",\n  "entry": [ oops ]\n}\n')
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:9f3a",
                "resource": {"resourceType": "Patient", "gender": "male", "birthDate": "1940-01-01"},
            },
            {
                "fullUrl": "urn:uuid:c0de",
                "resource": {
                    "resourceType": "Condition",
                    "id": "cond-1",
                    "subject": {"reference": "urn:uuid:9f3a"},
                    "code": CONDITION_CODE,
                    "onsetDateTime": "2020-05-06T23:30:00-05:00",
                },
            },
            {
                "resource": {
                    "resourceType": "Encounter",
                    "id": "enc-1",
                    "subject": {"reference": "https://example.org/fhir/Patient/9f3a/_history/3"},
                    "class": {"code": "AMB"},
                    "period": {"start": "2020-05-06"},
                }
            },
        ],
    }
    (folder / "nested").mkdir()
    (folder / "nested" / "bundle.json").write_text(json.dumps(bundle))
    out = tmp_path_factory.mktemp("bad_out")
    report = ingest(engine, "fhir", folder, out)
    tables = engine.canonical(out)
    rows = {name: engine.to_arrow(tables[name]).to_pylist() for name in tables.present()}
    return report, rows


def _entry(report, file: str, line: int) -> dict:
    found = [q for q in report.quarantine if q["source_file"] == file and q["source_line"] == line]
    assert len(found) == 1, (file, line, report.quarantine)
    return found[0]


def test_counts_reconcile_per_table(bad_load):
    report, rows = bad_load
    assert report.reconciles
    assert report.tables["members"].read == 3 and report.tables["members"].loaded == 2  # p1, 9f3a
    assert report.tables["medical_claims"].loaded == 1  # claim 104
    assert {r["claim_id"] for r in rows["medical_claims"]} == {"104"}
    assert sorted(report.files) == ["broken.json", "bulk.ndjson", "nested/bundle.json"]
    assert any("Organization 1" in w for w in report.warnings)  # ignored, not quarantined


@pytest.mark.parametrize(
    ("line", "table", "field", "reason"),
    [
        (2, "clinical", None, "invalid JSON"),
        (3, "clinical", None, "invalid UTF-8 encoding (byte 0xff"),
        (4, "clinical", "record_id", "record_id: required field is empty"),
        (5, "clinical", "record_id", "member_id: required field is empty"),
        (6, "clinical", "effective_start", "effective_start: not a valid timestamp"),
        (7, "medical_claims", "units", "units: negative value not allowed"),
        (8, "medical_claims", "claim_type", "claim_type: unknown code"),
        (9, "members", "member_id", "duplicate key (member_id): first loaded from bulk.ndjson line 1"),
        (10, "clinical", None, "not a JSON object"),
        (13, "medical_claims", "member_id", "member_id: required field is empty"),
        (14, "medical_claims", "claim_from_date", "claim_from_date: not a valid date"),
        (21, "clinical", None, "cannot map Condition: unexpected structure (AttributeError)"),
    ],
)
def test_bad_record_is_quarantined_with_file_line_field(bad_load, line, table, field, reason):
    report, _ = bad_load
    entry = _entry(report, "bulk.ndjson", line)
    assert (entry["table"], entry["field"]) == (table, field)
    assert reason in entry["reason"]


def test_invalid_json_document_names_its_line(bad_load):
    report, _ = bad_load
    entry = _entry(report, "broken.json", 3)
    assert entry["reason"].startswith("invalid JSON: Expecting value (line 3")


def test_urn_uuid_and_absolute_references_resolve(bad_load):
    _, rows = bad_load
    assert {m["member_id"] for m in rows["members"]} == {"p1", "9f3a"}  # id from the fullUrl
    clinical = {r["record_id"]: r for r in rows["clinical"]}
    condition = clinical["Patient/9f3a/Condition/cond-1"]
    assert condition["effective_start"] == datetime(2020, 5, 7, 4, 30)  # -05:00 converted to UTC
    assert condition["source_file"] == "nested/bundle.json" and condition["source_line"] == 2
    encounter = clinical["Patient/9f3a/Encounter/enc-1"]
    assert encounter["category"] == "AMB" and encounter["code"] is None  # no type: one row, no code


def test_other_clinical_types_and_timing_forms(bad_load):
    _, rows = bad_load
    clinical = {r["record_id"].rsplit("/", 2)[-2]: r for r in rows["clinical"] if r["member_id"] == "p1"}
    immunization = clinical["Immunization"]
    assert immunization["negated"] and immunization["code"] == "140"
    assert (immunization["reason_code"], immunization["effective_start"]) == (
        "591000119102",
        datetime(2024, 10, 1),
    )
    procedure = clinical["Procedure"]
    assert (procedure["effective_start"], procedure["effective_end"]) == (
        datetime(2024, 5, 1, 10, 0),
        datetime(2024, 5, 1, 11, 15),
    )
    assert procedure["encounter_id"] == "Patient/p1/Encounter/e9" and not procedure["negated"]
    assert procedure["performer_npi"] == "1234567893"  # Practitioner/pr1's us-npi identifier
    dispense = clinical["MedicationDispense"]
    assert dispense["code"] == "197361" and dispense["recorded_at"] == datetime(2024, 6, 2, 7, 0)
    allergy = clinical["AllergyIntolerance"]
    assert (allergy["status"], allergy["category"]) == ("active", "medication")
    assert allergy["effective_start"] == datetime(2001, 1, 1)  # "2001": the year's first instant


def test_missing_path_is_a_clear_error(engine: Engine, tmp_path: Path):
    from apmkit.errors import InputFileError

    with pytest.raises(InputFileError, match="no such file or folder"):
        ingest(engine, "fhir", tmp_path / "absent", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no FHIR files found"):
        ingest(engine, "fhir", tmp_path / "empty", tmp_path / "out")


# ---- properties of the helpers ----------------------------------------------------------------------------
_IDS = st.from_regex(r"\A[A-Za-z0-9\-.]{1,64}\Z")


@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2100, 12, 30)).map(
        lambda d: d.replace(microsecond=0)
    ),
    offset_quarters=st.integers(min_value=-48, max_value=56),
)
def test_instants_convert_to_utc(moment: datetime, offset_quarters: int):
    offset = timedelta(minutes=15 * offset_quarters)
    sign = "+" if offset >= timedelta(0) else "-"
    hours, minutes = divmod(abs(offset_quarters) * 15, 60)
    written = moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"
    assert fhir_instant(written) == (moment - offset).strftime("%Y-%m-%d %H:%M:%S")


@given(resource_id=_IDS, version=st.integers(min_value=1, max_value=99))
def test_reference_forms_resolve_to_the_id(resource_id: str, version: int):
    for reference in (
        f"Patient/{resource_id}",
        f"https://example.org/fhir/Patient/{resource_id}",
        f"Patient/{resource_id}/_history/{version}",
        {"reference": f"Patient/{resource_id}"},
    ):
        assert reference_id(reference) == resource_id
    assert reference_id(f"urn:uuid:{resource_id}") == resource_id
    assert reference_id("urn:uuid:x", {"urn:uuid:x": resource_id}) == resource_id


@given(
    start=st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2040, 1, 1).date()),
    span=st.integers(min_value=0, max_value=400),
)
def test_coverage_months_cover_the_period(start, span):
    end = start + timedelta(days=span)
    months = _months(start.isoformat(), end.isoformat())
    assert months[0] == f"{start:%Y-%m}-01" and months[-1] == f"{end:%Y-%m}-01"
    assert len(months) == (end.year - start.year) * 12 + end.month - start.month + 1
    assert len(set(months)) == len(months)


# ---- engine parity -----------------------------------------------------------------------------------------
def _paid_by_type(engine: Engine, out: Path) -> dict[str, Decimal]:
    claims = engine.canonical(out).medical_claims
    totals = claims.group_by("claim_type").aggregate(paid=claims.paid_amount.sum())
    return {r["claim_type"]: r["paid"] for r in engine.to_arrow(totals).to_pylist()}


@pytest.mark.spark
def test_spark_and_duckdb_load_the_same_claims(spark_engine: Engine, duckdb_engine: Engine, tmp_path: Path):
    spark_report = ingest(spark_engine, "fhir", FHIR / "bfd_v2", tmp_path / "spark")
    duck_report = ingest(duckdb_engine, "fhir", FHIR / "bfd_v2", tmp_path / "duck")
    assert spark_report.to_dict()["tables"] == duck_report.to_dict()["tables"]
    spark_totals = _paid_by_type(spark_engine, tmp_path / "spark")
    assert spark_totals == _paid_by_type(duckdb_engine, tmp_path / "duck")
    # eobRead*.json: header payment.amount (Part A types), line_nch_pmt_amt (carrier, DME).
    assert spark_totals == {
        "inpatient": Decimal("7699.48"),
        "outpatient": Decimal("693.11"),
        "snf": Decimal("3333.33"),
        "hha": Decimal("188.00"),
        "hospice": Decimal("130.32"),
        "professional": Decimal("37.50"),
        "dme": Decimal("123.45"),
    }
