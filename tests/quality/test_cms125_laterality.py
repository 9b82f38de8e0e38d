"""CMS125 exclusion paths written from the measure's CQL (BreastCancerScreeningFHIR, QI-Core 2024).

"Right Mastectomy Diagnosis" is a Condition in "Status Post Right Mastectomy" *or* in "Unilateral
Mastectomy, Unspecified Laterality" with a bodySite of Right (qualifier value) (SNOMED 24028007); "Left
Mastectomy Diagnosis" likewise with Left (7771000). Right and left together (diagnosis or procedure)
exclude the patient. Each patient below is built by hand for one path; the expected exclusion follows from
that text, not from apmkit's output.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.quality.fhir_resources import active_condition, measure_rows

from apmkit.engines import Engine
from apmkit.quality.ecqm import CMS125

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UNSPECIFIED = (SNOMED, "22964006")  # in "Unilateral Mastectomy, Unspecified Laterality" (…198.12.1071)
RIGHT, LEFT = "24028007", "7771000"
STATUS_POST_RIGHT = (ICD10CM, "Z90.11")
STATUS_POST_LEFT = (ICD10CM, "Z90.12")
LEFT_PROCEDURE = ("http://www.cms.gov/Medicare/Coding/ICD10", "0HTU0ZZ")  # resection of left breast


def condition(
    patient: str, n: int, code: tuple[str, str], site: str | None, onset: str = "2020-05-01"
) -> dict[str, Any]:
    resource = active_condition(patient, n, code, onset)
    if site is not None:
        # A body-structure coding first, the laterality second: the laterality is what the measure reads.
        resource["bodySite"] = [
            {"coding": [{"system": SNOMED, "code": "76752008"}]},
            {"coding": [{"system": SNOMED, "code": site}]},
        ]
    return resource


def patient_resources(patient: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": patient, "gender": "female", "birthDate": "1965-03-01"},
        {
            "resourceType": "Encounter",
            "id": f"{patient}-e",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": SNOMED, "code": "185463005"}]}],
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": "2025-03-01T09:00:00.000Z", "end": "2025-03-01T09:30:00.000Z"},
        },
        *records,
    ]


CASES: dict[str, tuple[list[dict[str, Any]], int]] = {
    # Two unspecified-laterality diagnoses, one with bodySite Right, one Left: a bilateral mastectomy.
    "uni_right_and_left": (
        [
            condition("uni_right_and_left", 1, UNSPECIFIED, RIGHT),
            condition("uni_right_and_left", 2, UNSPECIFIED, LEFT),
        ],
        1,
    ),
    # Both on the right: one side only.
    "uni_right_twice": (
        [
            condition("uni_right_twice", 1, UNSPECIFIED, RIGHT),
            condition("uni_right_twice", 2, UNSPECIFIED, RIGHT),
        ],
        0,
    ),
    # Unspecified with Left + status post right mastectomy (ICD-10-CM Z90.11).
    "uni_left_and_sp_right": (
        [
            condition("uni_left_and_sp_right", 1, UNSPECIFIED, LEFT),
            condition("uni_left_and_sp_right", 2, STATUS_POST_RIGHT, None),
        ],
        1,
    ),
    # Unspecified without any body site does not say which side: with status post left, still one side.
    "uni_no_site_and_sp_left": (
        [
            condition("uni_no_site_and_sp_left", 1, UNSPECIFIED, None),
            condition("uni_no_site_and_sp_left", 2, STATUS_POST_LEFT, None),
        ],
        0,
    ),
    # Unspecified with Right + a left mastectomy procedure.
    "uni_right_and_left_procedure": (
        [
            condition("uni_right_and_left_procedure", 1, UNSPECIFIED, RIGHT),
            {
                "resourceType": "Procedure",
                "id": "uni_right_and_left_procedure-p",
                "status": "completed",
                "code": {"coding": [{"system": LEFT_PROCEDURE[0], "code": LEFT_PROCEDURE[1]}]},
                "subject": {"reference": "Patient/uni_right_and_left_procedure"},
                "performedPeriod": {"start": "2019-02-01T00:00:00.000Z", "end": "2019-02-01T00:00:00.000Z"},
            },
        ],
        1,
    ),
    # A right-sided unspecified diagnosis whose onset is after the period does not count.
    "uni_left_now_right_later": (
        [
            condition("uni_left_now_right_later", 1, UNSPECIFIED, LEFT),
            condition("uni_left_now_right_later", 2, UNSPECIFIED, RIGHT, onset="2026-02-01"),
        ],
        0,
    ),
}


@pytest.fixture(scope="module")
def excluded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    resources = [r for patient, (records, _) in CASES.items() for r in patient_resources(patient, records)]
    rows = measure_rows(engine, tmp_path_factory.mktemp("cms125_laterality"), resources, CMS125)
    assert {r["patient_id"]: r["initial_population"] for r in rows} == dict.fromkeys(CASES, 1)
    return {r["patient_id"]: r["denominator_exclusion"] for r in rows}


@pytest.mark.parametrize("patient", sorted(CASES))
def test_cms125_mastectomy_laterality(excluded: dict[str, int], patient: str) -> None:
    assert excluded[patient] == CASES[patient][1]


def test_gaps_keep_one_row_per_patient_when_the_npi_has_several_tins(
    engine: Engine, excluded: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import ibis

    from apmkit.quality.gaps import care_gaps
    from apmkit.schemas.canonical import PROVIDERS

    folder = tmp_path_factory.getbasetemp()
    canonical = next(folder.glob("cms125_laterality*/canonical"))
    tables = engine.canonical(canonical)
    npi = "1234567893"
    clinical = tables.clinical.mutate(
        performer_npi=ibis.ifelse(
            tables.clinical.resource_type == "Encounter", ibis.literal(npi), tables.clinical.performer_npi
        )
    )
    providers = engine.from_rows(
        [
            {"npi": npi, "tin": "710000001", "specialty_code": "08", "is_primary_care": True},
            {"npi": npi, "tin": "710000002", "specialty_code": "08", "is_primary_care": True},
        ],
        PROVIDERS,
    )
    gaps = care_gaps(
        CMS125, tables.members, clinical, dt.date(2025, 1, 1), dt.date(2025, 12, 31), providers=providers
    )
    rows = engine.to_arrow(gaps).to_pylist()
    # The three patients not excluded have no mammogram: one open gap each, the NPI's TIN left empty.
    assert sorted(r["patient_id"] for r in rows) == sorted(p for p, value in excluded.items() if value == 0)
    assert {(r["npi"], r["tin"]) for r in rows} == {(npi, None)}
