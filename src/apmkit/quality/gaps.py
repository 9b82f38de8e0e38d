"""Gaps in care: patients in a measure's denominator whose care does not yet meet the numerator.

A gap is open for a patient in the denominator who is neither excluded nor excepted and is not in the
numerator; for an inverse measure (CMS122, where the numerator is poor control) the gap is being *in* the
numerator. Each gap carries the last relevant value and date (e.g. the last HbA1c 9.4 % on 2025-03-02),
the record it came from, what closes the gap, and the clinician (NPI) and TIN responsible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis

from apmkit.quality.ecqm import MeasureDefinition
from apmkit.quality.evaluate import evaluate_measures_with_facts, evaluate_with_facts
from apmkit.quality.logic import Materialize

GAP_COLUMNS = (
    "patient_id",
    "measure",
    "gap",
    "last_value",
    "last_date",
    "last_record",
    "closes_with",
    "npi",
    "tin",
)


def care_gaps(
    definition: MeasureDefinition,
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    providers: ibis.Table | None = None,
    materialize: Materialize | None = None,
) -> ibis.Table:
    """Open gaps of one measure, one row per patient with a gap.

    Parameters
    ----------
    definition
        The measure.
    members, clinical
        Canonical tables (clinical may include :func:`apmkit.quality.claims.claims_as_clinical` rows).
    start, end
        Measurement period.
    providers
        Canonical ``providers`` (NPI → TIN); optional. An NPI with several TINs gets no TIN.
    materialize
        ``Engine.materialize`` for large inputs.

    Returns
    -------
    ibis.Table
        :data:`GAP_COLUMNS`: ``npi`` is the performer of the patient's most recent encounter in the period
        (the clinician best placed to close the gap) and ``tin`` the TIN that NPI bills under (empty when
        the providers table lists several).
    """
    populations, facts = evaluate_with_facts(
        definition, members, clinical, start, end, materialize=materialize
    )
    return _gap_rows(definition, populations, facts, _latest_visits(clinical, end), _npi_tins(providers))


def care_gaps_of_measures(
    definitions: Sequence[MeasureDefinition],
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    providers: ibis.Table | None = None,
    materialize: Materialize | None = None,
) -> list[ibis.Table]:
    """:func:`care_gaps` of several measures, one table per measure, evaluated in one pass
    (:func:`apmkit.quality.evaluate.evaluate_measures_with_facts`: ``clinical`` tagged once, shared facts
    computed once) — the same rows as calling :func:`care_gaps` per measure."""
    populations, facts = evaluate_measures_with_facts(
        definitions, members, clinical, start, end, materialize=materialize
    )
    latest, tins = _latest_visits(clinical, end), _npi_tins(providers)
    if materialize is not None:
        latest = materialize(latest)
        tins = None if tins is None else materialize(tins)
    return [
        _gap_rows(definition, populations[definition.measure_id], facts, latest, tins)
        for definition in definitions
    ]


def _latest_visits(clinical: ibis.Table, end: dt.date) -> ibis.Table:
    """``patient_id, npi``: the performer of each patient's most recent encounter up to ``end``."""
    encounters = clinical.filter(
        (clinical.resource_type == "Encounter")
        & clinical.performer_npi.notnull()
        & (clinical.effective_start.date() <= ibis.literal(end))
    )
    latest_visit = encounters.mutate(
        rank=ibis.row_number().over(
            group_by=encounters.member_id,
            order_by=[ibis.desc(encounters.effective_start), encounters.record_id],
        )
    )
    return latest_visit.filter(latest_visit.rank == 0).select(
        patient_id=latest_visit.member_id, npi=latest_visit.performer_npi
    )


def _npi_tins(providers: ibis.Table | None) -> ibis.Table | None:
    """``provider_npi, tin``: the TIN of each NPI, null when the NPI bills under several."""
    if providers is None:
        return None
    listed = providers.filter(providers.tin.notnull())
    per_npi = listed.group_by(provider_npi=listed.npi).agg(_tins=listed.tin.nunique(), _tin=listed.tin.max())
    return per_npi.select(
        "provider_npi", tin=ibis.ifelse(per_npi._tins == 1, per_npi._tin, ibis.null("string"))
    )


def _gap_rows(
    definition: MeasureDefinition,
    populations: ibis.Table,
    facts: ibis.Table,
    latest_visit: ibis.Table,
    tins: ibis.Table | None,
) -> ibis.Table:
    """:data:`GAP_COLUMNS` of one measure from its populations and facts."""
    eligible = (
        (populations.denominator == 1)
        & (populations.denominator_exclusion.fill_null(0) == 0)
        & (populations.denominator_exception.fill_null(0) == 0)
    )
    is_open = eligible & (
        (populations.numerator == 1) if definition.inverse else (populations.numerator == 0)
    )
    open_gaps = populations.filter(is_open).select("patient_id")

    if definition.gap_fact is not None:
        relevant = facts.filter(facts.fact == definition.gap_fact)
        ranked = relevant.mutate(
            rank=ibis.row_number().over(
                group_by=relevant.member_id, order_by=[ibis.desc(relevant.fact_day), relevant.record_id]
            )
        )
        last = ranked.filter(ranked.rank == 0).select(
            patient_id=ranked.member_id,
            last_value=ranked.fact_value,
            last_date=ranked.fact_day,
            last_record=ranked.record_id,
        )
    else:
        last = open_gaps.select(
            patient_id=open_gaps.patient_id,
            last_value=ibis.null("float64"),
            last_date=ibis.null("date"),
            last_record=ibis.null("string"),
        ).limit(0)
    gaps = open_gaps.left_join(last, "patient_id").drop("patient_id_right")
    gaps = gaps.left_join(latest_visit, "patient_id").drop("patient_id_right")
    if tins is not None:
        # One row per patient even when the NPI bills under several TINs (one provider row per NPI and
        # TIN): the TIN is given only when the NPI has one.
        gaps = gaps.left_join(tins, gaps.npi == tins.provider_npi).drop("provider_npi")
    else:
        gaps = gaps.mutate(tin=ibis.null("string"))
    label = "in numerator (inverse measure: poor control)" if definition.inverse else "not in numerator"
    return gaps.select(
        "patient_id",
        measure=ibis.literal(definition.measure_id),
        gap=ibis.literal(label),
        last_value=gaps.last_value,
        last_date=gaps.last_date,
        last_record=gaps.last_record,
        closes_with=ibis.literal(definition.gap_closure),
        npi=gaps.npi,
        tin=gaps.tin,
    )


def gaps_by(gaps: ibis.Table, level: str) -> ibis.Table:
    """Open gaps counted per measure and ``level`` column (``npi``, ``tin`` or an attribution column)."""
    return (
        gaps.group_by(["measure", level])
        .aggregate(open_gaps=gaps.patient_id.nunique())
        .order_by(["measure", ibis.desc("open_gaps")])
    )
