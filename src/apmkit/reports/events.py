"""Utilization events from medical claims: the run's ``utilization`` mart (docs/reference/analytics-definitions.md §3).

One row per event: ``member_id, event, event_date, month, quantity, cents, npi, tin, facility,
place_of_service``. Events:

* ``admission`` — an acute inpatient stay (bill type 11x; claims merged into one stay when the next admission
  is on the day of or the day after the previous discharge, or the previous claim ends in a transfer status
  02/05/65/66); ``npi`` = attending, ``facility`` = CCN; dated at admission;
* ``index_stay`` / ``readmission`` — a stay ending in a live discharge (status not 20) that is not a transfer
  is an index stay; it is readmitted when another stay starts 1 to 30 days after its discharge (all-cause; the
  CMS Planned Readmission Algorithm is *not* applied — the report says so); both dated at the index discharge;
* ``ed_visit`` — an outpatient institutional claim with a revenue center 0450–0459 or 0981 (ResDAC 2015);
  ``ed_to_admission`` — the same codes on an inpatient claim (an ED visit that led to the stay, not counted
  again as an ED visit);
* ``observation`` — an outpatient claim with revenue center 0762 or HCPCS G0378;
* ``snf_days`` — SNF claims, quantity = thru − from + 1 days;
* ``imaging`` — professional and outpatient lines with a CPT radiology-section code (70010–79999); ⚠ the
  definitions name CMS's RBCS imaging category, which apmkit does not ship yet: this fallback is stated.

Money is integer cents on the run's cost basis. Pure ibis; the run writes the mart.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from apmkit.money import to_cents
from apmkit.portable import one_of
from apmkit.reports.framework import tidy

TRANSFER_STATUSES = ("02", "05", "65", "66")
EXPIRED_STATUS = "20"
ED_REVENUE = (*(f"{code:04d}" for code in range(450, 460)), "0981")
OBSERVATION_REVENUE = ("0762",)
OBSERVATION_HCPCS = ("G0378",)
EVENTS = (
    "admission",
    "index_stay",
    "readmission",
    "ed_visit",
    "ed_to_admission",
    "observation",
    "snf_days",
    "imaging",
)
IMAGING_RULE = "CPT radiology section 70010-79999 (fallback: the RBCS imaging category is not shipped)"
READMISSION_RULE = "30-day all-cause; planned readmissions NOT excluded (the CMS algorithm is not applied)"

COLUMNS = (
    "member_id",
    "event",
    "event_date",
    "month",
    "quantity",
    "cents",
    "npi",
    "tin",
    "facility",
    "place_of_service",
)


def _claims(medical: ir.Table, start: date, end: date, cost_basis: str) -> ir.Table:
    kept = medical.filter(medical.adjustment_type.fill_null("original") != "void")
    day = ibis.coalesce(kept.service_date, kept.claim_from_date, kept.admission_date)
    kept = kept.mutate(_day=day.cast("date"), _cents=to_cents(kept[cost_basis].fill_null(0)))
    return kept.filter(kept._day.between(ibis.literal(start), ibis.literal(end + timedelta(days=31))))


def _shape(table: ir.Table, event: str, day: ir.Value, quantity: ir.Value, **cols: ir.Value) -> ir.Table:
    values = {
        "member_id": table.member_id.cast("string"),
        "event": ibis.literal(event),
        "event_date": day.cast("date"),
        "month": day.truncate("M").cast("date"),
        "quantity": quantity.cast("int64"),
        "cents": cols.pop("cents", ibis.literal(0)).cast("int64"),
        "npi": cols.pop("npi", ibis.null("string")).cast("string"),
        "tin": cols.pop("tin", ibis.null("string")).cast("string"),
        "facility": cols.pop("facility", ibis.null("string")).cast("string"),
        "place_of_service": cols.pop("place_of_service", ibis.null("string")).cast("string"),
    }
    return table.select(**values)


def acute_stays(claims: ir.Table) -> ir.Table:
    """``member_id, stay, admit, discharge, status, cents, npi, tin, facility``: acute stays (claims merged)."""
    inpatient = claims.filter(
        (claims.claim_type == "inpatient") & claims.bill_type.fill_null("").startswith("11")
    )
    per_claim = inpatient.group_by("member_id", "claim_id").aggregate(
        admit=ibis.coalesce(inpatient.admission_date, inpatient.claim_from_date).min().cast("date"),
        discharge=ibis.coalesce(inpatient.discharge_date, inpatient.claim_thru_date).max().cast("date"),
        status=inpatient.discharge_status.max(),
        cents=inpatient._cents.sum(),
        npi=inpatient.attending_npi.max(),
        tin=inpatient.billing_tin.max(),
        facility=inpatient.facility_ccn.max(),
    )
    window = ibis.window(
        group_by=per_claim.member_id, order_by=[per_claim.admit, per_claim.discharge, per_claim.claim_id]
    )
    ordered = per_claim.mutate(
        _prev_discharge=per_claim.discharge.lag().over(window),
        _prev_status=per_claim.status.lag().over(window),
    )
    new_stay = ordered._prev_discharge.isnull() | (
        (ordered.admit > ordered._prev_discharge.add(ibis.interval(days=1)))
        & ~ordered._prev_status.fill_null("").isin(list(TRANSFER_STATUSES))
    )
    flagged = ordered.mutate(_new=ibis.ifelse(new_stay, 1, 0))
    running = ibis.cumulative_window(
        group_by=flagged.member_id, order_by=[flagged.admit, flagged.discharge, flagged.claim_id]
    )
    numbered = flagged.mutate(stay=flagged._new.sum().over(running))
    last = ibis.window(
        group_by=[numbered.member_id, numbered.stay],
        order_by=[ibis.desc(numbered.discharge), ibis.desc(numbered.claim_id)],
    )
    numbered = numbered.mutate(_rank=ibis.row_number().over(last))
    final = numbered.filter(numbered._rank == 0).select("member_id", "stay", final_status=numbered.status)
    stays = numbered.group_by("member_id", "stay").aggregate(
        admit=numbered.admit.min(),
        discharge=numbered.discharge.max(),
        cents=numbered.cents.sum(),
        npi=numbered.npi.max(),
        tin=numbered.tin.max(),
        facility=numbered.facility.max(),
    )
    stays = stays.inner_join(final, ["member_id", "stay"])
    return stays.select(
        "member_id",
        "stay",
        "admit",
        "discharge",
        status=stays.final_status,
        cents=stays.cents,
        npi=stays.npi,
        tin=stays.tin,
        facility=stays.facility,
    )


def readmissions(stays: ir.Table) -> ir.Table:
    """``member_id, stay, discharge, readmitted (0/1), npi, tin, facility`` per index stay."""
    index = stays.filter(
        (stays.status.fill_null("") != EXPIRED_STATUS)
        & ~stays.status.fill_null("").isin(list(TRANSFER_STATUSES))
    )
    later = stays.select(r_member=stays.member_id, r_stay=stays.stay, r_admit=stays.admit)
    pairs = index.inner_join(
        later,
        (index.member_id == later.r_member)
        & (later.r_stay != index.stay)
        & (later.r_admit >= index.discharge.add(ibis.interval(days=1)))
        & (later.r_admit <= index.discharge.add(ibis.interval(days=30))),
    )
    hit = (
        pairs.select(member_id=pairs.member_id, stay=pairs.stay).distinct().mutate(readmitted=ibis.literal(1))
    )
    joined = index.left_join(hit, ["member_id", "stay"])
    return joined.select(
        member_id=joined.member_id,
        stay=joined.stay,
        discharge=joined.discharge,
        readmitted=joined.readmitted.fill_null(0),
        cents=joined.cents,
        npi=joined.npi,
        tin=joined.tin,
        facility=joined.facility,
    )


def utilization_events(
    medical_claims: ir.Table, start: date, end: date, *, cost_basis: str = "allowed_amount"
) -> ir.Table:
    """Every utilization event dated ``start``..``end`` (see the module docstring), as :data:`COLUMNS`."""
    claims = _claims(medical_claims, start, end, cost_basis)
    stays = acute_stays(claims)
    parts = [
        _shape(
            stays,
            "admission",
            stays.admit,
            ibis.literal(1),
            cents=stays.cents,
            npi=stays.npi,
            tin=stays.tin,
            facility=stays.facility,
        )
    ]
    index = readmissions(stays)
    parts.append(
        _shape(
            index,
            "index_stay",
            index.discharge,
            ibis.literal(1),
            npi=index.npi,
            tin=index.tin,
            facility=index.facility,
        )
    )
    readmitted = index.filter(index.readmitted == 1)
    parts.append(
        _shape(
            readmitted,
            "readmission",
            readmitted.discharge,
            ibis.literal(1),
            npi=readmitted.npi,
            tin=readmitted.tin,
            facility=readmitted.facility,
        )
    )

    revenue = claims.revenue_code.fill_null("")
    ed_lines = claims.filter(one_of(revenue, ED_REVENUE))  # an IN list is a hash join over every line
    ed_claims = ed_lines.group_by("member_id", "claim_id", "claim_type").aggregate(
        day=ed_lines._day.min(),
        npi=ibis.coalesce(ed_lines.attending_npi, ed_lines.rendering_npi).max(),
        tin=ed_lines.billing_tin.max(),
        facility=ed_lines.facility_ccn.max(),
    )
    outpatient = claims.filter(claims.claim_type == "outpatient")

    def outpatient_cents(of: ir.Table) -> ir.Table:
        """``claim_id, claim_cents``: each of ``of``'s claims summed over all its outpatient lines (only those
        claims: summing every outpatient claim, once for the ED visits and again for observation, was most of
        this mart's cost)."""
        lines = outpatient.semi_join(of.select("claim_id"), "claim_id")
        return lines.group_by("claim_id").aggregate(claim_cents=lines._cents.sum())

    ed = ed_claims.filter(ed_claims.claim_type == "outpatient")
    ed = tidy(ed.left_join(outpatient_cents(ed), "claim_id"))
    parts.append(
        _shape(
            ed,
            "ed_visit",
            ed.day,
            ibis.literal(1),
            cents=ed.claim_cents.fill_null(0),
            npi=ed.npi,
            tin=ed.tin,
            facility=ed.facility,
            place_of_service=ibis.literal("23"),
        )
    )
    ed_ip = ed_claims.filter(ed_claims.claim_type == "inpatient")
    parts.append(
        _shape(
            ed_ip,
            "ed_to_admission",
            ed_ip.day,
            ibis.literal(1),
            npi=ed_ip.npi,
            tin=ed_ip.tin,
            facility=ed_ip.facility,
        )
    )

    obs_lines = claims.filter(
        (claims.claim_type == "outpatient")
        & (
            revenue.isin(list(OBSERVATION_REVENUE))
            | claims.hcpcs_code.fill_null("").isin(list(OBSERVATION_HCPCS))
        )
    )
    obs = obs_lines.group_by("member_id", "claim_id").aggregate(
        day=obs_lines._day.min(),
        tin=obs_lines.billing_tin.max(),
        facility=obs_lines.facility_ccn.max(),
        npi=ibis.coalesce(obs_lines.attending_npi, obs_lines.rendering_npi).max(),
    )
    obs = tidy(obs.left_join(outpatient_cents(obs), "claim_id"))
    parts.append(
        _shape(
            obs,
            "observation",
            obs.day,
            ibis.literal(1),
            cents=obs.claim_cents.fill_null(0),
            npi=obs.npi,
            tin=obs.tin,
            facility=obs.facility,
        )
    )

    snf_lines = claims.filter(claims.claim_type == "snf")
    snf = snf_lines.group_by("member_id", "claim_id").aggregate(
        day=ibis.coalesce(snf_lines.claim_from_date, snf_lines._day).min().cast("date"),
        thru=ibis.coalesce(snf_lines.claim_thru_date, snf_lines.claim_from_date, snf_lines._day)
        .max()
        .cast("date"),
        cents=snf_lines._cents.sum(),
        npi=snf_lines.attending_npi.max(),
        tin=snf_lines.billing_tin.max(),
        facility=snf_lines.facility_ccn.max(),
    )
    days = (snf.thru.delta(snf.day, unit="day") + 1).cast("int64")
    parts.append(
        _shape(
            snf, "snf_days", snf.day, days, cents=snf.cents, npi=snf.npi, tin=snf.tin, facility=snf.facility
        )
    )

    code = claims.hcpcs_code.fill_null("")
    imaging = claims.filter(
        claims.claim_type.isin(["professional", "outpatient"])
        & (code.length() == 5)
        & code.re_search(r"^7[0-9]{4}$")
        & (code >= "70010")
        & (code <= "79999")
    )
    parts.append(
        _shape(
            imaging,
            "imaging",
            imaging._day,
            ibis.literal(1),
            cents=imaging._cents,
            npi=imaging.rendering_npi,
            tin=imaging.billing_tin,
            facility=imaging.facility_ccn,
            place_of_service=imaging.place_of_service,
        )
    )
    events = parts[0].union(*parts[1:], distinct=False)
    return events.filter(events.event_date.between(ibis.literal(start), ibis.literal(end)))


__all__ = [
    "COLUMNS",
    "EVENTS",
    "IMAGING_RULE",
    "READMISSION_RULE",
    "acute_stays",
    "readmissions",
    "utilization_events",
]
