"""A blood pressure written as components only, without its first component (CMS165, QI-Core 2024 content).

The canonical ``clinical`` table lets a producer write a multi-component observation as its component rows
only (``apmkit synth`` does). A reading that lacks its systolic component is still a qualifying blood
pressure reading; "Lowest Systolic Reading on Most Recent Blood Pressure Day" sorts its missing systolic
value first, so the lowest is null and "< 140 'mm[Hg]'" is not true: the patient is not in the numerator.
The expected numerators follow from that text, not from apmkit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apmkit.engines import Engine
from apmkit.quality.ecqm import CMS165
from apmkit.quality.evaluate import evaluate_measures
from apmkit.schemas.canonical import CLINICAL, MEMBERS

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T10:00:00")


def row(patient: str, record: str, resource_type: str, code: tuple[str, str], day: str, **extra: Any) -> dict:
    return {
        "record_id": f"{resource_type}/{patient}-{record}",
        "coding_index": 0,
        "component_index": 0,
        "member_id": patient,
        "resource_type": resource_type,
        "code_system": code[0],
        "code": code[1],
        "effective_start": at(day),
        "effective_end": at(day),
        "negated": False,
        **extra,
    }


def reading(
    patient: str, record: str, day: str, systolic: float | None, diastolic: float | None
) -> list[dict]:
    """A blood pressure panel written as its component rows only (component 1 systolic, 2 diastolic)."""
    rows = []
    for index, (code, value) in enumerate(((SYSTOLIC, systolic), (DIASTOLIC, diastolic)), start=1):
        if value is not None:
            rows.append(
                row(
                    patient,
                    record,
                    "Observation",
                    (LOINC, PANEL),
                    day,
                    status="final",
                    category="vital-signs",
                    component_index=index,
                    component_code_system=LOINC,
                    component_code=code,
                    value_numeric=value,
                )
            )
    return rows


def patient(patient: str, last: tuple[float | None, float | None]) -> list[dict]:
    return [
        row(patient, "htn", "Condition", (ICD10CM, "I10"), "2020-01-01", status="active", effective_end=None),
        row(patient, "visit", "Encounter", (SNOMED, "185463005"), "2025-03-01", status="finished"),
        *reading(patient, "bp1", "2025-06-01", 130, 80),
        *reading(patient, "bp2", "2025-09-01", *last),
    ]


CASES = {
    "last_reading_complete": ((135, 85), 1),
    # Only the diastolic component on the most recent day: the lowest systolic is missing.
    "last_reading_without_systolic": ((None, 85), 0),
    "last_reading_without_diastolic": ((135, None), 0),
}


@pytest.fixture(scope="module")
def numerators(engine: Engine) -> dict[str, int]:
    members = engine.from_rows(
        [{"member_id": p, "birth_date": dt.date(1960, 5, 1), "sex": "F"} for p in CASES], MEMBERS
    )
    rows = [r for p, (last, _) in CASES.items() for r in patient(p, last)]
    clinical = engine.from_rows(rows, CLINICAL)
    result = evaluate_measures([CMS165], members, clinical, dt.date(2025, 1, 1), dt.date(2025, 12, 31))[
        "CMS165"
    ]
    found = engine.to_arrow(result).to_pylist()
    assert {r["patient_id"]: r["initial_population"] for r in found} == dict.fromkeys(CASES, 1)
    return {r["patient_id"]: r["numerator"] for r in found}


@pytest.mark.parametrize("patient_id", sorted(CASES))
def test_cms165_reading_written_as_components_only(numerators: dict[str, int], patient_id: str) -> None:
    assert numerators[patient_id] == CASES[patient_id][1]
