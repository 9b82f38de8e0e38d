"""A payer's portfolio by HCP-LAN category: the share of payments in each category (the LAN measurement).

Input rows are (contract, payments): the contract classified by :func:`~apmkit.classify.lan.classify_lan`, the
payments made under it in the measurement year. The shares are exact Decimals rounded half-up to 4 places
(0.01 %), computed in Python because a portfolio has a handful of rows, one per contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

from apmkit.classify.lan import CATEGORY_NAMES, CATEGORY_ORDER, LanClassification
from apmkit.money import round_money

LAN_GROUPS: dict[str, str] = {
    "1": "Category 1",
    "2A": "Category 2",
    "2B": "Category 2",
    "2C": "Category 2",
    "3A": "Category 3",
    "3B": "Category 3",
    "3N": "3N/4N (not linked to quality)",
    "4A": "Category 4",
    "4B": "Category 4",
    "4C": "Category 4",
    "4N": "3N/4N (not linked to quality)",
}


@dataclass(frozen=True)
class PortfolioEntry:
    """One contract of the portfolio and the payments made under it."""

    source: str
    classification: LanClassification
    payments: Decimal


PORTFOLIO_SCHEMA = pa.schema(
    [
        ("category", pa.string()),
        ("name", pa.string()),
        ("contracts", pa.int64()),
        ("payments", pa.decimal128(18, 2)),
        ("share", pa.decimal128(9, 4)),
    ]
)


def portfolio_shares(entries: Sequence[PortfolioEntry]) -> pa.Table:
    """Payments and share of total payments by LAN category (every category listed, zeros included).

    The ``share`` column is payments / total rounded half-up to 4 decimals; rows add up to the total payments.
    A final ``APM (3A-4C)`` row gives the share in categories 3 and 4 linked to quality - the LAN's headline
    measure of payments in APMs.
    """
    total = sum((e.payments for e in entries), Decimal(0))
    rows = []
    for category in CATEGORY_ORDER:
        chosen = [e for e in entries if e.classification.category == category]
        paid = sum((e.payments for e in chosen), Decimal(0))
        rows.append(
            {
                "category": category,
                "name": CATEGORY_NAMES[category],
                "contracts": len(chosen),
                "payments": round_money(paid),
                "share": round_money(paid / total, 4) if total else Decimal("0.0000"),
            }
        )
    apm = [e for e in entries if e.classification.category in ("3A", "3B", "4A", "4B", "4C")]
    apm_paid = sum((e.payments for e in apm), Decimal(0))
    rows.append(
        {
            "category": "APM",
            "name": "Categories 3A-4C (APMs linked to quality)",
            "contracts": len(apm),
            "payments": round_money(apm_paid),
            "share": round_money(apm_paid / total, 4) if total else Decimal("0.0000"),
        }
    )
    return pa.Table.from_pylist(rows, schema=PORTFOLIO_SCHEMA)
