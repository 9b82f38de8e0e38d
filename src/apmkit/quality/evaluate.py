"""Evaluate a measure over the canonical tables: one row per patient with its populations and evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from apmkit.quality.ecqm import ECQM_DEFINITIONS, MeasureDefinition
from apmkit.quality.logic import (
    Criterion,
    Expr,
    Materialize,
    MeasureData,
    criteria_facts,
    pivot_facts,
    union_all,
)

POPULATIONS: tuple[str, ...] = (
    "initial_population",
    "denominator",
    "denominator_exclusion",
    "denominator_exception",
    "numerator",
    "numerator_exclusion",
)
"""Population columns of ``populations.csv``, in order."""

OUTPUT_COLUMNS: tuple[str, ...] = ("patient_id", *POPULATIONS, "evidence")
"""Columns of :func:`measure_populations` (``apmkit quality evaluate``'s populations.csv)."""

MEASURES: tuple[str, ...] = (*ECQM_DEFINITIONS, "CMS529", "ACR", "PQI")
"""Measures ``apmkit quality evaluate`` evaluates from the data."""


def _evidence(row: ibis.Table, label: str, holds: ir.BooleanValue, expr: Expr | None) -> ir.StringValue:
    """``label: fact=Record/id, ...`` for the facts of ``expr`` that hold, when the population holds."""
    if expr is None:
        return ibis.literal("")
    names = list(dict.fromkeys(expr.facts()))
    parts = [
        ibis.ifelse(row[name].fill_null(False), f"{name}=" + row[f"{name}__ev"].fill_null("") + ",", "")
        for name in names
    ]
    listed = ibis.literal("").concat(*parts) if parts else ibis.literal("")
    return ibis.ifelse(holds, f"{label}: " + listed.re_replace(",$", "") + "; ", "")


def measure_facts(definition: MeasureDefinition, data: MeasureData) -> ibis.Table:
    """Every fact row (member_id, fact, record_id, fact_day, fact_value) the measure's criteria produce."""
    tables = [criteria_facts(data, definition.criteria)]
    tables += [derive(data) for derive in definition.derived]
    return union_all(tables)


def evaluate_definition(
    definition: MeasureDefinition,
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> ibis.Table:
    """Populations of one measure for every member (see :func:`evaluate_with_facts`)."""
    return evaluate_with_facts(definition, members, clinical, start, end, materialize=materialize)[0]


def evaluate_with_facts(
    definition: MeasureDefinition,
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> tuple[ibis.Table, ibis.Table]:
    """Populations of one measure for every member in ``members``, and the facts behind them.

    Parameters
    ----------
    definition
        The measure.
    members
        Canonical ``members``: every member is a row of the result (all zeros when not in the initial
        population).
    clinical
        Canonical ``clinical``.
    start, end
        Measurement period (inclusive days).
    materialize
        ``Engine.materialize`` (or any table → table callable) to compute the tagged records and the facts
        once; large inputs need it, small ones run inline.

    Returns
    -------
    ibis.Table
        ``patient_id`` and the six population columns as 0/1 int8 (NULL where the measure has no such
        population), ``evidence`` (the records that put the patient in each population) and the pivoted
        facts (``<fact>`` booleans and ``<fact>__ev`` record ids) that the gaps report reads.
    ibis.Table
        The fact rows (member_id, fact, record_id, fact_day, fact_value).
    """
    data = MeasureData(
        members, clinical, start, end, definition.value_sets, definition.codes, materialize=materialize
    )
    facts = data.materialize(measure_facts(definition, data))
    pivot = pivot_facts(facts, definition.fact_names)
    return _populations(definition, data, pivot), facts


def _populations(definition: MeasureDefinition, data: MeasureData, pivot: ibis.Table) -> ibis.Table:
    """Population columns and evidence of ``definition`` from the members' pivoted facts."""
    people = data.members.select("member_id", "birth_date", "sex")
    row = people.left_join(pivot, "member_id").drop("member_id_right")

    ip = definition.initial_population.compile(row, data)
    denominator = ip if definition.denominator is None else ip & definition.denominator.compile(row, data)
    excluded = (
        ibis.literal(False)
        if definition.denominator_exclusion is None
        else denominator & definition.denominator_exclusion.compile(row, data)
    )
    numerator = denominator & ~excluded & definition.numerator.compile(row, data)
    excepted = (
        ibis.literal(False)
        if definition.denominator_exception is None
        else denominator & ~excluded & ~numerator & definition.denominator_exception.compile(row, data)
    )
    numerator_excluded = (
        ibis.literal(False)
        if definition.numerator_exclusion is None
        else numerator & definition.numerator_exclusion.compile(row, data)
    )

    def flag(value: ir.BooleanValue, present: bool) -> ir.IntegerValue:
        return value.cast("int8") if present else ibis.null("int8")

    evidence = (
        _evidence(row, "initial_population", ip, definition.initial_population)
        .concat(_evidence(row, "denominator_exclusion", excluded, definition.denominator_exclusion))
        .concat(_evidence(row, "denominator_exception", excepted, definition.denominator_exception))
        .concat(_evidence(row, "numerator", numerator, definition.numerator))
        .re_replace("; $", "")
    )
    return row.mutate(
        patient_id=row.member_id,
        measure=ibis.literal(definition.measure_id),
        initial_population=flag(ip, True),
        denominator=flag(denominator, True),
        denominator_exclusion=flag(excluded, definition.denominator_exclusion is not None),
        denominator_exception=flag(excepted, definition.denominator_exception is not None),
        numerator=flag(numerator, True),
        numerator_exclusion=flag(numerator_excluded, definition.numerator_exclusion is not None),
        evidence=evidence,
    )


def evaluate_measures(
    definitions: Sequence[MeasureDefinition],
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> dict[str, ibis.Table]:
    """Several measures in one pass: one tagging of ``clinical``, shared facts (qualifying encounters,
    hospice, palliative care, frailty ...) computed once, one pivot; then each measure's populations.

    Returns
    -------
    dict
        measure id → the table :func:`evaluate_definition` returns for it.
    """
    return evaluate_measures_with_facts(definitions, members, clinical, start, end, materialize=materialize)[
        0
    ]


def evaluate_measures_with_facts(
    definitions: Sequence[MeasureDefinition],
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> tuple[dict[str, ibis.Table], ibis.Table]:
    """:func:`evaluate_measures` and the shared fact rows (member_id, fact, record_id, fact_day, fact_value)
    behind them, as :func:`evaluate_with_facts` gives for one measure (the gaps of several measures)."""
    value_sets = {oid for definition in definitions for oid in definition.value_sets}
    codes = {code for definition in definitions for code in definition.codes}
    data = MeasureData(members, clinical, start, end, value_sets, codes, materialize=materialize)
    criteria: dict[str, Criterion] = {}
    for definition in definitions:
        for criterion in definition.criteria:
            if criteria.setdefault(criterion.fact, criterion) != criterion:
                raise ValueError(f"two different criteria produce the fact {criterion.fact!r}")
    derived = list(dict.fromkeys(derive for definition in definitions for derive in definition.derived))
    tables = [criteria_facts(data, list(criteria.values()))]
    tables += [derive(data) for derive in derived]
    facts = data.materialize(union_all(tables))
    names = list(dict.fromkeys(name for definition in definitions for name in definition.fact_names))
    pivot = data.materialize(pivot_facts(facts, names))
    return {definition.measure_id: _populations(definition, data, pivot) for definition in definitions}, facts


def evaluate(
    measure: str,
    members: ibis.Table,
    clinical: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> ibis.Table:
    """``populations.csv`` of one eCQM: patient_id, the six populations, evidence (see :data:`POPULATIONS`)."""
    definition = ECQM_DEFINITIONS[measure]
    full = evaluate_definition(definition, members, clinical, start, end, materialize=materialize)
    return full.select("patient_id", *POPULATIONS, "evidence")


def measure_populations(
    measure: str,
    members: ibis.Table,
    clinical: ibis.Table,
    medical_claims: ibis.Table,
    start: dt.date,
    end: dt.date,
    *,
    materialize: Materialize | None = None,
) -> ibis.Table:
    """One row per patient with the measure's populations and evidence (:data:`OUTPUT_COLUMNS`).

    ``measure`` is an eCQM, ``CMS529`` (core clinical data elements: initial population only), ``ACR``
    (all-cause readmission: index stays and readmissions) or ``PQI`` (preventable admissions). ``clinical``
    should include the claims as clinical evidence (:func:`apmkit.quality.claims.clinical_with_claims`).
    """
    from apmkit.quality import cms529
    from apmkit.quality.claims import all_cause_readmission, pqi_admissions

    people = members.select(patient_id=members.member_id)
    blank = ibis.null("int8")
    if measure in ECQM_DEFINITIONS:
        full = evaluate_definition(
            ECQM_DEFINITIONS[measure],
            members,
            clinical,
            start,
            end,
            materialize=materialize,
        )
        return full.select(*OUTPUT_COLUMNS)
    if measure == "CMS529":
        counts = cms529.initial_population(members, clinical, start, end)
        return counts.select(
            "patient_id",
            initial_population=counts.initial_population,
            denominator=blank,
            denominator_exclusion=blank,
            denominator_exception=blank,
            numerator=blank,
            numerator_exclusion=blank,
            evidence=counts.evidence,
        )
    if measure == "ACR":
        stays = all_cause_readmission(medical_claims, start, end)
        per = stays.group_by("member_id").aggregate(
            stays=stays.claim_id.nunique(),
            readmitted=stays.readmitted.cast("int32").sum(),
            evidence=stays.claim_id.group_concat(","),
        )
        joined = people.left_join(per, people.patient_id == per.member_id)
        count = joined.stays.fill_null(0).cast("int32")
        return joined.select(
            "patient_id",
            initial_population=count,
            denominator=count,
            denominator_exclusion=blank,
            denominator_exception=blank,
            numerator=joined.readmitted.fill_null(0).cast("int32"),
            numerator_exclusion=blank,
            evidence=ibis.ifelse(
                joined.evidence.isnull(), "", "index stays: " + joined.evidence.fill_null("")
            ),
        )
    admissions = pqi_admissions(medical_claims, members, start, end)
    per = admissions.group_by("member_id").aggregate(
        admissions=admissions.claim_id.nunique(),
        evidence=(admissions.pqi + "=" + admissions.claim_id).group_concat(","),
    )
    joined = people.left_join(per, people.patient_id == per.member_id)
    return joined.select(
        "patient_id",
        initial_population=ibis.literal(1, type="int32"),
        denominator=blank,
        denominator_exclusion=blank,
        denominator_exception=blank,
        numerator=joined.admissions.fill_null(0).cast("int32"),
        numerator_exclusion=blank,
        evidence=joined.evidence.fill_null(""),
    )
