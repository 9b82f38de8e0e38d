"""Planned readmissions (docs/reference/analytics-definitions.md §3.1): the structure of CMS's Planned Readmission
Algorithm version 4.0, over a code list the user supplies.

apmkit does not ship the algorithm's code tables (they are AHRQ CCS categories mapped to ICD-10 codes, published
by CMS with each measure's specifications); the user gives them as a CSV (``category, code``), read by
:func:`apmkit.workspace.reports.read_planned_codes`, and the report names the file. A readmission stay is
**planned** when

1. it has a procedure (ICD-10-PCS, any position) in ``always_planned_procedure``; or
2. its principal diagnosis (ICD-10-CM) is in ``always_planned_diagnosis``; or
3. it has a procedure in ``potentially_planned_procedure`` and its principal diagnosis is not in
   ``acute_diagnosis`` (acute or complication of care).

Only the first stay starting 1 to 30 days after an index discharge is looked at: the index stay is readmitted
when that stay is unplanned (a planned first readmission means no readmission, whatever follows).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.reports.events import TRANSFER_STATUSES, _claims, acute_stays
from apmkit.schemas.canonical import PX_COLUMNS

CATEGORIES = (
    "always_planned_procedure",
    "always_planned_diagnosis",
    "potentially_planned_procedure",
    "acute_diagnosis",
)
PLANNED_CODES = "planned_readmission_codes"
"""The name the code list has among a report's tables (``category, code``; codes without dots)."""
ALGORITHM = "CMS Planned Readmission Algorithm v4.0 (structure), code list supplied by the user"


def stay_codes(
    medical_claims: ir.Table, start: date, end: date, cost_basis: str
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The acute stays of :func:`apmkit.reports.events.acute_stays`, and for each ``member_id, stay``: the
    principal diagnosis of its first claim (``principal_dx``) and the ICD-10-PCS codes of all its claims
    (``code``, one row each); codes upper case without dots."""
    claims = _claims(medical_claims, start, end, cost_basis)
    stays = acute_stays(claims)
    inpatient = claims.filter(
        (claims.claim_type == "inpatient") & claims.bill_type.fill_null("").startswith("11")
    )
    per_claim = inpatient.group_by(["member_id", "claim_id"]).aggregate(
        admit=ibis.coalesce(inpatient.admission_date, inpatient.claim_from_date).min().cast("date"),
        principal=inpatient.dx_1.max(),
    )
    # a claim belongs to the stay whose dates contain its admission (acute_stays merges claims by date)
    bounds = stays.select(s_member="member_id", s_stay="stay", s_admit="admit", s_discharge="discharge")
    located = per_claim.inner_join(
        bounds,
        (per_claim.member_id == bounds.s_member)
        & (per_claim.admit >= bounds.s_admit)
        & (per_claim.admit <= bounds.s_discharge),
    )
    first = located.mutate(
        _rank=ibis.row_number().over(
            group_by=[located.member_id, located.s_stay], order_by=[located.admit, located.claim_id]
        )
    )
    principal = first.filter(first._rank == 0).select(
        "member_id", stay=first.s_stay, principal_dx=first.principal.upper().replace(".", "")
    )
    long = inpatient.select("member_id", "claim_id", *PX_COLUMNS).pivot_longer(
        list(PX_COLUMNS), names_to="_column", values_to="code"
    )
    long = long.filter(long.code.notnull() & (long.code != ""))
    procedures = long.inner_join(located.select("claim_id", stay=located.s_stay), "claim_id").select(
        "member_id", "stay", code=long.code.upper().replace(".", "")
    )
    return stays, principal, procedures.distinct()


def unplanned_readmissions(
    medical_claims: ir.Table, codes: ir.Table, start: date, end: date, cost_basis: str
) -> ir.Table:
    """``member_id, event ('readmission'), event_date, month, quantity, cents, npi, tin, facility,
    place_of_service``: the index stays whose first readmission within 30 days is unplanned (see the module
    docstring), dated at the index discharge like the run's ``utilization`` mart."""
    stays, principal, procedures = stay_codes(medical_claims, start, end, cost_basis)
    listed = codes.select(category=codes.category.cast("string"), code=codes.code.cast("string"))

    def flag(category: str, table: ir.Table, name: str) -> ir.Table:
        wanted = listed.filter(listed.category == category).select("code")
        hit = table.semi_join(wanted, "code") if "code" in table.columns else table
        return hit.select("member_id", "stay").distinct().mutate(**{name: ibis.literal(True)})

    principal_codes = principal.select("member_id", "stay", code=principal.principal_dx)
    always_px = flag("always_planned_procedure", procedures, "_always_px")
    always_dx = flag("always_planned_diagnosis", principal_codes, "_always_dx")
    potential_px = flag("potentially_planned_procedure", procedures, "_potential_px")
    acute_dx = flag("acute_diagnosis", principal_codes, "_acute_dx")
    flagged = stays.select("member_id", "stay", "admit")
    for table in (always_px, always_dx, potential_px, acute_dx):
        flagged = flagged.left_join(table, ["member_id", "stay"]).drop("member_id_right", "stay_right")
    planned = (
        flagged._always_px.fill_null(False)
        | flagged._always_dx.fill_null(False)
        | (flagged._potential_px.fill_null(False) & ~flagged._acute_dx.fill_null(False))
    )
    candidates = flagged.select(r_member="member_id", r_stay="stay", r_admit="admit", r_planned=planned)
    index = stays.filter(
        (stays.status.fill_null("") != "20") & ~stays.status.fill_null("").isin(list(TRANSFER_STATUSES))
    )
    pairs = index.inner_join(
        candidates,
        (index.member_id == candidates.r_member)
        & (candidates.r_stay != index.stay)
        & (candidates.r_admit >= index.discharge.add(ibis.interval(days=1)))
        & (candidates.r_admit <= index.discharge.add(ibis.interval(days=30))),
    )
    ranked = pairs.mutate(
        _rank=ibis.row_number().over(
            group_by=[pairs.member_id, pairs.stay], order_by=[pairs.r_admit, pairs.r_stay]
        )
    )
    first = ranked.filter((ranked._rank == 0) & ~ranked.r_planned)
    events = first.select(
        member_id=first.member_id.cast("string"),
        event=ibis.literal("readmission"),
        event_date=first.discharge.cast("date"),
        month=first.discharge.truncate("M").cast("date"),
        quantity=ibis.literal(1, type="int64"),
        cents=ibis.literal(0, type="int64"),
        npi=first.npi.cast("string"),
        tin=first.tin.cast("string"),
        facility=first.facility.cast("string"),
        place_of_service=ibis.null("string"),
    )
    return events.filter(events.event_date.between(ibis.literal(start), ibis.literal(end)))


__all__ = ["ALGORITHM", "CATEGORIES", "PLANNED_CODES", "stay_codes", "unplanned_readmissions"]
