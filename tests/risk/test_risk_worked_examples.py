"""Worked examples of docs/reference/methodology.md §7 (official CMS V28 software outputs for PY2026, V24 hccpy case)
and the payment-score arithmetic there, plus CMS rules the examples do not reach.

Expected numbers are copied from the reference text; the comment on each case names its line.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from risk_cases import birth_date_for_age

from apmkit.risk import RiskAdjustmentSpec, cms_payment_spec, payment_scores, score

MALE_70 = {"birth_date": birth_date_for_age(70, 2026), "sex": "M", "orec": "0", "ltimcaid": 0, "nemcaid": 0}
FEMALE_71 = {"birth_date": birth_date_for_age(71, 2026), "sex": "F", "orec": "0", "ltimcaid": 0, "nemcaid": 0}

WORKED_V28_PY2026 = [
    # (member, person overrides, diagnoses, expected segment, expected score)
    ("no_dx", MALE_70, [], "COMMUNITY_NA", "0.396"),  # "Male 70, non-dual aged, no dx: CNA_M70_74 = 0.396"
    ("hf", MALE_70, ["I50.22"], "COMMUNITY_NA", "0.756"),  # "+ I50.22 -> HCC226 (0.360) = 0.756"
    (
        "hf_hier",
        MALE_70,
        ["I50.22", "I50.23"],
        "COMMUNITY_NA",
        "0.756",
    ),  # "HCC224 suppresses HCC226 -> 0.756"
    (
        "dm_hf",
        MALE_70,
        ["E11.65", "I50.22"],
        "COMMUNITY_NA",
        "1.034",
    ),  # "... DIABETES_HF_V28 (0.112) ... = 1.034"
    (
        "dm_ckd",
        MALE_70,
        ["E11.22", "E11.9", "N18.4"],
        "COMMUNITY_NA",
        "1.076",
    ),  # "HCC37 ... + HCC327 ... = 1.076"
    (
        "pbd",
        {**FEMALE_71, "dual_status_code": "03"},
        ["E11.9"],
        "COMMUNITY_PBA",
        "0.589",
    ),  # "CPA_F70_74 ... 0.589"
    (
        "fbd",
        {**FEMALE_71, "dual_status_code": "02"},
        ["E11.9"],
        "COMMUNITY_FBA",
        "0.692",
    ),  # "full-dual ... 0.692"
    ("ins", {**FEMALE_71, "institutional": 1}, ["E11.9", "I50.22"], "INSTITUTIONAL", "1.825"),  # "= 1.825"
    (
        "ins_mcaid",
        {**FEMALE_71, "institutional": 1, "ltimcaid": 1},
        ["E11.9", "I50.22"],
        "INSTITUTIONAL",
        "1.955",
    ),
]


def _run(engine, build_tables, cases, **kwargs):
    persons, diagnoses = build_tables({"member_id": m, **p, "diagnoses": dx} for m, p, dx, *_ in cases)
    result = score(persons, diagnoses, **kwargs)
    rows = {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}
    return result, rows


@pytest.fixture(scope="module")
def worked(engine, build_tables):
    return _run(engine, build_tables, WORKED_V28_PY2026, model="V28", payment_year=2026)


def test_methodology_v28_worked_examples(worked):
    _, rows = worked
    for member, _, _, segment, expected in WORKED_V28_PY2026:
        assert (rows[member]["segment"], rows[member]["score"]) == (segment, Decimal(expected)), member
    assert rows["dm_hf"]["hccs"] == "HCC226;HCC38"
    assert rows["dm_hf"]["interactions"] == "D2;DIABETES_HF_V28"  # "D2 = 0"


def test_explanations_sum_to_the_score_and_name_the_hierarchy(engine, worked):
    result, rows = worked
    terms = engine.to_arrow(result.explanations).to_pylist()
    for member in rows:
        own = [t for t in terms if t["member_id"] == member]
        assert sum(t["coefficient"] for t in own) == rows[member]["score"], member
    dropped = [t for t in terms if t["member_id"] == "hf_hier" and t["kind"] == "dropped"]
    assert [(t["variable"], t["dropped_by"], t["diagnoses"]) for t in dropped] == [
        ("HCC226", "HCC224", "I5022")
    ]
    dm_ckd = {t["variable"]: t for t in terms if t["member_id"] == "dm_ckd"}
    assert dm_ckd["HCC38"]["dropped_by"] == "HCC37"  # "HCC37 (0.166; suppresses HCC38)"
    assert dm_ckd["HCC37"]["diagnoses"] == "E1122"
    assert dm_ckd["HCC327"]["coefficient"] == Decimal("0.514")


def test_methodology_v24_example(engine, build_tables):
    # "male 70 CNA, E11.69 (HCC18) + I50.9 (HCC85): 0.394 + 0.302 + 0.331 + DIABETES_CHF 0.121 = 1.148"
    cases = [("v24", {**MALE_70, "birth_date": birth_date_for_age(70, 2025)}, ["E11.69", "I50.9"])]
    _, rows = _run(engine, build_tables, cases, model="V24", payment_year=2025)
    assert rows["v24"]["score"] == Decimal("1.148")
    assert rows["v24"]["interactions"] == "D2;DIABETES_CHF"


def test_normalization_and_coding_intensity_example(engine, build_tables):
    # "raw 1.034 (V28) -> 1.034/1.015 = 1.019 -> x 0.941 = 0.959"
    cases = [c for c in WORKED_V28_PY2026 if c[0] == "dm_hf"]
    _, rows = _run(
        engine,
        build_tables,
        cases,
        model="V28",
        payment_year=2026,
        normalization_factor="1.015",
        coding_intensity_adjustment="0.059",
    )
    assert rows["dm_hf"]["normalized_score"] == Decimal("1.019")
    assert rows["dm_hf"]["payment_score"] == Decimal("0.959")


def test_blended_payment_score_weights_each_models_normalized_score(engine, build_tables):
    # PY2024 blend 67% V24 + 33% V28 with the PY2024 factors 1.146 / 1.015 and 5.9% (docs/reference/methodology.md §7).
    # V24 raw 1.148 (example above) and V28 raw 1.034: round(1.148/1.146,3)=1.002, round(1.034/1.015,3)=1.019;
    # round(0.67*1.002 + 0.33*1.019, 3) = round(1.00761, 3) = 1.008; round(1.008*0.941, 3) = 0.949 (derived).
    spec = RiskAdjustmentSpec(
        payment_year=2024,
        blend=[
            {"model": "V24", "weight": "0.67", "normalization_factor": "1.146"},
            {"model": "V28", "weight": "0.33", "normalization_factor": "1.015"},
        ],
        coding_intensity_adjustment="0.059",
    )
    male_70_2024 = {**MALE_70, "birth_date": birth_date_for_age(70, 2024)}
    persons, diagnoses = build_tables([{"member_id": "a", **male_70_2024, "diagnoses": ["E11.69", "I50.9"]}])
    # E11.69 + I50.9 score 1.148 in V24 and E11.69 -> HCC38, I50.9 -> HCC226 give 1.034 in V28.
    row = engine.to_arrow(payment_scores(persons, diagnoses, spec)).to_pylist()[0]
    assert (row["raw_V24"], row["raw_V28"]) == (Decimal("1.148"), Decimal("1.034"))
    assert row["payment_score"] == Decimal("0.949")
    # The PY2024 CMS payment spec is exactly this blend (docs/reference/methodology.md §7 figures).
    assert cms_payment_spec(2024) == spec


def test_age_is_taken_on_february_first_of_the_payment_year(engine, build_tables):
    births = {
        "feb_1": ("1956-02-01", "M70_74"),  # 70th birthday on February 1 itself counts
        "feb_2": ("1956-02-02", "M65_69"),  # one day later: still 69 on February 1
        "jan_31": ("1961-01-31", "M65_69"),  # 65 on February 1
    }
    persons, diagnoses = build_tables(
        [{"member_id": member, **MALE_70, "birth_date": birth} for member, (birth, _) in births.items()]
    )
    result = score(persons, diagnoses, model="V28", payment_year=2026)
    terms = engine.to_arrow(result.explanations).to_pylist()
    for member, (_, cell) in births.items():
        assert [t["variable"] for t in terms if t["member_id"] == member and t["kind"] == "demographic"] == [
            cell
        ]


def test_cms_payment_spec_after_2024_takes_the_factors_it_is_given() -> None:
    # issue 15: only the PY2024 factors are shipped (checked against a CMS-derived source); later years fail
    # closed until the caller gives CMS's factor.
    from decimal import Decimal as D

    from apmkit.errors import ConfigurationError
    from apmkit.risk.reference import normalization_factor

    for year in (2025, 2026, 2027):
        with pytest.raises(ConfigurationError, match=f"no published normalization factor for V28 in {year}"):
            normalization_factor("V28", year)
        with pytest.raises(ConfigurationError, match="normalization factor"):
            cms_payment_spec(year)
    spec = cms_payment_spec(2025, {"V24": "1.153", "V28": D("1.045")})
    assert [(c.model.value, c.weight, c.normalization_factor) for c in spec.blend] == [
        ("V24", D("0.33"), D("1.153")),
        ("V28", D("0.67"), D("1.045")),
    ]
    with pytest.raises(ConfigurationError, match="V24, which CMS's 2026 blend does not use"):
        cms_payment_spec(2026, {"V24": "1.1", "V28": "1.067"})
