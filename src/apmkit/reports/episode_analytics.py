"""Episode analytics: the run's kept episodes (``episodes`` mart) by episode type, component and post-acute
setting, against peers (the run's mean per episode type), by hospital (CCN) and by clinician (the anchor
claim's attending, else operating, else rendering NPI)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up, from_cents, to_cents
from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    bar_chart,
    group_column,
    panel,
    register,
    scope_note,
    suppress,
    suppression_note,
    tidy,
)
from apmkit.reports.marts import (
    EPISODE_CLINICIANS,
    EPISODE_COMPONENTS,
    episode_clinicians,
    episode_components,
)


def kept_episodes(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """Kept episodes of the scoped members with their panel columns and amounts in cents."""
    episodes = inputs["episodes"]
    kept = episodes.filter(episodes.status == "kept")
    kept = kept.select(
        member_id=kept.member_id.cast("string"),
        episode_key=kept.episode_key.cast("string"),
        episode_id=kept.episode_id.cast("string"),
        anchor_claim_id=kept.anchor_claim_id.cast("string"),
        anchor_setting=kept.anchor_setting.cast("string"),
        facility=kept.facility_ccn.cast("string"),
        anchor_end=kept.anchor_end.cast("date"),
        window_end=kept.window_end.cast("date"),
        anchor_cents=to_cents(kept.anchor_amount.fill_null(0)),
        post_cents=to_cents(kept.post_anchor_amount.fill_null(0)),
    )
    return kept.inner_join(panel(inputs, request), "member_id")


def _mean_money(cents: ir.IntegerValue, count: ir.IntegerValue) -> ir.DecimalValue:
    return from_cents(div_round_half_up(cents.cast("int64"), count.cast("int64")))


def components(inputs: ReportInputs, episodes: ir.Table, key: str) -> ir.Table:
    """``[group], episode_id, component, spending, per_episode``: post-anchor claims (after the anchor's end, to
    the window's end; voids dropped) by setting — readmission (inpatient), snf, hha, outpatient, professional,
    dme, hospice — beside the anchor; from the ``episode_components`` mart (built from the claims when the run
    folder lacks it)."""
    if inputs.has(EPISODE_COMPONENTS):
        post_rows = inputs[EPISODE_COMPONENTS]
    else:
        post_rows = episode_components(inputs["episodes"], inputs["medical_claims"], inputs.run.cost_basis)
    post_rows = post_rows.select(
        _key=post_rows.episode_key.cast("string"),
        component=post_rows.component.cast("string"),
        cents=post_rows.cents.cast("int64"),
    )
    inside = episodes.inner_join(post_rows, episodes.episode_key == post_rows._key)
    post = inside.group_by([key, "episode_id", "component"]).aggregate(cents=inside.cents.sum())
    counts = episodes.group_by([key, "episode_id"]).aggregate(
        episodes=episodes.episode_key.nunique(), anchor=episodes.anchor_cents.sum()
    )
    anchor = counts.select(key, "episode_id", component=ibis.literal("anchor"), cents=counts.anchor)
    both = anchor.union(post, distinct=False)
    joined = both.inner_join(counts.select(key, "episode_id", "episodes"), [key, "episode_id"])
    return joined.select(
        key,
        "episode_id",
        "component",
        "episodes",
        spending=from_cents(joined.cents),
        per_episode=_mean_money(joined.cents, joined.episodes),
    )


def _summary(episodes: ir.Table, columns: list[str], peers: ir.Table | None) -> ir.Table:
    by = episodes.group_by(columns).aggregate(
        episodes=episodes.episode_key.nunique(),
        anchor=episodes.anchor_cents.sum(),
        post=episodes.post_cents.sum(),
    )
    table = by.select(
        *columns,
        "episodes",
        mean_anchor=_mean_money(by.anchor, by.episodes),
        mean_post_anchor=_mean_money(by.post, by.episodes),
        mean_total=_mean_money(by.anchor + by.post, by.episodes),
    )
    if peers is not None:
        table = tidy(table.left_join(peers, "episode_id"))
        table = table.mutate(difference_from_peers=table.mean_total - table.peer_mean_total)
    return table


@register(
    "episodes",
    "Episode analytics",
    "Kept episodes by type: count and mean anchor, post-anchor and total spending against the run's mean per "
    "episode type; spending by component and post-acute setting (anchor, readmission, SNF, HHA, outpatient, "
    "professional, DME, hospice); by hospital and by clinician.",
    needs=(
        "attribution",
        "member_detail",
        "episodes",
        "medical_claims",
        EPISODE_COMPONENTS,
        EPISODE_CLINICIANS,
    ),
)
def episodes_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    key = group_column(request)
    threshold = request.suppress_below
    episodes = kept_episodes(inputs, request)
    everyone = kept_episodes(inputs, ReportRequest(name=request.name, by=request.by))
    peer = everyone.group_by("episode_id").aggregate(
        _n=everyone.episode_key.nunique(), _total=(everyone.anchor_cents + everyone.post_cents).sum()
    )
    peer = peer.select("episode_id", peer_mean_total=_mean_money(peer._total, peer._n))
    money = ["mean_anchor", "mean_post_anchor", "mean_total"]
    summary = suppress(
        _summary(episodes, [key, "episode_id"], peer),
        threshold,
        ["episodes"],
        [*money, "difference_from_peers"],
    )
    hospitals = suppress(
        _summary(episodes, ["facility", "episode_id"], peer),
        threshold,
        ["episodes"],
        [*money, "difference_from_peers"],
    )
    if inputs.has(EPISODE_CLINICIANS):
        anchors = inputs[EPISODE_CLINICIANS]
    else:
        anchors = episode_clinicians(inputs["episodes"], inputs["medical_claims"])
    anchors = anchors.select(
        anchor_claim_id=anchors.anchor_claim_id.cast("string"), clinician=anchors.clinician.cast("string")
    )
    with_npi = tidy(episodes.left_join(anchors, "anchor_claim_id"))
    with_npi = with_npi.mutate(clinician=with_npi.clinician.fill_null("(unknown)"))
    clinicians = suppress(
        _summary(with_npi, ["clinician", "episode_id"], peer),
        threshold,
        ["episodes"],
        [*money, "difference_from_peers"],
    )
    parts = suppress(components(inputs, episodes, key), threshold, ["episodes"], ["spending", "per_episode"])
    return ReportOutput(
        tables={
            "summary": summary.order_by([key, "episode_id"]),
            "components": parts.order_by([key, "episode_id", "component"]),
            "by_hospital": hospitals.order_by(["facility", "episode_id"]),
            "by_clinician": clinicians.order_by(["clinician", "episode_id"]),
        },
        charts={
            "components": bar_chart(
                "components",
                "component",
                "per_episode",
                color="episode_id",
                title="spending per episode by component",
            )
        },
        notes=[
            "episodes: the run's kept episodes (its episodes section); amounts as built (definition exclusions applied)",
            "components: post-anchor claims by setting, before the definitions' exclusions (so they may exceed the "
            "post-anchor amount); target prices are not in the run's marts: compared with the run's mean per type",
            *scope_note(request),
            *suppression_note(request),
        ],
    )
