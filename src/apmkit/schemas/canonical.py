"""The canonical data model: every loader writes these tables, every domain package reads them.

Version ``SCHEMA_VERSION`` is written into each Parquet file's metadata. Adding a nullable column is a
minor change; renaming or retyping one is a major change and bumps the version.

Money columns are ``decimal(18,2)`` (exact); dates are ``date``; clinical times are ``timestamp`` (UTC).
Every table ends with provenance columns (``source_format``, ``source_file``, ``source_line``) so that a
settlement line can be traced back to the record it came from.
"""

from __future__ import annotations

from apmkit.schemas.model import Column, TableSchema, columns

SCHEMA_VERSION = "1.0"

MONEY = "decimal(18, 2)"

CLAIM_TYPES = ("inpatient", "outpatient", "professional", "snf", "hha", "hospice", "dme")
ADJUSTMENT_TYPES = ("original", "adjustment", "void")
SEX_CODES = ("M", "F", "U")
OREC_CODES = ("0", "1", "2", "3")
# CMS 2-digit Medicare-Medicaid dual status codes ("NA" = not dual); see the CCLF8/MBSF documentation.
DUAL_STATUS_CODES = ("00", "01", "02", "03", "04", "05", "06", "08", "09", "10", "99", "NA")
LINES_OF_BUSINESS = (
    "medicare_ffs",
    "medicare_advantage",
    "medicare_part_d",
    "medicaid",
    "dual",
    "commercial",
    "exchange",
    "self_pay",
    "other",
)

NPI_PATTERN = r"^[0-9]{10}$"
TIN_PATTERN = r"^[0-9]{9}$"


def _provenance() -> tuple[Column, ...]:
    return (
        Column("source_format", "string", description="Loader that produced the row (csv, cclf, ...)"),
        Column("source_file", "string", description="Input file name the row came from"),
        Column("source_line", "int64", description="1-based line (or record) number in that file"),
    )


def _numbered(prefix: str, count: int, dtype: str, description: str) -> tuple[Column, ...]:
    return tuple(
        Column(f"{prefix}_{i}", dtype, description=f"{description} {i}") for i in range(1, count + 1)
    )


MEMBERS = TableSchema(
    name="members",
    version=SCHEMA_VERSION,
    primary_key=("member_id",),
    description="One row per person: demographics and the Medicare status flags risk models need.",
    columns=columns(
        Column(
            "member_id", "string", required=True, description="Stable member identifier (MBI for CMS data)"
        ),
        Column("birth_date", "date", description="Date of birth"),
        Column("death_date", "date", description="Date of death, if any"),
        Column("sex", "string", allowed=SEX_CODES, description="M, F or U (unknown)"),
        Column("race_code", "string", description="Source race/ethnicity code (e.g. CMS RTI race code)"),
        Column("zip_code", "string", description="5-digit ZIP code of residence"),
        Column("state_code", "string", description="State of residence (USPS or SSA code as in source)"),
        Column("county_fips", "string", description="5-digit state+county FIPS code"),
        Column(
            "ssa_county_code", "string", description="5-digit SSA state+county code (CMS benchmark files)"
        ),
        Column("dual_status_code", "string", allowed=DUAL_STATUS_CODES, description="Latest CMS dual status"),
        Column("orec", "string", allowed=OREC_CODES, description="Original reason for entitlement 0-3"),
        Column("crec", "string", allowed=OREC_CODES, description="Current reason for entitlement 0-3"),
        Column("esrd", "boolean", description="End-stage renal disease status"),
        Column("institutional", "boolean", description="Long-term institutional (90+ days) status"),
        Column("medicaid", "boolean", description="Any Medicaid eligibility"),
        Column(
            "mbi",
            "string",
            description="Medicare Beneficiary Identifier when member_id is another payer's own id (matches "
            "members across payers)",
        ),
        _provenance(),
    ),
)

