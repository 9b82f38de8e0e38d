"""Patient → ``members``, Coverage → ``enrollment`` months, clinical resources → long-form ``clinical``.

Each mapper turns one parsed resource into rows of text values (conformance types and validates them).
The rules are documented in docs/formats-fhir-synthea.md; the ones that need a decision:

- **record ids** are patient-compartment paths, ``Patient/<member_id>/<ResourceType>/<id>``: FHIR ids are
  unique per server, but eCQM test decks reuse ids such as ``Encounter-1`` in every test case, so the
  patient is part of the identity. ``encounter_id`` uses the same form, so it joins to ``record_id``.
- **negation** (QI-Core "not done" patterns): ``doNotPerform`` true, a ``doNotPerform`` (modifier)
  extension that is true, status ``not-done`` (or ``declined`` for dispenses), or a ``notDoneReason``
  extension; the reason goes to ``reason_code``.
- **Coverage months**: BFD Coverage carries monthly entitlement extensions for one reference year
  (``buyinNN``, ``hmo_ind_NN``, ``ptdcntrctNN``, ``dual_NN``); other Coverage resources cover the months of
  their ``period`` (an open end runs to the latest date found in the input).
"""

from __future__ import annotations

import re
from typing import Any

from apmkit.ingest.fhir_common import (
    NPI_SYSTEM,
    Json,
    as_list,
    codings,
    extension_value,
    extensions,
    fhir_date,
    fhir_instant,
    first_code,
    is_npi,
    mapping,
    period_bounds,
    reference_id,
    tail,
    text,
)
from apmkit.schemas.canonical import CLINICAL_RESOURCE_TYPES, DUAL_STATUS_CODES

# Patient-data resource types mapped to `clinical` with their own resource_type value.
CLINICAL_TYPES = frozenset(t for t in CLINICAL_RESOURCE_TYPES if t != "Other")
# Other patient-data resources kept as resource_type "Other" (their code, status and timing).
OTHER_CLINICAL_TYPES = frozenset(
    {
        "DeviceUseStatement",
        "Device",
        "MedicationStatement",
        "Communication",
        "CommunicationRequest",
        "FamilyMemberHistory",
        "AdverseEvent",
        "CarePlan",
        "Goal",
        "ImagingStudy",
        "NutritionOrder",
        "Task",
    }
)

# Where each type keeps its code, timing and recorded time.
_CODE_FIELD = {
    "Immunization": "vaccineCode",
    "MedicationRequest": "medicationCodeableConcept",
    "MedicationDispense": "medicationCodeableConcept",
    "MedicationAdministration": "medicationCodeableConcept",
    "MedicationStatement": "medicationCodeableConcept",
    "DeviceRequest": "codeCodeableConcept",
    "Device": "type",
    "DeviceUseStatement": "device",
    "Coverage": "type",
}
_TIMING_PREFIX = {
    "Condition": ("onset", "abatement"),
    "AllergyIntolerance": ("onset", None),
    "Procedure": ("performed", None),
    "Immunization": ("occurrence", None),
    "Observation": ("effective", None),
    "DiagnosticReport": ("effective", None),
    "MedicationAdministration": ("effective", None),
    "MedicationStatement": ("effective", None),
    "DeviceUseStatement": ("timing", None),
    "ServiceRequest": ("occurrence", None),
    "DeviceRequest": ("occurrence", None),
}
_RECORDED_FIELD = {
    "Condition": "recordedDate",
    "AllergyIntolerance": "recordedDate",
    "Immunization": "recorded",
    "Observation": "issued",
    "DiagnosticReport": "issued",
    "MedicationRequest": "authoredOn",
    "ServiceRequest": "authoredOn",
    "DeviceRequest": "authoredOn",
    "MedicationDispense": "whenHandedOver",
    "DeviceUseStatement": "recordedOn",
}
_NEGATED_STATUSES = ("not-done", "declined")
_SEX = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_BUYIN_PART_A = frozenset("13AC")
_BUYIN_PART_B = frozenset("23BC")
_MA_HMO_CODES = frozenset("12ABC")
_PART_D_CONTRACT = re.compile(r"^[EHRSX][0-9]{4}$")


def member_reference(resource: Json, fullurls: dict[str, str]) -> str | None:
    """The patient a resource belongs to (``subject``, ``patient`` or Coverage ``beneficiary``)."""
    for field in ("subject", "patient", "beneficiary"):
        if field in resource:
            return reference_id(resource[field], fullurls)
    return None


def record_id(member_id: str | None, resource_type: str, resource_id: str | None) -> str | None:
    if not member_id or not resource_id:
        return None
    return f"Patient/{member_id}/{resource_type}/{resource_id}"


