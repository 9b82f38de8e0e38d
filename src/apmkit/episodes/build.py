"""Episode construction from claims, as ibis expressions over whole tables.

1. **Triggers**: inpatient claims whose MS-DRG is a trigger (anchor stay = admission -> discharge),
   outpatient claim lines whose HCPCS is a trigger (anchor = date of service).
2. **Window**: the anchor's last day counts as day 1 of the post-anchor period, so a 90-day episode
   ends on ``anchor_end + 89 days`` (42 CFR 510.210(a) for CJR; BPCI Advanced-style episodes likewise).
3. **Day-one eligibility**: in the anchor month the member has Part A and Part B, is not in Medicare
   Advantage and (optionally) not ESRD.
4. **Overlap**: when eligible episodes of a member overlap, the higher-priority one is kept (lower
   ``precedence`` value, then the earlier anchor; or the earlier anchor first under ``overlap: first``).
   Resolved greedily in rounds over the whole table until every episode is kept or dropped.
5. **Spending**: every claim line of the member dated inside the window counts, except excluded
   HCPCS, excluded claim types and readmissions with excluded MS-DRGs.

Every candidate episode stays in the output with ``status`` (``kept``, ``ineligible``,
``overlap_dropped``) and a reason, so nothing is silently lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apmkit.episodes.definitions import bpcia_definitions, cjr_definition
from apmkit.episodes.spec import EpisodeBuildSpec, EpisodeDefinition
from apmkit.errors import ApmkitError
from apmkit.money import from_cents, to_cents
from apmkit.portable import Fetch, Materialize
from apmkit.schemas.canonical import PX_COLUMNS

MAX_OVERLAP_ROUNDS = 100
SUBGROUP_SUFFIX = "_subgroup"


def _definitions(spec: EpisodeBuildSpec) -> tuple[EpisodeDefinition, ...]:
    if spec.definitions is not None:
        definitions = spec.definitions
    else:
        definitions = (cjr_definition(),) if spec.bundled == "cjr" else bpcia_definitions()
    ids = [d.episode_id for d in definitions]
    if len(ids) != len(set(ids)):
        raise ApmkitError("episodes.build.definitions: episode_id values must be unique")
    return definitions


def _layers(definitions: Sequence[EpisodeDefinition], setting: str) -> list[list[EpisodeDefinition]]:
    """Split definitions into layers in which every trigger code belongs to one definition.

    Within a layer the episode id is a CASE over the trigger code; a code that triggers several
    definitions (e.g. CJR next to BPCI-A joint replacement) lands in a second layer, and layers are
    unioned. Everything stays an expression (no lookup tables), which both engines run unchanged.
    """
    layers: list[tuple[set[str], list[EpisodeDefinition]]] = []
    for d in definitions:
        if d.setting != setting:
            continue
        codes = set(d.trigger_ms_drgs if setting == "inpatient" else d.trigger_hcpcs)
        for used, members in layers:
            if not used & codes:
                used |= codes
                members.append(d)
                break
        else:
            layers.append((set(codes), [d]))
    return [members for _, members in layers]


def _by_episode(episode_id: ir.StringValue, values: dict[str, object], default: object) -> ir.Value:
    """CASE episode_id -> value, grouping episodes that share a value (keeps the SQL short)."""
    groups: dict[object, list[str]] = {}
    for episode, value in values.items():
        groups.setdefault(value, []).append(episode)
    if not groups:
        return ibis.literal(default)
    return ibis.cases(*[(episode_id.isin(ids), value) for value, ids in groups.items()], else_=default)


def _excluded(
    episode_id: ir.StringValue, column: ir.StringValue, lists: dict[str, tuple[str, ...]]
) -> ir.BooleanValue:
    """True when ``column`` is in the exclusion list of the row's episode (lists shared across episodes)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for episode, codes in lists.items():
        if codes:
            groups.setdefault(tuple(sorted(set(codes))), []).append(episode)
    if not groups:
        return ibis.literal(False)
    return ibis.or_(
        *[episode_id.isin(ids) & column.isin(list(codes)) for codes, ids in groups.items()]
    ).fill_null(False)


