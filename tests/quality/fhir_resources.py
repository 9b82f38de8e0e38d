"""FHIR resources built by hand for the eCQM tests (one patient's records, written as the test's text says)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.quality.ecqm import MeasureDefinition
from apmkit.quality.evaluate import evaluate_measures

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


def measure_rows(
    engine: Engine, folder: Path, resources: Iterable[dict[str, Any]], measure: MeasureDefinition
) -> list[dict[str, Any]]:
    """Each patient's populations of ``measure`` in 2025, from ``resources`` written as NDJSON in ``folder`` and
    loaded through the FHIR ingest."""
    with open(folder / "cases.ndjson", "w") as handle:
        for resource in resources:
            handle.write(json.dumps(resource) + "\n")
    ingest(engine, "fhir", folder, folder / "canonical")
    tables = engine.canonical(folder / "canonical")
    result = evaluate_measures(
        [measure], tables.members, tables.clinical, dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    )[measure.measure_id]
    return engine.to_arrow(result).to_pylist()
