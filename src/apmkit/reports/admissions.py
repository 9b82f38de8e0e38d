"""Admission & discharge report (``apmkit report admissions``): the daily list of inpatient, ED and SNF
admissions and discharges of the attributed members, with follow-up within 7 and 14 days of discharge.

Definitions (docs/reports.md "Admission & discharge"; docs/reference/analytics-definitions.md §3):

* **Visits from claims** (``medical_claims``): an *inpatient* or *SNF* stay is the claims of that type of one
  member with the same admission date (interim bills of one stay share it; claim from date when none),
  discharged at the latest discharge (else through) date, with the last claim's discharge status. An *ED visit*
  is an outpatient claim with a revenue center 0450–0459 or 0981, or a professional line at place of service 23;
  one per member and day. An ED visit on the day of or the day before an inpatient admission is the ED visit that
  led to the stay: it is not listed again, the stay is marked ``via_ed``.
* **Visits from ADT** (``adt_events``, when loaded): the messages of one member, facility and visit number make
  a visit; its setting is ``snf`` if any message says so, else ``inpatient``, else ``emergency`` (observation
  and outpatient visits are not listed); admitted at the earliest admit time (PV1-44, else the A01/A04 event
  time), discharged at the latest discharge time (PV1-45, else the A03 event time); an ED visit without a
  discharge is discharged the day it started; an inpatient or SNF visit without one is still admitted.
* **Deduplication**: an ADT visit of the same person and setting admitted within one day of a claims visit is
  the same visit: it is listed once, from the claims (``source = claims+adt``); ADT visits with no claim yet are
  listed from ADT (``source = adt``).
* **Follow-up**: the first outpatient or professional E/M visit (CPT 99202–99205, 99211–99215), home or
  domiciliary visit (99324–99337, 99341–99350) or transitional care management service (99495, 99496) 1 to 14
  days after a discharge, by any clinician and any payer of the same person. It is expected after a live
  discharge that is not a transfer to another inpatient setting (discharge status not 20, 40–42, 02, 05, 65,
  66). ``follow_up_7`` / ``follow_up_14`` are true or false once the window has passed on the data's last
  service date, and empty while it is still open.
* **People and payers**: members are matched to one person across payers (``member_persons`` of a multi-payer
  folder, else ``member_xref``); a visit's payer is the claim's payer, else the payer of the person's enrollment
  in the admission month, else the ADT feed's payer.

Pure ibis; the provider scope is applied to the attributed members before any aggregation.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.reports.basic import year_window
from apmkit.reports.events import ED_REVENUE, EXPIRED_STATUS, TRANSFER_STATUSES
from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    apply_scope,
    bar_chart,
    group_column,
    line_chart,
    panel,
    person_map,
    ratio,
    register,
    report_year,
    scope_note,
    suppress,
    suppression_note,
    with_person,
)

INPATIENT, EMERGENCY, SNF = "inpatient", "emergency", "snf"
SETTINGS = (INPATIENT, EMERGENCY, SNF)
ED_PLACE_OF_SERVICE = "23"
FOLLOW_UP_CODES = (
    *(str(code) for code in range(99202, 99206)),
    *(str(code) for code in range(99211, 99216)),
    *(str(code) for code in range(99324, 99338)),
    *(str(code) for code in range(99341, 99351)),
    "99495",
    "99496",
)
"""Outpatient/office E/M, domiciliary and home visits, and transitional care management (TCM)."""
NO_FOLLOW_UP_STATUSES = (EXPIRED_STATUS, "40", "41", "42", *TRANSFER_STATUSES)
"""Discharge statuses after which no follow-up is expected: expired (20, 40–42) and transfers to inpatient care."""
FOLLOW_UP_DAYS = (7, 14)
UNKNOWN_PAYER = "(unknown)"

_VISIT_COLUMNS = (
    "member_id",
    "payer",
    "setting",
    "admit_date",
    "discharge_date",
    "discharge_status",
    "facility",
    "attending_npi",
    "billing_tin",
)


def _claim_day(claims: ir.Table) -> ir.Value:
    return ibis.coalesce(claims.service_date, claims.claim_from_date).cast("date")


def claim_visits(claims: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Inpatient and SNF stays, and ED visits, from claims (each as ``_VISIT_COLUMNS``)."""
    stays_lines = claims.filter(claims.claim_type.isin([INPATIENT, SNF]))
    stays_lines = stays_lines.mutate(
        _admit=ibis.coalesce(stays_lines.admission_date, stays_lines.claim_from_date).cast("date"),
        _discharge=ibis.coalesce(stays_lines.discharge_date, stays_lines.claim_thru_date).cast("date"),
    )
    last = ibis.window(
        group_by=[stays_lines.member_id, stays_lines.claim_type, stays_lines._admit],
        order_by=[ibis.desc(stays_lines._discharge), ibis.desc(stays_lines.claim_id)],
    )
    stays_lines = stays_lines.mutate(_last_status=stays_lines.discharge_status.first().over(last))
    stays = stays_lines.group_by(
        member_id=stays_lines.member_id, setting=stays_lines.claim_type, admit_date=stays_lines._admit
    ).aggregate(
        payer=stays_lines.payer.max(),
        discharge_date=stays_lines._discharge.max(),
        discharge_status=stays_lines._last_status.max(),
        facility=stays_lines.facility_ccn.max(),
        attending_npi=stays_lines.attending_npi.max(),
        billing_tin=stays_lines.billing_tin.max(),
    )
    stays = stays.filter(stays.admit_date.notnull())

    revenue = claims.revenue_code.fill_null("")
    ed_lines = claims.filter(
        ((claims.claim_type == "outpatient") & revenue.isin(list(ED_REVENUE)))
        | (
            (claims.claim_type == "professional")
            & (claims.place_of_service.fill_null("") == ED_PLACE_OF_SERVICE)
        )
    )
    ed_lines = ed_lines.mutate(_day=_claim_day(ed_lines))
    ed = ed_lines.group_by(member_id=ed_lines.member_id, admit_date=ed_lines._day).aggregate(
        payer=ed_lines.payer.max(),
        facility=ed_lines.facility_ccn.max(),
        attending_npi=ibis.coalesce(ed_lines.attending_npi, ed_lines.rendering_npi).max(),
        billing_tin=ed_lines.billing_tin.max(),
    )
    ed = ed.filter(ed.admit_date.notnull())
    ed = ed.mutate(
        setting=ibis.literal(EMERGENCY),
        discharge_date=ed.admit_date,
        discharge_status=ibis.null("string"),
    )
    return stays.select(*_VISIT_COLUMNS), ed.select(*_VISIT_COLUMNS)


