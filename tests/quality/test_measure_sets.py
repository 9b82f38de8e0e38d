"""An open measure list: supplied rates for any measure, the MSSP sets per year, improvement points.

Expected scores are computed by hand from the rules in apmkit.quality.scoring's docstrings (decile = 1 +
floors reached in the better direction; MSSP score = Σ points / (10 × scored) × 100; HEA bonus = Σ 4 top /
2 middle × multiplier; attainment (max − 1) × progress + 0.5 and improvement max × progress − 0.5, both
rounded half up), never read back from apmkit's output.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.errors import InputFileError
from apmkit.quality.measure_sets import measure_set, measure_set_years
from apmkit.quality.scoring import baselines_from_rates, rates_from_rows, score_entity
from apmkit.quality.spec import QualitySpec

runner = CliRunner()

BENCHMARKS = [
    {
        "measure": "CMS122",
        "inverse": True,
        "decile_floors": [0.50, 0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.05],
    },
    {"measure": "CAHPS", "decile_floors": [0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86]},
    {
        "measure": "HWR",
        "inverse": True,
        "decile_floors": [0.17, 0.165, 0.16, 0.155, 0.15, 0.145, 0.14, 0.135, 0.13],
    },
    # Admissions per 100 person-years: not a 0-1 rate.
    {"measure": "MCC", "inverse": True, "decile_floors": [45, 42, 40, 38, 36, 34, 32, 30, 28]},
]
MSSP_SPEC = {
    "measures": ["CMS122", "CAHPS", "HWR", "MCC"],
    "scoring": {
        "method": "mssp",
        "performance_year": 2024,
        "quality_score_percentiles": {40: 70.0},
        "benchmarks": BENCHMARKS,
    },
}


def test_any_measure_id_is_accepted_and_known_as_supplied() -> None:
    spec = QualitySpec.model_validate(MSSP_SPEC)
    assert spec.supplied_measures == ("CAHPS", "HWR", "MCC")
    with pytest.raises(ValidationError, match="measures"):
        QualitySpec.model_validate({"measures": ["CMS122", "bad id!"]})
    # eCQM benchmarks stay proportions.
    with pytest.raises(ValidationError, match="between 0 and 1"):
        QualitySpec.model_validate(
            {
                "scoring": {
                    "method": "mssp",
                    "performance_year": 2025,
                    "benchmarks": [{**BENCHMARKS[3], "measure": "CMS165"}],
                }
            }
        )


def test_supplied_rates_score_on_the_mssp_standard() -> None:
    spec = QualitySpec.model_validate(MSSP_SPEC)
    rows = [
        {"entity_id": "A", "measure": "CMS122", "eligible": "100", "numerator": "12", "third": "top"},
        {"entity_id": "A", "measure": "CAHPS", "rate": "0.82", "third": "top"},
        {"entity_id": "A", "measure": "HWR", "rate": "0.152", "eligible": "830"},
        {"entity_id": "A", "measure": "MCC", "rate": "35.2"},
    ]
    rates = rates_from_rows(rows, source="rates.csv")["A"]
    assert spec.scoring is not None
    result = score_entity(
        spec.scoring,
        "A",
        rates.measures,
        underserved_multiplier=Decimal("0.30"),
        max_sharing_rate=Decimal("0.50"),
    )
    deciles = {m.measure: m.decile for m in result.measures}
    # CMS122 0.12 <= 7 floors -> 8; CAHPS 0.82 >= 7 floors -> 8; HWR 0.152 <= 4 -> 5; MCC 35.2 <= 5 -> 6.
    assert deciles == {"CMS122": 8, "CAHPS": 8, "HWR": 5, "MCC": 6}
    # (8 + 8 + 5 + 6) / 40 x 100 = 67.5; thirds top, top, middle (5), middle (6): scaler 12 x 0.30 = 3.6.
    assert result.quality_score == Decimal("67.5")
    assert result.adjusted_score == Decimal("71.1")
    assert (result.standard_met, result.sharing_multiplier, result.final_sharing_rate) == (
        True,
        Decimal(1),
        Decimal("0.50"),
    )
    # The eCQM route counts reported eCQMs: the supplied rates are not among them.
    assert result.mssp is not None and result.mssp.route == "score"


def test_rate_rows_name_line_and_field() -> None:
    with pytest.raises(InputFileError, match=r"line 3.*rate"):
        rates_from_rows(
            [
                {"entity_id": "A", "measure": "HWR", "rate": "0.15"},
                {"entity_id": "A", "measure": "MCC", "rate": "x"},
            ],
            source="rates.csv",
        )
    with pytest.raises(InputFileError, match=r"line 2.*eligible"):
        rates_from_rows([{"entity_id": "A", "measure": "CMS122"}], source="rates.csv")


def test_measure_sets_per_year_are_data_with_sources() -> None:
    assert measure_set_years() == (2021, 2022, 2023, 2024, 2025, 2026)
    app_2024 = measure_set("mssp", 2024)
    assert [m.quality_id for m in app_2024] == ["001", "134", "236", "321", "479", "484"]
    assert {m.measure_id for m in app_2024 if not m.evaluated} == {"CAHPS", "HWR", "MCC"}
    plus_2026 = measure_set("mssp", 2026)
    assert {m.quality_id for m in plus_2026} == {"001", "112", "113", "134", "236", "321", "479"}
    assert all(m.source for m in (*app_2024, *plus_2026))
    spec = QualitySpec.model_validate(
        {"measure_set": {"performance_year": 2024}, "scoring": {"method": "mssp", "performance_year": 2024}}
    )
    assert spec.measures == ("CMS122", "CMS2", "CMS165", "CAHPS", "HWR", "MCC")
    assert spec.scoring is not None and set(spec.scoring.outcome_measures) == {
        "CMS122",
        "CMS165",
        "HWR",
        "MCC",
    }
    with pytest.raises(ValidationError, match=r"measure_set\.performance_year"):
        QualitySpec.model_validate({"measure_set": {"performance_year": 2030}})
    with pytest.raises(ValidationError, match="measures or measure_set"):
        QualitySpec.model_validate({"measures": ["CMS122"], "measure_set": {"performance_year": 2024}})


def test_improvement_points_from_one_library_call() -> None:
    spec = QualitySpec.model_validate(
        {
            "measures": ["CMS165"],
            "scoring": {
                "method": "points",
                "minimum_denominator": 0,
                "measures": [{"measure": "CMS165", "attainment_threshold": 0.60, "benchmark": 0.90}],
            },
        }
    )
    assert spec.scoring is not None
    rates = rates_from_rows(
        [{"entity_id": "A", "measure": "CMS165", "eligible": "100", "numerator": "66"}], source="r"
    )
    # Baseline from a baseline period's rate rows: 50 / 100.
    baselines = baselines_from_rates(
        [{"entity_id": "A", "measure": "CMS165", "eligible": 100, "numerator": 50}]
    )
    assert baselines == {"A": {"CMS165": Decimal("0.5")}}
    result = score_entity(spec.scoring, "A", rates["A"].measures, baselines=baselines["A"])
    (item,) = result.measures
    # attainment: (10 - 1) x (0.66 - 0.60) / 0.30 + 0.5 = 2.3 -> 2; improvement: 10 x 0.16 / 0.40 - 0.5 = 3.5 -> 4.
    assert (item.attainment_points, item.improvement_points, item.points) == (
        Decimal(2),
        Decimal(4),
        Decimal(4),
    )
    assert result.quality_score == Decimal(40)
    without = score_entity(spec.scoring, "A", rates["A"].measures)
    assert without.quality_score == Decimal(20)


def test_quality_score_command_accepts_any_measure_in_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "quality.yaml"
    spec.write_text(
        "quality:\n  measures: [CMS122, CAHPS, HWR]\n"
        "  scoring:\n    method: mssp\n    performance_year: 2024\n    quality_score_percentiles: {40: 70}\n"
        "    benchmarks:\n"
        "      - {measure: CMS122, inverse: true, decile_floors: [0.50, 0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.05]}\n"
        "      - {measure: CAHPS, decile_floors: [0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86]}\n"
        "      - {measure: HWR, inverse: true, decile_floors: [0.17, 0.165, 0.16, 0.155, 0.15, 0.145, 0.14, 0.135, 0.13]}\n"
    )
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "entity_id,measure,eligible,numerator\nA,CMS122,100,12\nA,CAHPS,100,82\nA,HWR,1000,152\n"
    )
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app, ["-q", "quality", "score", "--spec", str(spec), "--rates", str(rates), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    # Deciles 8 (CMS122 0.12), 8 (CAHPS 0.82) and 5 (HWR 0.152): (8 + 8 + 5) / 30 x 100 = 70, the 40th pct.
    assert Decimal(row["quality_score"]) == Decimal(70)
    assert row["meets_standard"] == "True"
    with open(tmp_path / "scores_measures.csv", newline="") as handle:
        deciles = {r["measure"]: r["decile"] for r in csv.DictReader(handle)}
    assert deciles == {"CMS122": "8", "CAHPS": "8", "HWR": "5"}