def _live(claims: ir.Table) -> ir.Table:
    return claims.filter(claims.adjustment_type.fill_null("original") != "void")


def candidate_episodes(medical_claims: ir.Table, definitions: Sequence[EpisodeDefinition]) -> ir.Table:
    """Every triggered episode before eligibility and overlap rules.

    Returns ``episode_key, member_id, episode_id, price_group, anchor_claim_id, anchor_setting,
    facility_ccn, ms_drg, hcpcs_code, principal_dx, anchor_start, anchor_end, window_end, precedence``.
    """
    claims = _live(medical_claims)
    parts = []
    for layer in _layers(definitions, "inpatient"):
        inpatient = claims.filter(claims.claim_type == "inpatient")
        drg = inpatient.ms_drg.lpad(3, "0")
        episode = ibis.cases(
            *[(drg.isin(list(d.trigger_ms_drgs)), d.episode_id) for d in layer], else_=ibis.null("string")
        )
        required = [d for d in layer if d.required_px]
        has_px = (
            ibis.or_(
                *[
                    (episode == d.episode_id)
                    & ibis.or_(*[inpatient[c].isin(list(d.required_px)) for c in PX_COLUMNS])
                    for d in required
                ]
            )
            if required
            else ibis.literal(False)
        )
        lines = inpatient.mutate(
            episode_id=episode, trigger_code=drg, has_px=has_px.fill_null(False).cast("int8")
        )
        lines = lines.filter(lines.episode_id.notnull())
        stays = lines.group_by(["claim_id", "episode_id"]).aggregate(
            member_id=lines.member_id.max(),
            facility_ccn=lines.facility_ccn.max(),
            ms_drg=lines.trigger_code.max(),
            principal_dx=lines.dx_1.max(),
            anchor_start=lines.admission_date.fill_null(lines.claim_from_date).min(),
            anchor_end=lines.discharge_date.fill_null(lines.claim_thru_date).max(),
            has_px=lines.has_px.max(),
        )
        needs_px = [d.episode_id for d in required]
        if needs_px:
            stays = stays.filter(~stays.episode_id.isin(needs_px) | (stays.has_px == 1))
        parts.append(
            stays.select(
                "member_id",
                "episode_id",
                anchor_claim_id=stays.claim_id,
                anchor_setting=ibis.literal("inpatient"),
                facility_ccn=stays.facility_ccn,
                ms_drg=stays.ms_drg,
                hcpcs_code=ibis.null("string"),
                principal_dx=stays.principal_dx,
                anchor_start=stays.anchor_start,
                anchor_end=stays.anchor_end,
            )
        )
    for layer in _layers(definitions, "outpatient"):
        outpatient = claims.filter(claims.claim_type == "outpatient")
        episode = ibis.cases(
            *[(outpatient.hcpcs_code.isin(list(d.trigger_hcpcs)), d.episode_id) for d in layer],
            else_=ibis.null("string"),
        )
        lines = outpatient.mutate(episode_id=episode)
        lines = lines.filter(lines.episode_id.notnull())
        service = lines.service_date.fill_null(lines.claim_from_date)
        per_claim = lines.group_by(["claim_id", "episode_id"]).aggregate(
            member_id=lines.member_id.max(),
            facility_ccn=lines.facility_ccn.max(),
            hcpcs_code=lines.hcpcs_code.min(),
            principal_dx=lines.dx_1.max(),
            anchor_start=service.min(),
        )
        parts.append(
            per_claim.select(
                "member_id",
                "episode_id",
                anchor_claim_id=per_claim.claim_id,
                anchor_setting=ibis.literal("outpatient"),
                facility_ccn=per_claim.facility_ccn,
                ms_drg=ibis.null("string"),
                hcpcs_code=per_claim.hcpcs_code,
                principal_dx=per_claim.principal_dx,
                anchor_start=per_claim.anchor_start,
                anchor_end=per_claim.anchor_start,
            )
        )
    if not parts:
        raise ApmkitError("episodes.build.definitions: no definitions")
    candidates = ibis.union(*parts) if len(parts) > 1 else parts[0]
    post_days = _by_episode(
        candidates.episode_id, {d.episode_id: d.post_anchor_days for d in definitions}, 90
    )
    candidates = candidates.mutate(
        post_anchor_days=post_days,
        precedence=_by_episode(candidates.episode_id, {d.episode_id: d.precedence for d in definitions}, 100),
    )
    windows = [
        (candidates.post_anchor_days == days, candidates.anchor_end + ibis.interval(days=max(days - 1, 0)))
        for days in sorted({d.post_anchor_days for d in definitions})
    ]
    group_rules = [
        ((candidates.episode_id == d.episode_id) & (candidates.ms_drg == code), group)
        for d in definitions
        for code, group in d.price_group_by_drg.items()
    ]
    base_group = (
        ibis.cases(*group_rules, else_=candidates.episode_id) if group_rules else candidates.episode_id
    )
    drg_subgroup_rules = [
        (candidates.episode_id == d.episode_id) & candidates.ms_drg.isin(list(d.subgroup_drgs))
        for d in definitions
        if d.subgroup_drgs
    ]
    subgroup_by_drg = (
        ibis.or_(*drg_subgroup_rules).fill_null(False) if drg_subgroup_rules else ibis.literal(False)
    )
    subgroup_prefixes = {d.episode_id: d.subgroup_dx for d in definitions if d.subgroup_dx}
    dx = candidates.principal_dx.fill_null("")
    dx_subgroup = (
        ibis.cases(
            *[
                (candidates.episode_id == episode, ibis.or_(*[dx.startswith(prefix) for prefix in prefixes]))
                for episode, prefixes in subgroup_prefixes.items()
            ],
            else_=False,
        )
        if subgroup_prefixes
        else ibis.literal(False)
    )
    in_subgroup = subgroup_by_drg | dx_subgroup
    key = (
        candidates.member_id
        + "|"
        + candidates.episode_id
        + "|"
        + candidates.anchor_start.cast("string")
        + "|"
        + candidates.anchor_claim_id
    )
    return candidates.select(
        episode_key=key,
        member_id=candidates.member_id,
        episode_id=candidates.episode_id,
        price_group=ibis.ifelse(in_subgroup, base_group + SUBGROUP_SUFFIX, base_group),
        anchor_claim_id=candidates.anchor_claim_id,
        anchor_setting=candidates.anchor_setting,
        facility_ccn=candidates.facility_ccn,
        ms_drg=candidates.ms_drg,
        hcpcs_code=candidates.hcpcs_code,
        principal_dx=candidates.principal_dx,
        anchor_start=candidates.anchor_start,
        anchor_end=candidates.anchor_end,
        window_end=ibis.cases(*windows).cast("date"),
        precedence=candidates.precedence,
    )


