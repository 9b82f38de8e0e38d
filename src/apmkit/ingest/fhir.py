"""FHIR R4 loader: ``apmkit ingest fhir PATH`` (bulk NDJSON, JSON resources and Bundles).

PATH is a file or a folder searched recursively for ``*.ndjson``, ``*.jsonl`` and ``*.json``. A file holds
one resource per line (NDJSON, e.g. a Bulk Data export or a BCDA download), or one JSON document: a
resource or a Bundle (collection, searchset, transaction, batch; BFD search responses are searchsets).

Resources map to the canonical tables (docs/formats-fhir-synthea.md has the full tables):

==============================  =======================================================
Patient                         ``members``
Coverage                        ``enrollment`` months (+ ``clinical`` rows, for payer data)
ExplanationOfBenefit            ``medical_claims`` lines, or ``pharmacy_claims`` for PDE
Condition, Observation, ...     ``clinical`` (one row per resource × coding × component)
others (Organization, ...)      ignored, counted in the report's warnings
==============================  =======================================================

``source_line`` is the physical line for NDJSON and the entry number within a Bundle (1 for a file that
holds a single resource). Records that cannot be parsed (invalid UTF-8, invalid JSON, not an object)
are quarantined with their file and line; everything else is conformed by the shared pipeline.

References: ``Patient/<id>``, absolute URLs and ``.../_history/n`` resolve to ``<id>``; ``urn:uuid:<u>``
resolves through the ``fullUrl``s of the Bundle it appears in (and of Bundles read before), else to
``<u>``. A resource without an ``id`` takes the uuid of its ``fullUrl``. Exact copies of a resource (same
type, id and content, as eCQM test decks ship them) are loaded once and counted in a warning.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.fhir_claims import eob_rows
from apmkit.ingest.fhir_common import NPI_SYSTEM, Json, is_npi, reference_id, text
from apmkit.ingest.fhir_resources import (
    CLINICAL_TYPES,
    OTHER_CLINICAL_TYPES,
    clinical_rows,
    coverage_rows,
    member_reference,
    patient_row,
)
from apmkit.ingest.pipeline import Staged
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject
from apmkit.schemas import TABLES

FORMAT = "fhir"
SUFFIXES = (".ndjson", ".jsonl", ".json")
_TABLE_OF_TYPE = {
    "Patient": "members",
    "Coverage": "enrollment",
    "ExplanationOfBenefit": "medical_claims",
}
_RESOURCE_TYPE = re.compile(r'"resourceType"\s*:\s*"([A-Za-z]+)"')
# Typed booleans (not text), so conformance takes them as values instead of parsing words.
_BOOLEAN_COLUMNS = ("part_a", "part_b", "part_d", "medicare_advantage", "_bfd", "negated", "esrd")


@dataclass
class _Source:
    """Where a resource came from: file, line (or entry number) and its raw text."""

    file: str
    line: int
    record: str


@dataclass
class _Collected:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejects: dict[str, list[Reject]] = field(default_factory=dict)
    coverages: list[tuple[Json, str | None, _Source]] = field(default_factory=list)
    deferred: list[tuple[Json, str | None, _Source]] = field(default_factory=list)
    member_attributes: list[dict[str, Any]] = field(default_factory=list)
    medications: dict[str, Json] = field(default_factory=dict)
    organizations: dict[str, str] = field(default_factory=dict)
    practitioner_npis: dict[str, str] = field(default_factory=dict)
    fullurls: dict[str, str] = field(default_factory=dict)
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    ignored: Counter[str] = field(default_factory=Counter)
    issues: Counter[str] = field(default_factory=Counter)
    copies: int = 0
    latest_date: str = ""

    def add_rows(self, table: str, rows: list[dict[str, Any]], source: _Source) -> None:
        bucket = self.rows.setdefault(table, [])
        for row in rows:
            row[SOURCE_FILE] = source.file
            row[SOURCE_LINE] = source.line
            row[RECORD] = source.record
            bucket.append(row)

    def reject(self, table: str, source: _Source, reason: str, field_name: str | None = None) -> None:
        self.rejects.setdefault(table, []).append(
            Reject(source.file, source.line, field_name, reason, source.record)
        )


def find_files(path: Path) -> list[Path]:
    """The FHIR files under ``path`` (itself when it is a file), in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputFileError(path, "no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
    if not files:
        raise InputFileError(path, f"no FHIR files found (expected {', '.join('*' + s for s in SUFFIXES)})")
    return files


def _display_name(file: Path, root: Path) -> str:
    return file.name if root.is_file() else str(file.relative_to(root))


def _table_for_text(raw: str, file: Path) -> str:
    """Best guess of the canonical table an unparseable record was meant for (for the report)."""
    match = _RESOURCE_TYPE.search(raw) or _RESOURCE_TYPE.search(f'"resourceType":"{file.name.split(".")[0]}"')
    resource_type = match.group(1) if match else ""
    return _TABLE_OF_TYPE.get(resource_type, "clinical")


def _loads(raw: str) -> Any:
    """Parse JSON; too-deep nesting and over-long integers are invalid JSON (a reject), not a crash."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", raw, 0) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError("number too long", raw, 0) from None


def _read_file(file: Path, name: str, collected: _Collected) -> None:
    data = file.read_bytes()
    if not data.strip():
        raise InputFileError(file, "file is empty (no FHIR resources)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    line_mode = file.name.lower().endswith((".ndjson", ".jsonl"))
    if not line_mode:
        try:
            document = _loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raw = data.decode("latin-1")
            source = _Source(name, line, raw)
            collected.reject(
                _table_for_text(raw, file),
                source,
                f"invalid UTF-8 encoding (byte 0x{data[exc.start]:02x} at line {line})",
            )
            return
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raw = data.decode("utf-8")
                collected.reject(
                    _table_for_text(raw, file),
                    _Source(name, exc.lineno, raw),
                    f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                )
                return
            line_mode = True  # several JSON documents, one per line, in a .json file
        else:
            _take_document(document, file, _Source(name, 1, ""), collected, bundle_lines=True)
            return
    for number, raw_bytes in enumerate(data.split(b"\n"), start=1):
        if not raw_bytes.strip():
            continue
        try:
            raw = raw_bytes.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            latin = raw_bytes.decode("latin-1")
            collected.reject(
                _table_for_text(latin, file),
                _Source(name, number, latin),
                f"invalid UTF-8 encoding (byte 0x{raw_bytes[exc.start]:02x} at column {exc.start + 1})",
            )
            continue
        try:
            document = _loads(raw)
        except json.JSONDecodeError as exc:
            collected.reject(
                _table_for_text(raw, file),
                _Source(name, number, raw),
                f"invalid JSON: {exc.msg} (column {exc.colno})",
            )
            continue
        _take_document(document, file, _Source(name, number, raw), collected, bundle_lines=False)


def _dump(resource: Json) -> str:
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), default=str)


def _take_document(
    document: Any, file: Path, source: _Source, collected: _Collected, *, bundle_lines: bool
) -> None:
    if not isinstance(document, dict):
        collected.reject(_table_for_text(source.record, file), source, "not a JSON object (FHIR resource)")
        return
    if document.get("resourceType") != "Bundle":
        record = source.record or _dump(document)
        _take_resource(document, _Source(source.file, source.line, record), collected)
        return
    entries = [e for e in document.get("entry") or [] if isinstance(e, dict)]
    # Resolve urn:uuid references within this Bundle before mapping any entry.
    for entry in entries:
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        if isinstance(resource, dict) and isinstance(full_url, str):
            if not resource.get("id") and full_url.startswith("urn:uuid:"):
                resource["id"] = full_url.split(":", 2)[2]
            if resource.get("id"):
                collected.fullurls[full_url] = str(resource["id"])
    for index, entry in enumerate(entries, start=1):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        line = index if bundle_lines else source.line
        if resource.get("resourceType") == "Bundle":
            _take_document(
                resource, file, _Source(source.file, line, ""), collected, bundle_lines=bundle_lines
            )
            continue
        _take_resource(resource, _Source(source.file, line, _dump(resource)), collected)


def _take_resource(resource: Json, source: _Source, collected: _Collected) -> None:
    resource_type = text(resource.get("resourceType")) or ""
    resource_id = text(resource.get("id")) or ""
    if resource_id:
        # The record text is the NDJSON line or the canonical dump of a Bundle entry: hashing it is
        # cheaper than dumping every resource again, and catches the copies test decks ship.
        key = (resource_type, resource_id, hash(source.record))
        if key in collected.seen:
            collected.copies += 1
            return
        collected.seen.add(key)
    table = _TABLE_OF_TYPE.get(resource_type, "clinical")
    try:
        _map_resource(resource, resource_type, source, collected)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # A structure the mapper does not expect (e.g. a list where FHIR has an object): quarantine it.
        collected.reject(
            table,
            source,
            f"cannot map {resource_type or 'resource'}: unexpected structure ({type(exc).__name__})",
        )


def _note_date(collected: _Collected, value: Any) -> None:
    if isinstance(value, str) and len(value) >= 10 and value[:4].isdigit() and value > collected.latest_date:
        collected.latest_date = value[:10]


def _map_resource(resource: Json, resource_type: str, source: _Source, collected: _Collected) -> None:
    if resource_type == "Patient":
        collected.add_rows("members", [patient_row(resource)], source)
        return
    if resource_type == "Medication":
        if resource.get("id"):
            collected.medications[str(resource["id"])] = resource
        collected.ignored[resource_type] += 1
        return
    if resource_type in ("Practitioner", "PractitionerRole"):
        # Kept only to give clinical facts their performer's NPI.
        for identifier in resource.get("identifier") or []:
            value = text(identifier.get("value")) if isinstance(identifier, dict) else None
            if isinstance(identifier, dict) and identifier.get("system") == NPI_SYSTEM and is_npi(value):
                collected.practitioner_npis[str(resource.get("id"))] = value or ""
        collected.ignored[resource_type] += 1
        return
    if resource_type == "Organization":
        # Kept only to name the payer of Coverage resources that reference it.
        if resource.get("id") and isinstance(resource.get("name"), str):
            collected.organizations[str(resource["id"])] = resource["name"]
        collected.ignored[resource_type] += 1
        return
    member = member_reference(resource, collected.fullurls)
    if resource_type == "ExplanationOfBenefit":
        table, rows = eob_rows(resource, member, collected.issues)
        for row in rows:
            _note_date(collected, row.get("claim_thru_date") or row.get("dispensing_date"))
        collected.add_rows(table, rows, source)
        return
    if resource_type == "Coverage":
        collected.coverages.append((resource, member, source))
    if "medicationReference" in resource:
        # The Medication it names may sit in a file not read yet: map it once everything is read.
        collected.deferred.append((resource, member, source))
        return
    if resource_type in CLINICAL_TYPES or resource_type in OTHER_CLINICAL_TYPES:
        rows = clinical_rows(resource, member, collected.medications, collected.fullurls)
        for row in rows[:1]:
            _note_date(collected, row.get("effective_start"))
        collected.add_rows("clinical", rows, source)
        return
    collected.ignored[resource_type or "(no resourceType)"] += 1


def _map_deferred(collected: _Collected) -> None:
    for resource, member, source in collected.deferred:
        try:
            rows = clinical_rows(resource, member, collected.medications, collected.fullurls)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            collected.reject(
                "clinical", source, f"cannot map resource: unexpected structure ({type(exc).__name__})"
            )
            continue
        collected.add_rows("clinical", rows, source)


def _map_coverages(collected: _Collected) -> None:
    """Coverage → enrollment months, after every file is read (open periods end at the latest date)."""
    first_read: dict[tuple[str | None, str], _Source] = {}
    for resource, member, source in collected.coverages:
        resource_id = text(resource.get("id")) or ""
        first = first_read.setdefault((member, resource_id), source) if resource_id else source
        if first is not source:
            # A second, different version of the same Coverage: its months would double the first's.
            collected.reject(
                "enrollment",
                source,
                f"duplicate Coverage id for the same patient: first read from {first.file} line {first.line}",
                "id",
            )
            continue
        try:
            rows, attributes = coverage_rows(
                resource, member, collected.fullurls, collected.latest_date or None, collected.organizations
            )
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            collected.reject(
                "enrollment", source, f"cannot map Coverage: unexpected structure ({type(exc).__name__})"
            )
            continue
        if not rows:
            collected.issues[
                "Coverage resources with no period or monthly entitlement gave no enrollment months"
            ] += 1
        collected.add_rows("enrollment", rows, source)
        if attributes:
            collected.member_attributes.append(attributes)


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of text values as an Arrow table; all-empty columns are left out (the pipeline adds NULLs)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    fields = []
    for name in names:
        if name == SOURCE_LINE:
            dtype = pa.int64()
        elif name in _BOOLEAN_COLUMNS:
            dtype = pa.bool_()
        else:
            dtype = pa.string()
        fields.append(pa.field(name, dtype))
    arrays = {}
    for column in fields:
        values = [row.get(column.name) for row in rows]
        if column.name in (SOURCE_FILE, SOURCE_LINE, RECORD) or any(v is not None for v in values):
            arrays[column.name] = pa.array(values, column.type)
    return pa.table(arrays)


def _enrollment(engine: Engine, rows: list[dict[str, Any]]) -> ibis.Table:
    """Merge the month rows of a member's Coverage resources (BFD: one per Medicare part) per month."""
    raw = engine.from_arrow(_arrow(rows))
    for name in (
        "product",
        "line_of_business",
        "dual_status_code",
        "part_a",
        "part_b",
        "part_d",
        "medicare_advantage",
    ):
        if name not in raw.columns:
            dtype = "boolean" if name.startswith("part") or name == "medicare_advantage" else "string"
            raw = raw.mutate(**{name: ibis.null(dtype)})
    grouped = raw.group_by(["member_id", "month", "payer", "product"]).aggregate(
        part_a=raw.part_a.any(),
        part_b=raw.part_b.any(),
        part_d=raw.part_d.any(),
        medicare_advantage=raw.medicare_advantage.any(),
        dual_status_code=raw.dual_status_code.max(),
        given_line_of_business=raw.line_of_business.max(),
        from_bfd=raw._bfd.any(),
        source_file=raw[SOURCE_FILE].min(),
        source_line=raw[SOURCE_LINE].min(),
        _record=raw[RECORD].min(),
    )
    medicare = ibis.cases(
        (grouped.medicare_advantage.fill_null(False), "medicare_advantage"),
        ((grouped.part_a | grouped.part_b).fill_null(False), "medicare_ffs"),
        else_="medicare_part_d",
    )
    bfd = grouped.from_bfd.fill_null(False)
    line_of_business = ibis.ifelse(bfd, medicare, grouped.given_line_of_business)
    return grouped.mutate(
        line_of_business=line_of_business,
        product=ibis.ifelse(bfd, medicare, grouped.product),
    ).drop("given_line_of_business", "from_bfd")


def _members(engine: Engine, rows: list[dict[str, Any]], attributes: list[dict[str, Any]]) -> ibis.Table:
    """Patients, with OREC/CREC/ESRD from their BFD Part A Coverage where present."""
    patients = engine.from_arrow(_arrow(rows))
    if not attributes:
        return patients
    extra = engine.from_arrow(_arrow(attributes))
    columns = [c for c in ("orec", "crec", "esrd") if c in extra.columns]
    if not columns or "member_id" not in patients.columns:
        return patients
    per_member = extra.group_by("member_id").aggregate(**{f"_{c}": extra[c].max() for c in columns})
    joined = patients.left_join(per_member, patients.member_id == per_member.member_id)
    return joined.select(
        *[joined[c] for c in patients.columns if c not in columns],
        *[joined[f"_{c}"].name(c) for c in columns],
    )


def stage(engine: Engine, path: Path) -> Staged:
    """Parse FHIR files at ``path`` into raw canonical tables for :func:`apmkit.ingest.pipeline.run`."""
    path = Path(path)
    staged = Staged(format=FORMAT, source=path)
    collected = _Collected()
    for file in find_files(path):
        name = _display_name(file, path)
        staged.files.append(name)
        _read_file(file, name, collected)
    _map_deferred(collected)
    _map_coverages(collected)
    for row in collected.rows.get("clinical", []):
        performer = row.pop("_performer", None)
        if performer and not row.get("performer_npi"):
            row["performer_npi"] = collected.practitioner_npis.get(performer)

    for table in TABLES:
        rows = collected.rows.get(table, [])
        rejects = collected.rejects.get(table, [])
        if not rows and not rejects:
            continue
        raw: ibis.Table | None = None
        if rows and table == "enrollment":
            raw = _enrollment(engine, rows)
        elif rows and table == "members":
            raw = _members(engine, rows, collected.member_attributes)
        elif rows:
            raw = engine.from_arrow(_arrow(rows))
        staged.add(table, raw, rejects)

    if collected.copies:
        staged.warnings.append(
            f"{collected.copies} exact copies of resources already read (same type, id and content) were loaded once"
        )
    if collected.ignored:
        listed = ", ".join(f"{name} {count}" for name, count in sorted(collected.ignored.items()))
        staged.warnings.append(f"ignored non-patient or unsupported resources: {listed}")
    for issue, count in sorted(collected.issues.items()):
        staged.warnings.append(f"{count} × {issue}")
    return staged


__all__ = ["FORMAT", "find_files", "reference_id", "stage"]