MEMBER_XREF = TableSchema(
    name="member_xref",
    version=SCHEMA_VERSION,
    primary_key=("previous_id",),
    description="Identifier cross-walk (e.g. CCLF9 MBI history): old identifiers mapped to member_id.",
    columns=columns(
        Column("previous_id", "string", required=True, description="Identifier found on older records"),
        Column("member_id", "string", required=True, description="Current identifier"),
        Column("effective_date", "date", description="Date the current identifier took effect"),
        Column("obsolete_date", "date", description="Date the previous identifier stopped being used"),
        _provenance(),
    ),
)

ENROLLMENT = TableSchema(
    name="enrollment",
    version=SCHEMA_VERSION,
    primary_key=("member_id", "month", "payer", "product"),
    description="One row per member-month of coverage by payer and product.",
    columns=columns(
        Column("member_id", "string", required=True, description="Member"),
        Column("month", "date", required=True, description="First day of the covered month"),
        Column("payer", "string", required=True, description="Payer name or code"),
        Column("product", "string", required=True, description="Product/plan within the payer"),
        Column("line_of_business", "string", allowed=LINES_OF_BUSINESS, description="Line of business"),
        Column("part_a", "boolean", description="Medicare Part A entitlement that month"),
        Column("part_b", "boolean", description="Medicare Part B entitlement that month"),
        Column("part_d", "boolean", description="Part D coverage that month"),
        Column("medicare_advantage", "boolean", description="Enrolled in MA / group health plan that month"),
        Column("dual_status_code", "string", allowed=DUAL_STATUS_CODES, description="Dual status that month"),
        Column("esrd", "boolean", description="ESRD status that month"),
        Column("institutional", "boolean", description="Institutional status that month"),
        Column("hospice", "boolean", description="Hospice election that month"),
        _provenance(),
    ),
)

_CLAIM_ADJUSTMENT = (
    Column("adjustment_type", "string", allowed=ADJUSTMENT_TYPES, description="original, adjustment or void"),
    Column("original_claim_id", "string", description="Claim this one adjusts or voids (its family)"),
    Column("claim_version", "int32", description="Order of this version within its family, if known"),
    Column("processed_date", "date", description="Date the payer processed this version"),
)

MEDICAL_CLAIMS = TableSchema(
    name="medical_claims",
    version=SCHEMA_VERSION,
    primary_key=("claim_id", "claim_line_number"),
    description=(
        "One row per claim line of institutional and professional claims; header fields repeat on each "
        "line. Diagnosis 1 is the principal diagnosis."
    ),
    columns=columns(
        Column("claim_id", "string", required=True, description="Claim identifier (one version)"),
        Column("claim_line_number", "int32", required=True, min_value=0, description="Line number"),
        Column("claim_type", "string", required=True, allowed=CLAIM_TYPES, description="Claim type"),
        Column("member_id", "string", required=True, description="Member"),
        Column("payer", "string", description="Payer"),
        Column("line_of_business", "string", allowed=LINES_OF_BUSINESS, description="Line of business"),
        Column("claim_from_date", "date", description="Claim statement from date"),
        Column("claim_thru_date", "date", description="Claim statement through date"),
        Column("service_date", "date", description="Line first date of service (from date if none)"),
        Column("service_end_date", "date", description="Line last date of service"),
        Column("admission_date", "date", description="Inpatient/SNF admission date"),
        Column("discharge_date", "date", description="Discharge date"),
        Column("rendering_npi", "string", pattern=NPI_PATTERN, description="Rendering provider NPI"),
        Column("rendering_specialty", "string", description="Rendering provider CMS specialty code"),
        Column("billing_npi", "string", pattern=NPI_PATTERN, description="Billing provider NPI"),
        Column("billing_tin", "string", pattern=TIN_PATTERN, description="Billing tax identification number"),
        Column("attending_npi", "string", pattern=NPI_PATTERN, description="Attending physician NPI"),
        Column("operating_npi", "string", pattern=NPI_PATTERN, description="Operating physician NPI"),
        Column("facility_ccn", "string", description="Facility CMS certification number (CCN)"),
        Column("place_of_service", "string", description="2-digit place of service code"),
        Column("bill_type", "string", description="3-digit type of bill (facility type + class + frequency)"),
        Column("admit_source", "string", description="Point of origin for admission"),
        Column("discharge_status", "string", description="Patient discharge status code"),
        Column("revenue_code", "string", description="4-digit revenue center code"),
        Column("hcpcs_code", "string", description="CPT/HCPCS code"),
        _numbered("hcpcs_modifier", 4, "string", "HCPCS modifier"),
        Column("ms_drg", "string", description="3-digit MS-DRG"),
        Column("admitting_dx", "string", description="Admitting diagnosis (ICD-10-CM, no dot)"),
        _numbered("dx", 25, "string", "ICD-10-CM diagnosis (no dot); 1 = principal"),
        _numbered("px", 25, "string", "ICD-10-PCS procedure"),
        Column("units", "decimal(12, 3)", min_value=0, description="Service units"),
        Column("charge_amount", MONEY, description="Submitted charges"),
        Column("allowed_amount", MONEY, description="Allowed amount"),
        Column("paid_amount", MONEY, description="Amount paid by the payer"),
        _CLAIM_ADJUSTMENT,
        _provenance(),
    ),
)