def adt_visits(adt: ir.Table) -> ir.Table:
    """Inpatient, SNF and ED visits from ADT messages, as ``_VISIT_COLUMNS``."""
    events = adt.mutate(
        _rank=ibis.cases(
            (adt.setting == SNF, 3), (adt.setting == INPATIENT, 2), (adt.setting == EMERGENCY, 1), else_=0
        ),
        _admit=ibis.coalesce(
            adt.admit_time,
            ibis.ifelse(adt.event_type.isin(["A01", "A04"]), adt.event_time, ibis.null("timestamp")),
        ).cast("date"),
        _discharge=ibis.coalesce(
            adt.discharge_time, ibis.ifelse(adt.event_type == "A03", adt.event_time, ibis.null("timestamp"))
        ).cast("date"),
        _visit=ibis.coalesce(adt.visit_number, adt.admit_time.cast("date").cast("string"), adt.event_id),
        _facility=adt.facility_id.fill_null(""),
    )
    visits = events.group_by(
        member_id=events.member_id, facility=events._facility, visit=events._visit
    ).aggregate(
        rank=events._rank.max(),
        admit_date=events._admit.min(),
        discharge_date=events._discharge.max(),
        discharge_status=events.discharge_disposition.max(),
        attending_npi=events.attending_npi.max(),
        payer=events.payer.max(),
    )
    visits = visits.filter((visits.rank > 0) & visits.admit_date.notnull())
    setting = ibis.cases((visits.rank == 3, SNF), (visits.rank == 2, INPATIENT), else_=EMERGENCY)
    visits = visits.mutate(
        setting=setting,
        discharge_date=ibis.ifelse(
            setting == EMERGENCY,
            ibis.coalesce(visits.discharge_date, visits.admit_date),
            visits.discharge_date,
        ),
        facility=visits.facility.nullif(""),
        billing_tin=ibis.null("string"),
    )
    return visits.select(*_VISIT_COLUMNS)


