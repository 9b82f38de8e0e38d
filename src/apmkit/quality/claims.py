"""Claims-based quality: claims as clinical facts, all-cause readmission and the AHRQ PQI composite.

- :func:`claims_as_clinical` lets the eCQMs use claims together with clinical data: each claim line becomes
  an ``Encounter`` and a ``Procedure`` record (its CPT/HCPCS code on its service dates), each diagnosis a
  ``Condition`` record (ICD-10-CM, active on the service dates) and each ICD-10-PCS code a ``Procedure``.
- :func:`all_cause_readmission` — index inpatient stays discharged alive in the period and whether the
  member was admitted again within 30 days (the claims outcome of the hospital-wide readmission measure,
  without CMS's planned-readmission algorithm and risk adjustment).
- :func:`pqi_admissions` — admissions for ambulatory-care-sensitive conditions (AHRQ Prevention Quality
  Indicators in the PQI 90 overall composite) by principal diagnosis and age.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir

from apmkit.quality.valuesets import CPT, HCPCS, ICD10CM, ICD10PCS
from apmkit.schemas import CLINICAL
from apmkit.schemas.canonical import DX_COLUMNS, PX_COLUMNS

DIED = "20"
LEFT_AGAINST_MEDICAL_ADVICE = "07"
TRANSFERRED_TO_ACUTE_HOSPITAL = "02"
TRANSFER_ADMIT_SOURCES = ("4", "5", "6")
"""Point-of-origin codes of a transfer from another hospital or facility (excluded from PQI numerators)."""


def _code_system(code: ir.StringValue) -> ir.StringValue:
    # HCPCS level II codes start with a letter; CPT codes (including category II/III) start with a digit.
    return ibis.ifelse(code.re_search("^[A-Z]"), HCPCS, CPT)


def claims_as_clinical(medical_claims: ibis.Table) -> ibis.Table:
    """Medical claims as rows of the canonical ``clinical`` table (see the module docstring).

    Record ids are ``Claim/<claim_id>/<line>`` (lines) and ``Claim/<claim_id>/dx<n>``/``px<n>`` (codes) so
    that evidence points back at the claim.
    """
    c = medical_claims
    start = ibis.coalesce(c.service_date, c.claim_from_date, c.admission_date).cast("timestamp")
    end = ibis.coalesce(c.service_end_date, c.claim_thru_date, c.discharge_date, c.service_date).cast(
        "timestamp"
    )
    inpatient = c.claim_type.isin(["inpatient", "snf"])
    base = {
        "coding_index": ibis.literal(0, type="int32"),
        "component_index": ibis.literal(0, type="int32"),
        "member_id": c.member_id,
        "effective_start": start,
        "effective_end": end,
        "performer_npi": ibis.coalesce(c.rendering_npi, c.attending_npi, c.billing_npi),
        "source_format": ibis.literal("claims"),
        "source_file": c.source_file,
        "source_line": c.source_line,
    }
    line_id = "Claim/" + c.claim_id + "/" + c.claim_line_number.cast("string")
    coded_lines = c.filter(c.hcpcs_code.notnull() & (c.hcpcs_code != ""))
    pieces = []
    for resource_type, status in (("Encounter", "finished"), ("Procedure", "completed")):
        pieces.append(
            coded_lines.select(
                record_id=ibis.literal(resource_type + "/") + line_id,
                resource_type=ibis.literal(resource_type),
                status=ibis.literal(status),
                category=ibis.ifelse(inpatient, "IMP", "AMB"),
                code_system=_code_system(coded_lines.hcpcs_code),
                code=coded_lines.hcpcs_code,
                **base,
            )
        )
    # The window is a column first: ibis cannot compile a filter on a window expression for PySpark.
    firsts = c.mutate(_first_line=c.claim_line_number.min().over(group_by=c.claim_id))
    headers = firsts.filter(firsts.claim_line_number == firsts._first_line).drop("_first_line")
    # One unnest per code family instead of 25 unions each: a deep union tree overwhelms SQL generation.
    for kind, prefix, columns, resource_type, status, category, system in (
        ("dx", "Condition", DX_COLUMNS, "Condition", "active", "encounter-diagnosis", ICD10CM),
        ("px", "Procedure", PX_COLUMNS, "Procedure", "completed", "claim", ICD10PCS),
    ):
        codes = ibis.array(
            [
                ibis.struct({"position": ibis.literal(i, type="int32"), "code": headers[col]})
                for i, col in enumerate(columns, 1)
            ]
        )
        long = headers.mutate(_code=codes).unnest("_code")
        long = long.filter(long._code.code.notnull() & (long._code.code != ""))
        pieces.append(
            long.select(
                record_id=f"{prefix}/Claim/"
                + long.claim_id
                + f"/{kind}"
                + long._code.position.cast("string"),
                resource_type=ibis.literal(resource_type),
                status=ibis.literal(status),
                category=ibis.literal(category),
                code_system=ibis.literal(system),
                code=long._code.code,
                coding_index=ibis.literal(0, type="int32"),
                component_index=ibis.literal(0, type="int32"),
                member_id=long.member_id,
                effective_start=ibis.coalesce(
                    long.service_date, long.claim_from_date, long.admission_date
                ).cast("timestamp"),
                effective_end=ibis.coalesce(
                    long.service_end_date, long.claim_thru_date, long.discharge_date, long.service_date
                ).cast("timestamp"),
                performer_npi=ibis.coalesce(long.rendering_npi, long.attending_npi, long.billing_npi),
                source_format=ibis.literal("claims"),
                source_file=long.source_file,
                source_line=long.source_line,
            )
        )
    result = pieces[0]
    for piece in pieces[1:]:
        result = result.union(piece, distinct=False)
    return CLINICAL.select_from(result)


def inpatient_stays(medical_claims: ibis.Table) -> ibis.Table:
    """One row per inpatient claim: member, admission and discharge dates, discharge status, principal
    diagnosis, point of origin and facility."""
    c = medical_claims.filter(medical_claims.claim_type == "inpatient")
    return c.group_by(["claim_id", "member_id"]).aggregate(
        admission_date=ibis.coalesce(c.admission_date, c.claim_from_date).min(),
        discharge_date=ibis.coalesce(c.discharge_date, c.claim_thru_date).max(),
        discharge_status=c.discharge_status.max(),
        principal_dx=c.dx_1.max(),
        admit_source=c.admit_source.max(),
        facility_ccn=c.facility_ccn.max(),
    )


def all_cause_readmission(
    medical_claims: ibis.Table, start: dt.date, end: dt.date, *, window_days: int = 30
) -> ibis.Table:
    """Index stays discharged in [start, end] and their unplanned-or-not readmission within ``window_days``.

    Index stays exclude discharges by death (status 20), against medical advice (07) and transfers to
    another acute hospital (02), whose outcome belongs to the receiving stay. A readmission is another
    inpatient admission of the member from the discharge day through ``window_days`` days after it.

    Returns
    -------
    ibis.Table
        ``member_id``, ``claim_id``, ``admission_date``, ``discharge_date``, ``readmitted`` (0/1 int8) and
        ``readmission_claim_id`` (the first readmission).
    """
    stays = inpatient_stays(medical_claims)
    index = stays.filter(
        (stays.discharge_date >= ibis.literal(start))
        & (stays.discharge_date <= ibis.literal(end))
        & ~stays.discharge_status.fill_null("").isin(
            [DIED, LEFT_AGAINST_MEDICAL_ADVICE, TRANSFERRED_TO_ACUTE_HOSPITAL]
        )
    )
    later = stays.select(
        member_id=stays.member_id, next_claim_id=stays.claim_id, next_admission=stays.admission_date
    )
    pairs = index.join(
        later,
        (index.member_id == later.member_id)
        & (later.next_claim_id != index.claim_id)
        & (later.next_admission >= index.discharge_date)
        & (later.next_admission <= index.discharge_date + ibis.interval(days=window_days)),
    )
    first = pairs.group_by("claim_id").aggregate(
        readmission_admission=pairs.next_admission.min(),
        readmission_claim_id=pairs.next_claim_id.min(),
    )
    result = index.left_join(first, "claim_id").drop("claim_id_right")
    return result.select(
        "member_id",
        "claim_id",
        "admission_date",
        "discharge_date",
        readmitted=result.readmission_claim_id.notnull().cast("int8"),
        readmission_claim_id=result.readmission_claim_id,
    )


@cache
def pqi_definitions() -> tuple[tuple[str, str, str, int | None, int | None], ...]:
    """(pqi, name, principal-diagnosis prefix, min age, max age) rows from ``data/pqi_codes.csv``."""
    text = resources.files("apmkit.quality").joinpath("data", "pqi_codes.csv").read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            (
                row["pqi"],
                row["name"],
                row["dx_prefix"],
                int(row["min_age"]) if row["min_age"] else None,
                int(row["max_age"]) if row["max_age"] else None,
            )
        )
    return tuple(rows)


def pqi_admissions(
    medical_claims: ibis.Table, members: ibis.Table, start: dt.date, end: dt.date
) -> ibis.Table:
    """Admissions in [start, end] that count towards the PQI overall composite.

    An admission counts for a PQI when its principal diagnosis starts with one of the PQI's ICD-10-CM
    prefixes and the member's age at admission is within the PQI's range; admissions transferred in from
    another hospital or facility do not count. Each admission counts once in the composite.

    Returns
    -------
    ibis.Table
        ``member_id``, ``claim_id``, ``admission_date``, ``pqi`` (the first matching indicator) and
        ``principal_dx``.
    """
    stays = inpatient_stays(medical_claims)
    stays = stays.filter(
        (stays.admission_date >= ibis.literal(start))
        & (stays.admission_date <= ibis.literal(end))
        & ~stays.admit_source.fill_null("").isin(list(TRANSFER_ADMIT_SOURCES))
    )
    stays = stays.join(members.select("member_id", "birth_date"), "member_id")
    dx = stays.principal_dx.upper().replace(".", "")
    age = (
        stays.admission_date.year()
        - stays.birth_date.year()
        - ibis.ifelse(
            (stays.birth_date.month() * 100 + stays.birth_date.day())
            > (stays.admission_date.month() * 100 + stays.admission_date.day()),
            1,
            0,
        )
    )
    matches = []
    # Longest prefix first: E1165 (PQI14) and E11641 (PQI01) sit under E116 (PQI03).
    for pqi, _name, prefix, min_age, max_age in sorted(pqi_definitions(), key=lambda d: -len(d[2])):
        condition = dx.startswith(prefix)
        if min_age is not None:
            condition &= age >= min_age
        if max_age is not None:
            condition &= age <= max_age
        matches.append((condition, pqi))
    which = ibis.cases(*matches, else_=None)
    tagged = stays.mutate(pqi=which, principal_dx=stays.principal_dx)
    tagged = tagged.filter(tagged.pqi.notnull())
    return tagged.select("member_id", "claim_id", "admission_date", "pqi", "principal_dx")


def clinical_with_claims(clinical: ibis.Table, medical_claims: ibis.Table) -> ibis.Table:
    """The ``clinical`` table plus the medical claims read as clinical evidence: the one rule every quality
    path uses (``apmkit quality``, settlement). Both sides are cast to the canonical schema first: timestamp
    precision differs between files and claims."""
    from apmkit.schemas import CLINICAL

    return CLINICAL.select_from(clinical).union(
        CLINICAL.select_from(claims_as_clinical(medical_claims)), distinct=False
    )
