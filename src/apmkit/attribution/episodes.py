"""Episode attribution: anchor events open episodes, assigned to a facility or a physician's TIN."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.attribution.spec import EpisodeSpec
from apmkit.attribution.windows import Window


def episode_attribution(
    claims: ir.Table,
    providers: ir.Table,
    members: ir.Table,
    enrollment: ir.Table,
    spec: EpisodeSpec,
    window: Window,
) -> tuple[ir.Table, ir.Table]:
    """One row per anchor event starting in the window.

    Inpatient anchors are inpatient claims whose MS-DRG is listed (start = admission date, anchor end =
    discharge date); outpatient anchors are outpatient claim lines whose HCPCS is listed (start = end =
    the line's service date). The episode runs to the anchor end plus ``episode_days`` - 1 (the day of
    discharge is day 1). An anchor that starts inside an earlier episode of the same member does not open
    a new one. Eligibility is judged on the anchor's first month (day-one eligibility).

    Returns
    -------
    (episodes, rejects)
        Decision columns plus ``episode_id``, ``episode_anchor``, ``episode_start``, ``episode_end``.
    """
    drg_cases = [(claims.ms_drg.isin(list(a.ms_drgs)), a.name) for a in spec.anchors if a.ms_drgs]
    hcpcs_cases = [(claims.hcpcs_code.isin(list(a.hcpcs)), a.name) for a in spec.anchors if a.hcpcs]
    inpatient = claims.claim_type == "inpatient"
    outpatient = claims.claim_type == "outpatient"
    anchor_name = ibis.cases(
        *[(inpatient & test, name) for test, name in drg_cases],
        *[(outpatient & test, name) for test, name in hcpcs_cases],
        else_=ibis.null("string"),
    )
    start = ibis.ifelse(
        inpatient,
        claims.admission_date.fill_null(claims.claim_from_date),
        claims.service_date.fill_null(claims.claim_from_date),
    )
    anchor_end = ibis.ifelse(
        inpatient,
        claims.discharge_date.fill_null(claims.claim_thru_date),
        claims.service_date.fill_null(claims.claim_from_date),
    )
    tagged = claims.mutate(_anchor=anchor_name, _start=start, _anchor_end=anchor_end)
    tagged = tagged.filter(
        tagged._anchor.notnull(),
        tagged._start.between(window.start, min(window.end, window.claims_through)),
        tagged.adjustment_type.fill_null("original") != "void",
    )
    if spec.payer is not None:
        tagged = tagged.filter(tagged.payer == spec.payer)
    # Institutional headers repeat on every line: one anchor per claim.
    anchors = tagged.group_by(episode_id=tagged.claim_id).agg(
        member_id=tagged.member_id.max(),
        episode_anchor=tagged._anchor.min(),
        episode_start=tagged._start.min(),
        anchor_end=tagged._anchor_end.max(),
        facility_ccn=tagged.facility_ccn.max(),
        billing_tin=tagged.billing_tin.max(),
        billing_npi=tagged.billing_npi.max(),
        physician_npi=(
            tagged.attending_npi if spec.attribute_to != "operating" else tagged.operating_npi
        ).max(),
        source_file=tagged.source_file.max(),
        source_line=tagged.source_line.min(),
    )
    anchors = anchors.mutate(episode_end=anchors.anchor_end + ibis.interval(days=spec.episode_days - 1))
    earlier = anchors.select(
        _e_member=anchors.member_id,
        _e_id=anchors.episode_id,
        _e_start=anchors.episode_start,
        _e_end=anchors.episode_end,
    )
    inside = anchors.join(
        earlier,
        [
            anchors.member_id == earlier._e_member,
            anchors.episode_id != earlier._e_id,
            (earlier._e_start < anchors.episode_start)
            | ((earlier._e_start == anchors.episode_start) & (earlier._e_id < anchors.episode_id)),
            anchors.episode_start <= earlier._e_end,
        ],
    )
    nested = inside.select(_n_id=inside.episode_id).distinct()
    anchors = anchors.left_join(nested, anchors.episode_id == nested._n_id)
    # A physician may bill under several TINs (reassignment): the claim's billing TIN when the providers
    # table lists it for the physician, else the physician's only TIN; several and none matching = missing.
    listed = providers.filter(providers.tin.notnull())
    exact = listed.select(_x_npi=listed.npi, _x_tin=listed.tin).distinct()
    anchors = anchors.left_join(
        exact, [anchors.physician_npi == exact._x_npi, anchors.billing_tin == exact._x_tin]
    )
    only = listed.group_by(_p_npi=listed.npi).agg(_p_tins=listed.tin.nunique(), _p_one=listed.tin.max())
    anchors = anchors.left_join(only, anchors.physician_npi == only._p_npi)
    anchors = anchors.mutate(
        _p_tin=anchors._x_tin.fill_null(
            ibis.ifelse(anchors._p_tins == 1, anchors._p_one, ibis.null("string"))
        )
    )
    if spec.attribute_to == "facility":
        entity, tin, npi = anchors.facility_ccn, anchors.billing_tin, anchors.billing_npi
        missing_field, missing = "facility_ccn", anchors.facility_ccn.isnull()
    else:
        entity, tin, npi = anchors._p_tin, anchors._p_tin, anchors.physician_npi
        missing_field = "attending_npi" if spec.attribute_to == "attending" else "operating_npi"
        missing = anchors.physician_npi.isnull() | anchors._p_tin.isnull()
    rules = spec.eligibility
    month = enrollment.month
    qualifying = ibis.literal(True)
    if rules.require_part_a:
        qualifying = qualifying & enrollment.part_a.fill_null(False)
    if rules.require_part_b:
        qualifying = qualifying & enrollment.part_b.fill_null(False)
    if rules.exclude_medicare_advantage:
        qualifying = qualifying & ~enrollment.medicare_advantage.fill_null(False)
    if rules.payers or spec.payer:
        qualifying = qualifying & enrollment.payer.isin(
            [*rules.payers, *([spec.payer] if spec.payer else [])]
        )
    eligible_months = (
        enrollment.filter(qualifying).select(_q_member=enrollment.member_id, _q_month=month).distinct()
    )
    anchors = anchors.mutate(_month=ibis.date(anchors.episode_start.year(), anchors.episode_start.month(), 1))
    anchors = anchors.left_join(
        eligible_months,
        [anchors.member_id == eligible_months._q_member, anchors._month == eligible_months._q_month],
    )
    deaths = members.select(_d_member=members.member_id, _death=members.death_date)
    anchors = anchors.left_join(deaths, anchors.member_id == deaths._d_member)
    reason = ibis.cases(
        (anchors._n_id.notnull(), "anchor_within_earlier_episode"),
        (anchors._q_member.isnull(), "not_eligible:day_one"),
        (anchors._death.notnull() & (anchors._death < anchors.episode_start), "not_eligible:deceased"),
        (missing, f"missing_{missing_field}"),
        else_=ibis.null("string"),
    )
    decided = anchors.mutate(_reason=reason, _entity=entity, _tin=tin, _npi=npi)
    attributed = decided._reason.isnull()
    episodes = decided.select(
        member_id=decided.member_id,
        attributed=attributed,
        step=ibis.literal("episode"),
        entity_id=ibis.ifelse(attributed, decided._entity, ibis.null("string")),
        tin=ibis.ifelse(attributed, decided._tin, ibis.null("string")),
        npi=ibis.ifelse(attributed, decided._npi, ibis.null("string")),
        reason=decided._reason,
        episode_id=decided.episode_id,
        episode_anchor=decided.episode_anchor,
        episode_start=decided.episode_start,
        episode_end=decided.episode_end,
    )
    if spec.minimum_panel > 0:
        sizes = (
            episodes.filter(episodes.attributed)
            .group_by(_s_entity=episodes.entity_id)
            .agg(_size=ibis._.count())
        )
        episodes = episodes.left_join(sizes, episodes.entity_id == sizes._s_entity)
        small = episodes.attributed & (episodes._size < spec.minimum_panel)
        episodes = episodes.mutate(
            attributed=episodes.attributed & ~small,
            reason=ibis.ifelse(small, ibis.literal("below_minimum_panel"), episodes.reason),
            entity_id=ibis.ifelse(small, ibis.null("string"), episodes.entity_id),
        ).drop("_s_entity", "_size")
    bad = decided.filter(missing & decided._n_id.isnull())
    rejects = bad.select(
        contract_id=ibis.null("string"),
        input=ibis.literal("medical_claims"),
        source_file=bad.source_file,
        source_line=bad.source_line,
        record_id=bad.episode_id,
        field=ibis.literal(missing_field),
        reason=ibis.literal(f"episode anchor without {missing_field.replace('_', ' ')} to attribute it to"),
    )
    return episodes, rejects
