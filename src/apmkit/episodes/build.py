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
import pyarrow as pa

from apmkit.episodes.definitions import bpcia_definitions
from apmkit.episodes.spec import EpisodeBuildSpec, EpisodeDefinition
from apmkit.errors import ApmkitError
from apmkit.money import from_cents, to_cents
from apmkit.schemas.canonical import PX_COLUMNS

MAX_OVERLAP_ROUNDS = 100
SUBGROUP_SUFFIX = "_subgroup"


def _definitions(spec: EpisodeBuildSpec) -> tuple[EpisodeDefinition, ...]:
    definitions = spec.definitions if spec.definitions is not None else bpcia_definitions()
    ids = [d.episode_id for d in definitions]
    if len(ids) != len(set(ids)):
        raise ApmkitError("episodes.build.definitions: episode_id values must be unique")
    return definitions


def _trigger_table(definitions: Sequence[EpisodeDefinition], setting: str) -> ir.Table:
    rows = {"episode_id": [], "code": [], "price_group": [], "in_subgroup_by_drg": []}
    for d in definitions:
        if d.setting != setting:
            continue
        for code in d.trigger_ms_drgs if setting == "inpatient" else d.trigger_hcpcs:
            rows["episode_id"].append(d.episode_id)
            rows["code"].append(code)
            rows["price_group"].append(d.price_group_by_drg.get(code, d.episode_id))
            rows["in_subgroup_by_drg"].append(code in d.subgroup_drgs)
    schema = pa.schema(
        [
            ("episode_id", pa.string()),
            ("code", pa.string()),
            ("price_group", pa.string()),
            ("in_subgroup_by_drg", pa.bool_()),
        ]
    )
    return ibis.memtable(pa.table(rows, schema=schema))


def _code_table(pairs: list[tuple[str, str]], column: str) -> ir.Table:
    schema = pa.schema([("episode_id", pa.string()), (column, pa.string())])
    return ibis.memtable(
        pa.table({"episode_id": [p[0] for p in pairs], column: [p[1] for p in pairs]}, schema=schema)
    )


def _episode_attributes(definitions: Sequence[EpisodeDefinition]) -> ir.Table:
    schema = pa.schema(
        [("episode_id", pa.string()), ("post_anchor_days", pa.int32()), ("precedence", pa.int32())]
    )
    return ibis.memtable(
        pa.table(
            {
                "episode_id": [d.episode_id for d in definitions],
                "post_anchor_days": [d.post_anchor_days for d in definitions],
                "precedence": [d.precedence for d in definitions],
            },
            schema=schema,
        )
    )


def _live(claims: ir.Table) -> ir.Table:
    return claims.filter(claims.adjustment_type.fill_null("original") != "void")