def day_one_eligibility(candidates: ir.Table, enrollment: ir.Table, spec: EpisodeBuildSpec) -> ir.Table:
    """Add ``eligible`` and ``reason`` from the member's coverage in the anchor month."""
    ok = ibis.literal(True)
    if spec.require_part_a_and_b:
        ok = ok & enrollment.part_a.fill_null(False) & enrollment.part_b.fill_null(False)
    if spec.exclude_medicare_advantage:
        ok = ok & ~enrollment.medicare_advantage.fill_null(False)
    if spec.exclude_esrd:
        ok = ok & ~enrollment.esrd.fill_null(False)
    monthly = (
        enrollment.mutate(ok=ok.cast("int8"))
        .group_by(["member_id", "month"])
        .aggregate(covered=lambda t: t.ok.max())
    )
    anchor_month = candidates.anchor_start.truncate("M").cast("date")
    keyed = candidates.mutate(anchor_month=anchor_month)
    joined = keyed.left_join(
        monthly, [keyed.member_id == monthly.member_id, keyed.anchor_month == monthly.month]
    )
    reason = ibis.cases(
        (joined.covered.isnull(), "no enrollment in the anchor month"),
        (joined.covered == 0, "not eligible in the anchor month (Part A+B FFS / MA / ESRD rule)"),
        else_=ibis.null("string"),
    )
    return joined.select(
        *[joined[c] for c in candidates.columns], eligible=joined.covered.fill_null(0) == 1, reason=reason
    )