def _enrollment_payers(inputs: ReportInputs, persons: ir.Table | None) -> ir.Table | None:
    if not inputs.has("enrollment"):
        return None
    enrollment = inputs["enrollment"]
    months = with_person(
        enrollment.select(
            member_id=enrollment.member_id.cast("string"),
            month=enrollment.month.truncate("M").cast("date"),
            payer=enrollment.payer.cast("string"),
        ),
        persons,
    )
    return months.group_by(["person_id", "month"]).aggregate(_enrolled_payer=months.payer.min())


def _visit_id(table: ir.Table, source: str) -> ir.Value:
    parts = [
        ibis.literal(source),
        table.member_id.cast("string").fill_null(""),
        table.setting,
        table.admit_date.cast("string"),
        table.facility.fill_null(""),
    ]
    return ibis.literal(":").join(parts)


ADMISSION_VISITS = "admission_visits"
FOLLOW_UP_VISITS = "admission_follow_ups"
ADMISSION_LIST = "admission_list"


def claim_visit_rows(inputs: ReportInputs) -> ir.Table:
    """The ``admission_visits`` mart: every person's visits from claims (``_VISIT_COLUMNS``, ``person_id``,
    ``via_ed``) and the person's enrolled payer in the admission month (``_enrolled_payer``)."""
    persons = person_map(inputs)
    claims = inputs["medical_claims"]
    stays, ed = claim_visits(claims)
    stays = with_person(stays, persons)
    ed = with_person(ed, persons)

    # An ED visit on the admission day or the day before led to the stay: listed once, as the stay.
    inpatient = stays.filter(stays.setting == INPATIENT)
    keys = inpatient.select(_p=inpatient.person_id, _a=inpatient.admit_date)
    led = (
        (ed.person_id == keys._p)
        & (ed.admit_date >= keys._a.sub(ibis.interval(days=1)))
        & (ed.admit_date <= keys._a)
    )
    ed_keys = ed.select(_ep=ed.person_id, _ed=ed.admit_date)
    via = (
        inpatient.inner_join(
            ed_keys,
            (inpatient.person_id == ed_keys._ep)
            & (ed_keys._ed >= inpatient.admit_date.sub(ibis.interval(days=1)))
            & (ed_keys._ed <= inpatient.admit_date),
        )
        .select(_vp=inpatient.person_id, _va=inpatient.admit_date)
        .distinct()
    )
    stays = stays.left_join(
        via, (stays.person_id == via._vp) & (stays.admit_date == via._va) & (stays.setting == INPATIENT)
    )
    stays = stays.mutate(via_ed=stays._vp.notnull()).drop("_vp", "_va")
    ed = ed.anti_join(keys, led).mutate(via_ed=ibis.literal(False))
    columns = [*_VISIT_COLUMNS, "person_id", "via_ed"]
    from_claims = ibis.union(stays.select(*columns), ed.select(*columns), distinct=False)
    return _with_enrolled_payer(inputs, from_claims, persons)


def _with_enrolled_payer(inputs: ReportInputs, visits_: ir.Table, persons: ir.Table | None) -> ir.Table:
    """``visits_`` with ``_enrolled_payer``: the person's enrollment payer in the admission month (the smallest
    when several; null when not enrolled or no enrollment table). Enrollment is read for these persons only."""
    enrolled = _enrollment_payers(inputs, persons)
    if enrolled is None:
        return visits_.mutate(_enrolled_payer=ibis.null("string"))
    enrolled = enrolled.semi_join(visits_, enrolled.person_id == visits_.person_id)
    joined = visits_.left_join(
        enrolled,
        (visits_.person_id == enrolled.person_id)
        & (visits_.admit_date.truncate("M").cast("date") == enrolled.month),
    )
    return joined.drop("person_id_right", "month")


