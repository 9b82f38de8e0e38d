"""The classification jobs the ``apmkit classify`` commands call: a payer's portfolio of contracts by HCP-LAN
category, read from a CSV of contract files and payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from apmkit.classify import PortfolioEntry, classify_lan, portfolio_shares
from apmkit.errors import ConfigurationError
from apmkit.ingest.readers import read_delimited
from apmkit.workspace.run import read_contract


def row_amount(text: Any) -> Decimal | None:
    """A non-negative finite amount (``1,200``, ``$1200.50``), or None when the text is not one."""
    try:
        value = Decimal(str(text).replace(",", "").replace("$", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value >= 0 else None


@dataclass
class Portfolio:
    """Payments by HCP-LAN category (``table``), the contracts classified and the rows refused (line, field,
    reason: never a value)."""

    table: pa.Table
    entries: list[PortfolioEntry] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: categories, contracts, rejected rows and counts (amounts as text, exact)."""
        return {
            "categories": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                for r in self.table.to_pylist()
            ],
            "contracts": [
                {
                    "source": e.source,
                    "contract_id": e.classification.contract_id,
                    "category": e.classification.category,
                    "payments": str(e.payments),
                }
                for e in self.entries
            ],
            "rejected": self.rejected,
            "counts": self.counts,
        }


def classify_portfolio(contracts_csv: Path) -> Portfolio:
    """Classify every contract listed in ``contracts_csv`` (columns ``contract``: a file relative to the CSV,
    ``payments``) and share the payments by category; unreadable rows are refused with their line and field."""
    raw = read_delimited(contracts_csv, required_columns=("contract", "payments"))
    entries: list[PortfolioEntry] = []
    rejected: list[dict[str, Any]] = [
        {"line": r.source_line, "field": r.field, "reason": r.reason} for r in raw.rejects
    ]
    for row in raw.table.to_pylist():
        line = row["source_line"]
        amount = row_amount(row.get("payments"))
        if amount is None:
            rejected.append({"line": line, "field": "payments", "reason": "not a non-negative amount"})
            continue
        path = contracts_csv.parent / str(row.get("contract") or "").strip()
        if not row.get("contract") or not path.is_file():
            rejected.append({"line": line, "field": "contract", "reason": "contract file not found"})
            continue
        try:
            spec = read_contract(path)
        except ConfigurationError as exc:
            rejected.append({"line": line, "field": "contract", "reason": str(exc).splitlines()[0]})
            continue
        entries.append(
            PortfolioEntry(
                source=f"{contracts_csv.name} line {line}", classification=classify_lan(spec), payments=amount
            )
        )
    counts = {"read": raw.read, "loaded": len(entries), "rejected": len(rejected)}
    return Portfolio(table=portfolio_shares(entries), entries=entries, rejected=rejected, counts=counts)