PHARMACY_CLAIMS = TableSchema(
    name="pharmacy_claims",
    version=SCHEMA_VERSION,
    primary_key=("claim_id", "claim_line_number"),
    description="One row per prescription fill (Part D event or pharmacy claim line).",
    columns=columns(
        Column("claim_id", "string", required=True, description="Claim / event identifier"),
        Column("claim_line_number", "int32", required=True, min_value=0, description="Line (1 for PDE)"),
        Column("member_id", "string", required=True, description="Member"),
        Column("payer", "string", description="Payer"),
        Column("line_of_business", "string", allowed=LINES_OF_BUSINESS, description="Line of business"),
        Column("dispensing_date", "date", required=True, description="Date filled"),
        Column("ndc", "string", description="11-digit National Drug Code"),
        Column("quantity", "decimal(12, 3)", min_value=0, description="Quantity dispensed"),
        Column("days_supply", "int32", min_value=0, description="Days supply"),
        Column("prescriber_npi", "string", description="Prescriber identifier (NPI)"),
        Column("pharmacy_npi", "string", description="Dispensing pharmacy identifier"),
        Column("allowed_amount", MONEY, description="Allowed (gross drug cost)"),
        Column("paid_amount", MONEY, description="Amount paid by the plan"),
        Column(
            "brand_generic",
            "string",
            allowed=("brand", "generic"),
            description="Brand or generic drug dispensed, as the source says (PDE BRND_GNRC_CD B/G); "
            "null when the source has no indicator (never derived from the NDC)",
        ),
        _CLAIM_ADJUSTMENT,
        _provenance(),
    ),
)

PROVIDERS = TableSchema(
    name="providers",
    version=SCHEMA_VERSION,
    primary_key=("npi", "tin"),
    description="Clinicians and organizations: NPI, TIN, specialty and primary-care flag.",
    columns=columns(
        Column(
            "npi", "string", required=True, pattern=NPI_PATTERN, description="National Provider Identifier"
        ),
        Column("name", "string", description="Provider or organization name"),
        Column(
            "entity_type", "string", allowed=("individual", "organization"), description="NPI entity type"
        ),
        Column(
            "tin",
            "string",
            pattern=TIN_PATTERN,
            description="Tax identification number billed under (one row per NPI and TIN: reassignment)",
        ),
        Column("specialty_code", "string", description="CMS specialty code"),
        Column("specialty", "string", description="Specialty description"),
        Column("is_primary_care", "boolean", description="Primary-care clinician (PCP/NPP)"),
        Column("organization", "string", description="Practice / organization name"),
        Column("ccn", "string", description="Facility CCN, for facilities"),
        Column("state_code", "string", description="State"),
        Column("zip_code", "string", description="ZIP code"),
        _provenance(),
    ),
)

