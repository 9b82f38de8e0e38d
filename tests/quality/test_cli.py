"""``apmkit quality evaluate | gaps | score`` end to end (CMS2 test deck through the FHIR loader; docs/reference/methodology.md §1.3 example)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from tests.quality.decks import DECKS, POPULATION_COLUMNS, expected_cases, unpack
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.errors import ApmkitError

runner = CliRunner()


@pytest.fixture(scope="module")
def cms2_deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(DECKS["CMS2"], tmp_path_factory.mktemp("cms2"))


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_writes_the_populations_contract(cms2_deck: Path, tmp_path: Path) -> None:
    out = tmp_path / "populations.csv"
    result = runner.invoke(
        app,
        [
            "-q",
            "quality",
            "evaluate",
            "--measure",
            "CMS2",
            "--period",
            "2025-01-01..2025-12-31",
            "--fhir",
            str(cms2_deck),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert list(rows[0]) == ["patient_id", *POPULATION_COLUMNS, "evidence"]
    got = {r["patient_id"]: r for r in rows}
    expected = [c for c in expected_cases() if c["measure"] == DECKS["CMS2"]]
    assert len(got) == len(expected) == 34
    for case in expected:
        row = got[case["test_case_id"]]
        # The deck's populations; CMS2 has no numerator exclusion, so that column is blank.
        assert [row[c] for c in POPULATION_COLUMNS] == [case[c] for c in POPULATION_COLUMNS]


def test_gaps_lists_denominator_patients_not_in_numerator(cms2_deck: Path, tmp_path: Path) -> None:
    out = tmp_path / "gaps.csv"
    result = runner.invoke(
        app,
        [
            "-q",
            "quality",
            "gaps",
            "--measure",
            "CMS2",
            "--period",
            "2025",
            "--fhir",
            str(cms2_deck),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = {
        c["test_case_id"]
        for c in expected_cases()
        if c["measure"] == DECKS["CMS2"]
        and (c["denominator"], c["denominator_exclusion"], c["denominator_exception"], c["numerator"])
        == ("1", "0", "0", "0")
    }
    rows = _read(out)
    assert {r["patient_id"] for r in rows} == expected
    assert all(r["closes_with"].startswith("a depression screening") for r in rows)


def test_score_mssp_reference_example(tmp_path: Path) -> None:
    # docs/reference/methodology.md §1.3 HEA example (top/top/middle/middle/bottom/unscored, multiplier 0.40 -> +4.8) on a
    # MIPS quality score of 74.0 against a 40th percentile of 77.83; BASIC level E max sharing rate 50 %.
    spec = tmp_path / "quality.yaml"
    spec.write_text(
        "quality:\n  measures: [CMS122, CMS165, CMS2, CMS125, CMS130]\n"
        "  scoring: {method: mssp, performance_year: 2025, quality_score_percentiles: {40: 77.83}}\n"
    )
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "entity_id,measure,eligible,numerator,third\n"
        "A1,CMS122,100,20,top\nA1,CMS165,100,70,top\nA1,CMS2,100,60,middle\n"
        "A1,CMS125,100,60,middle\nA1,CMS130,100,50,bottom\nA1,CMS529,0,0,\n"
    )
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "entity_id,underserved_multiplier,quality_score,max_sharing_rate\nA1,0.40,74.0,0.50\n"
    )
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        [
            "-q",
            "quality",
            "score",
            "--spec",
            str(spec),
            "--rates",
            str(rates),
            "--entities",
            str(entities),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = _read(out)
    assert Decimal(row["health_equity_bonus"]) == Decimal("4.8")
    assert Decimal(row["adjusted_score"]) == Decimal("78.8")
    assert row["meets_standard"] == "True"
    assert Decimal(row["final_sharing_rate"]) == Decimal("0.50")
    assert len(_read(tmp_path / "scores_measures.csv")) == 6


def test_score_names_file_line_and_field_of_bad_input(tmp_path: Path) -> None:
    spec = tmp_path / "quality.yaml"
    spec.write_text("scoring: {method: mssp, performance_year: 2025}\n")
    rates = tmp_path / "rates.csv"
    rates.write_text("entity_id,measure,eligible,numerator,third\nA1,CMS122,100,20,upper\n")
    result = runner.invoke(
        app,
        ["quality", "score", "--spec", str(spec), "--rates", str(rates), "--out", str(tmp_path / "s.csv")],
    )
    assert isinstance(result.exception, ApmkitError)
    assert str(result.exception) == f"{rates}, line 2, field third: third must be top, middle or bottom"
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("scoring: {method: mssp, performance_year: 2019}\n")
    result = runner.invoke(
        app,
        [
            "quality",
            "score",
            "--spec",
            str(bad_spec),
            "--rates",
            str(rates),
            "--out",
            str(tmp_path / "s.csv"),
        ],
    )
    assert isinstance(result.exception, ApmkitError)
    assert "field scoring.mssp.performance_year" in str(result.exception)


def test_score_points_scorecard_from_populations(tmp_path: Path) -> None:
    # Hand-derived from the scorecard rules: CMS165 7/10 = 0.70 is half-way from the 0.60 threshold to the
    # 0.80 benchmark -> 9 x 0.5 + 0.5 = 5 points; CMS122 (inverse) 2/10 = 0.20 is half-way from 0.30 to
    # 0.10 -> 5 points; total 10 / 20 = 50 -> gate (40) passed, band 40 -> sharing multiplier 0.5.
    spec = tmp_path / "quality.yaml"
    spec.write_text(
        "measures: [CMS165, CMS122]\n"
        "scoring:\n  method: points\n  minimum_denominator: 5\n  gate_min_score: 40\n"
        "  measures:\n"
        "    - {measure: CMS165, attainment_threshold: 0.60, benchmark: 0.80}\n"
        "    - {measure: CMS122, attainment_threshold: 0.30, benchmark: 0.10, inverse: true}\n"
        "  sliding_scale:\n    - {min_score: 40, sharing_multiplier: 0.5}\n    - {min_score: 70, sharing_multiplier: 1}\n"
    )
    lines = [
        "entity_id,measure,patient_id,initial_population,denominator,denominator_exclusion,denominator_exception,numerator"
    ]
    for i in range(10):
        lines.append(f"E1,CMS165,p{i},1,1,0,,{1 if i < 7 else 0}")
        lines.append(f"E1,CMS122,p{i},1,1,0,,{1 if i < 2 else 0}")
    lines.append("E1,CMS165,x,1,1,1,,0")  # excluded: not eligible
    populations = tmp_path / "populations.csv"
    populations.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        ["-q", "quality", "score", "--spec", str(spec), "--populations", str(populations), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    (row,) = _read(out)
    assert Decimal(row["quality_score"]) == 50
    assert row["gate_passed"] == "True"
    assert Decimal(row["sharing_multiplier"]) == Decimal("0.5")
    points = {r["measure"]: Decimal(r["points"]) for r in _read(tmp_path / "scores_measures.csv")}
    assert points == {"CMS165": 5, "CMS122": 5}
