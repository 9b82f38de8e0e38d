"""ExplanationOfBenefit → ``medical_claims`` lines and ``pharmacy_claims`` fills.

Handles the Blue Button 2.0 / BFD profiles (v1 and v2, the eight CCW claim types) and CARIN Blue Button
(C4BB) EOBs. The mapping is documented in docs/formats-fhir-synthea.md ("ExplanationOfBenefit"); the
rules that need a decision are:

- **claim type**: the BFD ``eob-type`` coding, else the NCH claim type code, else the CARIN
  ``claim-type`` (+ institutional ``subType``); anything else is written as given and quarantined by
  conformance (``claim_type: unknown code``).
- **claim id**: the ``clm_id``/``pde_id`` identifier (the CCW claim id, so FHIR and RIF/CCLF loads of
  the same claim agree), else the CARIN unique-claim-id identifier, else the resource id.
- **amounts**: each line takes its own adjudication amounts (allowed = eligible / ``line_alowd_chrg_amt``,
  paid = benefit / ``line_nch_pmt_amt``, charge = submitted / ``line_sbmtd_chrg_amt`` /
  ``rev_cntr_tot_chrg_amt``). When no line of the claim carries an amount of a kind, the claim-level
  amount (``payment.amount``, ``total``) goes on the claim's first line and the others stay empty, so that
  summing lines always gives the claim total once (Part A claims are paid at the header).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from apmkit.ingest.codes import NCH_CLAIM_TYPES
from apmkit.ingest.fhir_common import (
    NPI_SYSTEM,
    Json,
    as_list,
    codings,
    digits_only,
    extension_value,
    fhir_date,
    first_code,
    first_system_code,
    is_npi,
    is_tin,
    mapping,
    money,
    reference_id,
    sequence_key,
    strip_dot,
    tail,
    text,
)

INSTITUTIONAL = ("inpatient", "outpatient", "snf", "hha", "hospice")
PHARMACY = "pharmacy"

# BFD eob-type codes.
_EOB_TYPES = {
    "CARRIER": "professional",
    "INPATIENT": "inpatient",
    "OUTPATIENT": "outpatient",
    "SNF": "snf",
    "HHA": "hha",
    "HOSPICE": "hospice",
    "DME": "dme",
    "PDE": PHARMACY,
}
_CARIN_TYPES = {
    "professional": "professional",
    "pharmacy": PHARMACY,
    "vision": "professional",
    "oral": "professional",
}

_ALLOWED_VARIABLES = ("line_alowd_chrg_amt", "tot_rx_cst_amt")
_PAID_VARIABLES = ("line_nch_pmt_amt", "cvrd_d_plan_pd_amt")
_CHARGE_VARIABLES = ("line_sbmtd_chrg_amt", "rev_cntr_tot_chrg_amt")
_GENERIC = {"eligible": "allowed", "benefit": "paid", "submitted": "charge", "drugcost": "allowed"}
_HCPCS_SYSTEMS = (
    "hcpcs_cd",
    "codesystem/hcpcs",
    "go/cpt",
    "HCPCS",
    "2.16.840.1.113883.6.285",
    "2.16.840.1.113883.6.12",
)
_MAX_DX = 25
_MAX_PX = 25


def blue_button_values(eob: Json) -> dict[str, Any]:
    """Blue Button variable name → value, gathered from every place BFD v1/v2 put them.

    Extensions (``url``), type codings and facility extensions (``system``), and supportingInfo /
    information entries (the variable URL is a category code). CARIN supportingInfo categories
    (``typeofbill``, ``admissionperiod``, ``drg`` ...) are kept under ``c4bb:<code>``.
    """
    values: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name and value is not None and name not in values:
            values[name] = value

    for extension in as_list(eob.get("extension")):
        put(tail(extension.get("url")), extension_value(extension))
    facility = mapping(eob.get("facility"))
    for extension in as_list(facility.get("extension")):
        put(tail(extension.get("url")), extension_value(extension))
    for coding in codings(eob.get("type")):
        put(tail(coding.get("system")), text(coding.get("code")))
    for info in as_list(eob.get("supportingInfo")) + as_list(eob.get("information")):
        if not isinstance(info, dict):
            continue
        value: Any = None
        if info.get("code") is not None:
            value = first_code(info.get("code"))
        elif "timingDate" in info:
            value = info["timingDate"]
        elif "timingPeriod" in info:
            value = info["timingPeriod"]
        elif "valueQuantity" in info:
            value = info["valueQuantity"].get("value")
        else:
            for key, candidate in info.items():
                if key.startswith("value"):
                    value = candidate
                    break
        for coding in codings(info.get("category")):
            code = text(coding.get("code")) or ""
            system = coding.get("system") or ""
            if "bluebutton.cms.gov" in code or system.endswith("codesystem/information"):
                put(tail(code), value)
            else:
                put(f"c4bb:{code}", value)
    return values


def claim_type(eob: Json) -> str:
    concept = eob.get("type")
    eob_type = first_system_code(concept, "codesystem/eob-type")
    if eob_type:
        return _EOB_TYPES.get(eob_type.upper(), eob_type)
    nch = first_system_code(concept, "nch_clm_type_cd")
    if nch:
        return NCH_CLAIM_TYPES.get(nch, f"nch type {nch}")
    carin = first_system_code(concept, "CodeSystem/claim-type")
    if carin == "institutional":
        sub = first_code(eob.get("subType")) or ""
        return {"inpatient": "inpatient", "outpatient": "outpatient"}.get(sub.lower(), f"institutional {sub}")
    if carin:
        return _CARIN_TYPES.get(carin, carin)
    return first_code(concept) or "missing"


def claim_id(eob: Json) -> str | None:
    identifiers = [i for i in as_list(eob.get("identifier")) if isinstance(i, dict)]
    for suffix in ("variables/clm_id", "variables/pde_id"):
        for identifier in identifiers:
            if (identifier.get("system") or "").endswith(suffix) and identifier.get("value"):
                return text(identifier["value"])
    for identifier in identifiers:
        if first_code(identifier.get("type")) == "uc" and "claim-group" not in (
            identifier.get("system") or ""
        ):
            return text(identifier.get("value"))
    return text(eob.get("id"))


def _identifier_values(party: Any, contained: dict[str, Json]) -> list[tuple[str, str, str | None]]:
    """(system, value, type code) of a provider reference, following ``#contained`` references."""
    if not isinstance(party, dict):
        return []
    found: list[tuple[str, str, str | None]] = []
    ref = party.get("reference")
    if isinstance(ref, str) and ref.startswith("#") and ref[1:] in contained:
        for identifier in as_list(contained[ref[1:]].get("identifier")):
            value = text(identifier.get("value"))
            if value:
                found.append((identifier.get("system") or "", value, first_code(identifier.get("type"))))
    identifier = party.get("identifier")
    if isinstance(identifier, dict) and text(identifier.get("value")):
        found.append(
            (
                identifier.get("system") or "",
                text(identifier["value"]) or "",
                first_code(identifier.get("type")),
            )
        )
    return found


