"""Settlement scores quality from the contract's ``quality:`` section (apmkit.settlement.quality_link).

The canonical tables below are built by hand: two entities, seven attributed patients and one unattributed
patient, each with one office visit (CPT 99213 on a claim, which is the qualifying encounter), and
hypertension / diabetes diagnoses, blood pressures and HbA1c results in ``clinical``. Every patient is 65
(born 1960), so the age-66+ frailty and nursing-home exclusions cannot apply.

=========  ======  ===  ========  ========  =====================================================
patient    entity  HTN  systolic  diabetes  HbA1c
=========  ======  ===  ========  ========  =====================================================
P1         E1      yes  132       yes       7.0   (CMS165 numerator; CMS122 not: controlled)
P2         E1      yes  151       yes       9.4   (CMS165 not; CMS122 numerator: > 9 %)
P3         E1      yes  128       no        -     (CMS165 numerator; not in CMS122)
P4         E1      yes  138       yes       none  (CMS165 numerator; CMS122 numerator: missing result)
P5         E2      yes  135       yes       6.5   (CMS165 numerator; CMS122 not)
P6         E2      yes  145       yes       8.0   (CMS165 not; CMS122 not)
P7         E2      no   -         yes       10.1  (not in CMS165; CMS122 numerator)
P8         none    yes  160       yes       12.0  (not attributed: counted nowhere)
=========  ======  ===  ========  ========  =====================================================

Hand-counted rates (diastolic is 80 for everyone, so systolic < 140 decides CMS165):

- E1: CMS165 3 of 4 = 0.75; CMS122 (inverse: lower is better) 2 of 3 (P2, P4) = 2/3.
- E2: CMS165 1 of 2 = 0.5; CMS122 1 of 3 (P7) = 1/3.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.engines import Engine
from apmkit.quality.spec import QualitySpec
from apmkit.schemas import CLINICAL, MEMBERS
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS
from apmkit.settlement import quality_link

SNOMED, LOINC, ICD10 = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/icd-10-cm"
T = dt.datetime
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))

# patient: (entity, systolic or None without hypertension, diabetes, HbA1c or None)
PATIENTS: dict[str, tuple[str | None, float | None, bool, float | None]] = {
    "P1": ("E1", 132.0, True, 7.0),
    "P2": ("E1", 151.0, True, 9.4),
    "P3": ("E1", 128.0, False, None),
    "P4": ("E1", 138.0, True, None),
    "P5": ("E2", 135.0, True, 6.5),
    "P6": ("E2", 145.0, True, 8.0),
    "P7": ("E2", None, True, 10.1),
    "P8": (None, 160.0, True, 12.0),
}

POINTS_QUALITY: dict[str, Any] = {
    "measures": ["CMS165", "CMS122"],
    "measurement_period": {"start": "2025-01-01", "end": "2025-12-31"},
    "scoring": {
        "method": "points",
        "minimum_denominator": 1,
        "gate_min_score": 30,
        "measures": [
            {"measure": "CMS165", "attainment_threshold": "0.60", "benchmark": "0.80"},
            {"measure": "CMS122", "attainment_threshold": "0.45", "benchmark": "0.15", "inverse": True},
        ],
    },
}


def _record(
    record: str, member: str, kind: str, system: str, code: str, when: T, **extra: Any
) -> dict[str, Any]:
    return {
        "record_id": record,
        "coding_index": 0,
        "component_index": 0,
        "member_id": member,
        "resource_type": kind,
        "code_system": system,
        "code": code,
        "effective_start": when,
        "effective_end": when,
        **extra,
    }


def _clinical_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for member, (_, systolic, diabetes, a1c) in PATIENTS.items():
        if systolic is not None:
            rows.append(
                _record(
                    f"htn-{member}",
                    member,
                    "Condition",
                    ICD10,
                    "I10",
                    T(2024, 5, 1),
                    status="active",
                    effective_end=None,
                )
            )
            bp = _record(
                f"bp-{member}", member, "Observation", LOINC, "85354-9", T(2025, 9, 1), status="final"
            )
            rows.append(bp)
            for index, (component, value) in enumerate((("8480-6", systolic), ("8462-4", 80.0)), start=1):
                rows.append(
                    {
                        **bp,
                        "component_index": index,
                        "component_code_system": LOINC,
                        "component_code": component,
                        "value_numeric": value,
                    }
                )
        if diabetes:
            rows.append(
                _record(
                    f"dm-{member}",
                    member,
                    "Condition",
                    ICD10,
                    "E119",
                    T(2023, 1, 1),
                    status="active",
                    effective_end=None,
                )
            )
        if a1c is not None:
            rows.append(
                _record(
                    f"a1c-{member}",
                    member,
                    "Observation",
                    LOINC,
                    "4548-4",
                    T(2025, 6, 1),
                    status="final",
                    value_numeric=a1c,
                )
            )
    return rows


def _members() -> list[dict[str, Any]]:
    return [{"member_id": m, "birth_date": dt.date(1960, 7, 1), "sex": "F"} for m in PATIENTS]


def _claims() -> list[dict[str, Any]]:
    return [
        {
            "claim_id": f"V-{member}",
            "claim_line_number": 1,
            "claim_type": "professional",
            "member_id": member,
            "service_date": dt.date(2025, 3, 1),
            "service_end_date": dt.date(2025, 3, 1),
            "claim_from_date": dt.date(2025, 3, 1),
            "processed_date": dt.date(2025, 3, 20),
            "hcpcs_code": "99213",
            "paid_amount": D("100.00"),
        }
        for member in PATIENTS
    ]


def _enrollment() -> list[dict[str, Any]]:
    return [
        {"member_id": member, "month": dt.date(2025, month, 1), "payer": "medicare", "product": "ffs"}
        for member in PATIENTS
        for month in range(1, 13)
    ]


def _attribution() -> pa.Table:
    pairs = [(m, entity) for m, (entity, *_) in PATIENTS.items() if entity is not None]
    return pa.table({"member_id": [m for m, _ in pairs], "entity_id": [e for _, e in pairs]})


def _rates(engine: Engine, quality: QualitySpec) -> list[dict[str, Any]]:
    tables = {
        "members": engine.from_rows(_members(), MEMBERS),
        "clinical": engine.from_rows(_clinical_rows(), CLINICAL),
        "medical_claims": engine.from_rows(_claims(), MEDICAL_CLAIMS),
    }
    population = engine.from_arrow(_attribution())
    rates = quality_link.entity_measure_rates(
        tables, population, quality, *PERIOD, materialize=engine.materialize
    )
    return engine.to_arrow(rates).to_pylist()


def _by_label(lines: Any) -> dict[str, Any]:
    return {line.label: line for line in lines}


def test_measure_rates_per_entity_over_attributed_members(engine: Engine) -> None:
    """Counts from the table in the module docstring; P8 (unattributed) is in no entity's rates."""
    rows = _rates(engine, QualitySpec.model_validate(POINTS_QUALITY))
    got = {(r["entity_id"], r["measure"]): (r["denominator"], r["eligible"], r["numerator"]) for r in rows}
    assert got == {
        ("E1", "CMS122"): (3, 3, 2),
        ("E1", "CMS165"): (4, 4, 3),
        ("E2", "CMS122"): (3, 3, 1),
        ("E2", "CMS165"): (2, 2, 1),
    }


