"""Synthea CSV export loader: ``apmkit ingest synthea FOLDER``.

FOLDER holds Synthea's CSV export (``patients.csv``, ``encounters.csv``, ``claims.csv``, ``conditions.csv``,
``procedures.csv``, ``payers.csv``, ``payer_transitions.csv``, ``providers.csv``, ``organizations.csv``, and
optionally ``observations.csv``, ``immunizations.csv``, ``medications.csv``). Files are read with line
numbers (:func:`apmkit.ingest.readers.read_delimited`); every mapping below is an ibis expression over the
whole file. docs/formats-fhir-synthea.md has the column-by-column tables; the decisions are:

- **member_id** is the patient ``Id`` (a UUID), as in Synthea's FHIR output.
- **Provider ids**: Synthea identifies clinicians and organizations by UUID and has no NPI or TIN. Each
  gets a stable pseudo-NPI ``9`` + the UUID's 128-bit value modulo 10⁹ (9 digits) and each organization a
  pseudo-TIN ``99`` + the value modulo 10⁷. Real NPIs start with 1 or 2, so these never collide with one.
- **Claims**: one ``medical_claims`` line per ``claims.csv`` row. Claim type: institutional claims
  (``HEALTHCARECLAIMTYPEID1`` = 2) by the encounter class (inpatient, snf, hospice, home → hha, else
  outpatient); professional claims (= 1) are ``professional``. Without ``claims_transactions.csv`` Synthea
  gives costs per encounter only, so the encounter's ``TOTAL_CLAIM_COST`` (charge and allowed) and
  ``PAYER_COVERAGE`` (paid) go on the encounter's first claim (smallest claim id) and its other claims
  carry 0, keeping the encounter total exact.
- **Diagnoses**: Synthea ``DIAGNOSIS1..8`` are SNOMED CT codes, not ICD-10-CM, so the ``dx_*`` columns
  stay empty; the codes are kept in ``clinical`` (``resource_type`` Other, category ``claim-diagnosis``).
- **Enrollment**: ``payer_transitions.csv`` periods become member-months (every month from the start
  month to the end month); the payer's name gives the line of business (Medicare → medicare_ffs,
  Medicaid → medicaid, Dual Eligible → dual, NO_INSURANCE → self_pay, any other → commercial).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.pipeline import Staged
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject, read_delimited
from apmkit.portable import trim_text

FORMAT = "synthea"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# file → (canonical table its unreadable lines are reported under, columns it must have)
FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "patients": ("members", ("id", "birthdate")),
    "payers": ("enrollment", ("id", "name")),
    "payer_transitions": ("enrollment", ("patient", "start_year", "end_year", "payer")),
    "encounters": ("clinical", ("id", "start", "patient", "encounterclass")),
    "claims": ("medical_claims", ("id", "patientid", "appointmentid", "servicedate")),
    "conditions": ("clinical", ("start", "patient", "code")),
    "procedures": ("clinical", ("start", "patient", "code")),
    "observations": ("clinical", ("date", "patient", "code")),
    "immunizations": ("clinical", ("date", "patient", "code")),
    "medications": ("clinical", ("start", "patient", "code")),
    "providers": ("providers", ("id", "organization", "name")),
    "organizations": ("providers", ("id", "name")),
}
_LINE_OF_BUSINESS = {
    "medicare": "medicare_ffs",
    "medicaid": "medicaid",
    "dual eligible": "dual",
    "no_insurance": "self_pay",
}
# Place of service for professional claims, by Synthea encounter class (CMS POS code set).
_PLACE_OF_SERVICE = {
    "wellness": "11",
    "ambulatory": "11",
    "outpatient": "22",
    "emergency": "23",
    "urgentcare": "20",
    "inpatient": "21",
    "home": "12",
    "snf": "31",
    "hospice": "34",
}
_INSTITUTIONAL_TYPE = {"inpatient": "inpatient", "snf": "snf", "hospice": "hospice", "home": "hha"}


@dataclass
class _File:
    table: ibis.Table
    rejects: list[Reject]


def pseudo_npi(identifier: str) -> str:
    """The stable 10-digit pseudo-NPI of a Synthea UUID (``9`` + 9 digits)."""
    return f"9{_uuid_number(identifier) % 10**9:09d}"


def pseudo_tin(identifier: str) -> str:
    """The stable 9-digit pseudo-TIN of a Synthea organization UUID (``99`` + 7 digits)."""
    return f"99{_uuid_number(identifier) % 10**7:07d}"


def _uuid_number(identifier: str) -> int:
    try:
        return uuid.UUID(identifier.strip()).int
    except ValueError:
        # Not a UUID (hand-made files): hash its text the same way, deterministically.
        return uuid.uuid5(uuid.NAMESPACE_OID, identifier).int


def _find(path: Path) -> dict[str, Path]:
    if not path.is_dir():
        raise InputFileError(path, "expected a folder holding a Synthea CSV export (patients.csv, ...)")
    found = {}
    for child in sorted(path.iterdir()):
        stem = child.name.lower().removesuffix(".csv")
        if child.is_file() and child.name.lower().endswith(".csv") and stem in FILES:
            found[stem] = child
    if "patients" not in found:
        raise InputFileError(path, "no patients.csv: not a Synthea CSV export")
    return found


def _text(column: ir.Value) -> ir.StringValue:
    # trim_text, not .strip(): on Spark ibis' strip() also trims the letters v and f (UUIDs end in f).
    return trim_text(column.cast("string")).nullif("")


def _date_text(column: ir.Value) -> ir.StringValue:
    """``YYYY-MM-DD`` from a Synthea date or timestamp (``2021-08-23T03:26:50Z``); other text unchanged."""
    text = _text(column)
    return ibis.ifelse(text.re_search(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T|$)"), text.substr(0, 10), text)


def _timestamp_text(column: ir.Value) -> ir.StringValue:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) from Synthea's ``...Z`` timestamps and dates."""
    text = _text(column)
    stamp = text.substr(0, 10).concat(" ", text.substr(11, 8))
    return ibis.cases(
        (text.re_search(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?$"), stamp),
        (text.re_search(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), text.concat(" 00:00:00")),
        else_=text,
    )


def _provenance(table: ibis.Table) -> dict[str, ir.Value]:
    return {SOURCE_FILE: table[SOURCE_FILE], SOURCE_LINE: table[SOURCE_LINE], RECORD: table[RECORD]}


def _id_map(engine: Engine, files: dict[str, _File], name: str, build) -> ibis.Table | None:
    """UUID → pseudo id table for one file (Python over that file's distinct ids: a dictionary, not data)."""
    if name not in files:
        return None
    ids = engine.to_arrow(files[name].table.select(key=_text(files[name].table.id)).distinct())
    keys = [k for k in ids.column("key").to_pylist() if k]
    return engine.from_arrow(
        pa.table(
            {"key": pa.array(keys, pa.string()), "value": pa.array([build(k) for k in keys], pa.string())}
        )
    )


def _lookup(table: ibis.Table, key: ir.Value, mapping: ibis.Table | None, name: str) -> ibis.Table:
    """Left-join ``mapping`` on ``key`` and name the value column ``name`` (NULL without a mapping)."""
    if mapping is None:
        return table.mutate(**{name: ibis.null("string")})
    view = mapping.view()
    joined = table.left_join(view, key == view.key)
    return joined.select(*[joined[c] for c in table.columns], joined.value.name(name))


def _members(files: dict[str, _File], payer_names: ibis.Table | None) -> ibis.Table:
    patients = files["patients"].table
    zip_text = _text(patients.zip) if "zip" in patients.columns else ibis.null("string")
    members = patients.select(
        member_id=_text(patients.id),
        birth_date=_date_text(patients.birthdate),
        death_date=_date_text(patients.deathdate) if "deathdate" in patients.columns else ibis.null("string"),
        sex=_text(patients.gender) if "gender" in patients.columns else ibis.null("string"),
        race_code=_text(patients.race) if "race" in patients.columns else ibis.null("string"),
        # Synthea writes ZIP codes as numbers: 06156 arrives as 6156.
        zip_code=ibis.ifelse(
            zip_text.length() == 4, ibis.literal("0").concat(zip_text), zip_text.substr(0, 5)
        ),
        state_code=_text(patients.state) if "state" in patients.columns else ibis.null("string"),
        **_provenance(patients),
    )
    if "payer_transitions" not in files or payer_names is None:
        return members
    transitions = files["payer_transitions"].table
    named = _lookup(transitions, _text(transitions.payer), payer_names, "payer_name")
    medicaid = named.group_by(member=_text(named.patient)).aggregate(
        medicaid=named.payer_name.lower().isin(["medicaid", "dual eligible"]).any()
    )
    joined = members.left_join(medicaid, members.member_id == medicaid.member)
    return joined.select(*[joined[c] for c in members.columns], medicaid=joined.medicaid.fill_null(False))


def _enrollment(engine: Engine, files: dict[str, _File], payer_names: ibis.Table | None) -> ibis.Table:
    transitions = files["payer_transitions"].table
    named = _lookup(transitions, _text(transitions.payer), payer_names, "payer_name")
    start_text, end_text = _text(named.start_year), _text(named.end_year)
    # Older exports give bare years: a period then runs from January of the start year to December.
    start = ibis.ifelse(
        start_text.re_search(r"^[0-9]{4}$"), start_text.concat("-01-01"), _date_text(start_text)
    )
    end = ibis.ifelse(end_text.re_search(r"^[0-9]{4}$"), end_text.concat("-12-01"), _date_text(end_text))
    periods = named.mutate(
        _start=start.try_cast("date"),
        _end=end.try_cast("date"),
        _start_text=start,
        _payer=ibis.coalesce(named.payer_name, _text(named.payer)),
    )
    periods = periods.mutate(
        _first=periods._start.truncate("M"),
        _last=ibis.coalesce(periods._end, periods._start).truncate("M"),
    )
    bounds = engine.to_arrow(
        periods.aggregate(low=periods._first.min(), high=periods._last.max())
    ).to_pylist()[0]
    months: list = []
    if bounds["low"] is not None:
        year, month = bounds["low"].year, bounds["low"].month
        while (year, month) <= (bounds["high"].year, bounds["high"].month):
            months.append(f"{year:04d}-{month:02d}-01")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    calendar = engine.from_arrow(
        pa.table({"_month": pa.array(months, pa.string())}).cast(pa.schema([("_month", pa.string())]))
    )
    calendar = calendar.mutate(_month=calendar._month.cast("date"))
    valid = periods.filter(periods._first.notnull() & (periods._last >= periods._first))
    expanded = valid.inner_join(
        calendar, (calendar._month >= valid._first) & (calendar._month <= valid._last)
    )
    lob_key = expanded._payer.lower()
    line_of_business = ibis.cases(
        *[(lob_key == name, lob) for name, lob in _LINE_OF_BUSINESS.items()], else_="commercial"
    )
    medicare = lob_key.isin(["medicare", "dual eligible"])
    month_rows = expanded.select(
        member_id=_text(expanded.patient),
        month=expanded._month.cast("string"),
        payer=expanded._payer,
        product=line_of_business,
        line_of_business=line_of_business,
        part_a=ibis.ifelse(medicare, True, ibis.null("boolean")),
        part_b=ibis.ifelse(medicare, True, ibis.null("boolean")),
        medicare_advantage=ibis.ifelse(medicare, False, ibis.null("boolean")),
        **_provenance(expanded),
    )
    # Consecutive periods with the same payer share their boundary month: one row per member-month.
    merged = month_rows.group_by(["member_id", "month", "payer", "product", "line_of_business"]).aggregate(
        part_a=month_rows.part_a.max(),
        part_b=month_rows.part_b.max(),
        medicare_advantage=month_rows.medicare_advantage.max(),
        source_file=month_rows[SOURCE_FILE].min(),
        source_line=month_rows[SOURCE_LINE].min(),
        _record=month_rows[RECORD].min(),
    )
    # Periods whose dates do not parse are passed on with the text in `month`, so conformance rejects them.
    invalid = periods.filter(periods._first.isnull() | (periods._last < periods._first))
    rejected = invalid.select(
        member_id=_text(invalid.patient),
        month=ibis.ifelse(
            invalid._first.isnull(),
            ibis.coalesce(invalid._start_text, ibis.literal("")).concat(" (START_YEAR)"),
            invalid._start_text.concat(" after END_YEAR"),
        ),
        payer=invalid._payer,
        product=ibis.literal("unknown"),
        line_of_business=ibis.null("string"),
        part_a=ibis.null("boolean"),
        part_b=ibis.null("boolean"),
        medicare_advantage=ibis.null("boolean"),
        **_provenance(invalid),
    )
    return ibis.union(merged.select(*rejected.columns), rejected)


def _claims(files: dict[str, _File], npis: ibis.Table | None, org_npis, org_tins, payer_names) -> ibis.Table:
    claims = files["claims"].table
    encounters = files["encounters"].table if "encounters" in files else None
    if encounters is not None:
        enc = encounters.select(
            _enc_id=_text(encounters.id),
            _class=_text(encounters.encounterclass).lower(),
            _enc_start=_date_text(encounters.start),
            _enc_stop=_date_text(encounters.stop) if "stop" in encounters.columns else ibis.null("string"),
            _organization=_text(encounters.organization)
            if "organization" in encounters.columns
            else ibis.null("string"),
            _total=_text(encounters.total_claim_cost)
            if "total_claim_cost" in encounters.columns
            else ibis.null("string"),
            _covered=_text(encounters.payer_coverage)
            if "payer_coverage" in encounters.columns
            else ibis.null("string"),
        )
        joined = claims.left_join(enc, _text(claims.appointmentid) == enc._enc_id)
        claims = joined.select(*[joined[c] for c in claims.columns], *[joined[c] for c in enc.columns])
    else:
        claims = claims.mutate(
            **{
                c: ibis.null("string")
                for c in (
                    "_enc_id",
                    "_class",
                    "_enc_start",
                    "_enc_stop",
                    "_organization",
                    "_total",
                    "_covered",
                )
            }
        )
    first_claim = _text(claims.id).min().over(group_by=_text(claims.appointmentid))
    claims = claims.mutate(_first=_text(claims.id) == first_claim)
    claims = _lookup(claims, _text(claims.providerid), npis, "_rendering")
    claims = _lookup(claims, claims._organization, org_npis, "_billing")
    claims = _lookup(claims, claims._organization, org_tins, "_tin")
    payer_key = (
        _text(claims.primarypatientinsuranceid)
        if "primarypatientinsuranceid" in claims.columns
        else ibis.null("string")
    )
    claims = _lookup(claims, payer_key, payer_names, "_payer")
    institutional = (
        _text(claims.healthcareclaimtypeid1) == "2"
        if "healthcareclaimtypeid1" in claims.columns
        else ibis.literal(False)
    )
    institutional_type = ibis.cases(
        *[(claims._class == name, kind) for name, kind in _INSTITUTIONAL_TYPE.items()], else_="outpatient"
    )
    claim_type = ibis.ifelse(institutional, institutional_type, "professional")
    place = ibis.cases(
        *[(claims._class == name, code) for name, code in _PLACE_OF_SERVICE.items()],
        else_=ibis.null("string"),
    )
    service_date = _date_text(claims.servicedate)
    lob_key = claims._payer.lower()
    stay = claims._class.isin(["inpatient", "snf"])
    return claims.select(
        claim_id=_text(claims.id),
        claim_line_number=ibis.literal("1"),
        claim_type=claim_type,
        member_id=_text(claims.patientid),
        payer=claims._payer,
        line_of_business=ibis.cases(
            *[(lob_key == name, lob) for name, lob in _LINE_OF_BUSINESS.items()],
            (lob_key.notnull(), "commercial"),
            else_=ibis.null("string"),
        ),
        claim_from_date=service_date,
        claim_thru_date=ibis.coalesce(claims._enc_stop, service_date),
        service_date=service_date,
        service_end_date=ibis.coalesce(claims._enc_stop, service_date),
        admission_date=ibis.ifelse(stay & institutional, claims._enc_start, ibis.null("string")),
        discharge_date=ibis.ifelse(stay & institutional, claims._enc_stop, ibis.null("string")),
        rendering_npi=claims._rendering,
        billing_npi=claims._billing,
        billing_tin=claims._tin,
        place_of_service=ibis.ifelse(institutional, ibis.null("string"), place),
        units=ibis.literal("1"),
        charge_amount=ibis.ifelse(claims._first, claims._total, ibis.literal("0")),
        allowed_amount=ibis.ifelse(claims._first, claims._total, ibis.literal("0")),
        paid_amount=ibis.ifelse(claims._first, claims._covered, ibis.literal("0")),
        adjustment_type=ibis.literal("original"),
        **_provenance(claims),
    )


def _money_text(column: ir.StringValue) -> ir.StringValue:
    """Synthea costs have up to 2 decimals but sometimes float noise (3642.5280000000004): round to cents."""
    number = column.try_cast("decimal(38, 10)")
    rounded = number.round(2).cast("decimal(18, 2)").cast("string")
    return ibis.ifelse(number.isnull(), column, rounded)


def _clinical_part(
    table: ibis.Table,
    resource_type: str,
    type_name: str,
    *,
    system: str,
    start: ir.Value,
    end: ir.Value | None = None,
    status: ir.Value | None = None,
    category: ir.Value | None = None,
    encounter: ir.Value | None = None,
    value: ir.Value | None = None,
    unit: ir.Value | None = None,
    reason: ir.Value | None = None,
    code: ir.Value | None = None,
    display: ir.Value | None = None,
    record_suffix: ir.Value | None = None,
    coding_index: ir.Value | None = None,
) -> ibis.Table:
    member = _text(table.patient)
    # Synthea rows have no ids (except encounters and claims): the file and line identify them.
    suffix = (
        record_suffix
        if record_suffix is not None
        else table[SOURCE_FILE].concat(":", table[SOURCE_LINE].cast("string"))
    )
    record = ibis.literal("Patient/").concat(member, f"/{type_name}/", suffix)
    code_value = code if code is not None else _text(table.code)
    return table.select(
        record_id=ibis.ifelse(member.isnull(), ibis.null("string"), record),
        coding_index=coding_index if coding_index is not None else ibis.literal("0"),
        component_index=ibis.literal("0"),
        member_id=member,
        resource_type=ibis.literal(resource_type),
        status=status if status is not None else ibis.null("string"),
        category=category if category is not None else ibis.null("string"),
        code_system=ibis.ifelse(code_value.isnull(), ibis.null("string"), system),
        code=code_value,
        code_display=display
        if display is not None
        else (_text(table.description) if "description" in table.columns else ibis.null("string")),
        value_numeric=value if value is not None else ibis.null("string"),
        value_unit=unit if unit is not None else ibis.null("string"),
        effective_start=_timestamp_text(start),
        effective_end=_timestamp_text(end) if end is not None else ibis.null("string"),
        encounter_id=ibis.ifelse(
            member.notnull() & (encounter.notnull() if encounter is not None else ibis.literal(False)),
            ibis.literal("Patient/").concat(
                member, "/Encounter/", encounter if encounter is not None else ""
            ),
            ibis.null("string"),
        ),
        negated=ibis.literal(False),
        reason_code_system=ibis.ifelse(reason.notnull(), SNOMED, ibis.null("string"))
        if reason is not None
        else ibis.null("string"),
        reason_code=reason if reason is not None else ibis.null("string"),
        **_provenance(table),
    )


def _clinical(files: dict[str, _File]) -> list[ibis.Table]:
    parts = []
    if "encounters" in files:
        t = files["encounters"].table
        parts.append(
            _clinical_part(
                t,
                "Encounter",
                "Encounter",
                system=SNOMED,
                start=t.start,
                end=t.stop if "stop" in t.columns else None,
                status=ibis.literal("finished"),
                category=_text(t.encounterclass),
                reason=_text(t.reasoncode) if "reasoncode" in t.columns else None,
                record_suffix=_text(t.id),
            )
        )
    for name, resource_type, system, start, end in (
        ("conditions", "Condition", SNOMED, "start", "stop"),
        ("procedures", "Procedure", SNOMED, "start", "stop"),
        ("immunizations", "Immunization", CVX, "date", None),
        ("medications", "MedicationRequest", RXNORM, "start", "stop"),
    ):
        if name not in files:
            continue
        t = files[name].table
        status = None
        if resource_type == "Condition":
            status = (
                ibis.ifelse(_text(t.stop).isnull(), "active", "resolved") if "stop" in t.columns else None
            )
        elif resource_type in ("Procedure", "Immunization"):
            status = ibis.literal("completed")
        parts.append(
            _clinical_part(
                t,
                resource_type,
                resource_type,
                system=system,
                start=t[start],
                end=t[end] if end and end in t.columns else None,
                status=status,
                encounter=_text(t.encounter) if "encounter" in t.columns else None,
                reason=_text(t.reasoncode) if "reasoncode" in t.columns else None,
            )
        )
    if "observations" in files:
        t = files["observations"].table
        numeric = (_text(t.type) == "numeric") if "type" in t.columns else ibis.literal(True)
        parts.append(
            _clinical_part(
                t,
                "Observation",
                "Observation",
                system=LOINC,
                start=t.date,
                status=ibis.literal("final"),
                category=_text(t.category) if "category" in t.columns else None,
                encounter=_text(t.encounter) if "encounter" in t.columns else None,
                value=ibis.ifelse(numeric, _text(t.value), ibis.null("string"))
                if "value" in t.columns
                else None,
                unit=_text(t.units) if "units" in t.columns else None,
            )
        )
    if "claims" in files:
        t = files["claims"].table
        for position in range(1, 9):
            column = f"diagnosis{position}"
            if column not in t.columns:
                continue
            coded = t.filter(_text(t[column]).notnull())
            coded = coded.mutate(patient=coded.patientid)
            parts.append(
                _clinical_part(
                    coded,
                    "Other",
                    "Claim",
                    system=SNOMED,
                    start=coded.servicedate,
                    status=ibis.null("string"),
                    category=ibis.literal("claim-diagnosis"),
                    encounter=_text(coded.appointmentid),
                    code=_text(coded[column]),
                    display=ibis.null("string"),
                    record_suffix=_text(coded.id),
                    coding_index=ibis.literal(str(position - 1)),
                )
            )
    return parts


def _providers(files: dict[str, _File], npis, org_npis, org_tins) -> list[ibis.Table]:
    parts = []
    organizations = files.get("organizations")
    org_names = None
    if organizations is not None:
        o = organizations.table
        org_names = o.select(key=_text(o.id), value=_text(o.name))
        o = _lookup(o, _text(o.id), org_npis, "_npi")
        o = _lookup(o, _text(o.id), org_tins, "_tin")
        parts.append(
            o.select(
                npi=o._npi,
                name=_text(o.name),
                entity_type=ibis.literal("organization"),
                tin=o._tin,
                organization=_text(o.name),
                state_code=_text(o.state) if "state" in o.columns else ibis.null("string"),
                zip_code=_text(o.zip).substr(0, 5) if "zip" in o.columns else ibis.null("string"),
                **_provenance(o),
            )
        )
    if "providers" in files:
        p = files["providers"].table
        p = _lookup(p, _text(p.id), npis, "_npi")
        p = _lookup(p, _text(p.organization), org_tins, "_tin")
        p = _lookup(p, _text(p.organization), org_names, "_org")
        specialty = _text(p.speciality) if "speciality" in p.columns else ibis.null("string")
        parts.append(
            p.select(
                npi=p._npi,
                name=_text(p.name),
                entity_type=ibis.literal("individual"),
                tin=p._tin,
                specialty=specialty,
                is_primary_care=ibis.ifelse(
                    specialty.isnull(), ibis.null("boolean"), specialty.upper() == "GENERAL PRACTICE"
                ),
                organization=p._org,
                state_code=_text(p.state) if "state" in p.columns else ibis.null("string"),
                zip_code=_text(p.zip).substr(0, 5) if "zip" in p.columns else ibis.null("string"),
                **_provenance(p),
            )
        )
    return parts


def stage(engine: Engine, path: Path) -> Staged:
    """Read a Synthea CSV export into raw canonical tables for :func:`apmkit.ingest.pipeline.run`."""
    path = Path(path)
    staged = Staged(format=FORMAT, source=path)
    files: dict[str, _File] = {}
    for name, file in _find(path).items():
        table_name, required = FILES[name]
        records = read_delimited(file, normalize_header=True, required_columns=required)
        staged.files.append(file.name)
        files[name] = _File(engine.from_arrow(records.table), records.rejects)
        if records.rejects:
            staged.add(table_name, None, records.rejects)
    if (path / "claims_transactions.csv").exists():
        staged.warnings.append(
            "claims_transactions.csv is not read: claim amounts come from encounters.csv (see docs)"
        )
    npis = _id_map(engine, files, "providers", pseudo_npi)
    org_npis = _id_map(engine, files, "organizations", pseudo_npi)
    org_tins = _id_map(engine, files, "organizations", pseudo_tin)
    payer_names = None
    if "payers" in files:
        payers = files["payers"].table
        payer_names = payers.select(key=_text(payers.id), value=_text(payers.name))

    staged.add("members", _members(files, payer_names))
    if "payer_transitions" in files:
        staged.add("enrollment", _enrollment(engine, files, payer_names))
    if "claims" in files:
        claims = _claims(files, npis, org_npis, org_tins, payer_names)
        staged.add(
            "medical_claims",
            claims.mutate(
                charge_amount=_money_text(claims.charge_amount),
                allowed_amount=_money_text(claims.allowed_amount),
                paid_amount=_money_text(claims.paid_amount),
            ),
        )
    for part in _clinical(files):
        staged.add("clinical", part)
    for part in _providers(files, npis, org_npis, org_tins):
        staged.add("providers", part)
    return staged


__all__ = ["FORMAT", "pseudo_npi", "pseudo_tin", "stage"]
