"""FHIR resources built by hand for the eCQM tests (one patient's records, written as the test's text says)."""

from __future__ import annotations

from typing import Any

CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def active_condition(patient: str, n: int, code: tuple[str, str], onset: str) -> dict[str, Any]:
    """An active Condition of ``patient`` (id ``<patient>-c<n>``) coded ``(system, code)``, with onset ``onset``."""
    return {
        "resourceType": "Condition",
        "id": f"{patient}-c{n}",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": code[0], "code": code[1]}]},
        "subject": {"reference": f"Patient/{patient}"},
        "onsetDateTime": f"{onset}T00:00:00.000Z",
    }