def _rate_row(entity: str, measure: str, eligible: int, numerator: int) -> dict[str, Any]:
    return {
        "entity_id": entity,
        "measure": measure,
        "initial_population": eligible,
        "denominator": eligible,
        "denominator_exclusion": 0,
        "denominator_exception": 0,
        "numerator": numerator,
        "eligible": eligible,
    }


HAND_RATES = [
    _rate_row("E1", "CMS165", 4, 3),
    _rate_row("E1", "CMS122", 3, 2),
    _rate_row("E2", "CMS165", 2, 1),
    _rate_row("E2", "CMS122", 3, 1),
]


def test_points_scorecard_from_the_rates() -> None:
    """Attainment points = (10 − 1) × progress + 0.5 rounded half up, 10 at/beyond the benchmark, 0 short of
    the threshold; total = Σ points / Σ 10 × 100 (equal weights); gate: total ≥ 30.

    - E1 CMS165 0.75: progress (0.75 − 0.60) / (0.80 − 0.60) = 0.75 → 9 × 0.75 + 0.5 = 7.25 → 7.
    - E1 CMS122 2/3 (inverse, threshold 0.45): worse than the threshold → 0.
    - E1 total (7 + 0) / 20 × 100 = 35 ≥ 30: gate passed; score used 0.35.
    - E2 CMS165 0.5 < 0.60 → 0.
    - E2 CMS122 1/3: progress (1/3 − 0.45) / (0.15 − 0.45) = 0.3888… → 9 × 0.3888… + 0.5 = 4.0 → 4.
    - E2 total (0 + 4) / 20 × 100 = 20 < 30: gate failed; score 0.20.
    - E3 (no rows: nobody eligible) → no measure scored, total 0, gate failed.
    """
    spec = QualitySpec.model_validate(POINTS_QUALITY)
    result = quality_link.score_entities(spec, HAND_RATES, ["E1", "E2", "E3"], source="test")
    assert (result["E1"].quality_score, result["E1"].standard_met) == (D("0.35"), True)
    assert (result["E2"].quality_score, result["E2"].standard_met) == (D("0.20"), False)
    assert (result["E3"].quality_score, result["E3"].standard_met) == (D(0), False)

    e1 = _by_label(result["E1"].lines)
    assert e1["CMS165 eligible population"].value == 4
    assert e1["CMS165 numerator"].value == 3
    assert e1["CMS165 performance rate"].value == D("0.75")
    assert e1["CMS122 performance rate"].value == D(2) / D(3)
    assert "inverse measure: lower is better" in e1["CMS122 performance rate"].formula
    assert e1["CMS165 points"].value == 7
    assert e1["CMS122 points"].value == 0
    assert e1["Quality scorecard total (0-100)"].value == 35
    assert e1["Quality gate passed"].value == 1
    e2 = _by_label(result["E2"].lines)
    assert e2["CMS122 points"].value == 4
    assert e2["Quality scorecard total (0-100)"].value == 20
    assert e2["Quality gate passed"].value == 0
    e3 = _by_label(result["E3"].lines)
    assert e3["CMS165 performance rate"].text == "not computable: nobody eligible"
    assert e3["CMS165 points"].text == "not scored (nobody eligible)"


