"""Canonical table schemas (one place): see :mod:`apmkit.schemas.canonical`."""

from apmkit.schemas.canonical import (
    ADT_EVENTS,
    CLAIM_TYPES,
    CLINICAL,
    DX_COLUMNS,
    ENROLLMENT,
    MEDICAL_CLAIMS,
    MEDICAL_CLAIMS_HISTORY,
    MEMBER_PERSONS,
    MEMBER_XREF,
    MEMBERS,
    PHARMACY_CLAIMS,
    PHARMACY_CLAIMS_HISTORY,
    PROVIDERS,
    PX_COLUMNS,
    QUARANTINE,
    SCHEMA_VERSION,
    TABLES,
)
from apmkit.schemas.model import Column, TableSchema

__all__ = [
    "ADT_EVENTS",
    "CLAIM_TYPES",
    "CLINICAL",
    "DX_COLUMNS",
    "ENROLLMENT",
    "MEDICAL_CLAIMS",
    "MEDICAL_CLAIMS_HISTORY",
    "MEMBERS",
    "MEMBER_PERSONS",
    "MEMBER_XREF",
    "PHARMACY_CLAIMS",
    "PHARMACY_CLAIMS_HISTORY",
    "PROVIDERS",
    "PX_COLUMNS",
    "QUARANTINE",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "TableSchema",
]
