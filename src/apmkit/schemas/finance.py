"""Tables of practice finance: general-ledger entries, billing/remittance lines, and 835 adjustments.

Files are conformed to these schemas by :mod:`apmkit.ingest.practice_finance` (bad rows go to quarantine with file, line,
field and reason, like every other apmkit loader); the KPIs of :mod:`apmkit.finance.kpis` read them.
"""

from __future__ import annotations

from apmkit.schemas import Column, TableSchema
from apmkit.schemas.model import columns

VERSION = "1"
MONEY = "decimal(18, 2)"

EXPENSE_CLASSES = (
    "provider_compensation",
    "staff",
    "occupancy",
    "supplies",
    "technology",
    "purchased_services",
    "other",
)

LEDGER = TableSchema(
    name="ledger_entries",
    version=VERSION,
    description="General-ledger / P&L entries: one amount per account, month and location (revenue positive).",
    columns=columns(
        Column("posting_date", "date", required=True, description="Date posted (month of the P&L)"),
        Column("account", "string", required=True, description="GL account number or name"),
        Column("account_type", "string", required=True, allowed=("revenue", "expense")),
        Column(
            "expense_class",
            "string",
            allowed=EXPENSE_CLASSES,
            description="Expense class; provider_compensation is left out of the overhead ratio (MGMA)",
        ),
        Column("location", "string"),
        Column("payer", "string", description="Payer of a revenue entry, when the ledger carries it"),
        Column("value_based", "boolean", description="Revenue from value-based arrangements (APM payments)"),
        Column("amount", MONEY, required=True),
        Column("source_format", "string"),
        Column("source_file", "string"),
        Column("source_line", "int64"),
    ),
)

BILLING = TableSchema(
    name="billing_lines",
    version=VERSION,
    primary_key=("claim_id", "line_number"),
    description="Charges and their remittance, one row per claim line (billing export or 835 ERA).",
    columns=columns(
        Column("claim_id", "string", required=True),
        Column("line_number", "int32", required=True, min_value=1),
        Column("service_date", "date", required=True),
        Column("payer", "string", required=True),
        Column("location", "string"),
        Column("clinician", "string", description="Rendering clinician (NPI or name)"),
        Column("procedure_code", "string"),
        Column("billed_amount", MONEY, required=True, min_value=0, description="Gross charge"),
        Column("allowed_amount", MONEY, min_value=0, description="Charge less contractual adjustment"),
        Column("paid_amount", MONEY, description="Payer payment (negative for a recoupment)"),
        Column("patient_paid_amount", MONEY, min_value=0, description="Patient payments collected"),
        Column(
            "adjustment_amount", MONEY, description="Write-offs other than contractual (bad debt, denials)"
        ),
        Column("denied", "boolean", description="The payer denied the line"),
        Column(
            "carc", "string", pattern=r"^[A-Z]{0,2}[0-9]{1,3}$", description="Claim Adjustment Reason Code"
        ),
        Column(
            "rarc", "string", pattern=r"^[A-Z]{1,2}[0-9]{1,3}$", description="Remittance Advice Remark Code"
        ),
        Column("paid_date", "date", description="Date the payment was posted"),
        Column("value_based", "boolean", description="Paid under a value-based arrangement"),
        Column("source_format", "string"),
        Column("source_file", "string"),
        Column("source_line", "int64"),
    ),
)

REMIT_ADJUSTMENTS = TableSchema(
    name="remit_adjustments",
    version=VERSION,
    description="Every CAS adjustment of an 835: group code, CARC and amount, claim or line level.",
    columns=columns(
        Column("claim_id", "string", required=True),
        Column("line_number", "int32", description="Service line (NULL = claim-level adjustment)"),
        Column("group_code", "string", required=True, allowed=("CO", "PR", "OA", "PI", "CR")),
        Column("carc", "string", required=True),
        Column("amount", MONEY, required=True),
        Column("source_format", "string"),
        Column("source_file", "string"),
        Column("source_line", "int64"),
    ),
)

PROVIDER_ADJUSTMENTS = TableSchema(
    name="provider_adjustments",
    version=VERSION,
    description="PLB provider-level adjustments of an 835 (interest, recoupments, forward balances).",
    columns=columns(
        Column("provider_id", "string", required=True),
        Column("fiscal_period_date", "date"),
        Column("reason_code", "string", required=True),
        Column("reference", "string"),
        Column("amount", MONEY, required=True),
        Column("source_format", "string"),
        Column("source_file", "string"),
        Column("source_line", "int64"),
    ),
)

VISITS = TableSchema(
    name="visit_counts",
    version=VERSION,
    description="Visit counts by month (and optionally location, clinician, payer), when kept outside billing.",
    columns=columns(
        Column("visit_month", "date", required=True, description="Any date in the month counted"),
        Column("location", "string"),
        Column("clinician", "string"),
        Column("payer", "string"),
        Column("visits", "int64", required=True, min_value=0),
        Column("source_format", "string"),
        Column("source_file", "string"),
        Column("source_line", "int64"),
    ),
)