CLINICAL_RESOURCE_TYPES = (
    "Condition",
    "Observation",
    "Procedure",
    "Encounter",
    "Immunization",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
    "DiagnosticReport",
    "ServiceRequest",
    "AllergyIntolerance",
    "DeviceRequest",
    "Coverage",
    "Other",
)

CLINICAL = TableSchema(
    name="clinical",
    version=SCHEMA_VERSION,
    primary_key=("record_id", "coding_index", "component_index"),
    description=(
        "FHIR-derived clinical facts in long form: one row per resource x coding (x component for "
        "multi-component observations such as blood pressure), so value sets match by a join on "
        "(code_system, code)."
    ),
    columns=columns(
        Column("record_id", "string", required=True, description="ResourceType/id"),
        Column("coding_index", "int32", required=True, description="Index of the coding within code"),
        Column("component_index", "int32", required=True, description="Component index; 0 = the resource"),
        Column("member_id", "string", required=True, description="Patient"),
        Column("resource_type", "string", required=True, allowed=CLINICAL_RESOURCE_TYPES, description="Type"),
        Column("status", "string", description="Resource status (final, completed, active, ...)"),
        Column("category", "string", description="First category code (e.g. vital-signs, laboratory)"),
        Column("code_system", "string", description="Code system URI of this coding"),
        Column("code", "string", description="Code"),
        Column("code_display", "string", description="Display text"),
        Column("component_code_system", "string", description="Component code system"),
        Column("component_code", "string", description="Component code (e.g. 8480-6 systolic BP)"),
        Column("value_numeric", "float64", description="Quantity value"),
        Column("value_unit", "string", description="UCUM unit"),
        Column("value_code_system", "string", description="Coded value system"),
        Column("value_code", "string", description="Coded value"),
        Column("effective_start", "timestamp", description="Effective/onset/performed start (UTC)"),
        Column("effective_end", "timestamp", description="Effective/abatement/performed end (UTC)"),
        Column("recorded_at", "timestamp", description="Recorded/authored/issued time (UTC)"),
        Column("encounter_id", "string", description="Encounter the record belongs to"),
        Column("performer_npi", "string", description="Performer/requester NPI"),
        Column("negated", "boolean", description="Recorded as not done / not given"),
        Column("reason_code_system", "string", description="Not-done or reason code system"),
        Column("reason_code", "string", description="Not-done or reason code"),
        _provenance(),
    ),
)

QUARANTINE = TableSchema(
    name="quarantine",
    version=SCHEMA_VERSION,
    description="Every rejected input record, with where it came from and why it was rejected.",
    columns=columns(
        Column("table", "string", required=True, description="Canonical table the record was meant for"),
        Column("source_file", "string", description="Input file"),
        Column("source_line", "int64", description="1-based line (or record) number"),
        Column("field", "string", description="First field that failed"),
        Column("reason", "string", required=True, description="Every rule the record broke"),
        Column("record", "string", description="The raw record, kept so nothing is lost"),
    ),
    provenance_columns=(),
)


ADT_EVENT_TYPES = ("A01", "A02", "A03", "A04", "A08")
"""HL7 v2 ADT trigger events loaded: admit, transfer, discharge, register, update patient information."""
ADT_SETTINGS = ("inpatient", "emergency", "observation", "snf", "outpatient")