def follow_up_rows(inputs: ReportInputs) -> ir.Table:
    """The ``admission_follow_ups`` mart: ``_fp, _day, _npi`` — each person's outpatient or professional claim
    lines with a follow-up code (:data:`FOLLOW_UP_CODES`), their day and rendering NPI; plus one row without a
    person whose day is the claims' last service date (the day follow-up windows close on, :func:`visits`)."""
    claims = inputs["medical_claims"]
    lines = claims.filter(
        claims.claim_type.isin(["professional", "outpatient"])
        & claims.hcpcs_code.fill_null("").isin(list(FOLLOW_UP_CODES))
    )
    lines = with_person(
        lines.select(member_id=lines.member_id, _day=_claim_day(lines), _npi=lines.rendering_npi),
        person_map(inputs),
    )
    last = claims.aggregate(_day=_claim_day(claims).max())
    last = last.select(_fp=ibis.null("string"), _day=last._day, _npi=ibis.null("string"))
    found = lines.select(_fp=lines.person_id.cast("string"), _day=lines._day, _npi=lines._npi.cast("string"))
    return found.union(last, distinct=False)


_LISTED_VISIT_COLUMNS = (
    "setting",
    "person_id",
    "member_id",
    "payer",
    "entity_id",
    "tin",
    "npi",
    "facility",
    "attending_npi",
    "billing_tin",
    "admit_date",
    "discharge_date",
    "discharge_status",
    "via_ed",
)
_FOLLOW_UP_COLUMNS = (
    "follow_up_expected",
    "follow_up_date",
    "follow_up_npi",
    "days_to_follow_up",
    "follow_up_7",
    "follow_up_14",
)
LIST_COLUMNS = (*_LISTED_VISIT_COLUMNS, "visit_id", *_FOLLOW_UP_COLUMNS)
"""A listed visit: the visit, its payer and follow-up, and the attributed member (``member_id``, entity, TIN,
NPI) it is listed under; the report adds ``source``."""


def _claims_and_follow_ups(inputs: ReportInputs) -> tuple[ir.Table, ir.Table, ir.Value]:
    """The claims' visits and follow-up lines: the ``admission_visits`` and ``admission_follow_ups`` marts when
    the run folder has them, else computed from the claims; and the claims' last service date, where follow-up
    windows close (see :func:`follow_up_rows`)."""
    from_claims = inputs[ADMISSION_VISITS] if inputs.has(ADMISSION_VISITS) else claim_visit_rows(inputs)
    follow = inputs[FOLLOW_UP_VISITS] if inputs.has(FOLLOW_UP_VISITS) else follow_up_rows(inputs)
    return from_claims, follow, follow._day.max().as_scalar()


def _listed(
    visits_: ir.Table, follow: ir.Table, as_of: ir.Value, members: ir.Table, *, adt: bool
) -> ir.Table:
    """``visits_`` (``_VISIT_COLUMNS``, ``person_id``, ``via_ed``, ``_enrolled_payer``) with their payer, id and
    follow-up (:func:`with_follow_up`), once per attributed member of the person (``members``: ``person_id`` and
    the panel's columns), as :data:`LIST_COLUMNS`. A visit's payer: the claim's, else the person's enrolled payer
    that month; for an ADT visit the enrolled payer first, else the feed's."""
    every = visits_.mutate(visit_id=_visit_id(visits_, "v"))
    first, second = (every._enrolled_payer, every.payer) if adt else (every.payer, every._enrolled_payer)
    every = every.mutate(payer=ibis.coalesce(first, second).fill_null(UNKNOWN_PAYER)).drop("_enrolled_payer")
    followed = with_follow_up(every, follow, as_of)
    attributed = followed.drop("member_id").inner_join(members, "person_id")
    return attributed.select(*LIST_COLUMNS)


