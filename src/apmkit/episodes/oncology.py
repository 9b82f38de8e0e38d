"""Oncology episodes (Oncology Care Model, Enhancing Oncology Model) from claims, as whole-table ibis expressions.

docs/reference/methodology.md §3.3 and docs/episodes.md state the rule and what is apmkit's reading:

1. **Trigger**: a medical claim line whose HCPCS, or a Part D fill whose NDC, is on the contract's initiating
   cancer therapy list (``trigger_codes``; CMS's list is not shipped), on a day when the member has a medical
   claim with a cancer diagnosis of a listed type dated from ``diagnosis_days_before`` days before to that day.
2. **Window**: the trigger date starts the episode; it ends the day before the same date ``episode_months`` (6)
   months later.
3. **Day-one eligibility** (:func:`apmkit.episodes.build.day_one_eligibility`) in the trigger month, then
   **one episode at a time**: a trigger inside a kept episode starts none (``overlap_dropped``); the first trigger
   after it ends starts the next one.
4. **Cancer type** (the price group): the listed type with the most cancer-diagnosed claim lines of the member
   from the diagnosis look-back to the episode's end; ties go to the alphabetically first type.
5. **Attribution**: the billing TIN with the most E&M visits (distinct claims with an ``em_codes`` line, with a
   cancer diagnosis when ``em_requires_cancer_dx``) in the episode; ties go to the TIN whose first such visit is
   earliest, then to the lowest TIN. Without such a visit the episode is ``not_attributed``.
6. **Spending**: every medical claim line of the member dated in the window (and every Part D fill when
   ``include_pharmacy``), at the cost basis; ``anchor_amount`` is the trigger day's, ``post_anchor_amount`` the
   rest.
7. **Episode months** (the MEOS months): the episode's months (month k starts k months after the trigger) that
   start on or before the member's date of death; ``dual_months`` those in whose calendar month the member's
   enrollment row has a dual status (01-06, 08).
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from apmkit.episodes.spec import EpisodeBuildSpec, OncologyEpisodeSpec
from apmkit.errors import ApmkitError
from apmkit.money import from_cents, to_cents
from apmkit.portable import Fetch, Materialize
from apmkit.schemas.canonical import DX_COLUMNS

DUAL_CODES = ("01", "02", "03", "04", "05", "06", "08")
"""Enrollment dual status codes of a dually eligible beneficiary (full and partial benefit)."""

EPISODE_ID = "oncology"


def _live(claims: ir.Table) -> ir.Table:
    return claims.filter(claims.adjustment_type.fill_null("original") != "void")


def _starts(column: ir.StringValue, prefixes: tuple[str, ...]) -> ir.BooleanValue:
    return ibis.or_(*[column.startswith(p) for p in prefixes])


def cancer_lines(medical_claims: ir.Table, spec: OncologyEpisodeSpec) -> ir.Table:
    """Medical claim lines with a cancer diagnosis: ``member_id, claim_id, service, hcpcs_code, billing_tin,
    cancer_dx, cancer_type`` (the line's first cancer diagnosis; its type, NULL when of no listed type)."""
    claims = _live(medical_claims)
    columns = [c for c in DX_COLUMNS if c in claims.columns]
    prefixes = spec.cancer_dx_prefixes
    first = ibis.coalesce(
        *[
            ibis.ifelse(_starts(claims[c].fill_null(""), prefixes), claims[c], ibis.null("string"))
            for c in columns
        ]
    )
    lines = claims.select(
        "member_id",
        "claim_id",
        "hcpcs_code",
        "billing_tin",
        service=claims.service_date.fill_null(claims.claim_from_date),
        cancer_dx=first,
    ).filter(lambda t: t.cancer_dx.notnull())
    rules = [
        (_starts(lines.cancer_dx, tuple(prefixes)), name)
        for name, prefixes in sorted(spec.cancer_types.items())
    ]
    other = ibis.null("string") if spec.other_cancer_type is None else ibis.literal(spec.other_cancer_type)
    return lines.mutate(cancer_type=ibis.cases(*rules, else_=other))


def trigger_days(tables: Mapping[str, ir.Table], spec: OncologyEpisodeSpec) -> ir.Table:
    """One row per member and trigger day: ``member_id, trigger_date, trigger_claim_id, trigger_setting,
    trigger_code``."""
    hcpcs = sorted({t.code for t in spec.triggers if t.system == "hcpcs"})
    ndc = sorted({t.code for t in spec.triggers if t.system == "ndc"})
    parts = []
    if hcpcs:
        claims = _live(tables["medical_claims"])
        claims = claims.filter(claims.hcpcs_code.isin(hcpcs))
        parts.append(
            claims.select(
                "member_id",
                trigger_date=claims.service_date.fill_null(claims.claim_from_date),
                claim_id=claims.claim_id,
                setting=ibis.literal("part_b"),
                code=claims.hcpcs_code,
            )
        )
    if ndc:
        fills = tables["pharmacy_claims"]
        fills = fills.filter(fills.ndc.isin(ndc))
        parts.append(
            fills.select(
                "member_id",
                trigger_date=fills.dispensing_date,
                claim_id=fills.claim_id,
                setting=ibis.literal("part_d"),
                code=fills.ndc,
            )
        )
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    union = union.filter(union.trigger_date.notnull())
    return union.group_by(["member_id", "trigger_date"]).aggregate(
        trigger_claim_id=union.claim_id.min(),
        trigger_setting=union.setting.min(),
        trigger_code=union.code.min(),
    )


def _window_end(start: ir.DateValue, months: int) -> ir.DateValue:
    return ((start + ibis.interval(months=months)).cast("date") - ibis.interval(days=1)).cast("date")


def candidate_episodes(
    tables: Mapping[str, ir.Table], spec: OncologyEpisodeSpec, typed: ir.Table
) -> ir.Table:
    """Trigger days with a typed cancer diagnosis in the look-back, as episode candidates (build columns)."""
    days = trigger_days(tables, spec)
    dx = typed.filter(typed.cancer_type.notnull()).select(dx_member="member_id", dx_day="service")
    qualified = (
        days.join(
            dx,
            [
                days.member_id == dx.dx_member,
                dx.dx_day <= days.trigger_date,
                dx.dx_day >= days.trigger_date - ibis.interval(days=spec.diagnosis_days_before),
            ],
        )
        .select(*days.columns)
        .distinct()
    )
    key = qualified.member_id + "|" + EPISODE_ID + "|" + qualified.trigger_date.cast("string")
    return qualified.select(
        episode_key=key,
        member_id=qualified.member_id,
        episode_id=ibis.literal(EPISODE_ID),
        anchor_claim_id=qualified.trigger_claim_id,
        anchor_setting=qualified.trigger_setting,
        facility_ccn=ibis.null("string"),
        ms_drg=ibis.null("string"),
        hcpcs_code=qualified.trigger_code,
        anchor_start=qualified.trigger_date,
        anchor_end=qualified.trigger_date,
        window_end=_window_end(qualified.trigger_date, spec.episode_months),
        precedence=ibis.literal(100),
    )


def _cancer_type(kept: ir.Table, typed: ir.Table, spec: OncologyEpisodeSpec) -> ir.Table:
    """``episode_key, cancer_type, principal_dx``: the plurality type of the member's typed cancer lines."""
    lines = typed.filter(typed.cancer_type.notnull())
    inside = kept.join(
        lines,
        [
            kept.member_id == lines.member_id,
            lines.service >= kept.anchor_start - ibis.interval(days=spec.diagnosis_days_before),
            lines.service <= kept.window_end,
        ],
    )
    counts = inside.group_by(["episode_key", "cancer_type"]).aggregate(
        lines=inside.claim_id.count(), principal_dx=inside.cancer_dx.min()
    )
    ranked = counts.mutate(
        rank=ibis.row_number().over(
            group_by=counts.episode_key, order_by=[ibis.desc(counts.lines), counts.cancer_type]
        )
    )
    return ranked.filter(ranked["rank"] == 0).select("episode_key", "cancer_type", "principal_dx")


def _attributed_tin(
    kept: ir.Table, medical_claims: ir.Table, typed: ir.Table, spec: OncologyEpisodeSpec
) -> ir.Table:
    """``episode_key, billing_tin, em_visits``: the TIN with the plurality of E&M visits in the episode."""
    codes = list(spec.em_codes)
    if spec.em_requires_cancer_dx:
        visits = typed.filter(typed.hcpcs_code.isin(codes), typed.billing_tin.notnull())
    else:
        claims = _live(medical_claims)
        visits = claims.filter(claims.hcpcs_code.isin(codes), claims.billing_tin.notnull()).select(
            "member_id",
            "claim_id",
            "billing_tin",
            service=claims.service_date.fill_null(claims.claim_from_date),
        )
    visits = visits.select("member_id", "claim_id", "billing_tin", "service")
    inside = kept.join(
        visits,
        [
            kept.member_id == visits.member_id,
            visits.service >= kept.anchor_start,
            visits.service <= kept.window_end,
        ],
    )
    per_tin = inside.group_by(["episode_key", "billing_tin"]).aggregate(
        em_visits=inside.claim_id.nunique().cast("int64"), first_visit=inside.service.min()
    )
    ranked = per_tin.mutate(
        rank=ibis.row_number().over(
            group_by=per_tin.episode_key,
            order_by=[ibis.desc(per_tin.em_visits), per_tin.first_visit, per_tin.billing_tin],
        )
    )
    return ranked.filter(ranked["rank"] == 0).select("episode_key", "billing_tin", "em_visits")


def _spending(
    kept: ir.Table, tables: Mapping[str, ir.Table], cost_basis: str, include_pharmacy: bool
) -> ir.Table:
    """``episode_key, anchor_cents, post_anchor_cents, claim_lines`` over the episode window."""
    claims = _live(tables["medical_claims"])
    lines = claims.select(
        "member_id",
        service=claims.service_date.fill_null(claims.claim_from_date),
        cents=to_cents(claims[cost_basis].fill_null(0)),
    )
    if include_pharmacy:
        fills = tables["pharmacy_claims"]
        lines = lines.union(
            fills.select(
                "member_id", service=fills.dispensing_date, cents=to_cents(fills[cost_basis].fill_null(0))
            )
        )
    windows = kept.select("episode_key", "member_id", "anchor_start", "window_end")
    inside = windows.join(
        lines,
        [
            windows.member_id == lines.member_id,
            lines.service >= windows.anchor_start,
            lines.service <= windows.window_end,
        ],
    )
    on_trigger = inside.service == inside.anchor_start
    return inside.group_by("episode_key").aggregate(
        anchor_cents=ibis.ifelse(on_trigger, inside.cents, 0).sum().cast("int64"),
        post_anchor_cents=ibis.ifelse(on_trigger, 0, inside.cents).sum().cast("int64"),
        claim_lines=inside.member_id.count().cast("int64"),
    )


def _episode_months(kept: ir.Table, tables: Mapping[str, ir.Table], months: int) -> ir.Table:
    """``episode_key, episode_months, dual_months``: the episode's months starting on or before death."""
    parts = [
        kept.select(
            "episode_key",
            "member_id",
            month_start=(kept.anchor_start + ibis.interval(months=k)).cast("date"),
        )
        for k in range(months)
    ]
    each = ibis.union(*parts) if len(parts) > 1 else parts[0]
    members = tables["members"].select(death_member="member_id", death_date="death_date")
    alive = each.left_join(members, each.member_id == members.death_member)
    alive = alive.filter(alive.death_date.isnull() | (alive.month_start <= alive.death_date))
    enrollment = tables["enrollment"]
    dual = (
        enrollment.mutate(
            dual=enrollment.dual_status_code.isin(list(DUAL_CODES)).fill_null(False).cast("int8")
        )
        .group_by(["member_id", "month"])
        .aggregate(dual=lambda t: t.dual.max())
        .rename(dual_member="member_id", dual_month="month")
    )
    keyed = alive.mutate(calendar_month=alive.month_start.truncate("M").cast("date"))
    joined = keyed.left_join(
        dual, [keyed.member_id == dual.dual_member, keyed.calendar_month == dual.dual_month]
    )
    return joined.group_by("episode_key").aggregate(
        episode_months=joined.month_start.count().cast("int64"),
        dual_months=joined.dual.fill_null(0).cast("int64").sum(),
    )


def build_oncology_episodes(
    tables: Mapping[str, ir.Table], spec: EpisodeBuildSpec, *, fetch: Fetch, materialize: Materialize
) -> ir.Table:
    """Oncology episodes with the columns of :func:`apmkit.episodes.build.build_episodes` plus ``billing_tin``
    (the attributed practice), ``cancer_type``, ``em_visits``, ``episode_months`` and ``dual_months``.

    ``status``: ``kept``, ``ineligible`` (day-one rule), ``overlap_dropped`` (a trigger inside a kept episode),
    ``not_attributed`` (no E&M visit to attribute it by); amounts and months on kept episodes only.
    """
    from apmkit.episodes.build import day_one_eligibility, resolve_overlaps

    onc = spec.oncology
    assert onc is not None
    try:
        onc.triggers  # noqa: B018 - raises when the list was not given
    except ValueError as exc:
        raise ApmkitError(str(exc)) from None
    typed = materialize(cancer_lines(tables["medical_claims"], onc))
    candidates = candidate_episodes(tables, onc, typed)
    checked = materialize(day_one_eligibility(candidates, tables["enrollment"], spec))
    eligible = checked.filter(checked.eligible)
    status = resolve_overlaps(eligible, "first", fetch=fetch, materialize=materialize)
    with_status = checked.left_join(status, "episode_key").select(
        *[checked[c] for c in checked.columns if c != "eligible"],
        status=ibis.ifelse(checked.eligible, status.status, "ineligible"),
    )
    with_status = materialize(
        with_status.mutate(
            reason=ibis.ifelse(
                with_status.status == "overlap_dropped",
                "a trigger inside an earlier episode",
                with_status.reason,
            )
        )
    )
    kept = with_status.filter(with_status.status == "kept")
    types = _cancer_type(kept, typed, onc)
    tins = _attributed_tin(kept, tables["medical_claims"], typed, onc)
    out = with_status.left_join(types, "episode_key").drop("episode_key_right")
    out = out.left_join(tins, "episode_key").drop("episode_key_right")
    is_kept = (out.status == "kept") & out.billing_tin.notnull()
    out = out.mutate(
        status=ibis.ifelse((out.status == "kept") & out.billing_tin.isnull(), "not_attributed", out.status),
        reason=ibis.ifelse(
            (out.status == "kept") & out.billing_tin.isnull(),
            "no E&M visit to attribute the episode to a practice",
            out.reason,
        ),
        keep=is_kept,
    )
    out = materialize(out)
    attributed = out.filter(out.keep)
    spending = _spending(attributed, tables, spec.cost_basis, onc.include_pharmacy)
    months = _episode_months(attributed, tables, onc.episode_months)
    full = out.left_join(spending, "episode_key").drop("episode_key_right")
    full = full.left_join(months, "episode_key").drop("episode_key_right")
    anchor = ibis.ifelse(full.keep, full.anchor_cents.fill_null(0), ibis.null("int64"))
    post = ibis.ifelse(full.keep, full.post_anchor_cents.fill_null(0), ibis.null("int64"))
    return full.select(
        "episode_key",
        "member_id",
        "episode_id",
        price_group=full.cancer_type,
        anchor_claim_id=full.anchor_claim_id,
        anchor_setting=full.anchor_setting,
        facility_ccn=full.facility_ccn,
        ms_drg=full.ms_drg,
        hcpcs_code=full.hcpcs_code,
        principal_dx=full.principal_dx,
        anchor_start=full.anchor_start,
        anchor_end=full.anchor_end,
        window_end=full.window_end,
        precedence=full.precedence,
        status=full.status,
        reason=full.reason,
        anchor_amount=from_cents(anchor),
        post_anchor_amount=from_cents(post),
        total_amount=from_cents(anchor + post),
        claim_lines=ibis.ifelse(full.keep, full.claim_lines.fill_null(0), ibis.null("int64")),
        billing_tin=full.billing_tin,
        cancer_type=full.cancer_type,
        em_visits=full.em_visits,
        episode_months=ibis.ifelse(full.keep, full.episode_months.fill_null(0), ibis.null("int64")),
        dual_months=ibis.ifelse(full.keep, full.dual_months.fill_null(0), ibis.null("int64")),
    )
