"""CMS529 Hybrid Hospital-Wide Readmission: the core clinical data elements (CCDE) part.

The hybrid measure links claims (the readmission outcome, computed by CMS) with EHR data submitted by the
hospital: for every qualifying inpatient encounter, the first vital signs and laboratory results of the
stay. apmkit computes the episode-based initial population (one count per qualifying encounter) and the
CCDE extraction; the claims outcome itself is :mod:`apmkit.quality.claims` (all-cause readmission).

Specification read: CMSFHIR529HybridHospitalWideReadmission (QI-Core, 2026-2027 reporting period) and
CQMCommon ``hospitalizationWithObservationAndOutpatientSurgeryService`` (cqframework/ecqm-content-qicore-2024,
CC0): an inpatient encounter (Encounter Inpatient value set) that is finished, ends during the measurement
period, of a patient aged 65 or more at its start who has Medicare fee-for-service or Medicare Advantage
coverage, whose hospitalization (extended back over an emergency department visit, observation stay or
outpatient surgery ending within one hour of its start) lasts less than 365 days.
"""

from __future__ import annotations

import datetime as dt

import ibis

from apmkit.quality.logic import RESULT_STATUSES, MeasureData, day_literal
from apmkit.quality.valuesets import LOINC

ENCOUNTER_INPATIENT = "2.16.840.1.113883.3.666.5.307"
EMERGENCY_DEPARTMENT_VISIT = "2.16.840.1.113883.3.117.1.7.1.292"
OBSERVATION_SERVICES = "2.16.840.1.113762.1.4.1111.143"
OUTPATIENT_SURGERY_SERVICE = "2.16.840.1.113762.1.4.1110.38"
MEDICARE_FFS_PAYER = "2.16.840.1.113762.1.4.1104.10"
MEDICARE_ADVANTAGE_PAYER = "2.16.840.1.113762.1.4.1104.12"
BICARBONATE = "2.16.840.1.113762.1.4.1045.139"
CREATININE = "2.16.840.1.113883.3.666.5.2363"
GLUCOSE = "2.16.840.1.113762.1.4.1045.134"
HEMATOCRIT = "2.16.840.1.113762.1.4.1045.114"
POTASSIUM = "2.16.840.1.113762.1.4.1045.117"
SODIUM = "2.16.840.1.113762.1.4.1045.119"
WHITE_BLOOD_CELLS = "2.16.840.1.113762.1.4.1045.129"
OXYGEN_SATURATION = "2.16.840.1.113762.1.4.1045.151"

VALUE_SETS = (
    ENCOUNTER_INPATIENT,
    EMERGENCY_DEPARTMENT_VISIT,
    OBSERVATION_SERVICES,
    OUTPATIENT_SURGERY_SERVICE,
    MEDICARE_FFS_PAYER,
    MEDICARE_ADVANTAGE_PAYER,
    BICARBONATE,
    CREATININE,
    GLUCOSE,
    HEMATOCRIT,
    POTASSIUM,
    SODIUM,
    WHITE_BLOOD_CELLS,
    OXYGEN_SATURATION,
)

VITAL_SIGNS: dict[str, tuple[str, ...]] = {
    # element -> LOINC codes of the US Core vital-sign profiles the CQL retrieves
    "heart_rate": ("8867-4",),
    "respiratory_rate": ("9279-1",),
    "body_temperature": ("8310-5",),
    "body_weight": ("29463-7",),
}
LAB_TESTS: dict[str, str] = {
    "bicarbonate": BICARBONATE,
    "creatinine": CREATININE,
    "glucose": GLUCOSE,
    "hematocrit": HEMATOCRIT,
    "potassium": POTASSIUM,
    "sodium": SODIUM,
    "white_blood_cells": WHITE_BLOOD_CELLS,
    "oxygen_saturation": OXYGEN_SATURATION,
}
BLOOD_PRESSURE_PANEL = "85354-9"
SYSTOLIC_BP = "8480-6"
PRECEDING_GAP = ibis.interval(hours=1)
DIRECT_CODES = (
    *tuple((LOINC, code) for codes in VITAL_SIGNS.values() for code in codes),
    (LOINC, BLOOD_PRESSURE_PANEL),
)