MSSP_QUALITY: dict[str, Any] = {
    "measures": ["CMS165", "CMS122"],
    "scoring": {
        "method": "mssp",
        "performance_year": 2025,
        "quality_score_percentiles": {40: "42.00"},
        "benchmarks": [
            {
                "measure": "CMS165",
                "decile_floors": ["0.42", "0.47", "0.52", "0.57", "0.62", "0.67", "0.72", "0.78", "0.85"],
            },
            {
                "measure": "CMS122",
                "inverse": True,
                "decile_floors": ["0.60", "0.50", "0.40", "0.35", "0.30", "0.25", "0.20", "0.15", "0.10"],
            },
        ],
    },
}


def test_mssp_standard_from_the_rates() -> None:
    """Decile = 1 + floors reached in the better direction = achievement points; score = Σ points / (10 × 2)
    × 100; no HEA bonus (underserved multiplier 0); standard: score ≥ 42 (40th percentile given);
    alternative (PY2023+): an outcome measure at or beyond its 10th percentile (the first floor).

    - E1 CMS165 0.75 reaches 0.42 … 0.72 (7 floors) → decile 8; CMS122 2/3 reaches no floor (≤ 0.60 fails)
      → decile 1. Score (8 + 1) / 20 × 100 = 45 ≥ 42 → standard met (route score); score used 0.45.
    - E2 CMS165 0.5 reaches 0.42, 0.47 → decile 3; CMS122 1/3 ≤ 0.60, 0.50, 0.40, 0.35 → decile 5.
      Score (3 + 5) / 20 × 100 = 40 < 42; only 2 measures reported, so no eCQM route → not met;
      CMS165 0.5 ≥ 0.42 (10th percentile) → alternative standard met; score used 0.40.
    """
    spec = QualitySpec.model_validate(MSSP_QUALITY)
    result = quality_link.score_entities(spec, HAND_RATES, ["E1", "E2"])
    e1, e2 = result["E1"], result["E2"]
    assert (e1.quality_score, e1.standard_met, e1.alternative_standard_met) == (D("0.45"), True, False)
    assert (e2.quality_score, e2.standard_met, e2.alternative_standard_met) == (D("0.40"), False, True)
    lines = _by_label(e2.lines)
    assert lines["CMS165 achievement points"].value == 3
    assert lines["CMS122 achievement points"].value == 5
    assert lines["CMS122 achievement points"].inputs["inverse"] == "True"
    assert lines["MIPS quality score (0-100)"].value == 40
    assert lines["HEA-adjusted quality score (0-100)"].value == 40
    assert lines["Quality performance standard met"].inputs["route"] == "none"
    assert lines["Alternative quality standard met"].value == 1