def _npi_of(values: list[tuple[str, str, str | None]]) -> tuple[str | None, bool]:
    """The NPI among identifiers, and whether an NPI-labelled value had to be dropped (not 10 digits)."""
    dropped = False
    for system, value, type_code in values:
        labelled = system == NPI_SYSTEM or system.endswith("npi_num") or (type_code or "").lower() == "npi"
        if labelled:
            if is_npi(value):
                return value, dropped
            dropped = True
    return None, dropped


def _tin_of(values: list[tuple[str, str, str | None]]) -> str | None:
    for system, value, type_code in values:
        if (
            (type_code or "").upper() == "TAX"
            or system.endswith("tax_num")
            or system.endswith("2.16.840.1.113883.4.4")
        ):
            cleaned = digits_only(value)
            if is_tin(cleaned):
                return cleaned
    return None


def _ccn_of(values: list[tuple[str, str, str | None]]) -> str | None:
    for system, value, type_code in values:
        if (type_code or "").upper() == "PRN" or system.endswith("prvdr_num"):
            return value
    return None


def _diagnoses(eob: Json, issues: Counter[str]) -> tuple[str | None, list[str]]:
    """Admitting diagnosis and the ordered diagnosis list (principal first)."""
    principal: list[str] = []
    others: list[str] = []
    admitting: str | None = None
    entries = sorted(
        (d for d in as_list(eob.get("diagnosis")) if isinstance(d, dict)),
        key=sequence_key,
    )
    for entry in entries:
        concept = entry.get("diagnosisCodeableConcept")
        code = strip_dot(
            first_system_code(concept, "icd-10-cm")
            or first_system_code(concept, "icd-10", "icd-9-cm")
            or first_code(concept)
        )
        if not code:
            continue
        kinds = {c.get("code") for t in as_list(entry.get("type")) for c in codings(t)}
        if "admitting" in kinds and admitting is None:
            admitting = code
        if "principal" in kinds and not principal:
            principal.append(code)
        elif kinds - {"admitting"} or not kinds:
            others.append(code)
    ordered = principal + others
    if len(ordered) > _MAX_DX:
        issues["diagnoses beyond the 25th were not loaded"] += 1
    return admitting, ordered[:_MAX_DX]


