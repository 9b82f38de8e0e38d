"""Canonical table schemas (one place): see :mod:`apmkit.schemas.canonical`."""

from apmkit.schemas.canonical import (
    CLAIM_TYPES,
    CLINICAL,
    DX_COLUMNS,
    ENROLLMENT,
    MEDICAL_CLAIMS,
    MEMBER_XREF,
    MEMBERS,
    PHARMACY_CLAIMS,
    PROVIDERS,
    PX_COLUMNS,
    QUARANTINE,
    SCHEMA_VERSION,
    TABLES,
)
from apmkit.schemas.model import Column, TableSchema

__all__ = [
    "CLAIM_TYPES",
    "CLINICAL",
    "DX_COLUMNS",
    "ENROLLMENT",
    "MEDICAL_CLAIMS",
    "MEMBERS",
    "MEMBER_XREF",
    "PHARMACY_CLAIMS",
    "PROVIDERS",
    "PX_COLUMNS",
    "QUARANTINE",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "TableSchema",
]
