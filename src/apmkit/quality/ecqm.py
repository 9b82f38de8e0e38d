"""The MSSP APP Plus eCQMs for the 2025 measurement period, as declarative definitions.

Each :class:`MeasureDefinition` lists its value sets, its data criteria (:class:`~apmkit.quality.logic.Criterion`)
and its populations as boolean expressions over the facts those criteria produce. Logic that needs a
"most recent" record or a relation between two records (CMS122 and CMS165 most recent results, CMS2
screenings tied to a qualifying encounter) is written as set-based ibis functions that emit facts too.

Sources (read as specifications; the code is apmkit's own): the CMS eCQM FHIR/QI-Core measure logic for
the 2025 performance period (CMS122v13 Diabetes: Glycemic Status Assessment Greater Than 9 %, CMS165v13
Controlling High Blood Pressure, CMS2v14 Preventive Care and Screening: Screening for Depression and
Follow-Up Plan, CMS125v13 Breast Cancer Screening, CMS130v13 Colorectal Cancer Screening) and their shared
libraries (AdultOutpatientEncounters, Hospice, PalliativeCare, AdvancedIllnessandFrailty, Status,
QICoreCommon), as published in cqframework/ecqm-content-qicore-2024 (CC0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis

from apmkit.quality.logic import (
    ORDER_STATUSES,
    PERFORMED_EVENT,
    RESULT_STATUSES,
    Age,
    Criterion,
    Expr,
    Fact,
    Female,
    MeasureData,
    Window,
    all_of,
    any_of,
    day_literal,
    facts_of,
    on_recorded_day,
    select_records,
)
from apmkit.quality.valuesets import LOINC, SNOMED

# ---- value sets (VSAC OIDs) -----------------------------------------------------------------------------
OFFICE_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1001"
ANNUAL_WELLNESS_VISIT = "2.16.840.1.113883.3.526.3.1240"
PREVENTIVE_ESTABLISHED_18_UP = "2.16.840.1.113883.3.464.1003.101.12.1025"
PREVENTIVE_INITIAL_18_UP = "2.16.840.1.113883.3.464.1003.101.12.1023"
HOME_HEALTHCARE = "2.16.840.1.113883.3.464.1003.101.12.1016"
ONLINE_ASSESSMENTS = "2.16.840.1.113883.3.464.1003.101.12.1089"
TELEPHONE_VISITS = "2.16.840.1.113883.3.464.1003.101.12.1080"
ENCOUNTER_INPATIENT = "2.16.840.1.113883.3.666.5.307"
HOSPICE_CARE_AMBULATORY = "2.16.840.1.113883.3.526.3.1584"
HOSPICE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.1003"
HOSPICE_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.1165"
PALLIATIVE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.101.12.1090"
PALLIATIVE_INTERVENTION = "2.16.840.1.113883.3.464.1003.198.12.1135"
PALLIATIVE_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.1167"
FRAILTY_DEVICE = "2.16.840.1.113883.3.464.1003.118.12.1300"
FRAILTY_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.113.12.1074"
FRAILTY_ENCOUNTER = "2.16.840.1.113883.3.464.1003.101.12.1088"
FRAILTY_SYMPTOM = "2.16.840.1.113883.3.464.1003.113.12.1075"
ADVANCED_ILLNESS = "2.16.840.1.113883.3.464.1003.110.12.1082"
DEMENTIA_MEDICATIONS = "2.16.840.1.113883.3.464.1003.196.12.1510"
DIABETES = "2.16.840.1.113883.3.464.1003.103.12.1001"
HBA1C_LAB_TEST = "2.16.840.1.113883.3.464.1003.198.12.1013"
ESSENTIAL_HYPERTENSION = "2.16.840.1.113883.3.464.1003.104.12.1011"
CKD_STAGE_5 = "2.16.840.1.113883.3.526.3.1002"
DIALYSIS_SERVICES = "2.16.840.1.113883.3.464.1003.109.12.1013"
END_STAGE_RENAL_DISEASE = "2.16.840.1.113883.3.526.3.353"
ESRD_MONTHLY_OUTPATIENT = "2.16.840.1.113883.3.464.1003.109.12.1014"
KIDNEY_TRANSPLANT = "2.16.840.1.113883.3.464.1003.109.12.1012"
KIDNEY_TRANSPLANT_RECIPIENT = "2.16.840.1.113883.3.464.1003.109.12.1029"
PREGNANCY = "2.16.840.1.113883.3.526.3.378"
ADOLESCENT_DEPRESSION_MEDICATIONS = "2.16.840.1.113883.3.526.3.1567"
ADULT_DEPRESSION_MEDICATIONS = "2.16.840.1.113883.3.526.3.1566"
BIPOLAR_DISORDER = "2.16.840.1.113883.3.67.1.101.1.128"
ENCOUNTER_TO_SCREEN_FOR_DEPRESSION = "2.16.840.1.113883.3.600.1916"
FOLLOW_UP_ADOLESCENT_DEPRESSION = "2.16.840.1.113883.3.526.3.1569"
FOLLOW_UP_ADULT_DEPRESSION = "2.16.840.1.113883.3.526.3.1568"
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
PHYSICAL_THERAPY_EVALUATION = "2.16.840.1.113883.3.526.3.1022"
REFERRAL_ADOLESCENT_DEPRESSION = "2.16.840.1.113883.3.526.3.1570"
REFERRAL_ADULT_DEPRESSION = "2.16.840.1.113883.3.526.3.1571"
BILATERAL_MASTECTOMY = "2.16.840.1.113883.3.464.1003.198.12.1005"
HISTORY_BILATERAL_MASTECTOMY = "2.16.840.1.113883.3.464.1003.198.12.1068"
MAMMOGRAPHY = "2.16.840.1.113883.3.464.1003.108.12.1018"
STATUS_POST_LEFT_MASTECTOMY = "2.16.840.1.113883.3.464.1003.198.12.1069"
STATUS_POST_RIGHT_MASTECTOMY = "2.16.840.1.113883.3.464.1003.198.12.1070"
UNILATERAL_MASTECTOMY_LEFT = "2.16.840.1.113883.3.464.1003.198.12.1133"
UNILATERAL_MASTECTOMY_RIGHT = "2.16.840.1.113883.3.464.1003.198.12.1134"
UNILATERAL_MASTECTOMY_UNSPECIFIED = "2.16.840.1.113883.3.464.1003.198.12.1071"
COLONOSCOPY = "2.16.840.1.113883.3.464.1003.108.12.1020"
CT_COLONOGRAPHY = "2.16.840.1.113883.3.464.1003.108.12.1038"
FOBT = "2.16.840.1.113883.3.464.1003.198.12.1011"
SDNA_FIT = "2.16.840.1.113883.3.464.1003.108.12.1039"
FLEXIBLE_SIGMOIDOSCOPY = "2.16.840.1.113883.3.464.1003.198.12.1010"
MALIGNANT_NEOPLASM_COLON = "2.16.840.1.113883.3.464.1003.108.12.1001"
TOTAL_COLECTOMY = "2.16.840.1.113883.3.464.1003.198.12.1019"

# ---- direct reference codes ------------------------------------------------------------------------------
CERNER_CLINIC = ("https://fhir.cerner.com/24e03c9a-e2fd-45f4-8243-e38cc7e8418d/codeSet/71", "22282402")
DISCHARGE_HOME_HOSPICE = (SNOMED, "428361000124107")
LEFT_QUALIFIER = (SNOMED, "7771000")
RIGHT_QUALIFIER = (SNOMED, "24028007")
DISCHARGE_FACILITY_HOSPICE = (SNOMED, "428371000124100")
HOSPICE_CARE_MDS = (LOINC, "45755-6")
YES = (SNOMED, "373066001")
FACIT_PAL = (LOINC, "71007-9")
MEDICAL_EQUIPMENT_USED = (LOINC, "98181-1")
HOUSING_STATUS = (LOINC, "71802-3")
LIVES_IN_NURSING_HOME = (SNOMED, "160734000")
GLUCOSE_MANAGEMENT_INDICATOR = (LOINC, "97506-0")
BLOOD_PRESSURE_PANEL = (LOINC, "85354-9")
SYSTOLIC_BP = (LOINC, "8480-6")
DIASTOLIC_BP = (LOINC, "8462-4")
ADOLESCENT_DEPRESSION_SCREENING = (LOINC, "73831-0")
ADULT_DEPRESSION_SCREENING = (LOINC, "73832-8")
DEPRESSION_SCREENING_DECLINED = (SNOMED, "720834000")
DEPRESSION_SCREENING_NEGATIVE = (SNOMED, "428171000124102")
DEPRESSION_SCREENING_POSITIVE = (SNOMED, "428181000124104")

INPATIENT_LIKE_CLASSES = ("EMER", "IMP", "ACUTE", "NONAC", "PRENC", "SS")
"""Encounter classes whose blood pressure readings CMS165 ignores (emergency and inpatient settings)."""

SYMPTOM_STATUSES = ("preliminary", *RESULT_STATUSES)
LAST_YEAR_AND_PERIOD = Window(years_before=1)


@dataclass(frozen=True)
class MeasureDefinition:
    """One measure: identity, value sets, data criteria, derived facts and population expressions.

    Parameters
    ----------
    measure_id, title, version
        CMS identifier (e.g. ``CMS122``), title and the eCQM version for the period (e.g. ``CMS122v13``).
    inverse
        A lower rate is better (CMS122).
    value_sets
        Every value set OID the criteria use.
    criteria
        Data criteria, each producing one named fact.
    derived
        Functions computing facts that relate records to each other (most recent result, screenings tied
        to a visit); each returns a fact table.
    initial_population ... numerator_exclusion
        Population expressions; ``None`` means the measure has no such population.
    gap_closure
        What closes an open numerator gap, for the gaps report.
    gap_fact
        The fact whose latest record is shown as the last relevant value in the gaps report.
    extra_codes
        Direct-reference codes the derived facts look up.
    """

    measure_id: str
    title: str
    version: str
    inverse: bool
    value_sets: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    initial_population: Expr
    numerator: Expr
    denominator: Expr | None = None
    denominator_exclusion: Expr | None = None
    denominator_exception: Expr | None = None
    numerator_exclusion: Expr | None = None
    derived: tuple[Callable[[MeasureData], ibis.Table], ...] = field(default=())
    derived_facts: tuple[str, ...] = ()
    gap_closure: str = ""
    gap_fact: str | None = None
    extra_codes: tuple[tuple[str, str], ...] = ()

    @property
    def fact_names(self) -> list[str]:
        return [c.fact for c in self.criteria] + list(self.derived_facts)

    @property
    def codes(self) -> tuple[tuple[str, str], ...]:
        """Every direct-reference code the criteria and derived facts look up."""
        found = {code for criterion in self.criteria for code in criterion.codes}
        return tuple(sorted(found | set(self.extra_codes)))


# ---- shared libraries ------------------------------------------------------------------------------------

QUALIFYING_ENCOUNTER = Criterion(
    "qualifying_encounter",
    ("Encounter",),
    value_sets=(
        OFFICE_VISIT,
        ANNUAL_WELLNESS_VISIT,
        PREVENTIVE_ESTABLISHED_18_UP,
        PREVENTIVE_INITIAL_18_UP,
        HOME_HEALTHCARE,
        ONLINE_ASSESSMENTS,
        TELEPHONE_VISITS,
    ),
    codes=(CERNER_CLINIC,),
    statuses=("finished",),
    timing="during",
)
"""AdultOutpatientEncounters."Qualifying Encounters"."""

HOSPICE_CRITERIA = (
    Criterion(
        "hospice_discharge",
        ("Encounter",),
        value_sets=(ENCOUNTER_INPATIENT,),
        statuses=("finished",),
        value_codes=(DISCHARGE_HOME_HOSPICE, DISCHARGE_FACILITY_HOSPICE),
        timing="ends_during",
    ),
    Criterion(
        "hospice_encounter",
        ("Encounter",),
        value_sets=(HOSPICE_ENCOUNTER,),
        statuses=("finished",),
        timing="overlaps",
    ),
    Criterion(
        "hospice_assessment",
        ("Observation",),
        codes=(HOSPICE_CARE_MDS,),
        statuses=RESULT_STATUSES,
        value_codes=(YES,),
        timing="overlaps",
    ),
    Criterion(
        "hospice_order",
        ("ServiceRequest",),
        value_sets=(HOSPICE_CARE_AMBULATORY,),
        statuses=ORDER_STATUSES,
        timing="during",
        anchor="recorded",
    ),
    Criterion(
        "hospice_procedure",
        ("Procedure",),
        value_sets=(HOSPICE_CARE_AMBULATORY,),
        statuses=PERFORMED_EVENT,
        timing="overlaps",
    ),
    Criterion(
        "hospice_diagnosis",
        ("Condition",),
        value_sets=(HOSPICE_DIAGNOSIS,),
        timing="overlaps",
        prevalence=True,
        negated=None,
    ),
)
HAS_HOSPICE = any_of(*[Fact(c.fact) for c in HOSPICE_CRITERIA])
"""Hospice."Has Hospice Services"."""

PALLIATIVE_CRITERIA = (
    Criterion(
        "palliative_assessment",
        ("Observation",),
        codes=(FACIT_PAL,),
        statuses=RESULT_STATUSES,
        timing="overlaps",
    ),
    Criterion(
        "palliative_diagnosis",
        ("Condition",),
        value_sets=(PALLIATIVE_DIAGNOSIS,),
        timing="overlaps",
        prevalence=True,
        negated=None,
    ),
    Criterion(
        "palliative_encounter",
        ("Encounter",),
        value_sets=(PALLIATIVE_ENCOUNTER,),
        statuses=("finished",),
        timing="overlaps",
    ),
    Criterion(
        "palliative_intervention",
        ("Procedure",),
        value_sets=(PALLIATIVE_INTERVENTION,),
        statuses=PERFORMED_EVENT,
        timing="overlaps",
    ),
)
HAS_PALLIATIVE = any_of(*[Fact(c.fact) for c in PALLIATIVE_CRITERIA])
"""PalliativeCare."Has Palliative Care in the Measurement Period"."""

FRAILTY_CRITERIA = (
    Criterion(
        "frailty_device_order",
        ("DeviceRequest",),
        value_sets=(FRAILTY_DEVICE,),
        statuses=ORDER_STATUSES,
        timing="during",
        anchor="recorded",
    ),
    Criterion(
        "frailty_device_used",
        ("Observation",),
        codes=(MEDICAL_EQUIPMENT_USED,),
        statuses=RESULT_STATUSES,
        value_value_sets=(FRAILTY_DEVICE,),
        timing="ends_during",
    ),
    Criterion(
        "frailty_diagnosis",
        ("Condition",),
        value_sets=(FRAILTY_DIAGNOSIS,),
        timing="overlaps",
        prevalence=True,
        negated=None,
    ),
    Criterion(
        "frailty_encounter",
        ("Encounter",),
        value_sets=(FRAILTY_ENCOUNTER,),
        statuses=("finished",),
        timing="overlaps",
    ),
    Criterion(
        "frailty_symptom",
        ("Observation",),
        value_sets=(FRAILTY_SYMPTOM,),
        statuses=SYMPTOM_STATUSES,
        timing="overlaps",
    ),
)
ADVANCED_ILLNESS_CRITERIA = (
    Criterion(
        "advanced_illness",
        ("Condition",),
        value_sets=(ADVANCED_ILLNESS,),
        timing="starts_during",
        window=LAST_YEAR_AND_PERIOD,
        prevalence=True,
        negated=None,
    ),
    Criterion(
        "dementia_medication",
        ("MedicationRequest",),
        value_sets=(DEMENTIA_MEDICATIONS,),
        statuses=ORDER_STATUSES,
        timing="overlaps",
        window=LAST_YEAR_AND_PERIOD,
    ),
)
HAS_FRAILTY = any_of(*[Fact(c.fact) for c in FRAILTY_CRITERIA])
HAS_ADVANCED_ILLNESS = any_of(*[Fact(c.fact) for c in ADVANCED_ILLNESS_CRITERIA])
AGE_66_FRAIL_AND_ILL = all_of(Age(66), HAS_FRAILTY, HAS_ADVANCED_ILLNESS)
"""AdvancedIllnessandFrailty."Is Age 66 or Older with Advanced Illness and Frailty"."""
AGE_66_IN_NURSING_HOME = all_of(Age(66), Fact("nursing_home"))
"""AdvancedIllnessandFrailty."Is Age 66 or Older Living Long Term in a Nursing Home"."""


def nursing_home_facts(data: MeasureData) -> ibis.Table:
    """The last housing-status assessment up to the period end says the patient lives in a nursing home."""
    rows = select_records(
        data,
        Criterion(
            "housing",
            ("Observation",),
            codes=(HOUSING_STATUS,),
            statuses=RESULT_STATUSES,
            timing="ends_by_end",
        ),
    )
    ranked = rows.mutate(
        last_day=rows.latest_day.max().over(group_by=rows.member_id),
        last_time=ibis.coalesce(rows.effective_end, rows.effective_start).max().over(group_by=rows.member_id),
    )
    last = ranked.filter(ibis.coalesce(ranked.effective_end, ranked.effective_start) == ranked.last_time)
    lives_there = last.filter(
        (last.value_code_system == LIVES_IN_NURSING_HOME[0]) & (last.value_code == LIVES_IN_NURSING_HOME[1])
    )
    return facts_of(lives_there, "nursing_home")


EXCLUSION_LIBRARY_VALUE_SETS = (
    ENCOUNTER_INPATIENT,
    HOSPICE_CARE_AMBULATORY,
    HOSPICE_ENCOUNTER,
    HOSPICE_DIAGNOSIS,
    PALLIATIVE_ENCOUNTER,
    PALLIATIVE_INTERVENTION,
    PALLIATIVE_DIAGNOSIS,
    FRAILTY_DEVICE,
    FRAILTY_DIAGNOSIS,
    FRAILTY_ENCOUNTER,
    FRAILTY_SYMPTOM,
    ADVANCED_ILLNESS,
    DEMENTIA_MEDICATIONS,
)
OUTPATIENT_VALUE_SETS = QUALIFYING_ENCOUNTER.value_sets
COMMON_CRITERIA = (
    QUALIFYING_ENCOUNTER,
    *HOSPICE_CRITERIA,
    *PALLIATIVE_CRITERIA,
    *FRAILTY_CRITERIA,
    *ADVANCED_ILLNESS_CRITERIA,
)


# ---- CMS122 ---------------------------------------------------------------------------------------------


def glycemic_status_facts(data: MeasureData) -> ibis.Table:
    """CMS122 numerator parts from the most recent glycemic status assessment day of the period.

    The lowest reading of the most recent day decides. CQL sorts a missing value before any number, so a
    test without a result on that day makes the day's result missing ("without result", in numerator).
    """
    tests = select_records(
        data,
        Criterion(
            "glycemic_assessment",
            ("Observation",),
            value_sets=(HBA1C_LAB_TEST,),
            codes=(GLUCOSE_MANAGEMENT_INDICATOR,),
            statuses=RESULT_STATUSES,
            timing="latest_during",
        ),
    )
    last_day = tests.latest_day.max().over(group_by=tests.member_id)
    on_last = tests.mutate(last_day=last_day).filter(lambda t: t.latest_day == t.last_day)
    summary = on_last.mutate(
        day_has_missing=on_last.value_numeric.isnull().any().over(group_by=on_last.member_id),
        day_lowest=on_last.value_numeric.min().over(group_by=on_last.member_id),
    )
    # The first reading sorts by quantity; a coded value is not a quantity, sorts first too, but is a result.
    missing = summary.filter(
        summary.day_has_missing & summary.value_numeric.isnull() & summary.value_code.isnull()
    )
    elevated = summary.filter(
        ~summary.day_has_missing & (summary.day_lowest > 9) & (summary.value_numeric == summary.day_lowest)
    )
    return (
        facts_of(tests, "glycemic_assessment", value=tests.value_numeric)
        .union(facts_of(missing, "glycemic_without_result"), distinct=False)
        .union(facts_of(elevated, "glycemic_elevated", value=elevated.value_numeric), distinct=False)
    )


CMS122 = MeasureDefinition(
    measure_id="CMS122",
    title="Diabetes: Glycemic Status Assessment Greater Than 9%",
    version="CMS122v13",
    inverse=True,
    value_sets=(*OUTPATIENT_VALUE_SETS, *EXCLUSION_LIBRARY_VALUE_SETS, DIABETES, HBA1C_LAB_TEST),
    criteria=(
        *COMMON_CRITERIA,
        Criterion(
            "diabetes",
            ("Condition",),
            value_sets=(DIABETES,),
            timing="overlaps",
            prevalence=True,
            negated=None,
        ),
    ),
    derived=(nursing_home_facts, glycemic_status_facts),
    extra_codes=(HOUSING_STATUS, GLUCOSE_MANAGEMENT_INDICATOR),
    derived_facts=("nursing_home", "glycemic_assessment", "glycemic_without_result", "glycemic_elevated"),
    initial_population=all_of(Age(18, 75), Fact("qualifying_encounter"), Fact("diabetes")),
    denominator_exclusion=any_of(HAS_HOSPICE, AGE_66_IN_NURSING_HOME, AGE_66_FRAIL_AND_ILL, HAS_PALLIATIVE),
    numerator=any_of(
        Fact("glycemic_without_result"), Fact("glycemic_elevated"), ~Fact("glycemic_assessment")
    ),
    gap_closure="an HbA1c or GMI result of 9.0 % or less, the most recent of the period",
    gap_fact="glycemic_assessment",
)


# ---- CMS165 ---------------------------------------------------------------------------------------------


def blood_pressure_facts(data: MeasureData) -> ibis.Table:
    """CMS165 numerator: lowest systolic < 140 and lowest diastolic < 90 on the most recent BP day.

    Readings taken during an emergency or inpatient encounter do not count. A reading without the
    component sorts first (missing) and so makes that day's lowest value missing.
    """
    panels = data.matching(("Observation",), codes=(BLOOD_PRESSURE_PANEL,))
    panels = panels.filter(panels.status.isin(list(RESULT_STATUSES)) & ~panels.negated.fill_null(False))
    low, high = day_literal(data.start), day_literal(data.end)
    panels = panels.filter((panels.latest_day >= low) & (panels.latest_day <= high))
    # Any encounter counts here, whatever its code, so look in all of clinical rather than the tagged records.
    encounters = data.clinical.filter(
        (data.clinical.resource_type == "Encounter")
        & data.clinical.category.isin(list(INPATIENT_LIKE_CLASSES))
    )
    inpatient_like = encounters.select(excluded_encounter=encounters.record_id).distinct()
    # encounter_id holds the encounter's record_id (the canonical clinical contract).
    panels = panels.anti_join(inpatient_like, panels.encounter_id == inpatient_like.excluded_encounter)
    components = data.clinical.filter(data.clinical.component_index > 0)
    systolic = (
        components.filter(
            (components.component_code_system == SYSTOLIC_BP[0])
            & (components.component_code == SYSTOLIC_BP[1])
        )
        .group_by("record_id")
        .aggregate(systolic=lambda t: t.value_numeric.min())
    )
    diastolic = (
        components.filter(
            (components.component_code_system == DIASTOLIC_BP[0])
            & (components.component_code == DIASTOLIC_BP[1])
        )
        .group_by("record_id")
        .aggregate(diastolic=lambda t: t.value_numeric.min())
    )
    readings = panels.left_join(systolic, "record_id").left_join(diastolic, "record_id")
    readings = readings.select("member_id", "record_id", "latest_day", "systolic", "diastolic")
    last = readings.mutate(last_day=readings.latest_day.max().over(group_by=readings.member_id))
    last = last.filter(last.latest_day == last.last_day)
    day = last.mutate(
        missing_systolic=last.systolic.isnull().any().over(group_by=last.member_id),
        missing_diastolic=last.diastolic.isnull().any().over(group_by=last.member_id),
        lowest_systolic=last.systolic.min().over(group_by=last.member_id),
        lowest_diastolic=last.diastolic.min().over(group_by=last.member_id),
    )
    controlled = day.filter(
        ~day.missing_systolic
        & ~day.missing_diastolic
        & (day.lowest_systolic < 140)
        & (day.lowest_diastolic < 90)
    )
    return facts_of(readings, "bp_reading", value=readings.systolic).union(
        facts_of(controlled, "bp_controlled", value=controlled.systolic), distinct=False
    )


CMS165 = MeasureDefinition(
    measure_id="CMS165",
    title="Controlling High Blood Pressure",
    version="CMS165v13",
    inverse=False,
    value_sets=(
        *OUTPATIENT_VALUE_SETS,
        *EXCLUSION_LIBRARY_VALUE_SETS,
        ESSENTIAL_HYPERTENSION,
        PREGNANCY,
        END_STAGE_RENAL_DISEASE,
        KIDNEY_TRANSPLANT_RECIPIENT,
        CKD_STAGE_5,
        KIDNEY_TRANSPLANT,
        DIALYSIS_SERVICES,
        ESRD_MONTHLY_OUTPATIENT,
    ),
    criteria=(
        *COMMON_CRITERIA,
        Criterion(
            "essential_hypertension",
            ("Condition",),
            value_sets=(ESSENTIAL_HYPERTENSION,),
            timing="overlaps",
            window=Window(months_after_start=6),
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "pregnancy_or_renal_diagnosis",
            ("Condition",),
            value_sets=(PREGNANCY, END_STAGE_RENAL_DISEASE, KIDNEY_TRANSPLANT_RECIPIENT, CKD_STAGE_5),
            timing="overlaps",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "esrd_procedure",
            ("Procedure",),
            value_sets=(KIDNEY_TRANSPLANT, DIALYSIS_SERVICES),
            statuses=PERFORMED_EVENT,
            timing="ends_by_end",
        ),
        Criterion(
            "esrd_encounter",
            ("Encounter",),
            value_sets=(ESRD_MONTHLY_OUTPATIENT,),
            statuses=("finished",),
            timing="starts_by_end",
        ),
    ),
    derived=(nursing_home_facts, blood_pressure_facts),
    extra_codes=(HOUSING_STATUS, BLOOD_PRESSURE_PANEL),
    derived_facts=("nursing_home", "bp_reading", "bp_controlled"),
    initial_population=all_of(Age(18, 85), Fact("essential_hypertension"), Fact("qualifying_encounter")),
    denominator_exclusion=any_of(
        HAS_HOSPICE,
        Fact("pregnancy_or_renal_diagnosis"),
        Fact("esrd_procedure"),
        Fact("esrd_encounter"),
        all_of(Age(66, 80), HAS_FRAILTY, HAS_ADVANCED_ILLNESS),
        all_of(Age(81), HAS_FRAILTY),
        AGE_66_IN_NURSING_HOME,
        HAS_PALLIATIVE,
    ),
    numerator=Fact("bp_controlled"),
    gap_closure="a blood pressure below 140/90 mmHg on the most recent reading day of the period",
    gap_fact="bp_reading",
)


# ---- CMS2 -----------------------------------------------------------------------------------------------

DEPRESSION_ENCOUNTER = Criterion(
    "depression_encounter",
    ("Encounter",),
    value_sets=(ENCOUNTER_TO_SCREEN_FOR_DEPRESSION, PHYSICAL_THERAPY_EVALUATION, TELEPHONE_VISITS),
    statuses=("finished",),
    timing="during",
)


def depression_facts(data: MeasureData) -> ibis.Table:
    """CMS2 facts that tie screenings, follow-up and exceptions to a qualifying encounter."""
    visits = select_records(data, DEPRESSION_ENCOUNTER).select(
        member_id="member_id",
        visit_id="record_id",
        visit_start="effective_start",
        visit_end="effective_end",
        visit_start_day="start_day",
        visit_end_day="end_day",
    )
    facts: list[ibis.Table] = []
    age_groups = (
        (
            "adolescent",
            ADOLESCENT_DEPRESSION_SCREENING,
            ADOLESCENT_DEPRESSION_MEDICATIONS,
            REFERRAL_ADOLESCENT_DEPRESSION,
            FOLLOW_UP_ADOLESCENT_DEPRESSION,
        ),
        (
            "adult",
            ADULT_DEPRESSION_SCREENING,
            ADULT_DEPRESSION_MEDICATIONS,
            REFERRAL_ADULT_DEPRESSION,
            FOLLOW_UP_ADULT_DEPRESSION,
        ),
    )
    for group, screening_code, medications, referral, follow_up in age_groups:
        screenings = data.matching(("Observation",), codes=(screening_code,))
        screenings = screenings.filter(
            (screenings.status == "final")
            & (screenings.value_numeric.notnull() | screenings.value_code.notnull())
            & ~screenings.negated.fill_null(False)
        )
        paired = screenings.join(visits, "member_id")
        # "14 days or less on or before day of start of" the visit.
        paired = paired.filter(
            (paired.start_day <= paired.visit_start_day)
            & (paired.start_day >= paired.visit_start_day.sub(ibis.interval(days=14)))
        )
        facts.append(facts_of(paired, f"{group}_screening", day=paired.start_day))
        # The most recent qualifying screening (by its start) decides the result.
        latest = paired.mutate(last_start=paired.effective_start.max().over(group_by=paired.member_id))
        latest = latest.filter(latest.effective_start == latest.last_start)
        negative = latest.filter(
            (latest.value_code_system == DEPRESSION_SCREENING_NEGATIVE[0])
            & (latest.value_code == DEPRESSION_SCREENING_NEGATIVE[1])
        )
        facts.append(facts_of(negative, f"{group}_negative", day=negative.start_day))
        positive = latest.filter(
            (latest.value_code_system == DEPRESSION_SCREENING_POSITIVE[0])
            & (latest.value_code == DEPRESSION_SCREENING_POSITIVE[1])
        )
        follow_ups = union_follow_ups(data, medications, referral, follow_up)
        matched = positive.select("member_id", "visit_id", "visit_start", "visit_end", "visit_end_day").join(
            follow_ups, "member_id"
        )
        low, high = day_literal(data.start), day_literal(data.end)
        performed_in_visit = (
            matched.performed_start.notnull()
            & (matched.performed_start >= matched.visit_start)
            & (matched.performed_start <= matched.visit_end)
        )
        authored_after_visit = (
            matched.authored_day.notnull()
            & (matched.authored_day >= matched.visit_end_day)
            & (matched.authored_day <= matched.visit_end_day.add(ibis.interval(days=2)))
        )
        in_period_day = ibis.coalesce(matched.performed_start.date(), matched.authored_day)
        matched = matched.filter(
            (performed_in_visit | authored_after_visit) & (in_period_day >= low) & (in_period_day <= high)
        )
        facts.append(
            matched.select(
                member_id=matched.member_id,
                fact=ibis.literal(f"{group}_positive_follow_up"),
                record_id=matched.follow_up_id,
                fact_day=in_period_day,
                fact_value=ibis.null("float64"),
            )
        )
        # Exceptions: screening not done for a medical or patient reason, documented during a visit.
        not_done = data.matching(("Observation",), codes=(screening_code,))
        not_done = not_done.filter(not_done.status == "cancelled")
        assert data.codes is not None
        medical = data.codes.filter(data.codes.value_set_oid == MEDICAL_REASON)
        declined = (not_done.reason_code_system == DEPRESSION_SCREENING_DECLINED[0]) & (
            not_done.reason_code == DEPRESSION_SCREENING_DECLINED[1]
        )
        with_reason = not_done.filter(declined).union(
            not_done.semi_join(
                medical,
                [not_done.reason_code_system == medical.code_system, not_done.reason_code == medical.code],
            )
        )
        during_visit = with_reason.join(visits, "member_id")
        during_visit = during_visit.filter(
            (during_visit.recorded_at >= during_visit.visit_start)
            & (during_visit.recorded_at <= during_visit.visit_end)
        )
        facts.append(facts_of(during_visit, f"{group}_not_screened_reason", day=during_visit.recorded_day))
    bipolar = data.matching(("Condition",), value_sets=(BIPOLAR_DISORDER,))
    bipolar = bipolar.filter(bipolar.category.isin(["problem-list-item", "health-concern"]))
    before_visit = bipolar.join(visits, "member_id")
    before_visit = before_visit.filter(
        before_visit.effective_start.isnull() | (before_visit.effective_start < before_visit.visit_start)
    )
    facts.append(facts_of(before_visit, "bipolar_before_visit", day=before_visit.start_day))
    result = facts[0]
    for more in facts[1:]:
        result = result.union(more, distinct=False)
    return result


def union_follow_ups(data: MeasureData, medications: str, referral: str, follow_up: str) -> ibis.Table:
    """Follow-up interventions: depression medication orders, referrals and follow-up procedures."""
    meds = data.matching(("MedicationRequest",), value_sets=(medications,))
    meds = on_recorded_day(
        meds.filter(meds.status.isin(list(ORDER_STATUSES)) & ~meds.negated.fill_null(False))
    )
    referrals = data.matching(("ServiceRequest",), value_sets=(referral,))
    referrals = on_recorded_day(
        referrals.filter(referrals.status.isin(list(ORDER_STATUSES)) & ~referrals.negated.fill_null(False))
    )
    procedures = data.matching(("Procedure",), value_sets=(follow_up,))
    procedures = procedures.filter((procedures.status == "completed") & ~procedures.negated.fill_null(False))
    ordered = [
        t.select(
            member_id=t.member_id,
            follow_up_id=t.record_id,
            performed_start=ibis.null("timestamp").cast("timestamp"),
            authored_day=t.recorded_day,
        )
        for t in (meds, referrals)
    ]
    performed = procedures.select(
        member_id=procedures.member_id,
        follow_up_id=procedures.record_id,
        performed_start=procedures.effective_start.cast("timestamp"),
        authored_day=ibis.null("date"),
    )
    return ordered[0].union(ordered[1], distinct=False).union(performed, distinct=False)


ADOLESCENT_NUMERATOR = any_of(Fact("adolescent_negative"), Fact("adolescent_positive_follow_up"))
ADULT_NUMERATOR = any_of(Fact("adult_negative"), Fact("adult_positive_follow_up"))

CMS2 = MeasureDefinition(
    measure_id="CMS2",
    title="Preventive Care and Screening: Screening for Depression and Follow-Up Plan",
    version="CMS2v14",
    inverse=False,
    value_sets=(
        ADOLESCENT_DEPRESSION_MEDICATIONS,
        ADULT_DEPRESSION_MEDICATIONS,
        BIPOLAR_DISORDER,
        ENCOUNTER_TO_SCREEN_FOR_DEPRESSION,
        FOLLOW_UP_ADOLESCENT_DEPRESSION,
        FOLLOW_UP_ADULT_DEPRESSION,
        MEDICAL_REASON,
        PHYSICAL_THERAPY_EVALUATION,
        REFERRAL_ADOLESCENT_DEPRESSION,
        REFERRAL_ADULT_DEPRESSION,
        TELEPHONE_VISITS,
    ),
    criteria=(DEPRESSION_ENCOUNTER,),
    derived=(depression_facts,),
    extra_codes=(ADOLESCENT_DEPRESSION_SCREENING, ADULT_DEPRESSION_SCREENING),
    derived_facts=(
        "adolescent_screening",
        "adolescent_negative",
        "adolescent_positive_follow_up",
        "adolescent_not_screened_reason",
        "adult_screening",
        "adult_negative",
        "adult_positive_follow_up",
        "adult_not_screened_reason",
        "bipolar_before_visit",
    ),
    initial_population=all_of(Age(12, at="start"), Fact("depression_encounter")),
    denominator_exclusion=Fact("bipolar_before_visit"),
    numerator=any_of(
        all_of(Age(12, 16, at="start"), ADOLESCENT_NUMERATOR),
        all_of(Age(17, 17, at="start"), any_of(ADOLESCENT_NUMERATOR, ADULT_NUMERATOR)),
        all_of(Age(18, at="start"), ADULT_NUMERATOR),
    ),
    denominator_exception=any_of(
        all_of(Fact("adolescent_not_screened_reason"), ~Fact("adolescent_screening")),
        all_of(Fact("adult_not_screened_reason"), ~Fact("adult_screening")),
    ),
    gap_closure="a depression screening (LOINC 73832-8 / 73831-0) within 14 days before a qualifying visit, "
    "negative or with a follow-up plan",
    gap_fact="adult_screening",
)


# ---- CMS125 ---------------------------------------------------------------------------------------------

CMS125 = MeasureDefinition(
    measure_id="CMS125",
    title="Breast Cancer Screening",
    version="CMS125v13",
    inverse=False,
    value_sets=(
        *OUTPATIENT_VALUE_SETS,
        *EXCLUSION_LIBRARY_VALUE_SETS,
        BILATERAL_MASTECTOMY,
        HISTORY_BILATERAL_MASTECTOMY,
        MAMMOGRAPHY,
        STATUS_POST_LEFT_MASTECTOMY,
        STATUS_POST_RIGHT_MASTECTOMY,
        UNILATERAL_MASTECTOMY_LEFT,
        UNILATERAL_MASTECTOMY_RIGHT,
        UNILATERAL_MASTECTOMY_UNSPECIFIED,
    ),
    criteria=(
        *COMMON_CRITERIA,
        Criterion(
            "right_mastectomy_diagnosis",
            ("Condition",),
            value_sets=(STATUS_POST_RIGHT_MASTECTOMY,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "left_mastectomy_diagnosis",
            ("Condition",),
            value_sets=(STATUS_POST_LEFT_MASTECTOMY,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        # "Unilateral Mastectomy, Unspecified Laterality" with a bodySite of Right / Left counts as the
        # right / left mastectomy diagnosis ("Right Mastectomy Diagnosis" / "Left Mastectomy Diagnosis").
        Criterion(
            "right_unspecified_mastectomy_diagnosis",
            ("Condition",),
            value_sets=(UNILATERAL_MASTECTOMY_UNSPECIFIED,),
            value_codes=(RIGHT_QUALIFIER,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "left_unspecified_mastectomy_diagnosis",
            ("Condition",),
            value_sets=(UNILATERAL_MASTECTOMY_UNSPECIFIED,),
            value_codes=(LEFT_QUALIFIER,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "bilateral_mastectomy_diagnosis",
            ("Condition",),
            value_sets=(HISTORY_BILATERAL_MASTECTOMY,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "right_mastectomy",
            ("Procedure",),
            value_sets=(UNILATERAL_MASTECTOMY_RIGHT,),
            statuses=PERFORMED_EVENT,
            timing="ends_by_end",
        ),
        Criterion(
            "left_mastectomy",
            ("Procedure",),
            value_sets=(UNILATERAL_MASTECTOMY_LEFT,),
            statuses=PERFORMED_EVENT,
            timing="ends_by_end",
        ),
        Criterion(
            "bilateral_mastectomy",
            ("Procedure",),
            value_sets=(BILATERAL_MASTECTOMY,),
            statuses=PERFORMED_EVENT,
            timing="ends_by_end",
        ),
        Criterion(
            "mammogram",
            ("Observation",),
            value_sets=(MAMMOGRAPHY,),
            statuses=RESULT_STATUSES,
            timing="ends_during",
            window=Window(years_before=2, start_month_day=(10, 1)),
        ),
    ),
    derived=(nursing_home_facts,),
    extra_codes=(HOUSING_STATUS,),
    derived_facts=("nursing_home",),
    initial_population=all_of(Age(52, 74), Female(), Fact("qualifying_encounter")),
    denominator_exclusion=any_of(
        HAS_HOSPICE,
        all_of(
            any_of(
                Fact("right_mastectomy_diagnosis"),
                Fact("right_unspecified_mastectomy_diagnosis"),
                Fact("right_mastectomy"),
            ),
            any_of(
                Fact("left_mastectomy_diagnosis"),
                Fact("left_unspecified_mastectomy_diagnosis"),
                Fact("left_mastectomy"),
            ),
        ),
        Fact("bilateral_mastectomy_diagnosis"),
        Fact("bilateral_mastectomy"),
        AGE_66_FRAIL_AND_ILL,
        AGE_66_IN_NURSING_HOME,
        HAS_PALLIATIVE,
    ),
    numerator=Fact("mammogram"),
    gap_closure="a mammogram between October 1 two years before the period and the period end",
    gap_fact="mammogram",
)


# ---- CMS130 ---------------------------------------------------------------------------------------------

CMS130 = MeasureDefinition(
    measure_id="CMS130",
    title="Colorectal Cancer Screening",
    version="CMS130v13",
    inverse=False,
    value_sets=(
        *OUTPATIENT_VALUE_SETS,
        *EXCLUSION_LIBRARY_VALUE_SETS,
        COLONOSCOPY,
        CT_COLONOGRAPHY,
        FOBT,
        SDNA_FIT,
        FLEXIBLE_SIGMOIDOSCOPY,
        MALIGNANT_NEOPLASM_COLON,
        TOTAL_COLECTOMY,
    ),
    criteria=(
        *COMMON_CRITERIA,
        Criterion(
            "colorectal_cancer",
            ("Condition",),
            value_sets=(MALIGNANT_NEOPLASM_COLON,),
            timing="starts_by_end",
            prevalence=True,
            negated=None,
        ),
        Criterion(
            "total_colectomy",
            ("Procedure",),
            value_sets=(TOTAL_COLECTOMY,),
            statuses=PERFORMED_EVENT,
            timing="ends_by_end",
        ),
        Criterion(
            "fobt",
            ("Observation",),
            value_sets=(FOBT,),
            statuses=RESULT_STATUSES,
            value_required=True,
            timing="latest_during",
        ),
        Criterion(
            "sdna_fit",
            ("Observation",),
            value_sets=(SDNA_FIT,),
            statuses=RESULT_STATUSES,
            value_required=True,
            timing="latest_during",
            window=Window(years_before=2),
        ),
        Criterion(
            "flexible_sigmoidoscopy",
            ("Procedure",),
            value_sets=(FLEXIBLE_SIGMOIDOSCOPY,),
            statuses=PERFORMED_EVENT,
            timing="ends_during",
            window=Window(years_before=4),
        ),
        Criterion(
            "ct_colonography",
            ("Observation",),
            value_sets=(CT_COLONOGRAPHY,),
            statuses=RESULT_STATUSES,
            timing="ends_during",
            window=Window(years_before=4),
        ),
        Criterion(
            "colonoscopy",
            ("Procedure",),
            value_sets=(COLONOSCOPY,),
            statuses=PERFORMED_EVENT,
            timing="ends_during",
            window=Window(years_before=9),
        ),
    ),
    derived=(nursing_home_facts,),
    extra_codes=(HOUSING_STATUS,),
    derived_facts=("nursing_home",),
    initial_population=all_of(Age(46, 75), Fact("qualifying_encounter")),
    denominator_exclusion=any_of(
        HAS_HOSPICE,
        Fact("colorectal_cancer"),
        Fact("total_colectomy"),
        AGE_66_FRAIL_AND_ILL,
        AGE_66_IN_NURSING_HOME,
        HAS_PALLIATIVE,
    ),
    numerator=any_of(
        Fact("fobt"),
        Fact("sdna_fit"),
        Fact("flexible_sigmoidoscopy"),
        Fact("ct_colonography"),
        Fact("colonoscopy"),
    ),
    gap_closure="FOBT this year, FIT-DNA within 3 years, CT colonography or flexible sigmoidoscopy within 5 "
    "years, or colonoscopy within 10 years",
    gap_fact="colonoscopy",
)

ECQM_DEFINITIONS: dict[str, MeasureDefinition] = {
    m.measure_id: m for m in (CMS122, CMS165, CMS2, CMS125, CMS130)
}
