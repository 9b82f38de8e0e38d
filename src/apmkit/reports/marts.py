"""The marts a run writes so the slow reports read results instead of recomputing them (issue 16: "every report
reads the marts in seconds").

Each mart is the engine's own result over the run's whole attributed panel, written once by ``apmkit run``
(:func:`report_marts`); a report restricts it to its scope's members. Every engine here works member by member
(a member's gaps, HCCs and features depend on that member's rows only), so the restriction of the whole-panel
result equals what the report computed over its scope before:

* ``open_gaps`` — the open gaps in care of the performance period, every eCQM apmkit computes
  (:func:`apmkit.quality.gaps.care_gaps`, claims counted as clinical evidence), ``GAP_COLUMNS``;
* ``member_hccs`` — each attributed member's CMS-HCC V28 HCCs for every measured year ``year`` with payment
  year ``year + 1`` in 2024-2027 (:func:`apmkit.risk.scoring.score` on the year's risk-adjustment-eligible
  claims): ``member_id, year, payment_year, hccs`` (``;``-separated, empty for none);
* ``member_year_features`` — the prediction model's features of every member-year with enrollment
  (:func:`apmkit.reports.prediction.member_years`).

A run without one of them (written before this module, or without ``clinical``) leaves the report to compute it
from the canonical tables, and the report says so in its notes.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from apmkit.reports.framework import ReportInputs, ReportRequest, panel

OPEN_GAPS = "open_gaps"
MEMBER_HCCS = "member_hccs"
MEMBER_FEATURES = "member_year_features"
HCC_PAYMENT_YEARS = range(2024, 2028)
"""Payment years the CMS-HCC V28 tables apmkit ships cover."""


def measured_years(inputs: ReportInputs) -> tuple[int, ...]:
    """The run's base years and the performance period's year, ascending."""
    return tuple(sorted({*inputs.run.base_years, inputs.run.year}))


def evaluate_open_gaps(
    inputs: ReportInputs, members: ir.Table, start: date, end: date, *, with_providers: bool = True
) -> ir.Table:
    """``GAP_COLUMNS``: the open gaps of ``members`` (``member_id``) in ``start..end`` for every eCQM apmkit
    computes, claims counted as clinical evidence (the gaps engine of ``apmkit quality gaps``). ``npi`` is the
    clinician of the patient's latest visit and ``tin`` its TIN (from ``providers`` when ``with_providers``)."""
    from apmkit.quality.claims import clinical_with_claims
    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.quality.gaps import care_gaps_of_measures

    people = inputs["members"]
    population = inputs.keep(people.semi_join(members, people.member_id == members.member_id))
    clinical = clinical_with_claims(inputs["clinical"], inputs["medical_claims"])
    clinical = inputs.keep(clinical.semi_join(population, clinical.member_id == population.member_id))
    providers = inputs["providers"] if with_providers else None
    # one pass over the clinical records for every measure (tagged once, shared facts once)
    parts = [
        inputs.keep(part)
        for part in care_gaps_of_measures(
            list(ECQM_DEFINITIONS.values()),
            population,
            clinical,
            start,
            end,
            providers=providers,
            materialize=inputs.materialize,
        )
    ]
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def score_hccs(inputs: ReportInputs, members: ir.Table, payment_year: int) -> ir.Table:
    """``member_id, hccs``: CMS-HCC V28 HCCs (payment year ``payment_year``, the year before's
    risk-adjustment-eligible claims) of ``members`` (``member_id``)."""
    from apmkit.risk.claims import diagnoses_from_claims, persons_from_members
    from apmkit.risk.scoring import score

    people = inputs["members"]
    persons = persons_from_members(
        people.semi_join(members, people.member_id == members.member_id),
        inputs["enrollment"],
        payment_year=payment_year,
        covers_data_year=True,
    )
    diagnoses = diagnoses_from_claims(inputs["medical_claims"], payment_year=payment_year)
    scored = score(
        persons, diagnoses, model="V28", payment_year=payment_year, materialize=inputs.materialize
    ).scores
    return scored.select(member_id=scored.member_id.cast("string"), hccs=scored.hccs)


def hccs_of_year(inputs: ReportInputs, members: ir.Table, year: int) -> tuple[ir.Table, bool]:
    """``member_id, hccs`` of ``members`` for measured year ``year`` (payment year ``year + 1``): from the run's
    ``member_hccs`` mart when it holds that year, else scored now. The flag says whether the mart was read."""
    if inputs.has(MEMBER_HCCS) and year in measured_years(inputs):
        mart = inputs[MEMBER_HCCS]
        mart = mart.filter(mart.year == year)
        chosen = mart.select(member_id=mart.member_id.cast("string"), hccs=mart.hccs)
        return chosen.semi_join(members, chosen.member_id == members.member_id), True
    return score_hccs(inputs, members, year + 1), False


def gaps_of_year(
    inputs: ReportInputs, members: ir.Table, start: date, end: date, *, with_providers: bool = True
) -> tuple[ir.Table, bool]:
    """``GAP_COLUMNS`` of ``members`` in ``start..end``: from the run's ``open_gaps`` mart when the window is the
    performance period, else evaluated now. The flag says whether the mart was read."""
    if inputs.has(OPEN_GAPS) and (start, end) == (inputs.run.start, inputs.run.end):
        mart = inputs[OPEN_GAPS]
        return mart.semi_join(members, mart.patient_id.cast("string") == members.member_id), True
    return evaluate_open_gaps(inputs, members, start, end, with_providers=with_providers), False


REPORT_MARTS = (OPEN_GAPS, MEMBER_HCCS, MEMBER_FEATURES)
"""The marts built on a report's first use and kept in the run folder (see :func:`report_mart`)."""

_NEEDS = ("members", "enrollment", "medical_claims", "attribution", "member_detail")


def report_mart(inputs: ReportInputs, name: str) -> ir.Table | None:
    """One of :data:`REPORT_MARTS` over the run's attributed panel; None when the data do not allow it (no
    ``clinical`` for open gaps, no year with a V28 payment year for HCCs, a table missing)."""
    from apmkit.reports.prediction import member_years

    if not all(inputs.has(n) for n in _NEEDS):
        return None
    if name == MEMBER_FEATURES:
        return member_years(inputs)
    members = inputs.keep(panel(inputs, ReportRequest("marts")).select("member_id").distinct())
    if name == MEMBER_HCCS:
        years = [y for y in measured_years(inputs) if y + 1 in HCC_PAYMENT_YEARS]
        parts = [
            score_hccs(inputs, members, year + 1).mutate(
                year=ibis.literal(year, type="int32"), payment_year=ibis.literal(year + 1, type="int32")
            )
            for year in years
        ]
        if not parts:
            return None
        return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    if name == OPEN_GAPS and inputs.has("clinical"):
        return evaluate_open_gaps(
            inputs, members, inputs.run.start, inputs.run.end, with_providers=inputs.has("providers")
        )
    return None


__all__ = [
    "HCC_PAYMENT_YEARS",
    "MEMBER_FEATURES",
    "MEMBER_HCCS",
    "OPEN_GAPS",
    "REPORT_MARTS",
    "evaluate_open_gaps",
    "gaps_of_year",
    "hccs_of_year",
    "measured_years",
    "report_mart",
    "score_hccs",
]