# ---- Patient -------------------------------------------------------------------------------------------
def patient_row(patient: Json) -> dict[str, str | None]:
    race = None
    for extension in extensions(patient, "variables/race"):
        race = text(extension_value(extension))
    if race is None:
        for extension in extensions(patient, "us-core-race"):
            for part in as_list(extension.get("extension")):
                if part.get("url") == "ombCategory" and race is None:
                    race = text(extension_value(part))
    address = next((a for a in as_list(patient.get("address")) if isinstance(a, dict)), {})
    postal = text(address.get("postalCode"))
    gender = text(patient.get("gender"))
    return {
        "member_id": text(patient.get("id")),
        "birth_date": fhir_date(patient.get("birthDate")),
        "death_date": fhir_date(patient.get("deceasedDateTime")),
        "sex": _SEX.get(gender, gender) if gender is not None else None,
        "race_code": race,
        "zip_code": postal[:5] if postal else None,
        "state_code": text(address.get("state")),
        "dual_status_code": _latest_dual(patient),
    }


def _dual(code: Any) -> str | None:
    value = text(code)
    return value if value in DUAL_STATUS_CODES else None


def _latest_dual(resource: Json) -> str | None:
    """The last month's dual status among BFD ``dual_01``..``dual_12`` ("**" = no data → None)."""
    monthly = {tail(e.get("url")): extension_value(e) for e in extensions(resource)}
    for month in range(12, 0, -1):
        value = _dual(monthly.get(f"dual_{month:02d}"))
        if value is not None:
            return value
    return None


# ---- Coverage ------------------------------------------------------------------------------------------
def _months(start: str | None, end: str | None) -> list[str]:
    if not start or not re.match(r"^\d{4}-\d{2}", start):
        return []
    year, month = int(start[:4]), int(start[5:7])
    last = (int(end[:4]), int(end[5:7])) if end and re.match(r"^\d{4}-\d{2}", end) else (year, month)
    months: list[str] = []
    while (year, month) <= last and len(months) < 1200:
        months.append(f"{year:04d}-{month:02d}-01")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def coverage_plan(coverage: Json) -> str:
    """The Medicare part of a BFD Coverage (``Part A`` .. ``Part D``), else the plan/type code."""
    for entry in as_list(coverage.get("class")) + as_list(coverage.get("grouping")):
        if isinstance(entry, dict) and first_code(entry.get("type")) == "plan" and entry.get("value"):
            return str(entry["value"])
    return first_code(coverage.get("type")) or "unknown"


def _lob_from_source_of_payment(code: str | None) -> str | None:
    """PHDSC Source of Payment Typology: 1x Medicare (11x managed care), 2x Medicaid, 5x/6x private."""
    if not code:
        return None
    if code.startswith("11"):
        return "medicare_advantage"
    if code.startswith("1"):
        return "medicare_ffs"
    if code.startswith("2"):
        return "medicaid"
    if code.startswith(("5", "6")):
        return "commercial"
    if code.startswith("8"):
        return "self_pay"
    return "other"


