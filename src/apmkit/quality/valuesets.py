"""Value sets shipped with apmkit: VSAC expansions the measures reference, as compact package data.

``data/value_set_codes.csv`` holds one row per (value set OID, code system URI, code); ``data/value_sets.csv``
names each set with its VSAC expansion version. Provenance is in ``data/SOURCES.md``; the files are rebuilt by
``data/extract_valuesets.py``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import cache
from importlib import resources

import ibis
import pyarrow as pa

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.nlm.nih.gov/research/umls/hcpcs"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SOPT = "https://nahdo.org/sopt"

CODE_SYSTEM_ALIASES: dict[str, str] = {
    # Claims and some EHR exports name code systems by OID or short name instead of the FHIR URI.
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.4": ICD10PCS,
    "urn:oid:2.16.840.1.113883.6.12": CPT,
    "urn:oid:2.16.840.1.113883.6.285": HCPCS,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "http://www.cms.gov/medicare/coding/icd10": ICD10PCS,
}


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("apmkit.quality").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def value_set_names() -> dict[str, str]:
    """Value set OID → VSAC name."""
    return {row["value_set_oid"]: row["name"] for row in _read("value_sets.csv")}


@cache
def _codes() -> tuple[tuple[str, str, str], ...]:
    return tuple((r["value_set_oid"], r["code_system"], r["code"]) for r in _read("value_set_codes.csv"))


def codes_of(oids: Iterable[str]) -> list[tuple[str, str, str]]:
    """The (OID, code system, code) rows of the given value sets; unknown OIDs raise KeyError."""
    wanted = set(oids)
    unknown = wanted - set(value_set_names())
    if unknown:
        raise KeyError(f"value sets not shipped with apmkit: {sorted(unknown)}")
    return [row for row in _codes() if row[0] in wanted]


def value_set_table(oids: Iterable[str], extra: Iterable[tuple[str, str]] = ()) -> ibis.Table:
    """The codes of ``oids`` as an in-memory ibis table (value_set_oid, code_system, code).

    ICD-10 codes are also listed without their dot, the way claims carry them, so one table serves both
    clinical data and claims. ``extra`` (code system, code) pairs are added under the tag
    ``"<system>|<code>"`` (direct-reference codes).
    """
    rows = codes_of(oids)
    undotted = [(o, s, c.replace(".", "")) for o, s, c in rows if s == ICD10CM and "." in c]
    direct = [(f"{system}|{code}", system, code) for system, code in extra]
    rows = rows + undotted + direct
    data = pa.table(
        {
            "value_set_oid": pa.array([r[0] for r in rows], pa.string()),
            "code_system": pa.array([r[1] for r in rows], pa.string()),
            "code": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    return ibis.memtable(data)
