"""Da Vinci Member Attribution (ATR) List export: one FHIR R4 ``Group`` per contract and entity.

Structure from the HL7 Da Vinci ATR implementation guide (STU2, profile ``atr-group``): ``Group`` of
``type`` person, ``actual`` true, the ``ext-contractValidityPeriod`` and ``ext-attributionListStatus``
extensions on the group, and on each member ``ext-changeType`` (new, changed, nochange, dropped) and
``ext-attributedProvider``. Members are referenced by identifier, so the export stands alone without
Patient resources. This module renders already-computed results (an output edge), hence plain Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

import pyarrow as pa

ATR = "http://hl7.org/fhir/us/davinci-atr/StructureDefinition"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
ID_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
CHANGE_CODES = {"added": "new", "transferred": "changed", "dropped": "dropped"}


def _provider_reference(tin: str | None, npi: str | None) -> dict[str, Any] | None:
    if npi:
        return {"type": "Practitioner", "identifier": {"system": NPI_SYSTEM, "value": npi}}
    if tin:
        return {"type": "Organization", "identifier": {"system": TIN_SYSTEM, "value": tin}}
    return None


def _safe_id(text: str) -> str:
    # FHIR ids allow [A-Za-z0-9-.]{1,64}.
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def atr_groups(
    attribution: pa.Table,
    *,
    period_start: dt.date,
    period_end: dt.date,
    changes: pa.Table | None = None,
    member_system: str = "urn:apmkit:member-id",
    managing_entity: str | None = None,
) -> list[dict[str, Any]]:
    """Build the ATR Group resources for the attributed members of a run.

    Parameters
    ----------
    attribution
        Rows of :data:`apmkit.attribution.outputs.ATTRIBUTION` (only attributed rows are listed).
    period_start, period_end
        Contract validity period.
    changes
        Optional :data:`apmkit.attribution.outputs.CHANGES` rows against the previous list: members are
        marked new/changed, and dropped members are listed as inactive.
    member_system
        Identifier system of ``member_id`` (e.g. ``http://hl7.org/fhir/sid/us-mbi`` for MBIs).
    managing_entity
        Display name of the payer that manages the list.
    """
    change_by_member: dict[tuple[str, str], dict[str, Any]] = {}
    if changes is not None:
        for row in changes.to_pylist():
            change_by_member[(row["contract_id"], row["member_id"])] = row
    members_by_group: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    as_of_by_contract: dict[str, dt.date] = {}
    for row in attribution.to_pylist():
        if not row["attributed"]:
            continue
        contract, entity = row["contract_id"], row["entity_id"] or row["tin"] or ""
        as_of_by_contract[contract] = row["as_of_date"]
        change = change_by_member.get((contract, row["member_id"]))
        change_type = CHANGE_CODES.get(change["change"], "nochange") if change else "nochange"
        members_by_group[(contract, entity)].append(
            _member(
                row["member_id"],
                row["tin"],
                row["npi"],
                change_type,
                False,
                period_start,
                period_end,
                member_system,
            )
        )
    for (contract, member_id), change in change_by_member.items():
        if change["change"] != "dropped":
            continue
        entity = change["previous_entity_id"] or change["previous_tin"] or ""
        members_by_group[(contract, entity)].append(
            _member(
                member_id,
                change["previous_tin"],
                change["previous_npi"],
                "dropped",
                True,
                period_start,
                period_end,
                member_system,
            )
        )
    groups = []
    for (contract, entity), members in sorted(members_by_group.items()):
        as_of = as_of_by_contract.get(contract)
        status = "final" if as_of is not None and as_of >= period_end else "open"
        group: dict[str, Any] = {
            "resourceType": "Group",
            "id": _safe_id(f"{contract}-{entity}"),
            "meta": {"profile": [f"{ATR}/atr-group"]},
            "extension": [
                {
                    "url": f"{ATR}/ext-contractValidityPeriod",
                    "valuePeriod": {"start": period_start.isoformat(), "end": period_end.isoformat()},
                },
                {"url": f"{ATR}/ext-attributionListStatus", "valueCode": status},
            ],
            "identifier": [_entity_identifier(entity)],
            "active": True,
            "type": "person",
            "actual": True,
            "name": f"{contract} attribution list: {entity}"
            + (f" as of {as_of.isoformat()}" if as_of else ""),
            "quantity": sum(1 for m in members if not m["inactive"]),
            "member": sorted(members, key=lambda m: m["entity"]["identifier"]["value"]),
        }
        if managing_entity:
            group["managingEntity"] = {"display": managing_entity}
        groups.append(group)
    return groups


def _entity_identifier(entity: str) -> dict[str, Any]:
    if re.fullmatch(r"[0-9]{9}", entity):
        return {
            "use": "official",
            "type": {"coding": [{"system": ID_TYPE_SYSTEM, "code": "TAX"}]},
            "system": TIN_SYSTEM,
            "value": entity,
        }
    return {"system": "urn:apmkit:entity-id", "value": entity}


def _member(
    member_id: str,
    tin: str | None,
    npi: str | None,
    change_type: str,
    inactive: bool,
    start: dt.date,
    end: dt.date,
    member_system: str,
) -> dict[str, Any]:
    extension: list[dict[str, Any]] = [{"url": f"{ATR}/ext-changeType", "valueCode": change_type}]
    provider = _provider_reference(tin, npi)
    if provider is not None:
        extension.append({"url": f"{ATR}/ext-attributedProvider", "valueReference": provider})
    return {
        "extension": extension,
        "entity": {"type": "Patient", "identifier": {"system": member_system, "value": member_id}},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "inactive": inactive,
    }


def atr_bundle(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A collection Bundle of the groups (one JSON document for the whole export)."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": g} for g in groups]}