def claim_visit_list(inputs: ReportInputs) -> ir.Table:
    """The ``admission_list`` mart: every claims visit of every person attributed in the run, once per attributed
    member of the person, as :data:`LIST_COLUMNS` — everything the report lists of a claims visit but its
    ``source`` (``claims`` or ``claims+adt``, which depends on the ADT messages loaded when the report runs).

    Follow-up is found among the person's follow-up lines and its windows close on the claims' last service
    date, both of the whole run: computing it here for every person gives each person's rows of the report's
    computation over any scope (every step works person by person)."""
    from_claims, follow, as_of = _claims_and_follow_ups(inputs)
    members = with_person(panel(inputs, ReportRequest("marts")), person_map(inputs))
    people = members.select("person_id").distinct()
    from_claims = from_claims.semi_join(people, from_claims.person_id == people.person_id)
    follow = follow.semi_join(people, follow._fp == people.person_id)
    return _listed(from_claims, follow, as_of, members, adt=False)


def _same_visit(person: ir.Value, setting: ir.Value, admitted: ir.Value, keys: ir.Table) -> ir.BooleanValue:
    """A visit and a key (``_p`` person, ``_s`` setting, ``_a`` admit date) of the other source are one visit:
    the same person and setting, admitted within a day of each other."""
    return (
        (person == keys._p)
        & (setting == keys._s)
        & (keys._a >= admitted.sub(ibis.interval(days=1)))
        & (keys._a <= admitted.add(ibis.interval(days=1)))
    )


