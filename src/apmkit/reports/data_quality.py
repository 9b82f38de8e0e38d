"""Data-quality profile of a folder of canonical tables.

What an analyst checks before trusting a data feed: volumes, coverage, date ranges, spend per member
month by claim type, and the completeness of the fields later steps rely on (NPIs for attribution,
diagnoses for risk adjustment, clinical values for quality). Every figure is one ibis aggregation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis

from apmkit.money import cents_to_decimal, round_money, to_cents


@dataclass(frozen=True)
class Completeness:
    table: str
    column: str
    filled: int
    rows: int

    @property
    def share(self) -> float:
        return self.filled / self.rows if self.rows else 0.0


@dataclass
class DataQualityProfile:
    rows: dict[str, int] = field(default_factory=dict)
    members: int = 0
    member_months: int = 0
    ffs_member_months: int = 0
    first_service: Any = None
    last_service: Any = None
    spend_by_claim_type: list[dict[str, Any]] = field(default_factory=list)
    allowed_total: Decimal = Decimal("0.00")
    allowed_pmpm: Decimal = Decimal("0.00")
    completeness: list[Completeness] = field(default_factory=list)
    claims_without_enrollment: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "members": self.members,
            "member_months": self.member_months,
            "ffs_member_months": self.ffs_member_months,
            "first_service": str(self.first_service),
            "last_service": str(self.last_service),
            "allowed_total": str(self.allowed_total),
            "allowed_pmpm": str(self.allowed_pmpm),
            "spend_by_claim_type": [
                {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}
                for row in self.spend_by_claim_type
            ],
            "completeness": [
                {
                    "table": c.table,
                    "column": c.column,
                    "filled": c.filled,
                    "rows": c.rows,
                    "share": round(c.share, 4),
                }
                for c in self.completeness
            ],
            "claims_without_enrollment": self.claims_without_enrollment,
        }


_COMPLETENESS = {
    "medical_claims": ("member_id", "rendering_npi", "billing_tin", "dx_1", "hcpcs_code", "allowed_amount"),
    "members": ("birth_date", "sex", "dual_status_code", "orec", "county_fips"),
    "clinical": ("code", "effective_start", "value_numeric"),
}


def profile(tables: Mapping[str, ibis.Table], present: Iterable[str] | None = None) -> DataQualityProfile:
    """Profile canonical ``tables`` (each runs on the backend it is bound to).

    ``present`` names the tables that exist in the source (others may be empty placeholders); by default
    ``tables.present()`` when available, else every table given.
    """
    result = DataQualityProfile()
    if present is None:
        present = tables.present() if hasattr(tables, "present") else list(tables)
    present = list(present)
    counts = {name: tables[name].count().name(name) for name in present}
    if counts:
        row = ibis.literal(0).name("_").as_table().select(*counts.values()).to_pyarrow().to_pylist()[0]
        result.rows = {name: int(row[name]) for name in present}
    members = tables["members"]
    enrollment = tables["enrollment"]
    claims = tables["medical_claims"]
    result.members = int(members.count().execute())
    result.member_months = int(enrollment.count().execute())
    ffs = enrollment.filter(enrollment.line_of_business == "medicare_ffs")
    result.ffs_member_months = int(ffs.count().execute())
    if "medical_claims" in present:
        span = (
            claims.aggregate(first=claims.service_date.min(), last=claims.service_date.max())
            .to_pyarrow()
            .to_pylist()[0]
        )
        result.first_service, result.last_service = span["first"], span["last"]
        by_type = claims.group_by("claim_type").agg(
            lines=claims.count(),
            claims=claims.claim_id.nunique(),
            cents=to_cents(claims.allowed_amount).sum(),
        )
        months = max(result.ffs_member_months or result.member_months, 1)
        total_cents = 0
        for row in by_type.order_by(ibis.desc("cents")).to_pyarrow().to_pylist():
            cents = int(row["cents"] or 0)
            total_cents += cents
            result.spend_by_claim_type.append(
                {
                    "claim_type": row["claim_type"],
                    "lines": int(row["lines"]),
                    "claims": int(row["claims"]),
                    "allowed": cents_to_decimal(cents),
                    "pmpm": round_money(cents_to_decimal(cents) / months),
                }
            )
        result.allowed_total = cents_to_decimal(total_cents)
        result.allowed_pmpm = round_money(cents_to_decimal(total_cents) / months)
        enrolled = enrollment.select("member_id").distinct()
        orphans = claims.select("member_id").distinct().anti_join(enrolled, "member_id")
        result.claims_without_enrollment = int(orphans.count().execute()) if "enrollment" in present else 0
    for name, cols in _COMPLETENESS.items():
        if name not in present:
            continue
        table = tables[name]
        aggs = {c: table[c].notnull().cast("int64").sum().name(c) for c in cols}
        row = table.aggregate(_n=table.count(), **aggs).to_pyarrow().to_pylist()[0]
        for c in cols:
            result.completeness.append(Completeness(name, c, int(row[c] or 0), int(row["_n"])))
    return result
