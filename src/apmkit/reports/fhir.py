"""FHIR exports of reports where a standard exists: gaps in care as Da Vinci DEQM (STU5) gaps-in-care bundles.

The ``$care-gaps`` operation returns a ``Parameters`` resource with one ``return`` bundle per patient; each
bundle (``gaps-bundle-deqm``, type ``document``) holds a Composition (``gaps-composition-deqm``) with one
section per measure, an individual MeasureReport per measure (``indv-measurereport-deqm``) and a DetectedIssue
(``gaps-detectedissue-deqm``, code CAREGAP, ``gapStatus`` ``open-gap``) whose evidence is that MeasureReport.
apmkit writes only open gaps, so each MeasureReport states the population membership that makes the gap open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from apmkit.errors import ConfigurationError

DEQM = "http://hl7.org/fhir/us/davinci-deqm"
MEASURE_BASE = "https://madie.cms.gov/Measure/"
GAP_STATUS_URL = f"{DEQM}/StructureDefinition/extension-gapStatus"
GAP_STATUS_SYSTEM = f"{DEQM}/CodeSystem/gaps-status"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"


def _id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)[:10]


def gaps_parameters(
    gaps: Sequence[Mapping[str, Any]],
    *,
    start: str,
    end: str,
    inverse: Sequence[str] = ("CMS122",),
    now: str | None = None,
) -> dict[str, Any]:
    """A ``Parameters`` resource with one DEQM gaps bundle per patient of ``gaps`` (rows of the gaps report)."""
    timestamp = now or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    by_patient: dict[str, list[Mapping[str, Any]]] = {}
    for row in gaps:
        by_patient.setdefault(str(row["patient_id"]), []).append(row)
    bundles = []
    for patient, rows in sorted(by_patient.items()):
        subject = {"reference": f"Patient/{patient}"}
        entries: list[dict[str, Any]] = []
        sections = []
        for row in rows:
            measure = str(row["measure"])
            report_id = _id("mr", patient, measure, start, end)
            issue_id = _id("di", patient, measure, start, end)
            is_inverse = measure in inverse
            populations = [
                ("initial-population", 1),
                ("denominator", 1),
                ("numerator", 1 if is_inverse else 0),
            ]
            report = {
                "resourceType": "MeasureReport",
                "id": report_id,
                "meta": {"profile": [f"{DEQM}/StructureDefinition/indv-measurereport-deqm"]},
                "status": "complete",
                "type": "individual",
                "measure": f"{MEASURE_BASE}{measure}FHIR",
                "subject": subject,
                "date": timestamp,
                "period": {"start": start, "end": end},
                "improvementNotation": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                            "code": "decrease" if is_inverse else "increase",
                        }
                    ]
                },
                "group": [
                    {
                        "population": [
                            {
                                "code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]},
                                "count": count,
                            }
                            for code, count in populations
                        ]
                    }
                ],
            }
            if row.get("gap_npi"):
                report["reporter"] = {
                    "identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": str(row["gap_npi"])}
                }
            issue = {
                "resourceType": "DetectedIssue",
                "id": issue_id,
                "meta": {"profile": [f"{DEQM}/StructureDefinition/gaps-detectedissue-deqm"]},
                "modifierExtension": [
                    {
                        "url": GAP_STATUS_URL,
                        "valueCodeableConcept": {
                            "coding": [{"system": GAP_STATUS_SYSTEM, "code": "open-gap"}]
                        },
                    }
                ],
                "status": "final",
                "code": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "CAREGAP"}
                    ]
                },
                "patient": subject,
                "evidence": [{"detail": [{"reference": f"MeasureReport/{report_id}"}]}],
            }
            if row.get("closes_with"):
                issue["detail"] = str(row["closes_with"])
            entries += [
                {"fullUrl": f"urn:uuid:{report_id}", "resource": report},
                {"fullUrl": f"urn:uuid:{issue_id}", "resource": issue},
            ]
            sections.append(
                {
                    "title": measure,
                    "focus": {"reference": f"MeasureReport/{report_id}"},
                    "entry": [{"reference": f"DetectedIssue/{issue_id}"}],
                }
            )
        composition_id = _id("comp", patient, start, end)
        composition = {
            "resourceType": "Composition",
            "id": composition_id,
            "meta": {"profile": [f"{DEQM}/StructureDefinition/gaps-composition-deqm"]},
            "status": "final",
            "type": {
                "coding": [
                    {"system": "http://loinc.org", "code": "96315-7", "display": "Gaps in care report"}
                ]
            },
            "subject": subject,
            "date": timestamp,
            "author": [{"display": "apmkit"}],
            "title": "Gaps in care",
            "section": sections,
        }
        bundle_id = _id("bundle", patient, start, end)
        bundles.append(
            {
                "name": "return",
                "resource": {
                    "resourceType": "Bundle",
                    "id": bundle_id,
                    "meta": {"profile": [f"{DEQM}/StructureDefinition/gaps-bundle-deqm"]},
                    "identifier": {"system": "urn:apmkit:gaps", "value": bundle_id},
                    "type": "document",
                    "timestamp": timestamp,
                    "entry": [{"fullUrl": f"urn:uuid:{composition_id}", "resource": composition}, *entries],
                },
            }
        )
    return {"resourceType": "Parameters", "parameter": bundles}


def report_bundle(name: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The FHIR document of report ``name``.

    Raises
    ------
    ConfigurationError
        The report has no FHIR standard (only ``gaps`` has: DEQM).
    """
    if name != "gaps":
        raise ConfigurationError(f"report {name!r} has no FHIR standard export (only gaps: DEQM); use .json")
    period = tables.get("period", [{}])
    start = _date(period[0].get("start")) if period else None
    end = _date(period[0].get("end")) if period else None
    if start is None or end is None:
        raise ConfigurationError("gaps report: the measurement period table is missing")
    return gaps_parameters(tables["gaps"], start=start, end=end)
