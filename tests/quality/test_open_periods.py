"""Periods without a start or an end, timed as the eCQM CQL times them (CMS122, QI-Core 2024 content).

FHIRHelpers ``ToInterval(Period)`` makes a period without a start ``Interval(null, end]`` (its start is unknown,
so no comparison with it holds) and one without an end ``Interval[start, null]``, whose closed null end is the
end of time: the encounter runs on. So an office visit without an end is not a qualifying encounter ("during
day of" the period), and a hospice encounter begun in 2024 without an end overlaps 2025 and excludes the
patient. Requests have no period: the dementia medication request counts by when it was authored
(CumulativeMedicationDuration needs the supply, which canonical data does not carry; docs/quality.md). Each
patient is built by hand for one path; the expected populations follow from that text, not from apmkit.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.quality.fhir_resources import active_condition, measure_rows

from apmkit.engines import Engine
from apmkit.quality.ecqm import CMS122

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OFFICE_VISIT = (SNOMED, "185463005")  # in "Office Visit"
HOSPICE_ENCOUNTER = (SNOMED, "183919006")  # in "Hospice Encounter"
DIABETES = (ICD10CM, "E10.10")
PRESSURE_ULCER = (ICD10CM, "L89.000")  # in "Frailty Diagnosis"
DEMENTIA_MEDICATION = (RXNORM, "1100184")  # in "Dementia Medications"
CLOSED_VISIT = {"start": "2025-03-01T09:00:00.000Z", "end": "2025-03-01T09:30:00.000Z"}


def encounter(patient: str, n: int, code: tuple[str, str], period: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": f"{patient}-e{n}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": code[0], "code": code[1]}]}],
        "subject": {"reference": f"Patient/{patient}"},
        "period": period,
    }


def condition(patient: str, n: int, code: tuple[str, str], onset: str) -> dict[str, Any]:
    return active_condition(patient, n, code, onset)


def dementia_request(patient: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"{patient}-m",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": DEMENTIA_MEDICATION[0], "code": DEMENTIA_MEDICATION[1]}]
        },
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": f"{authored}T10:00:00.000Z",
    }


def frail_with_medication(patient: str, authored: str) -> list[dict[str, Any]]:
    return [
        encounter(patient, 1, OFFICE_VISIT, CLOSED_VISIT),
        condition(patient, 2, PRESSURE_ULCER, "2025-04-01"),
        dementia_request(patient, authored),
    ]


# patient: (birth date, records besides the diabetes diagnosis, (initial population, exclusion))
CASES: dict[str, tuple[str, list[dict[str, Any]], tuple[int, int]]] = {
    "visit_closed": ("1960-05-01", [encounter("visit_closed", 1, OFFICE_VISIT, CLOSED_VISIT)], (1, 0)),
    # Interval[2025-03-01, null]: runs on past the period, so not during it.
    "visit_without_end": (
        "1960-05-01",
        [encounter("visit_without_end", 1, OFFICE_VISIT, {"start": "2025-03-01T09:00:00.000Z"})],
        (0, 0),
    ),
    # Interval(null, 2025-03-01]: its start is unknown, so it is not known to lie within the period.
    "visit_without_start": (
        "1960-05-01",
        [encounter("visit_without_start", 1, OFFICE_VISIT, {"end": "2025-03-01T09:30:00.000Z"})],
        (0, 0),
    ),
    # Hospice since June 2024, still open: overlaps the period.
    "hospice_open_since_2024": (
        "1960-05-01",
        [
            encounter("hospice_open_since_2024", 1, OFFICE_VISIT, CLOSED_VISIT),
            encounter("hospice_open_since_2024", 2, HOSPICE_ENCOUNTER, {"start": "2024-06-01T00:00:00.000Z"}),
        ],
        (1, 1),
    ),
    "hospice_ended_2024": (
        "1960-05-01",
        [
            encounter("hospice_ended_2024", 1, OFFICE_VISIT, CLOSED_VISIT),
            encounter(
                "hospice_ended_2024",
                2,
                HOSPICE_ENCOUNTER,
                {"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"},
            ),
        ],
        (1, 0),
    ),
    # Age 70, frail, a dementia medication authored in the year before the period: excluded.
    "dementia_request_2024": (
        "1955-02-01",
        frail_with_medication("dementia_request_2024", "2024-03-01"),
        (1, 1),
    ),
    # Authored before that year: the request does not run on to the period.
    "dementia_request_2023": (
        "1955-02-01",
        frail_with_medication("dementia_request_2023", "2023-06-01"),
        (1, 0),
    ),
}


@pytest.fixture(scope="module")
def populations(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, int]]:
    resources = [
        resource
        for patient, (birth, records, _) in CASES.items()
        for resource in (
            {"resourceType": "Patient", "id": patient, "gender": "female", "birthDate": birth},
            condition(patient, 0, DIABETES, "2020-01-01"),
            *records,
        )
    ]
    rows = measure_rows(engine, tmp_path_factory.mktemp("open_periods"), resources, CMS122)
    return {r["patient_id"]: (r["initial_population"], r["denominator_exclusion"]) for r in rows}


@pytest.mark.parametrize("patient", sorted(CASES))
def test_cms122_open_periods(populations: dict[str, tuple[int, int]], patient: str) -> None:
    assert populations[patient] == CASES[patient][2]