def candidate_episodes(medical_claims: ir.Table, definitions: Sequence[EpisodeDefinition]) -> ir.Table:
    """Every triggered episode before eligibility and overlap rules.

    Returns ``episode_key, member_id, episode_id, price_group, anchor_claim_id, anchor_setting,
    facility_ccn, ms_drg, hcpcs_code, principal_dx, anchor_start, anchor_end, window_end, precedence``.
    """
    claims = _live(medical_claims)
    parts = []
    if any(d.setting == "inpatient" for d in definitions):
        inpatient = claims.filter(claims.claim_type == "inpatient")
        px_lists = sorted({d.required_px for d in definitions if d.required_px})
        px_flags = {
            f"px_set_{i}": ibis.or_(*[inpatient[c].isin(list(codes)) for c in PX_COLUMNS]).cast("int8").max()
            for i, codes in enumerate(px_lists)
        }
        stays = inpatient.group_by("claim_id").aggregate(
            member_id=inpatient.member_id.max(),
            facility_ccn=inpatient.facility_ccn.max(),
            ms_drg=inpatient.ms_drg.max(),
            principal_dx=inpatient.dx_1.max(),
            anchor_start=inpatient.admission_date.fill_null(inpatient.claim_from_date).min(),
            anchor_end=inpatient.discharge_date.fill_null(inpatient.claim_thru_date).max(),
            **px_flags,
        )
        triggers = _trigger_table(definitions, "inpatient")
        joined = stays.join(triggers, stays.ms_drg.lpad(3, "0") == triggers.code)
        required = (
            ibis.cases(
                *[
                    (
                        joined.episode_id == d.episode_id,
                        joined[f"px_set_{px_lists.index(d.required_px)}"] == 1,
                    )
                    for d in definitions
                    if d.required_px
                ],
                else_=True,
            )
            if px_lists
            else ibis.literal(True)
        )
        parts.append(
            joined.filter(required).select(
                "member_id",
                "episode_id",
                "price_group",
                "in_subgroup_by_drg",
                anchor_claim_id=joined.claim_id,
                anchor_setting=ibis.literal("inpatient"),
                facility_ccn=joined.facility_ccn,
                ms_drg=joined.ms_drg,
                hcpcs_code=ibis.null("string"),
                principal_dx=joined.principal_dx,
                anchor_start=joined.anchor_start,
                anchor_end=joined.anchor_end,
            )
        )
    if any(d.setting == "outpatient" for d in definitions):
        outpatient = claims.filter(claims.claim_type == "outpatient")
        triggers = _trigger_table(definitions, "outpatient")
        lines = outpatient.join(triggers, outpatient.hcpcs_code == triggers.code)
        service = lines.service_date.fill_null(lines.claim_from_date)
        per_claim = lines.group_by(["claim_id", "episode_id"]).aggregate(
            member_id=lines.member_id.max(),
            price_group=lines.price_group.max(),
            in_subgroup_by_drg=lines.in_subgroup_by_drg.max(),
            facility_ccn=lines.facility_ccn.max(),
            hcpcs_code=lines.hcpcs_code.min(),
            principal_dx=lines.dx_1.max(),
            anchor_start=service.min(),
        )
        parts.append(
            per_claim.select(
                "member_id",
                "episode_id",
                "price_group",
                "in_subgroup_by_drg",
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
    candidates = candidates.join(_episode_attributes(definitions), "episode_id")
    windows = [
        (candidates.post_anchor_days == days, candidates.anchor_end + ibis.interval(days=max(days - 1, 0)))
        for days in sorted({d.post_anchor_days for d in definitions})
    ]
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
    in_subgroup = candidates.in_subgroup_by_drg | dx_subgroup
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
        price_group=ibis.ifelse(
            in_subgroup, candidates.price_group + SUBGROUP_SUFFIX, candidates.price_group
        ),
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


def resolve_overlaps(episodes: ir.Table, rule: str) -> ir.Table:
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
    pairs = pairs.cache()
    state = base.select("episode_key", status=ibis.literal("open")).cache()
    for _ in range(MAX_OVERLAP_ROUNDS):
        open_count = int(state.filter(state.status == "open").count().to_pyarrow().as_py())
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
        state = joined.select(episode_key=state.episode_key, status=status).cache()
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
    excluded_hcpcs = [(d.episode_id, c) for d in definitions for c in d.excluded_hcpcs]
    excluded_drgs = [(d.episode_id, c) for d in definitions for c in d.excluded_ms_drgs]
    excluded_types = [(d.episode_id, c) for d in definitions for c in d.excluded_claim_types]
    if excluded_hcpcs:
        table = _code_table(excluded_hcpcs, "hcpcs_code")
        inside = inside.anti_join(table, ["episode_id", "hcpcs_code"])
    if excluded_types:
        table = _code_table(excluded_types, "claim_type")
        inside = inside.anti_join(table, ["episode_id", "claim_type"])
    if excluded_drgs:
        table = _code_table(excluded_drgs, "excluded_drg")
        readmission = inside.filter(
            inside.claim_type == "inpatient", inside.claim_id != inside.anchor_claim_id
        )
        dropped = (
            readmission.semi_join(
                table, [readmission.episode_id == table.episode_id, readmission.ms_drg == table.excluded_drg]
            )
            .select("episode_key", "claim_id")
            .distinct()
        )
        inside = inside.anti_join(dropped, ["episode_key", "claim_id"])
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


def build_episodes(tables: Mapping[str, ir.Table], spec: EpisodeBuildSpec) -> EpisodeBuild:
    """Build episodes from canonical tables.

    Returns
    -------
    EpisodeBuild
        ``episodes``: ``episode_key, member_id, episode_id, price_group, anchor_claim_id, anchor_setting,
        facility_ccn, ms_drg, hcpcs_code, principal_dx, anchor_start, anchor_end, window_end, precedence,
        status, reason, anchor_amount, post_anchor_amount, total_amount, claim_lines`` (amounts
        ``decimal(18,2)``, NULL unless kept).
    """
    definitions = _definitions(spec)
    candidates = candidate_episodes(tables["medical_claims"], definitions)
    checked = day_one_eligibility(candidates, tables["enrollment"], spec).cache()
    eligible = checked.filter(checked.eligible)
    status = resolve_overlaps(eligible, spec.overlap)
    with_status = checked.left_join(status, "episode_key").select(
        *[checked[c] for c in checked.columns if c not in ("eligible",)],
        status=ibis.ifelse(checked.eligible, status.status, "ineligible"),
    )
    with_status = with_status.mutate(
        reason=ibis.ifelse(
            with_status.status == "overlap_dropped", "overlaps a higher-priority episode", with_status.reason
        )
    ).cache()
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