def test_measures_settle_does_not_compute_are_supplied(engine: Engine) -> None:
    # ACR is a claims rate without a patient-level denominator in the populations layout: settlement takes its
    # rate from --quality-rates (test_supplied_measure_and_improvement_points_in_settle) and evaluates the rest
    spec = QualitySpec.model_validate({**POINTS_QUALITY, "measures": ["CMS165", "CMS122", "ACR"]})
    assert quality_link.supplied_measures(spec) == ["ACR"]
    assert quality_link.computed_measures(spec) == ["CMS165", "CMS122"]
    assert {row["measure"] for row in _rates(engine, spec)} == {"CMS165", "CMS122"}


CONTRACT: dict[str, Any] = {
    "id": "quality_link",
    "name": "quality link test",
    "expenditure": {"amount_field": "paid_amount", "runout_months": 3},
    "target": {"benchmark_per_person_year": 1000},
    "quality": POINTS_QUALITY,
    "components": [
        {
            "id": "shared_savings",
            "type": "shared_savings",
            "terms": {
                "sided": "one_sided",
                "minimum_savings_rate": {"kind": "fixed", "rate": "0.02"},
                "sharing_basis": "first_dollar",
                "max_sharing_rate": "0.50",
                "quality": {"method": "scale"},
            },
        },
        {
            "id": "p4p",
            "type": "pay_for_performance",
            "pbpm_by_score": [{"min_score": 0, "value": 0}, {"min_score": "0.30", "value": "2.00"}],
        },
    ],
}


def _folder(engine: Engine, folder: Path) -> Path:
    folder.mkdir()
    for name, rows, schema in (
        ("members", _members(), MEMBERS),
        ("enrollment", _enrollment(), ENROLLMENT),
        ("medical_claims", _claims(), MEDICAL_CLAIMS),
        ("clinical", _clinical_rows(), CLINICAL),
    ):
        engine.write_parquet(engine.from_rows(rows, schema), folder / f"{name}.parquet")
    pq.write_table(_attribution(), folder / "attribution.parquet")
    return folder


def _settle(tmp_path: Path, data: Path, *extra: str) -> dict[str, Any]:
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(CONTRACT), encoding="utf-8")
    out = tmp_path / "out"
    args = ["-q", "settle", "--contract", str(contract), "--from", str(data), "--period", "2025"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    settlement = json.loads((out / "statement.json").read_text())
    return {s["entity_id"]: s for s in settlement["statements"]}


def _line(statement: dict[str, Any], label: str) -> dict[str, Any]:
    return next(line for line in statement["lines"] if line["label"] == label)


def test_settle_uses_the_contract_quality_section(duckdb_engine: Engine, tmp_path: Path) -> None:
    """Through ``apmkit settle`` on the hand-built folder (scores from test_points_scorecard_from_the_rates).

    Each member has 12 months and one $100 visit: E1 4 members, benchmark 4 × $1,000 = $4,000, expenditure
    $400, savings $3,600 (90 % ≥ 2 % MSR); E2 3 members, $3,000 − $300 = $2,700.

    - E1 score 0.35, gate passed: final sharing rate 0.50 × 0.35 = 0.175 → $3,600 × 0.175 = $630.00;
      P4P band 0.30 → $2.00 × 48 member months = $96.00; net $726.00.
    - E2 score 0.20, gate failed: shared savings 0 (scale: nothing when the standard is not met); P4P band 0
      → $0; net $0.

    With ``--inputs`` giving E2 quality_score 0.9 (and no standard flag, so met): 0.50 × 0.9 = 0.45 →
    $2,700 × 0.45 = $1,215.00; P4P $2.00 × 36 = $72.00; net $1,287.00. E1 is unchanged.
    """
    data = _folder(duckdb_engine, tmp_path / "data")
    statements = _settle(tmp_path, data)
    e1, e2 = statements["E1"], statements["E2"]
    assert D(e1["summary"]["quality_score"]) == D("0.35")
    assert D(e1["summary"]["final_sharing_rate"]) == D("0.175")
    assert D(e1["net_settlement"]) == D("726.00")
    assert D(e2["summary"]["quality_score"]) == D("0.20")
    assert D(e2["net_settlement"]) == D("0")
    assert D(_line(e1, "CMS165 performance rate")["value"]) == D("0.75")
    assert D(_line(e1, "CMS165 points")["value"]) == 7
    assert _line(e1, "Quality score used (computed from the contract's quality section)")["inputs"] == {
        "quality_standard_met": "True",
        "alternative_quality_standard_met": "False",
    }

    inputs = tmp_path / "inputs.csv"
    inputs.write_text("entity_id,quality_score\nE2,0.9\n", encoding="utf-8")
    overridden = _settle(tmp_path, data, "--inputs", str(inputs))
    e2 = overridden["E2"]
    assert D(e2["summary"]["quality_score"]) == D("0.9")
    assert D(e2["net_settlement"]) == D("1287.00")
    used = _line(e2, "Quality score used (from --inputs; overrides the computed score)")
    assert used["inputs"] == {"computed_quality_score": "0.2", "given_quality_score": "0.9"}
    assert _line(e2, "Quality score")["formula"] == (
        "given in --inputs; overrides the score computed from the quality section (0.2)"
    )
    assert D(overridden["E1"]["net_settlement"]) == D("726.00")
    assert _line(overridden["E1"], "Quality score")["formula"] == (
        "computed from the contract's quality section (quality lines)"
    )


@pytest.mark.spark
def test_spark_rates_match_duckdb(spark_engine: Engine, duckdb_engine: Engine) -> None:
    """Engine parity of the per-entity measure rates on the hand-built tables."""
    spec = QualitySpec.model_validate(POINTS_QUALITY)

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: (r["entity_id"], r["measure"]))

    assert ordered(_rates(spark_engine, spec)) == ordered(_rates(duckdb_engine, spec))


