"""Resolve claim adjustments, voids and replacements to final-action claims, keeping the history.

The rule (documented in docs/ingest.md, "Final-action claims"):

1. A claim's **family** is the claim it adjusts or voids (``original_claim_id``), followed through up to
   four links (an adjustment of an adjustment), or the claim itself when it adjusts nothing. Loaders set
   ``original_claim_id`` from the source format's own linkage (CCLF natural keys, RIF claim groups, FHIR
   ``related`` claims).
2. Within a family the **final action** is the latest version: the latest ``processed_date``, then the
   highest ``claim_version``, then adjustments and voids over originals, then the last record read.
3. If the final action is a **void**, the family contributes nothing: the service was cancelled.
4. All lines of the final-action version are the final-action lines; every version stays in the history
   table with ``claim_family_id`` and ``is_final_action``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from apmkit.schemas import TableSchema

_MAX_LINKS = 4


@dataclass(frozen=True)
class FinalAction:
    final: ibis.Table
    history: ibis.Table


def claim_families(claims: ibis.Table) -> ibis.Table:
    """``claim_id → claim_family_id`` for every claim version in ``claims``."""
    links = claims.select("claim_id", "original_claim_id").distinct()
    links = links.select(link_id=links.claim_id, parent=links.original_claim_id.nullif(links.claim_id))
    family = links.select(claim_id=links.link_id, family=ibis.coalesce(links.parent, links.link_id))
    for _ in range(_MAX_LINKS):
        # Fresh views on both sides: ibis would otherwise fold the repeated self-join into one chain.
        left, right = family.view(), links.view()
        joined = left.left_join(right, left.family == right.link_id)
        family = joined.select(claim_id=joined.claim_id, family=ibis.coalesce(joined.parent, joined.family))
    # A version listed with two parents keeps the smallest family id, deterministically.
    return family.group_by("claim_id").agg(claim_family_id=family.family.min())


def has_adjustments(claims: ibis.Table) -> ibis.ir.BooleanScalar:
    """Whether any claim line adjusts or voids another, or is a void: only then do families matter.

    Without such lines every claim is its own family with one version, which is its final action
    (rule 2), and nothing is voided (rule 3): :func:`without_adjustments` gives the same tables as
    :func:`resolve_final_action` without the family joins.
    """
    linked = claims.original_claim_id.notnull() & (claims.original_claim_id != claims.claim_id)
    return (linked.fill_null(False) | (claims.adjustment_type == "void").fill_null(False)).any()


def without_adjustments(
    claims: ibis.Table, history_schema: TableSchema, claims_schema: TableSchema
) -> FinalAction:
    """:func:`resolve_final_action` for claims that adjust and void nothing (see :func:`has_adjustments`)."""
    history = history_schema.select_from(
        claims.mutate(claim_family_id=claims.claim_id, is_final_action=ibis.literal(True))
    )
    return FinalAction(final=claims_schema.select_from(claims), history=history)


def resolve_final_action(
    claims: ibis.Table, history_schema: TableSchema, claims_schema: TableSchema
) -> FinalAction:
    """Split loaded claim lines into the final-action table and the full history."""
    families = claim_families(claims)
    with_family = claims.left_join(families, "claim_id").drop("claim_id_right")
    versions = with_family.group_by(["claim_family_id", "claim_id"]).agg(
        processed=with_family.processed_date.max(),
        version=with_family.claim_version.max(),
        adjusts=with_family.adjustment_type.isin(["adjustment", "void"]).any().cast("int8"),
        is_void=(with_family.adjustment_type == "void").any(),
        last_file=with_family.source_file.max(),
        last_line=with_family.source_line.max(),
    )
    order = [
        versions.processed.desc(nulls_first=False),
        versions.version.desc(nulls_first=False),
        versions.adjusts.desc(),
        versions.last_file.desc(),
        versions.last_line.desc(),
    ]
    ranked = versions.mutate(rank=ibis.row_number().over(group_by="claim_family_id", order_by=order))
    winners = ranked.filter(ranked["rank"] == 0).select(
        final_claim_id="claim_id", final_is_void="is_void", family_of_final="claim_family_id"
    )
    flagged = with_family.left_join(winners, with_family.claim_id == winners.final_claim_id)
    flagged = flagged.mutate(
        is_final_action=flagged.final_claim_id.notnull() & ~flagged.final_is_void.fill_null(False),
    )
    history = history_schema.select_from(flagged)
    final = claims_schema.select_from(history.filter(history.is_final_action))
    return FinalAction(final=final, history=history)