def listed_visits(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """The visits of the request's scope, as :data:`LIST_COLUMNS` and ``source``: the claims visits of the
    ``admission_list`` mart restricted to the scope (computed from the claims when the run folder lacks it),
    and, when an ADT feed is loaded, its visits deduplicated against them (see the module docstring)."""
    claims_list = inputs[ADMISSION_LIST] if inputs.has(ADMISSION_LIST) else claim_visit_list(inputs)
    claims_list = apply_scope(claims_list, request.scope)
    if not inputs.has("adt_events"):
        return claims_list.mutate(source=ibis.literal("claims"))
    # the ADT messages (a daily feed) are read as loaded: their visits are deduplicated now, for the scope only
    persons = person_map(inputs)
    members = with_person(panel(inputs, request), persons)
    people = members.select("person_id").distinct()
    _, follow, as_of = _claims_and_follow_ups(inputs)
    follow = follow.semi_join(people, follow._fp == people.person_id)
    columns = [*_VISIT_COLUMNS, "person_id", "via_ed"]
    adt = with_person(adt_visits(inputs["adt_events"]), persons).mutate(via_ed=ibis.literal(False))
    adt = adt.select(*columns)
    adt = adt.semi_join(people, adt.person_id == people.person_id)
    adt = _with_enrolled_payer(inputs, adt, persons)
    adt_keys = adt.select(_p=adt.person_id, _s=adt.setting, _a=adt.admit_date)
    # the scope's list holds every claims visit of the scope's people (under each of their attributed members)
    claim_keys = claims_list.select(
        _p=claims_list.person_id, _s=claims_list.setting, _a=claims_list.admit_date
    )
    same = _same_visit(claims_list.person_id, claims_list.setting, claims_list.admit_date, adt_keys)
    adt_only = adt.anti_join(claim_keys, _same_visit(adt.person_id, adt.setting, adt.admit_date, claim_keys))
    from_adt = _listed(adt_only, follow, as_of, members, adt=True)
    return ibis.union(
        claims_list.semi_join(adt_keys, same).mutate(source=ibis.literal("claims+adt")),
        claims_list.anti_join(adt_keys, same).mutate(source=ibis.literal("claims")),
        from_adt.mutate(source=ibis.literal("adt")),
        distinct=False,
    )


def with_follow_up(every: ir.Table, visits_fu: ir.Table, as_of: ir.Value) -> ir.Table:
    """Add ``follow_up_expected, follow_up_date, follow_up_npi, days_to_follow_up, follow_up_7, follow_up_14``
    from the follow-up lines ``visits_fu`` (:func:`follow_up_rows`); windows close on ``as_of`` (the claims'
    last service date)."""
    expected = every.discharge_date.notnull() & ~every.discharge_status.fill_null("").isin(
        list(NO_FOLLOW_UP_STATUSES)
    )
    candidates = every.filter(expected)
    pairs = candidates.inner_join(
        visits_fu,
        (candidates.person_id == visits_fu._fp)
        & (visits_fu._day > candidates.discharge_date)
        & (visits_fu._day <= candidates.discharge_date.add(ibis.interval(days=max(FOLLOW_UP_DAYS)))),
    )
    # the first follow-up day; of several lines that day, the smallest NPI (an argmin over the day alone picked
    # any of them, so two runs could name different clinicians)
    first_day = pairs.group_by(_fd_visit=pairs.visit_id).aggregate(_fd=pairs._day.min())
    on_day = pairs.inner_join(
        first_day, (pairs.visit_id == first_day._fd_visit) & (pairs._day == first_day._fd)
    )
    first = on_day.group_by(_fv=on_day.visit_id).aggregate(
        follow_up_date=on_day._day.min(), follow_up_npi=on_day._npi.min()
    )
    joined = every.left_join(first, every.visit_id == first._fv).drop("_fv")
    days = joined.follow_up_date.delta(joined.discharge_date, unit="day").cast("int32")
    is_expected = joined.discharge_date.notnull() & ~joined.discharge_status.fill_null("").isin(
        list(NO_FOLLOW_UP_STATUSES)
    )
    columns: dict[str, ir.Value] = {"follow_up_expected": is_expected, "days_to_follow_up": days}
    for window in FOLLOW_UP_DAYS:
        passed = joined.discharge_date.add(ibis.interval(days=window)) <= as_of
        columns[f"follow_up_{window}"] = ibis.cases(
            (~is_expected, ibis.null("boolean")),
            (days.fill_null(window + 1) <= window, True),
            (passed.fill_null(False), False),
            else_=ibis.null("boolean"),
        )
    return joined.mutate(**columns)


EVENT_COLUMNS = ("date", "event", *_LISTED_VISIT_COLUMNS, "source", *_FOLLOW_UP_COLUMNS)


@register(
    "admissions",
    "Admission & discharge",
    "Daily list of inpatient, ED and SNF admissions and discharges of the attributed members, from claims and "
    "HL7 ADT feeds (deduplicated), with follow-up (E/M, home visit or TCM) within 7 and 14 days of discharge; "
    "counts and follow-up rates by entity, TIN or NPI, payer and setting.",
    needs=(
        "attribution",
        "member_detail",
        "medical_claims",
        "adt_events",
        "enrollment",
        "member_persons",
        "member_xref",
        ADMISSION_VISITS,
        FOLLOW_UP_VISITS,
        ADMISSION_LIST,
    ),
)
def admissions_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    year = report_year(inputs, request)
    start, end = year_window(inputs, year)
    lo, hi = ibis.literal(start), ibis.literal(end)
    attributed = listed_visits(inputs, request)
    if request.payer is not None:
        attributed = attributed.filter(attributed.payer == request.payer)
    # every table below reads the scope's visits of the period: read from the marts once (with a materialize hook)
    attributed = inputs.keep(
        attributed.filter(
            attributed.admit_date.between(lo, hi)
            | (attributed.discharge_date.notnull() & attributed.discharge_date.between(lo, hi))
        )
    )
    admitted = attributed.filter(attributed.admit_date.between(lo, hi))
    discharged = attributed.filter(
        attributed.discharge_date.notnull() & attributed.discharge_date.between(lo, hi)
    )

    def rows(table: ir.Table, event: str, day: ir.Value, follow: bool) -> ir.Table:
        values = {name: table[name] for name in EVENT_COLUMNS if name in table.columns}
        values.update(date=day, event=ibis.literal(event))
        if not follow:
            for name in ("follow_up_expected", "follow_up_7", "follow_up_14"):
                values[name] = ibis.null("boolean")
            values["follow_up_date"] = ibis.null("date")
            values["follow_up_npi"] = ibis.null("string")
            values["days_to_follow_up"] = ibis.null("int32")
        return table.select(**{name: values[name] for name in EVENT_COLUMNS})

    listed = ibis.union(
        rows(admitted, "admission", admitted.admit_date, False),
        rows(discharged, "discharge", discharged.discharge_date, True),
        distinct=False,
    ).order_by(["date", "event", key, "setting", "person_id", "admit_date", "facility", "member_id", "payer"])

    daily = listed.group_by([key, "payer", "date", "setting"]).aggregate(
        admissions=(listed.event == "admission").sum().cast("int64"),
        discharges=(listed.event == "discharge").sum().cast("int64"),
    )
    daily = suppress(daily, request.suppress_below, ["admissions", "discharges"]).order_by(
        ["date", key, "payer", "setting"]
    )

    admissions_by = admitted.group_by([key, "payer", "setting"]).aggregate(
        admissions=admitted.visit_id.nunique().cast("int64")
    )
    summary_parts = {
        "discharges": discharged.visit_id.nunique().cast("int64"),
    }
    for window in FOLLOW_UP_DAYS:
        flag = discharged[f"follow_up_{window}"]
        summary_parts[f"due_{window}"] = flag.notnull().sum().cast("int64")
        summary_parts[f"followed_up_{window}"] = flag.fill_null(False).sum().cast("int64")
    discharges_by = discharged.group_by([key, "payer", "setting"]).aggregate(**summary_parts)
    summary = admissions_by.outer_join(discharges_by, [key, "payer", "setting"])
    summary = summary.select(
        **{c: ibis.coalesce(summary[c], summary[f"{c}_right"]) for c in (key, "payer", "setting")},
        admissions=summary.admissions.fill_null(0),
        **{name: summary[name].fill_null(0) for name in summary_parts},
    )
    rates = {
        f"follow_up_rate_{w}": ratio(summary[f"followed_up_{w}"], summary[f"due_{w}"]) for w in FOLLOW_UP_DAYS
    }
    summary = summary.mutate(**rates)
    counts = [
        "admissions",
        "discharges",
        *(f"{p}_{w}" for w in FOLLOW_UP_DAYS for p in ("due", "followed_up")),
    ]
    summary = suppress(summary, request.suppress_below, counts, list(rates)).order_by(
        [key, "payer", "setting"]
    )
    tables = {"summary": summary, "daily": daily, "events": listed}
    shared = request.suppress_below is not None and request.suppress_below > 1
    if shared:  # a report shared outside the entity carries counts, never the list of patients
        del tables["events"]
    sources = ", ".join(
        ["claims", *(["HL7 ADT (deduplicated against claims)"] if inputs.has("adt_events") else [])]
    )
    return ReportOutput(
        tables=tables,
        charts={
            "daily": line_chart("daily", "date", "admissions", color="setting", title="admissions by day"),
            "follow_up": bar_chart(
                "summary",
                "setting",
                "follow_up_rate_7",
                color=key,
                title="follow-up within 7 days of discharge",
            ),
        },
        notes=[
            f"period {start}..{end}; sources: {sources}",
            "follow-up: an outpatient/office E/M, home or domiciliary visit or TCM (99495, 99496) 1-14 days after "
            "a live discharge that is not a transfer; open windows (not yet passed on the claims' last service "
            "date) are neither met nor missed — docs/reference/analytics-definitions.md §3",
            "people are matched across payers (member_persons / member_xref); a visit's payer is the claim's, else "
            "the person's enrolled payer that month",
            *scope_note(request),
            *suppression_note(request),
            *(
                ["the daily list of patients (events) is left out of a report with small-cell suppression"]
                if shared
                else []
            ),
        ],
    )


__all__ = [
    "ADMISSION_LIST",
    "ADMISSION_VISITS",
    "FOLLOW_UP_CODES",
    "FOLLOW_UP_VISITS",
    "NO_FOLLOW_UP_STATUSES",
    "SETTINGS",
    "admissions_report",
    "adt_visits",
    "claim_visit_list",
    "claim_visit_rows",
    "claim_visits",
    "follow_up_rows",
    "listed_visits",
    "person_map",
    "with_person",
]