def test_supplied_measure_and_improvement_points_in_settle(duckdb_engine: Engine, tmp_path: Path) -> None:
    """A contract measure apmkit does not compute (CAHPS) is scored from --quality-rates, with improvement
    points from its baseline_rate. CAHPS target: threshold 0.60, benchmark 0.80, 10 points.

    - E1: CAHPS 0.70, progress 0.5 -> attainment round(9 x 0.5 + 0.5) = 5; eCQM points 7 (as above);
      score (7 + 5) / 30 = 0.40 -> sharing 0.50 x 0.40 = 0.20 -> $3,600 x 0.20 = $720.00; P4P $96 -> $816.00.
    - E2: CAHPS 0.65 -> attainment round(9 x 0.25 + 0.5) = 3; improvement from baseline 0.50: progress
      0.15 / 0.30 = 0.5 -> round(10 x 0.5 - 0.5) = 5 (half up); 5 > 3. Score (4 + 5) / 30 = 0.30: the gate
      (30) passes only with the improvement points -> 0.50 x 0.30 = 0.15 -> $2,700 x 0.15 = $405.00;
      P4P band 0.30 -> $2.00 x 36 = $72.00; net $477.00.
    """
    data = _folder(duckdb_engine, tmp_path / "data")
    quality = dict(POINTS_QUALITY)
    quality["measures"] = ["CMS165", "CMS122", "CAHPS"]
    quality["scoring"] = {
        **POINTS_QUALITY["scoring"],
        "measures": [
            *POINTS_QUALITY["scoring"]["measures"],
            {"measure": "CAHPS", "attainment_threshold": "0.60", "benchmark": "0.80"},
        ],
    }
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump({**CONTRACT, "quality": quality}), encoding="utf-8")
    base = ["-q", "settle", "--contract", str(contract), "--from", str(data), "--period", "2025"]
    out = tmp_path / "out"
    missing = CliRunner().invoke(app, [*base, "--out", str(out), "--format", "json"])
    assert "quality.measures CAHPS are not computed from the data" in str(missing.exception)
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "entity_id,measure,rate,baseline_rate\nE1,CAHPS,0.70,\nE2,CAHPS,0.65,0.50\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, [*base, "--out", str(out), "--format", "json", "--quality-rates", str(rates)]
    )
    assert result.exit_code == 0, result.output
    settled = json.loads((out / "statement.json").read_text())
    statements = {s["entity_id"]: s for s in settled["statements"]}
    assert D(statements["E1"]["net_settlement"]) == D("816.00")
    assert D(statements["E2"]["net_settlement"]) == D("477.00")
    assert D(_line(statements["E2"], "CAHPS supplied rate")["value"]) == D("0.65")