def _procedures(eob: Json) -> list[str]:
    entries = sorted(
        (p for p in as_list(eob.get("procedure")) if isinstance(p, dict)),
        key=sequence_key,
    )
    codes = []
    for entry in entries:
        concept = entry.get("procedureCodeableConcept")
        code = strip_dot(first_system_code(concept, "ICD10", "icd-10-pcs", "icd-10") or first_code(concept))
        if code:
            codes.append(code)
    return codes[:_MAX_PX]


def _classify_adjudication(adjudication: Json) -> str | None:
    """allowed / paid / charge for one adjudication entry, or None."""
    found = codings(adjudication.get("category"))
    variables = [
        tail(text(c.get("code"))) for c in found if "bluebutton.cms.gov" in (text(c.get("code")) or "")
    ]
    if variables:
        for name in variables:
            if name in _ALLOWED_VARIABLES:
                return "allowed"
            if name in _PAID_VARIABLES:
                return "paid"
            if name in _CHARGE_VARIABLES:
                return "charge"
        return None
    for coding in found:
        kind = _GENERIC.get(text(coding.get("code")) or "")
        if kind:
            return kind
    return None


def _line_amounts(item: Json) -> dict[str, str]:
    amounts: dict[str, str] = {}
    for adjudication in as_list(item.get("adjudication")):
        if not isinstance(adjudication, dict) or adjudication.get("amount") is None:
            continue
        kind = _classify_adjudication(adjudication)
        value = money(adjudication.get("amount"))
        if kind and value is not None and kind not in amounts:
            amounts[kind] = value
    return amounts


def _header_amounts(eob: Json, bb: dict[str, Any]) -> dict[str, str]:
    amounts: dict[str, str] = {}
    payment = mapping(eob.get("payment"))
    if payment.get("amount") is not None:
        amounts["paid"] = money(payment["amount"]) or ""
    elif bb.get("clm_pmt_amt") is not None:
        amounts["paid"] = text(bb["clm_pmt_amt"]) or ""
    for total in as_list(eob.get("total")):
        if isinstance(total, dict) and total.get("amount") is not None:
            kind = _classify_adjudication(total) or _GENERIC.get(first_code(total.get("category")) or "")
            variables = {tail(text(c.get("code"))) for c in codings(total.get("category"))}
            if "clm_tot_chrg_amt" in variables:
                kind = "charge"
            if kind and kind not in amounts:
                amounts[kind] = money(total["amount"]) or ""
    if "charge" not in amounts and eob.get("totalCost") is not None:
        amounts["charge"] = money(eob["totalCost"]) or ""
    return {k: v for k, v in amounts.items() if v}


def _care_team(
    eob: Json, contained: dict[str, Json]
) -> dict[Any, tuple[str, list[tuple[str, str, str | None]], str | None]]:
    """careTeam sequence → (role, identifiers, CMS specialty code)."""
    team = {}
    for member in as_list(eob.get("careTeam")):
        if not isinstance(member, dict):
            continue
        role = (first_code(member.get("role")) or "").lower()
        specialty = first_system_code(member.get("qualification"), "prvdr_spclty")
        team[member.get("sequence")] = (
            role,
            _identifier_values(member.get("provider"), contained),
            specialty,
        )
    return team


def _bill_type(bb: dict[str, Any]) -> str | None:
    full = text(bb.get("c4bb:typeofbill"))
    if full and len(full) >= 3:
        return full[-3:]
    facility, classification = text(bb.get("clm_fac_type_cd")), text(bb.get("clm_srvc_clsfctn_type_cd"))
    frequency = text(bb.get("clm_freq_cd")) or full
    if facility and classification and frequency:
        return f"{facility}{classification}{frequency}"
    return None


