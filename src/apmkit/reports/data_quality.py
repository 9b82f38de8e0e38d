"""Data-quality profile of a folder of canonical tables.

What an analyst checks before trusting a data feed: volumes, coverage, date ranges, spend per member
month by claim type, and the completeness of the fields later steps rely on (NPIs for attribution,
diagnoses for risk adjustment, clinical values for quality). Every figure is one ibis aggregation.

Spend per member month divides only what belongs to the denominator: a claim line (or pharmacy fill) counts
when its month (service date, else claim from date; dispensing date for pharmacy) is one of the member's
fee-for-service enrollment months (Medicare FFS, not Medicare Advantage; every enrollment month when the
feed has no FFS months). Pharmacy fills count in FFS months with Part D coverage and are divided by those
months. Everything else is reported separately by reason (``outside_denominator``): no enrollment at all,
before enrollment started, after enrollment ended, a gap in enrollment, a Medicare Advantage month, another
kind of coverage, no Part D that month (pharmacy), or no service date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis

from apmkit.money import cents_to_decimal, round_money, to_cents
from apmkit.portable import Fetch


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
    denominator: str = "medicare_ffs"
    denominator_member_months: int = 0
    part_d_member_months: int = 0
    pharmacy: dict[str, Any] = field(default_factory=dict)
    outside_denominator: list[dict[str, Any]] = field(default_factory=list)

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
            "denominator": self.denominator,
            "denominator_member_months": self.denominator_member_months,
            "part_d_member_months": self.part_d_member_months,
            "pharmacy": {k: str(v) if isinstance(v, Decimal) else v for k, v in self.pharmacy.items()},
            "outside_denominator": [
                {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}
                for row in self.outside_denominator
            ],
        }


_COMPLETENESS = {
    "medical_claims": ("member_id", "rendering_npi", "billing_tin", "dx_1", "hcpcs_code", "allowed_amount"),
    "members": ("birth_date", "sex", "dual_status_code", "orec", "county_fips"),
    "clinical": ("code", "effective_start", "value_numeric"),
}


def _enrollment_months(enrollment: ibis.Table) -> tuple[ibis.Table, ibis.Table]:
    """One row per member and month (``ffs``, ``ma``, ``part_d`` flags) and each member's first/last month."""
    month = enrollment.month.truncate("M")
    ma = enrollment.medicare_advantage.fill_null(False) | (
        enrollment.line_of_business == "medicare_advantage"
    )
    ffs = (enrollment.line_of_business == "medicare_ffs") & ~ma
    flags = enrollment.mutate(_m=month, _ffs=ffs.fill_null(False), _ma=ma.fill_null(False))
    per_month = flags.group_by(em_member_id=flags.member_id, em_month=flags._m).aggregate(
        em_ffs=flags._ffs.any(), em_ma=flags._ma.any(), em_part_d=flags.part_d.fill_null(False).any()
    )
    span = flags.group_by(span_member_id=flags.member_id).aggregate(
        span_first=flags._m.min(), span_last=flags._m.max()
    )
    return per_month, span


def _classify(
    rows: ibis.Table,
    when: ibis.Value,
    per_month: ibis.Table,
    span: ibis.Table,
    *,
    ffs_basis: bool,
    needs_part_d: bool,
) -> ibis.Table:
    """``rows`` with ``_reason``: null when the row's month is in the denominator, else why it is not."""
    t = rows.mutate(_month=when.truncate("M"))
    t = t.left_join(per_month, (t.member_id == per_month.em_member_id) & (t._month == per_month.em_month))
    t = t.left_join(span, t.member_id == span.span_member_id)
    in_basis = t.em_ffs if ffs_basis else t.em_member_id.notnull()
    counted = t.em_member_id.notnull() & in_basis.fill_null(False)
    if needs_part_d:
        counted &= t.em_part_d.fill_null(False)
    reason = ibis.cases(
        (t._month.isnull(), "no_service_date"),
        (counted, ibis.null("string")),
        (t.span_member_id.isnull(), "no_enrollment"),
        (t.em_member_id.notnull() & t.em_ma.fill_null(False), "medicare_advantage"),
        (t.em_member_id.notnull() & in_basis.fill_null(False), "no_part_d"),
        (t.em_member_id.notnull(), "other_coverage"),
        (t._month < t.span_first, "before_enrollment_started"),
        (t._month > t.span_last, "after_enrollment_ended"),
        else_="enrollment_gap",
    )
    return t.mutate(_reason=reason)


_REASON_ORDER = (
    "no_enrollment",
    "before_enrollment_started",
    "after_enrollment_ended",
    "enrollment_gap",
    "medicare_advantage",
    "other_coverage",
    "no_part_d",
    "no_service_date",
)


def _outside(table_name: str, t: ibis.Table, id_column: str, fetch: Fetch) -> list[dict[str, Any]]:
    out = t.filter(t._reason.notnull())
    rows = fetch(
        out.group_by(reason=out._reason).aggregate(
            lines=out.count(),
            claims=out[id_column].nunique(),
            cents=to_cents(out.allowed_amount).sum(),
        )
    )
    rows.sort(key=lambda r: _REASON_ORDER.index(r["reason"]))
    return [
        {
            "table": table_name,
            "reason": r["reason"],
            "lines": int(r["lines"]),
            "claims": int(r["claims"]),
            "allowed": cents_to_decimal(int(r["cents"] or 0)),
        }
        for r in rows
    ]


