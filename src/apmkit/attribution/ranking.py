"""Plurality ranking: score candidates per member, pick the winner and the runner-up, name the tie-break."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from apmkit.attribution.spec import TieBreak, VisitUnit

UNRESOLVED = "unresolved"
"""``tie_break`` of a tie no rule of the chain separated."""

Basis = Literal["visits", "allowed", "recency"]
"""What decides first: visit count, allowed charges, or the most recent service (AWV trigger)."""


def provider_scores(lines: ir.Table, candidate: ir.StringValue) -> ir.Table:
    """Per member, candidate, TIN and NPI: visits (distinct service dates), allowed cents, last visit.

    A visit is one member seen by one clinician on one date, however many qualifying lines it has.
    """
    keyed = lines.mutate(candidate_id=candidate)
    visits = keyed.group_by("member_id", "candidate_id", "entity_id", "tin", "npi", "service_date").agg(
        allowed_cents=keyed.allowed_cents.sum()
    )
    return visits.group_by("member_id", "candidate_id", "entity_id", "tin", "npi").agg(
        visits=visits.count(),
        allowed_cents=visits.allowed_cents.sum(),
        last_visit=visits.service_date.max(),
    )


def candidate_scores(
    by_provider: ir.Table,
    *,
    lines: ir.Table | None = None,
    candidate: ir.StringValue | None = None,
    visit_unit: VisitUnit = "npi_date",
) -> ir.Table:
    """Roll :func:`provider_scores` up to one row per member and candidate.

    With ``visit_unit="tin_date"`` a candidate's visits are its distinct (billing TIN, date) pairs, counted
    from ``lines`` keyed by ``candidate`` (two clinicians of one TIN on one day are one visit).
    """
    scores = by_provider.group_by("member_id", "candidate_id").agg(
        entity_id=by_provider.entity_id.max(),
        visits=by_provider.visits.sum().cast("int64"),
        allowed_cents=by_provider.allowed_cents.sum().cast("int64"),
        last_visit=by_provider.last_visit.max(),
    )
    if visit_unit == "npi_date":
        return scores
    if lines is None or candidate is None:
        raise ValueError("visit_unit tin_date needs the lines and the candidate expression")
    keyed = lines.mutate(candidate_id=candidate)
    days = keyed.select("member_id", "candidate_id", "tin", "service_date").distinct()
    per_candidate = days.group_by(_t_member=days.member_id, _t_candidate=days.candidate_id).agg(
        _t_visits=days.count()
    )
    joined = scores.join(
        per_candidate,
        [scores.member_id == per_candidate._t_member, scores.candidate_id == per_candidate._t_candidate],
    )
    return joined.select(
        "member_id",
        "candidate_id",
        "entity_id",
        visits=joined._t_visits.cast("int64"),
        allowed_cents=joined.allowed_cents,
        last_visit=joined.last_visit,
    )


def _order_keys(
    table: ir.Table, basis: Basis, tie_breaks: Sequence[TieBreak], id_column: str
) -> list[ir.Value]:
    primary = {"allowed": table.allowed_cents, "visits": table.visits, "recency": table.last_visit}[basis]
    keys: list[ir.Value] = [primary.desc()]
    for rule in tie_breaks:
        if rule == "most_recent_visit":
            keys.append(table.last_visit.desc())
        elif rule == "highest_allowed":
            keys.append(table.allowed_cents.desc())
        elif rule == "most_visits":
            keys.append(table.visits.desc())
        else:
            keys.append(table[id_column].asc())
    if "lowest_id" not in tie_breaks:
        # Only to make the row order the same on every engine: an unresolved tie assigns no one.
        keys.append(table[id_column].asc())
    return keys


def rank_candidates(scores: ir.Table, *, basis: Basis, tie_breaks: Sequence[TieBreak]) -> ir.Table:
    """The winner and runner-up per member, and the tie-break rule that separated them.

    Parameters
    ----------
    scores
        One row per member and candidate: ``member_id``, ``candidate_id``, ``entity_id``, ``visits``,
        ``allowed_cents``, ``last_visit``.
    basis
        ``allowed`` (charges) or ``visits`` decides first.
    tie_breaks
        Applied in order when the basis is equal. When none separates the two, ``tie_break`` is
        ``unresolved`` (the caller assigns no one).

    Returns
    -------
    ir.Table
        ``member_id``, ``winner_id``, ``winner_entity_id``, ``winner_visits``, ``winner_allowed_cents``,
        ``winner_last_visit``, ``runner_up_id``, ``runner_up_visits``, ``runner_up_allowed_cents``,
        ``tie_break`` (NULL when there is no runner-up or the basis alone decided; ``unresolved`` when no
        rule separated them).
    """
    if basis == "allowed":
        # A candidate with no allowed charges has no plurality of charges: it is neither winner nor runner-up.
        scores = scores.filter(scores.allowed_cents > 0)
    window = ibis.window(
        group_by=scores.member_id, order_by=_order_keys(scores, basis, tie_breaks, "candidate_id")
    )
    ranked = scores.mutate(_rank=ibis.row_number().over(window))
    top = ranked.filter(ranked._rank < 2)
    winners = top.filter(top._rank == 0)
    runners = top.filter(top._rank == 1).select(
        _r_member=top.member_id,
        runner_up_id=top.candidate_id,
        runner_up_visits=top.visits,
        runner_up_allowed_cents=top.allowed_cents,
        _r_last=top.last_visit,
    )
    joined = winners.left_join(runners, winners.member_id == runners._r_member)
    primary_equal = {
        "allowed": joined.allowed_cents == joined.runner_up_allowed_cents,
        "visits": joined.visits == joined.runner_up_visits,
        "recency": joined.last_visit == joined._r_last,
    }[basis]
    differs = {
        "most_recent_visit": joined.last_visit != joined._r_last,
        "highest_allowed": joined.allowed_cents != joined.runner_up_allowed_cents,
        "most_visits": joined.visits != joined.runner_up_visits,
        "lowest_id": joined.candidate_id != joined.runner_up_id,
    }
    cases = [(differs[rule], ibis.literal(rule)) for rule in tie_breaks]
    tie_break = ibis.ifelse(
        joined.runner_up_id.isnull() | ~primary_equal,
        ibis.null("string"),
        ibis.cases(*cases, else_=ibis.literal(UNRESOLVED)) if cases else ibis.literal(UNRESOLVED),
    )
    return joined.select(
        member_id=joined.member_id,
        winner_id=joined.candidate_id,
        winner_entity_id=joined.entity_id,
        winner_visits=joined.visits,
        winner_allowed_cents=joined.allowed_cents,
        winner_last_visit=joined.last_visit,
        runner_up_id=joined.runner_up_id,
        runner_up_visits=joined.runner_up_visits,
        runner_up_allowed_cents=joined.runner_up_allowed_cents,
        tie_break=tie_break,
    )


def top_provider(
    by_provider: ir.Table, winners: ir.Table, *, basis: Basis, tie_breaks: Sequence[TieBreak]
) -> ir.Table:
    """The TIN/NPI inside each member's winning candidate with the most visits or charges.

    Returns ``member_id``, ``top_tin``, ``top_npi``.
    """
    chosen = winners.select(_w_member=winners.member_id, _w_id=winners.winner_id)
    inside = by_provider.join(
        chosen, [by_provider.member_id == chosen._w_member, by_provider.candidate_id == chosen._w_id]
    )
    inside = inside.mutate(_provider_id=inside.tin + ibis.literal("|") + inside.npi)
    window = ibis.window(
        group_by=inside.member_id, order_by=_order_keys(inside, basis, tie_breaks, "_provider_id")
    )
    ranked = inside.mutate(_rank=ibis.row_number().over(window))
    best = ranked.filter(ranked._rank == 0)
    return best.select(member_id=best.member_id, top_tin=best.tin, top_npi=best.npi)
