"""Practice-finance table schemas, defined in :mod:`apmkit.schemas.finance` (the ingest layer conforms files
to them, and ingest never imports a domain package); re-exported here for finance's own code."""

from apmkit.schemas.finance import (
    BILLING,
    EXPENSE_CLASSES,
    LEDGER,
    MONEY,
    PROVIDER_ADJUSTMENTS,
    REMIT_ADJUSTMENTS,
    VERSION,
    VISITS,
)

__all__ = [
    "BILLING",
    "EXPENSE_CLASSES",
    "LEDGER",
    "MONEY",
    "PROVIDER_ADJUSTMENTS",
    "REMIT_ADJUSTMENTS",
    "VERSION",
    "VISITS",
]