def profile(
    tables: Mapping[str, ibis.Table], fetch: Fetch, present: Iterable[str] | None = None
) -> DataQualityProfile:
    """Profile canonical ``tables``; ``fetch`` (``Engine.rows``) returns the rows of each small aggregate.

    ``present`` names the tables that exist in the source (others may be empty placeholders); by default
    ``tables.present()`` when available, else every table given.
    """

    def one(table: ibis.Table) -> dict[str, Any]:
        return fetch(table)[0]

    def count(table: ibis.Table) -> int:
        return int(one(table.aggregate(n=table.count()))["n"])

    result = DataQualityProfile()
    if present is None:
        present = tables.present() if hasattr(tables, "present") else list(tables)
    present = list(present)
    counts = {name: tables[name].count().name(name) for name in present}
    if counts:
        row = one(ibis.literal(0).name("_").as_table().select(*counts.values()))
        result.rows = {name: int(row[name]) for name in present}
    members = tables["members"]
    enrollment = tables["enrollment"]
    claims = tables["medical_claims"]
    result.members = count(members)
    result.member_months = count(enrollment)
    per_month, span = _enrollment_months(enrollment)
    months_row = one(
        per_month.aggregate(
            ffs=per_month.em_ffs.cast("int64").sum(),
            all=per_month.count(),
            ffs_part_d=(per_month.em_ffs & per_month.em_part_d).cast("int64").sum(),
            all_part_d=per_month.em_part_d.cast("int64").sum(),
        )
    )
    result.ffs_member_months = int(months_row["ffs"] or 0)
    ffs_basis = result.ffs_member_months > 0
    result.denominator = "medicare_ffs" if ffs_basis else "all_enrollment"
    result.denominator_member_months = result.ffs_member_months if ffs_basis else int(months_row["all"] or 0)
    result.part_d_member_months = int(
        (months_row["ffs_part_d"] if ffs_basis else months_row["all_part_d"]) or 0
    )
    months = result.denominator_member_months
    if "medical_claims" in present:
        span_row = one(claims.aggregate(first=claims.service_date.min(), last=claims.service_date.max()))
        result.first_service, result.last_service = span_row["first"], span_row["last"]
        classified = _classify(
            claims,
            claims.service_date.fill_null(claims.claim_from_date),
            per_month,
            span,
            ffs_basis=ffs_basis,
            needs_part_d=False,
        )
        counted = classified.filter(classified._reason.isnull())
        by_type = counted.group_by("claim_type").agg(
            lines=counted.count(),
            claims=counted.claim_id.nunique(),
            cents=to_cents(counted.allowed_amount).sum(),
        )
        total_cents = 0
        for row in fetch(by_type.order_by(ibis.desc("cents"), "claim_type")):
            cents = int(row["cents"] or 0)
            total_cents += cents
            result.spend_by_claim_type.append(
                {
                    "claim_type": row["claim_type"],
                    "lines": int(row["lines"]),
                    "claims": int(row["claims"]),
                    "allowed": cents_to_decimal(cents),
                    "pmpm": _pmpm(cents, months),
                }
            )
        result.allowed_total = cents_to_decimal(total_cents)
        result.allowed_pmpm = _pmpm(total_cents, months) or Decimal("0.00")
        result.outside_denominator.extend(_outside("medical_claims", classified, "claim_id", fetch))
        enrolled = enrollment.select("member_id").distinct()
        orphans = claims.select("member_id").distinct().anti_join(enrolled, "member_id")
        result.claims_without_enrollment = count(orphans) if "enrollment" in present else 0
    if "pharmacy_claims" in present:
        fills = tables["pharmacy_claims"]
        classified = _classify(
            fills, fills.dispensing_date, per_month, span, ffs_basis=ffs_basis, needs_part_d=True
        )
        counted = classified.filter(classified._reason.isnull())
        row = one(
            counted.aggregate(
                lines=counted.count(),
                claims=counted.claim_id.nunique(),
                cents=to_cents(counted.allowed_amount).sum(),
            )
        )
        cents = int(row["cents"] or 0)
        result.pharmacy = {
            "lines": int(row["lines"]),
            "claims": int(row["claims"]),
            "allowed": cents_to_decimal(cents),
            "member_months": result.part_d_member_months,
            "pmpm": _pmpm(cents, result.part_d_member_months),
        }
        result.outside_denominator.extend(_outside("pharmacy_claims", classified, "claim_id", fetch))
    for name, cols in _COMPLETENESS.items():
        if name not in present:
            continue
        table = tables[name]
        aggs = {c: table[c].notnull().cast("int64").sum().name(c) for c in cols}
        row = one(table.aggregate(_n=table.count(), **aggs))
        for c in cols:
            result.completeness.append(Completeness(name, c, int(row[c] or 0), int(row["_n"])))
    return result


def _pmpm(cents: int, months: int) -> Decimal | None:
    """Allowed per member month, to the cent (half-up); None without member months."""
    if months <= 0:
        return None
    return round_money(cents_to_decimal(cents) / months)