ADT_EVENTS = TableSchema(
    name="adt_events",
    version=SCHEMA_VERSION,
    primary_key=("event_id", "facility_id"),
    description=(
        "HL7 v2 ADT messages (A01 admit, A02 transfer, A03 discharge, A04 register, A08 update): one row per "
        "message. Times are the facility's local time as sent (a UTC offset in the message is dropped)."
    ),
    columns=columns(
        Column("event_id", "string", required=True, description="Message control id (MSH-10)"),
        Column(
            "member_id",
            "string",
            required=True,
            description="Patient identifier (PID-3: the Medicare number MC, else member number MB, else the "
            "first); matched to members through member_xref",
        ),
        Column("event_type", "string", required=True, allowed=ADT_EVENT_TYPES, description="Trigger event"),
        Column("event_time", "timestamp", required=True, description="Recorded time (EVN-2, else MSH-7)"),
        Column("admit_time", "timestamp", description="Admit date/time (PV1-44)"),
        Column("discharge_time", "timestamp", description="Discharge date/time (PV1-45)"),
        Column("patient_class", "string", description="Patient class (PV1-2, HL7 table 0004: I, E, O, ...)"),
        Column(
            "setting",
            "string",
            allowed=ADT_SETTINGS,
            description="Setting derived from patient class, hospital service and patient type",
        ),
        Column("hospital_service", "string", description="Hospital service (PV1-10)"),
        Column("facility_id", "string", description="Facility (PV1-3 component 4, else MSH-4)"),
        Column("attending_npi", "string", pattern=NPI_PATTERN, description="Attending doctor NPI (PV1-7)"),
        Column("discharge_disposition", "string", description="Discharge disposition (PV1-36)"),
        Column("visit_number", "string", description="Visit number (PV1-19)"),
        Column("payer", "string", description="Payer whose feed the message came in (--payer)"),
        _provenance(),
    ),
)

MEMBER_PERSONS = TableSchema(
    name="member_persons",
    version=SCHEMA_VERSION,
    primary_key=("payer", "member_id"),
    description=(
        "Written by a multi-payer load (`apmkit ingest ... --payer P --into DIR`): each payer's member matched "
        "to one person id across payers (member_xref, else the member's MBI, else the member id itself)."
    ),
    columns=columns(
        Column("payer", "string", required=True, description="Payer"),
        Column("member_id", "string", required=True, description="The payer's member id"),
        Column("person_id", "string", required=True, description="One id per person across payers"),
        Column(
            "matched_by",
            "string",
            allowed=("member_xref", "mbi", "member_id"),
            description="How the person id was found",
        ),
        _provenance(),
    ),
)


def _history(claims: TableSchema) -> TableSchema:
    return TableSchema(
        name=f"{claims.name}_history",
        version=claims.version,
        primary_key=claims.primary_key,
        description=(
            f"Every loaded version of every {claims.name} line (originals, adjustments, voids), with its "
            "claim family and whether it is the family's final action."
        ),
        columns=columns(
            tuple(c for c in claims.columns if c.name not in claims.provenance_columns),
            Column(
                "claim_family_id", "string", required=True, description="Claim id of the family's first claim"
            ),
            Column(
                "is_final_action", "boolean", required=True, description="This version is the final action"
            ),
            _provenance(),
        ),
    )


MEDICAL_CLAIMS_HISTORY = _history(MEDICAL_CLAIMS)
PHARMACY_CLAIMS_HISTORY = _history(PHARMACY_CLAIMS)

TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (
        MEMBERS,
        MEMBER_XREF,
        ENROLLMENT,
        MEDICAL_CLAIMS,
        PHARMACY_CLAIMS,
        PROVIDERS,
        CLINICAL,
        MEDICAL_CLAIMS_HISTORY,
        PHARMACY_CLAIMS_HISTORY,
        ADT_EVENTS,
        MEMBER_PERSONS,
    )
}
"""The canonical tables, by name. ``quarantine`` is an ingest output, not a canonical table."""

DX_COLUMNS = [f"dx_{i}" for i in range(1, 26)]
PX_COLUMNS = [f"px_{i}" for i in range(1, 26)]