def coverage_rows(
    coverage: Json,
    member_id: str | None,
    fullurls: dict[str, str],
    open_until: str | None,
    organizations: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Enrollment month rows of one Coverage, and the member attributes it carries (BFD Part A)."""
    values = {tail(e.get("url")): extension_value(e) for e in extensions(coverage)}
    year = text(values.get("rfrnc_yr"))
    attributes = None
    if any(k in values for k in ("orec", "crec", "esrd_ind")):
        attributes = {
            "member_id": member_id,
            "orec": text(values.get("orec")),
            "crec": text(values.get("crec")),
            "esrd": {"Y": True, "N": False}.get(text(values.get("esrd_ind")) or ""),
        }
    rows: list[dict[str, Any]] = []
    if year and year[:4].isdigit():
        plan = coverage_plan(coverage).lower()
        for month in range(1, 13):
            buyin = text(values.get(f"buyin{month:02d}")) or ""
            hmo = text(values.get(f"hmo_ind_{month:02d}")) or ""
            contract = text(values.get(f"ptdcntrct{month:02d}")) or ""
            flags = {
                "part_a": plan == "part a" and buyin in _BUYIN_PART_A,
                "part_b": plan == "part b" and buyin in _BUYIN_PART_B,
                "medicare_advantage": plan == "part c" and hmo in _MA_HMO_CODES,
                "part_d": plan == "part d" and bool(_PART_D_CONTRACT.match(contract)),
            }
            if not any(flags.values()):
                continue
            rows.append(
                {
                    "member_id": member_id,
                    "month": f"{year[:4]}-{month:02d}-01",
                    "payer": "medicare",
                    "product": None,
                    "line_of_business": None,
                    "dual_status_code": _dual(values.get(f"dual_{month:02d}")),
                    "_bfd": True,
                    **flags,
                }
            )
        return rows, attributes
    period = mapping(coverage.get("period"))
    start, end = fhir_date(period.get("start")), fhir_date(period.get("end"))
    payor = next((p for p in as_list(coverage.get("payor")) if isinstance(p, dict)), {})
    payor_id = reference_id(payor, fullurls)
    if str(payor.get("reference") or "").startswith(("Patient/", "RelatedPerson/")):
        payor_id = "self"
    payer = text(payor.get("display")) or (organizations or {}).get(payor_id or "") or payor_id or "unknown"
    type_code = first_code(coverage.get("type"))
    product = type_code or coverage_plan(coverage)
    for covered in _months(start, end or (max(start or "", open_until or "") or None)):
        rows.append(
            {
                "member_id": member_id,
                "month": covered,
                "payer": payer,
                "product": product,
                "line_of_business": _lob_from_source_of_payment(type_code),
                "dual_status_code": None,
                "_bfd": False,
                "part_a": None,
                "part_b": None,
                "medicare_advantage": None,
                "part_d": None,
            }
        )
    return rows, attributes


# ---- clinical ------------------------------------------------------------------------------------------
def _negation(resource: Json) -> tuple[bool, Any]:
    """Whether the resource records something not done, and the reason concept if any."""
    reason = None
    negated = resource.get("doNotPerform") is True or text(resource.get("status")) in _NEGATED_STATUSES
    for extension in as_list(resource.get("extension")) + as_list(resource.get("modifierExtension")):
        url = extension.get("url") or ""
        if ("doNotPerform" in url or "doNotPeform" in url) and extension.get("valueBoolean") is True:
            negated = True
        if url.endswith("notDoneReason"):
            negated = True
            reason = extension.get("valueCodeableConcept")
    if negated and reason is None:
        reason = resource.get("statusReason") or resource.get("statusReasonCodeableConcept")
    if reason is None:
        reason = next(iter(as_list(resource.get("reasonCode"))), None)
    return negated, reason


def _value(container: Json) -> dict[str, str | None]:
    quantity = container.get("valueQuantity")
    if isinstance(quantity, dict):
        return {
            "value_numeric": text(quantity.get("value")),
            "value_unit": text(quantity.get("code")) or text(quantity.get("unit")),
        }
    for key in ("valueInteger", "valueDecimal"):
        if key in container:
            return {"value_numeric": text(container[key])}
    concept = container.get("valueCodeableConcept")
    if concept is not None:
        found = codings(concept)
        if found:
            return {
                "value_code_system": text(found[0].get("system")),
                "value_code": text(found[0].get("code")),
            }
    if "valueBoolean" in container:
        return {"value_code": text(container["valueBoolean"])}
    return {}


_LATERALITY = frozenset({"7771000", "24028007", "51440002"})
"""SNOMED CT left, right and bilateral (qualifier values)."""


def _body_site(resource: Json) -> dict[str, str | None]:
    """A Condition's or Procedure's body site as the record's coded value: a SNOMED CT laterality coding
    (left, right, bilateral) of any ``bodySite`` when there is one, else the first coding."""
    found = [c for site in as_list(resource.get("bodySite")) for c in codings(site)]
    if not found:
        return {}
    lateral = [
        c
        for c in found
        if text(c.get("system")) == "http://snomed.info/sct" and text(c.get("code")) in _LATERALITY
    ]
    chosen = (lateral or found)[0]
    return {"value_code_system": text(chosen.get("system")), "value_code": text(chosen.get("code"))}


def _status(resource: Json) -> str | None:
    for field in ("clinicalStatus", "status"):
        value = resource.get(field)
        if isinstance(value, dict):
            return first_code(value)
        if value is not None:
            return text(value)
    return None


def _category(resource: Json) -> str | None:
    if resource.get("resourceType") == "Encounter":
        klass = resource.get("class")
        return text(klass.get("code")) if isinstance(klass, dict) else None
    for category in as_list(resource.get("category")):
        if isinstance(category, dict):
            code = first_code(category)
            if code:
                return code
        elif category is not None:
            return text(category)
    return None


def _code_concept(resource: Json, medications: dict[str, Json], fullurls: dict[str, str]) -> Any:
    resource_type = resource.get("resourceType")
    if resource_type == "Encounter":
        return {"coding": [c for t in as_list(resource.get("type")) for c in codings(t)]}
    field = _CODE_FIELD.get(resource_type or "", "code")
    concept = resource.get(field)
    if concept is None and "medicationReference" in resource:
        target = reference_id(resource["medicationReference"], fullurls) or ""
        contained = {c.get("id"): c for c in as_list(resource.get("contained")) if isinstance(c, dict)}
        medication = contained.get(target.lstrip("#")) or medications.get(target)
        concept = medication.get("code") if medication else None
    if isinstance(concept, dict) and "concept" in concept:  # R5-style CodeableReference
        concept = concept["concept"]
    return concept


def _performer(resource: Json, fullurls: dict[str, str]) -> tuple[str | None, str | None]:
    """(NPI written on the reference, referenced resource id) of who performed or requested it."""
    candidates: list[Any] = []
    for field in ("performer", "requester", "recorder", "asserter"):
        for entry in as_list(resource.get(field)):
            candidates.append(entry.get("actor", entry) if isinstance(entry, dict) else entry)
    for participant in as_list(resource.get("participant")):
        if isinstance(participant, dict):
            candidates.append(participant.get("individual"))
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        identifier = mapping(candidate.get("identifier"))
        if identifier.get("system") == NPI_SYSTEM and is_npi(text(identifier.get("value"))):
            return text(identifier.get("value")), None
        if isinstance(candidate.get("reference"), str):
            return None, reference_id(candidate, fullurls)
    return None, None


def clinical_rows(
    resource: Json, member_id: str | None, medications: dict[str, Json], fullurls: dict[str, str]
) -> list[dict[str, Any]]:
    """Long-form rows: every coding of the code × (the resource, then each component)."""
    resource_type = text(resource.get("resourceType")) or ""
    mapped_type = resource_type if resource_type in CLINICAL_TYPES else "Other"
    start_prefix, end_prefix = _TIMING_PREFIX.get(resource_type, (None, None))
    if start_prefix:
        start, end = period_bounds(resource, start_prefix)
    elif isinstance(resource.get("period"), dict):
        start, end = (
            fhir_instant(resource["period"].get("start")),
            fhir_instant(resource["period"].get("end")),
        )
    else:
        start = end = None
    if end_prefix:
        abated_start, abated_end = period_bounds(resource, end_prefix)
        end = abated_end or abated_start
    recorded_field = _RECORDED_FIELD.get(resource_type)
    recorded = fhir_instant(resource.get(recorded_field)) if recorded_field else None
    for extension in extensions(resource, "qicore-recorded"):
        recorded = recorded or fhir_instant(extension_value(extension))
    if resource_type in ("MedicationRequest", "ServiceRequest", "DeviceRequest") and start is None:
        start = recorded
    negated, reason = _negation(resource)
    reason_codings = codings(reason)
    encounter = resource.get("encounter") or resource.get("context")
    encounter_ref = reference_id(encounter, fullurls) if isinstance(encounter, dict) else None
    if resource_type == "Encounter":
        disposition = (resource.get("hospitalization") or {}).get("dischargeDisposition")
        value = {}
        found = codings(disposition)
        if found:
            value = {
                "value_code_system": text(found[0].get("system")),
                "value_code": text(found[0].get("code")),
            }
    elif resource_type in ("Condition", "Procedure"):
        # No value[x]: the value columns carry the body site (laterality), which eCQMs read (CMS125).
        value = _body_site(resource)
    else:
        value = _value(resource)
    npi, performer_ref = _performer(resource, fullurls)
    base: dict[str, Any] = {
        "performer_npi": npi,
        # Resolved against Practitioner resources once every file is read (see apmkit.ingest.fhir).
        "_performer": performer_ref,
        "record_id": record_id(member_id, resource_type, text(resource.get("id"))),
        "member_id": member_id,
        "resource_type": mapped_type,
        "status": _status(resource),
        "category": _category(resource),
        "effective_start": start,
        "effective_end": end,
        "recorded_at": recorded,
        "encounter_id": record_id(member_id, "Encounter", encounter_ref),
        "negated": negated,
        "reason_code_system": text(reason_codings[0].get("system")) if reason_codings else None,
        "reason_code": text(reason_codings[0].get("code")) if reason_codings else None,
    }
    concept = _code_concept(resource, medications, fullurls)
    resource_codings = codings(concept) or [{}]
    rows = []
    components = [c for c in as_list(resource.get("component")) if isinstance(c, dict)]
    for component_index, component in enumerate([None, *components]):
        component_values: dict[str, str | None] = value if component is None else _value(component)
        component_coding = codings(component.get("code"))[:1] if component is not None else []
        for coding_index, coding in enumerate(resource_codings):
            row = {
                **base,
                "coding_index": str(coding_index),
                "component_index": str(component_index),
                "code_system": text(coding.get("system")),
                "code": text(coding.get("code")),
                "code_display": text(coding.get("display")),
                **component_values,
            }
            if component_coding:
                row["component_code_system"] = text(component_coding[0].get("system"))
                row["component_code"] = text(component_coding[0].get("code"))
            rows.append(row)
    return rows