def resolve_overlaps(episodes: ir.Table, rule: str, *, fetch: Fetch, materialize: Materialize) -> ir.Table:
    """``episode_key, status`` for eligible episodes: ``kept`` or ``overlap_dropped``.

    Two episodes of a member overlap when their [anchor_start, window_end] ranges intersect. Processing
    episodes in priority order and keeping each one that overlaps no kept episode is done in rounds: an
    episode is kept once every higher-priority episode overlapping it is dropped, and dropped as soon as
    one of them is kept.
    """
    base = episodes.select("episode_key", "member_id", "anchor_start", "window_end", "precedence")
    if rule == "allow":
        return base.select("episode_key", status=ibis.literal("kept"))
    a = base
    b = base.view()
    if rule == "first":
        higher = (b.anchor_start < a.anchor_start) | (
            (b.anchor_start == a.anchor_start)
            & (
                (b.precedence < a.precedence)
                | ((b.precedence == a.precedence) & (b.episode_key < a.episode_key))
            )
        )
    else:
        higher = (b.precedence < a.precedence) | (
            (b.precedence == a.precedence)
            & (
                (b.anchor_start < a.anchor_start)
                | ((b.anchor_start == a.anchor_start) & (b.episode_key < a.episode_key))
            )
        )
    pairs = a.join(
        b,
        [
            a.member_id == b.member_id,
            a.episode_key != b.episode_key,
            a.anchor_start <= b.window_end,
            b.anchor_start <= a.window_end,
            higher,
        ],
    ).select(episode_key=a.episode_key, blocker=b.episode_key)
    pairs = materialize(pairs)
    state = materialize(base.select("episode_key", status=ibis.literal("open")))
    for _ in range(MAX_OVERLAP_ROUNDS):
        still_open = state.filter(state.status == "open")
        open_count = int(fetch(still_open.aggregate(n=still_open.count()))[0]["n"])
        if open_count == 0:
            return state
        blockers = pairs.join(state.select(blocker="episode_key", blocker_status="status"), "blocker")
        summary = blockers.group_by("episode_key").aggregate(
            kept_blockers=(blockers.blocker_status == "kept").cast("int64").sum(),
            open_blockers=(blockers.blocker_status == "open").cast("int64").sum(),
        )
        joined = state.left_join(summary, "episode_key")
        status = ibis.cases(
            (joined.status != "open", joined.status),
            (joined.kept_blockers.fill_null(0) > 0, "overlap_dropped"),
            (joined.open_blockers.fill_null(0) == 0, "kept"),
            else_="open",
        )
        state = materialize(joined.select(episode_key=state.episode_key, status=status))
    raise ApmkitError("episodes: overlap resolution did not converge")  # pragma: no cover