def qualifying_encounters(
    members: ibis.Table, clinical: ibis.Table, start: dt.date, end: dt.date
) -> ibis.Table:
    """The CMS529 initial population: one row per qualifying inpatient encounter.

    Returns
    -------
    ibis.Table
        ``member_id``, ``encounter_id`` (record id), ``admission`` (the start of the hospitalization after
        extension over a preceding ED visit, observation stay or outpatient surgery), ``inpatient_start``,
        ``discharge`` and ``length_of_stay_days``.
    """
    data = MeasureData(members, clinical, start, end, VALUE_SETS, DIRECT_CODES)
    inpatient = data.matching(("Encounter",), value_sets=(ENCOUNTER_INPATIENT,))
    inpatient = inpatient.filter(
        (inpatient.status == "finished")
        & inpatient.end_day.notnull()
        & (inpatient.end_day >= day_literal(start))
        & (inpatient.end_day <= day_literal(end))
    )
    medicare = data.matching(("Coverage",), value_sets=(MEDICARE_FFS_PAYER, MEDICARE_ADVANTAGE_PAYER))
    inpatient = inpatient.semi_join(medicare.select("member_id").distinct(), "member_id")
    people = members.select("member_id", "birth_date")
    inpatient = inpatient.join(people, "member_id")
    inpatient = inpatient.filter(age_at_date(inpatient.birth_date, inpatient.effective_start.date()) >= 65)
    admission = extended_start(data, inpatient)
    stays = inpatient.left_join(admission, inpatient.record_id == admission.inpatient_id).select(
        member_id=inpatient.member_id,
        encounter_id=inpatient.record_id,
        inpatient_start=inpatient.effective_start,
        admission=ibis.coalesce(admission.extended_start, inpatient.effective_start),
        discharge=inpatient.effective_end,
    )
    stays = stays.mutate(
        length_of_stay_days=stays.discharge.date().delta(stays.admission.date(), unit="day").cast("int32")
    )
    return stays.filter(stays.length_of_stay_days < 365)


def age_at_date(birth_date: ibis.Value, on: ibis.Value) -> ibis.Value:
    """Whole years of age on a per-row date (AgeInYearsAt with a column)."""
    had_birthday = (birth_date.month() * 100 + birth_date.day()) <= (on.month() * 100 + on.day())
    return on.year() - birth_date.year() - ibis.ifelse(had_birthday, 0, 1)


def extended_start(data: MeasureData, inpatient: ibis.Table) -> ibis.Table:
    """Earliest start of the chain outpatient surgery → observation → ED visit that ends within an hour
    before the inpatient encounter (CQMCommon hospitalization extension), per inpatient encounter."""
    current = inpatient.select(
        inpatient_id=inpatient.record_id,
        member_id=inpatient.member_id,
        extended_start=inpatient.effective_start,
    )
    for value_set in (EMERGENCY_DEPARTMENT_VISIT, OBSERVATION_SERVICES, OUTPATIENT_SURGERY_SERVICE):
        visits = data.matching(("Encounter",), value_sets=(value_set,))
        visits = visits.filter(visits.status == "finished").select(
            member_id=visits.member_id, visit_start=visits.effective_start, visit_end=visits.effective_end
        )
        joined = current.left_join(
            visits,
            (current.member_id == visits.member_id)
            & (visits.visit_end <= current.extended_start)
            & (visits.visit_end >= current.extended_start - PRECEDING_GAP),
        )
        # The latest-ending qualifying visit is the one immediately before the stay.
        current = joined.group_by(["inpatient_id", joined.member_id]).aggregate(
            extended_start=ibis.coalesce(joined.visit_start.min(), joined.extended_start.min())
        )
    return current.select("inpatient_id", "extended_start")