def _period_part(value: Any, part: str) -> str | None:
    return fhir_date(value.get(part)) if isinstance(value, dict) else None


def _adjustment(eob: Json, bb: dict[str, Any]) -> tuple[str, str | None]:
    related = None
    for entry in as_list(eob.get("related")):
        if not isinstance(entry, dict):
            continue
        claim = entry.get("claim") or {}
        related = reference_id(claim) if isinstance(claim, dict) else None
        if related:
            break
    frequency = text(bb.get("clm_freq_cd"))
    if eob.get("status") == "cancelled" or frequency == "8":
        return "void", related
    if related or frequency == "7":
        return "adjustment", related
    return "original", None


def eob_rows(
    eob: Json, member_id: str | None, issues: Counter[str]
) -> tuple[str, list[dict[str, str | None]]]:
    """Map one EOB to ``("medical_claims" | "pharmacy_claims", rows)``; values stay text for conformance."""
    bb = blue_button_values(eob)
    kind = claim_type(eob)
    contained = {str(c.get("id")): c for c in as_list(eob.get("contained")) if isinstance(c, dict)}
    team = _care_team(eob, contained)
    is_blue_button = any("bluebutton.cms.gov" in (c.get("system") or "") for c in codings(eob.get("type")))
    billable = mapping(eob.get("billablePeriod"))
    from_date, thru_date = fhir_date(billable.get("start")), fhir_date(billable.get("end"))
    adjustment_type, original = _adjustment(eob, bb)
    processed = bb.get("fi_clm_proc_dt") or bb.get("nch_wkly_proc_dt")
    payment = mapping(eob.get("payment"))
    common: dict[str, str | None] = {
        "claim_id": claim_id(eob),
        "member_id": member_id,
        "payer": (text((eob.get("insurer") or {}).get("display")) or reference_id(eob.get("insurer")))
        if isinstance(eob.get("insurer"), dict)
        else None,
        "adjustment_type": adjustment_type,
        "original_claim_id": original,
        "processed_date": fhir_date(processed if kind != PHARMACY else payment.get("date") or processed),
    }
    items = sorted(
        (i for i in as_list(eob.get("item")) if isinstance(i, dict)),
        key=sequence_key,
    ) or [{"sequence": 1}]
    line_amounts = [_line_amounts(item) for item in items]
    header = _header_amounts(eob, bb)
    for kind_name in ("allowed", "paid", "charge"):
        if kind_name in header and not any(kind_name in amounts for amounts in line_amounts):
            line_amounts[0][kind_name] = header[kind_name]

    def npi_for(roles: tuple[str, ...], sequences: list[Any] | None = None) -> tuple[str | None, str | None]:
        candidates = [team[s] for s in (sequences or []) if s in team] + list(team.values())
        for role, identifiers, specialty in candidates:
            if role in roles:
                npi, dropped = _npi_of(identifiers)
                if dropped:
                    issues["careTeam NPIs that were not 10 digits were left empty"] += 1
                if npi:
                    return npi, specialty
        return None, None

    if kind == PHARMACY:
        item = items[0]
        amounts = line_amounts[0]
        product = _product(item)
        ndc = first_system_code(product, "sid/ndc") or first_code(product)
        prescriber, _ = npi_for(("prescribing", "primary", "prescriber"))
        facility = mapping(eob.get("facility"))
        pharmacy, _ = _npi_of(
            _identifier_values(facility, contained) + _identifier_values(eob.get("organization"), contained)
        )
        quantity = mapping(item.get("quantity"))
        # Blue Button v1 puts days supply on the quantity; v2 and CARIN in supportingInfo.
        days = bb.get("c4bb:dayssupply") or bb.get("days_suply_num")
        for extension in as_list(quantity.get("extension")):
            if tail(extension.get("url")) == "days_suply_num" and days is None:
                days = extension_value(extension)
        row = {
            **common,
            "claim_line_number": "1",
            "line_of_business": "medicare_part_d" if is_blue_button else None,
            "dispensing_date": fhir_date(item.get("servicedDate")) or from_date,
            "ndc": digits_only(ndc),
            "quantity": text(quantity.get("value")),
            "days_supply": text(days),
            "prescriber_npi": prescriber,
            "pharmacy_npi": pharmacy,
            "allowed_amount": amounts.get("allowed"),
            "paid_amount": amounts.get("paid"),
        }
        return "pharmacy_claims", [row]

    admitting, diagnoses = _diagnoses(eob, issues)
    procedures = _procedures(eob)
    provider_ids = _identifier_values(eob.get("provider"), contained) + _identifier_values(
        eob.get("organization"), contained
    )
    billing_npi, dropped = _npi_of(provider_ids)
    if dropped and billing_npi is None:
        issues["billing provider NPIs that were not 10 digits were left empty"] += 1
    tin = _tin_of(provider_ids) or next((t for _, ids, _ in team.values() if (t := _tin_of(ids))), None)
    attending, _ = npi_for(("attending",))
    operating, _ = npi_for(("operating",))
    admission = bb.get("c4bb:admissionperiod") or eob.get("hospitalization")
    drg = text(bb.get("clm_drg_cd") or bb.get("c4bb:drg"))
    header_row: dict[str, str | None] = {
        **common,
        "claim_type": kind,
        "line_of_business": "medicare_ffs" if is_blue_button else None,
        "claim_from_date": from_date,
        "claim_thru_date": thru_date,
        "admission_date": _period_part(admission, "start"),
        "discharge_date": _period_part(admission, "end") if kind in ("inpatient", "snf") else None,
        "billing_npi": billing_npi,
        "billing_tin": tin,
        "attending_npi": attending,
        "operating_npi": operating,
        "facility_ccn": _ccn_of(provider_ids),
        "bill_type": _bill_type(bb),
        "admit_source": text(bb.get("clm_src_ip_admsn_cd") or bb.get("c4bb:pointoforigin")),
        "discharge_status": _zfill(text(bb.get("ptnt_dschrg_stus_cd") or bb.get("c4bb:discharge-status")), 2),
        "ms_drg": _zfill(drg, 3),
        "admitting_dx": admitting,
    }
    for i, code in enumerate(diagnoses, start=1):
        header_row[f"dx_{i}"] = code
    for i, code in enumerate(procedures, start=1):
        header_row[f"px_{i}"] = code

    rows = []
    for item, amounts in zip(items, line_amounts, strict=True):
        rendering, specialty = npi_for(
            ("performing", "rendering", "primary"), as_list(item.get("careTeamSequence"))
        )
        serviced = mapping(item.get("servicedPeriod"))
        service_date = fhir_date(item.get("servicedDate")) or fhir_date(serviced.get("start")) or from_date
        modifiers = [
            code
            for modifier in as_list(item.get("modifier"))
            for coding in codings(modifier)
            if any(s in (coding.get("system") or "") for s in _HCPCS_SYSTEMS)
            or "modifier" in (coding.get("system") or "")
            for code in [text(coding.get("code"))]
            if code
        ]
        revenue = first_system_code(item.get("revenue"), "variables/rev_cntr")
        if revenue is None:
            nubc = first_system_code(item.get("revenue"), "RevenueCodes", "revenue-codes")
            revenue = nubc if nubc and nubc.isdigit() else None
        quantity = mapping(item.get("quantity"))
        row = {
            **header_row,
            "claim_line_number": text(item.get("sequence")),
            "service_date": service_date,
            "service_end_date": fhir_date(item.get("servicedDate"))
            or fhir_date(serviced.get("end"))
            or service_date,
            "rendering_npi": rendering,
            "rendering_specialty": specialty,
            "place_of_service": first_system_code(
                item.get("locationCodeableConcept"),
                "line_place_of_srvc_cd",
                "place-of-service-codes/Place_of_Service_Code_Set",
                "CMSPlaceofServiceCodes",
            )
            or first_code(item.get("locationCodeableConcept")),
            "revenue_code": _zfill(revenue, 4),
            "hcpcs_code": first_system_code(_product(item), *_HCPCS_SYSTEMS),
            "units": text(quantity.get("value")),
            "charge_amount": amounts.get("charge"),
            "allowed_amount": amounts.get("allowed"),
            "paid_amount": amounts.get("paid"),
        }
        for i, code in enumerate(modifiers[:4], start=1):
            row[f"hcpcs_modifier_{i}"] = code
        rows.append(row)
    return "medical_claims", rows


def _product(item: Json) -> Any:
    # Blue Button v1 (STU3 shapes) names the element `service`; R4 renamed it `productOrService`.
    return item.get("productOrService") or item.get("service")


def _zfill(code: str | None, width: int) -> str | None:
    return code.zfill(width) if code and code.isdigit() and len(code) < width else code
