"""Reports over attribution results: changes between runs, monthly lists, panel sizes."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.attribution.outputs import CHANGES, MONTHLY_LIST, PANEL_SUMMARY


def changes(previous: ir.Table, current: ir.Table) -> ir.Table:
    """Adds, drops and transfers between two runs (e.g. consecutive months), with reasons.

    Both tables are :data:`apmkit.attribution.outputs.ATTRIBUTION` results (member rows; episode rows
    are compared by member too). A member is *added* when attributed now and not before, *dropped* when
    attributed before and not now (reason: the current run's reason, or ``absent_from_current_run``),
    and *transferred* when the entity, TIN or NPI changed (reason: ``transfer:<step>``).
    """
    before = previous.filter(previous.attributed).select(
        _b_contract=previous.contract_id,
        _b_member=previous.member_id,
        previous_as_of=previous.as_of_date,
        previous_entity_id=previous.entity_id,
        previous_tin=previous.tin,
        previous_npi=previous.npi,
    )
    now = current.select(
        _c_contract=current.contract_id,
        _c_member=current.member_id,
        current_as_of=current.as_of_date,
        _c_attributed=current.attributed,
        _c_step=current.step,
        _c_reason=current.reason,
        current_entity_id=ibis.ifelse(current.attributed, current.entity_id, ibis.null("string")),
        current_tin=ibis.ifelse(current.attributed, current.tin, ibis.null("string")),
        current_npi=ibis.ifelse(current.attributed, current.npi, ibis.null("string")),
    )
    joined = before.outer_join(
        now, [before._b_contract == now._c_contract, before._b_member == now._c_member]
    )
    was = joined._b_member.notnull()
    is_now = joined._c_attributed.fill_null(False)
    moved = (
        (joined.previous_entity_id.fill_null("") != joined.current_entity_id.fill_null(""))
        | (joined.previous_tin.fill_null("") != joined.current_tin.fill_null(""))
        | (joined.previous_npi.fill_null("") != joined.current_npi.fill_null(""))
    )
    change = ibis.cases(
        (~was & is_now, "added"),
        (was & ~is_now, "dropped"),
        (was & is_now & moved, "transferred"),
        else_=ibis.null("string"),
    )
    reason = ibis.cases(
        (~was & is_now, ibis.literal("attributed:") + joined._c_step.fill_null("")),
        (was & ~is_now & joined._c_member.isnull(), ibis.literal("absent_from_current_run")),
        (was & ~is_now, joined._c_reason.fill_null("unattributed")),
        else_=ibis.literal("transfer:") + joined._c_step.fill_null(""),
    )
    labelled = joined.mutate(
        contract_id=joined._b_contract.fill_null(joined._c_contract),
        member_id=joined._b_member.fill_null(joined._c_member),
        change=change,
        reason=reason,
        previous_as_of=joined.previous_as_of,
    )
    labelled = labelled.filter(labelled.change.notnull())
    return CHANGES.select_from(labelled)


def monthly_list(attribution: ir.Table) -> ir.Table:
    """The attribution list: attributed members by month, entity, TIN and NPI."""
    attributed = attribution.filter(attribution.attributed)
    # DuckDB's date_trunc returns a timestamp; building the date keeps the column a date on every engine.
    listed = attributed.mutate(
        month=ibis.date(attributed.as_of_date.year(), attributed.as_of_date.month(), 1)
    )
    return MONTHLY_LIST.select_from(listed).distinct()


def panel_summary(attribution: ir.Table) -> ir.Table:
    """Attributed member counts by month, contract, entity, TIN and NPI."""
    listed = monthly_list(attribution)
    counts = listed.group_by("month", "contract_id", "entity_id", "tin", "npi").agg(
        members=listed.member_id.nunique().cast("int64")
    )
    return PANEL_SUMMARY.select_from(counts)