def initial_population(members: ibis.Table, clinical: ibis.Table, start: dt.date, end: dt.date) -> ibis.Table:
    """Per patient: the number of qualifying encounters (the episode-based initial population count)."""
    stays = qualifying_encounters(members, clinical, start, end)
    counts = stays.group_by("member_id").aggregate(initial_population=stays.encounter_id.nunique())
    evidence = stays.group_by("member_id").aggregate(evidence=stays.encounter_id.group_concat(","))
    people = members.select("member_id")
    result = people.left_join(counts, "member_id").drop("member_id_right")
    result = result.left_join(evidence, "member_id").drop("member_id_right")
    return result.select(
        patient_id=result.member_id,
        initial_population=result.initial_population.fill_null(0).cast("int32"),
        evidence=ibis.ifelse(
            result.evidence.isnull(), "", "initial_population: encounters=" + result.evidence.fill_null("")
        ),
    )


def core_clinical_data_elements(
    members: ibis.Table, clinical: ibis.Table, start: dt.date, end: dt.date
) -> ibis.Table:
    """The first result of each CCDE during each qualifying hospitalization.

    Returns
    -------
    ibis.Table
        One row per (encounter, element): ``member_id``, ``encounter_id``, ``element`` (heart_rate,
        respiratory_rate, body_temperature, body_weight, systolic_bp, oxygen_saturation and the seven lab
        tests), ``record_id``, ``value``, ``unit``, ``observed_at``. Labs are ordered by their issue time
        (as the specification orders them), vital signs by their effective time.
    """
    data = MeasureData(members, clinical, start, end, VALUE_SETS, DIRECT_CODES)
    stays = qualifying_encounters(members, clinical, start, end)
    results = data.header.filter(
        (data.header.resource_type == "Observation")
        & data.header.status.isin(list(RESULT_STATUSES))
        & (data.header.value_numeric.notnull() | data.header.value_code.notnull())
    )
    pieces: list[ibis.Table] = []
    for element, codes in VITAL_SIGNS.items():
        found = data.matching(("Observation",), codes=[(LOINC, code) for code in codes])
        found = found.semi_join(results.select("record_id"), "record_id")
        pieces.append(found.mutate(element=ibis.literal(element), order_time=found.effective_start))
    for element, value_set in LAB_TESTS.items():
        found = data.matching(("Observation",), value_sets=(value_set,))
        found = found.semi_join(results.select("record_id"), "record_id")
        order = (
            found.effective_start
            if element == "oxygen_saturation"
            else ibis.coalesce(found.recorded_at, found.effective_start)
        )
        pieces.append(found.mutate(element=ibis.literal(element), order_time=order))
    observations = pieces[0]
    for piece in pieces[1:]:
        observations = observations.union(piece, distinct=False)
    panels = data.matching(("Observation",), codes=[(LOINC, BLOOD_PRESSURE_PANEL)])
    panels = panels.filter(panels.status.isin(list(RESULT_STATUSES)))
    components = clinical.filter((clinical.component_index > 0) & (clinical.component_code == SYSTOLIC_BP))
    systolic = panels.drop("value_numeric", "value_unit").join(
        components.select("record_id", "value_numeric", "value_unit").distinct(), "record_id"
    )
    systolic = systolic.mutate(element=ibis.literal("systolic_bp"), order_time=systolic.effective_start)
    columns = [
        "member_id",
        "record_id",
        "element",
        "order_time",
        "effective_start",
        "value_numeric",
        "value_unit",
    ]
    observations = observations.select(*columns).union(systolic.select(*columns), distinct=False)
    joined = stays.join(observations, "member_id")
    joined = joined.filter(
        (joined.effective_start >= joined.admission) & (joined.effective_start <= joined.discharge)
    )
    joined = joined.mutate(
        rank=ibis.row_number().over(
            group_by=[joined.encounter_id, joined.element], order_by=[joined.order_time, joined.record_id]
        )
    )
    first = joined.filter(joined.rank == 0)
    return first.select(
        "member_id",
        "encounter_id",
        "element",
        "record_id",
        value=first.value_numeric,
        unit=first.value_unit,
        observed_at=first.effective_start,
    )