def episode_spending(
    kept: ir.Table, medical_claims: ir.Table, definitions: Sequence[EpisodeDefinition], cost_basis: str
) -> ir.Table:
    """Anchor and post-anchor spending (integer cents) and line counts per kept episode."""
    claims = _live(medical_claims)
    service = claims.service_date.fill_null(claims.claim_from_date)
    lines = claims.select(
        "claim_id",
        "member_id",
        "claim_type",
        "hcpcs_code",
        "ms_drg",
        service=service,
        cents=to_cents(claims[cost_basis].fill_null(0)),
    )
    windows = kept.select(
        "episode_key",
        "member_id",
        "episode_id",
        "anchor_claim_id",
        "anchor_start",
        "anchor_end",
        "window_end",
    )
    inside = windows.join(
        lines,
        [
            windows.member_id == lines.member_id,
            lines.service >= windows.anchor_start,
            lines.service <= windows.window_end,
        ],
    )
    hcpcs_excluded = _excluded(
        inside.episode_id, inside.hcpcs_code, {d.episode_id: d.excluded_hcpcs for d in definitions}
    )
    type_excluded = _excluded(
        inside.episode_id, inside.claim_type, {d.episode_id: d.excluded_claim_types for d in definitions}
    )
    drg_excluded = _excluded(
        inside.episode_id, inside.ms_drg, {d.episode_id: d.excluded_ms_drgs for d in definitions}
    )
    # An excluded readmission drops the whole inpatient claim, never the anchor stay itself.
    readmission_excluded = (
        (inside.claim_type == "inpatient") & (inside.claim_id != inside.anchor_claim_id) & drg_excluded
    )
    inside = inside.filter(~(hcpcs_excluded | type_excluded | readmission_excluded))
    in_anchor = (inside.claim_id == inside.anchor_claim_id) | (inside.service <= inside.anchor_end)
    return inside.group_by("episode_key").aggregate(
        anchor_cents=ibis.ifelse(in_anchor, inside.cents, 0).sum().cast("int64"),
        post_anchor_cents=ibis.ifelse(in_anchor, 0, inside.cents).sum().cast("int64"),
        claim_lines=inside.claim_id.count().cast("int64"),
    )


@dataclass(frozen=True)
class EpisodeBuild:
    """Built episodes: ``episodes`` holds every candidate with its status; amounts on kept ones."""

    episodes: ir.Table


def build_episodes(
    tables: Mapping[str, ir.Table], spec: EpisodeBuildSpec, *, fetch: Fetch, materialize: Materialize
) -> EpisodeBuild:
    """Build episodes from canonical tables.

    ``fetch`` and ``materialize`` (``Engine.rows`` / ``Engine.materialize``) run the overlap rounds and keep the
    tables several steps read.

    Returns
    -------
    EpisodeBuild
        ``episodes``: ``episode_key, member_id, episode_id, price_group, anchor_claim_id, anchor_setting,
        facility_ccn, ms_drg, hcpcs_code, principal_dx, anchor_start, anchor_end, window_end, precedence,
        status, reason, anchor_amount, post_anchor_amount, total_amount, claim_lines`` (amounts
        ``decimal(18,2)``, NULL unless kept).
    """
    if spec.oncology is not None:  # six-month chemotherapy episodes (OCM, EOM): apmkit.episodes.oncology
        from apmkit.episodes.oncology import build_oncology_episodes

        return EpisodeBuild(
            episodes=build_oncology_episodes(tables, spec, fetch=fetch, materialize=materialize)
        )
    definitions = _definitions(spec)
    candidates = candidate_episodes(tables["medical_claims"], definitions)
    checked = materialize(day_one_eligibility(candidates, tables["enrollment"], spec))
    eligible = checked.filter(checked.eligible)
    status = resolve_overlaps(eligible, spec.overlap, fetch=fetch, materialize=materialize)
    with_status = checked.left_join(status, "episode_key").select(
        *[checked[c] for c in checked.columns if c not in ("eligible",)],
        status=ibis.ifelse(checked.eligible, status.status, "ineligible"),
    )
    with_status = materialize(
        with_status.mutate(
            reason=ibis.ifelse(
                with_status.status == "overlap_dropped",
                "overlaps a higher-priority episode",
                with_status.reason,
            )
        )
    )
    kept = with_status.filter(with_status.status == "kept")
    spending = episode_spending(kept, tables["medical_claims"], definitions, spec.cost_basis)
    out = with_status.left_join(spending, "episode_key")
    is_kept = out.status == "kept"
    anchor = ibis.ifelse(is_kept, out.anchor_cents.fill_null(0), ibis.null("int64"))
    post = ibis.ifelse(is_kept, out.post_anchor_cents.fill_null(0), ibis.null("int64"))
    return EpisodeBuild(
        episodes=out.select(
            *[out[c] for c in with_status.columns],
            anchor_amount=from_cents(anchor),
            post_anchor_amount=from_cents(post),
            total_amount=from_cents(anchor + post),
            claim_lines=ibis.ifelse(is_kept, out.claim_lines.fill_null(0), ibis.null("int64")),
        )
    )
