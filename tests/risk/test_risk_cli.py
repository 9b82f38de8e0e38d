"""``apmkit risk score`` end to end: CSV inputs, payment options, rejects, user errors, canonical tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.synth import generate

SCORE_COLUMNS = [
    "member_id",
    "segment",
    "score",
    "hccs",
    "interactions",
    "COMMUNITY_NA",
    "COMMUNITY_ND",
    "COMMUNITY_FBA",
    "COMMUNITY_FBD",
    "COMMUNITY_PBA",
    "COMMUNITY_PBD",
    "INSTITUTIONAL",
    "NEW_ENROLLEE",
    "SNP_NEW_ENROLLEE",
]

PERSONS = """member_id,birth_date,sex,orec,ltimcaid,nemcaid,dual_status_code
A1,1954-01-01,1,0,0,0,
A2,1955-06-30,F,0,0,0,02
A3,1990-13-01,M,0,0,0,
"""
DIAGNOSES = """member_id,dx_code
A1,E11.65
A1,i50.22
A2,E119
A3,I509
"""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--quiet", "risk", "score", *args])


def _read(path: Path) -> list[dict[str, Any]]:
    options = pacsv.ConvertOptions(
        column_types={"member_id": "string", "hccs": "string", "interactions": "string"}
    )
    return pacsv.read_csv(path, convert_options=options).to_pylist()


def test_csv_inputs_to_scores_and_rejects(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    result = invoke(
        "--model", "V28", "--payment-year", "2024",
        "--persons", str(tmp_path / "persons.csv"), "--diagnoses", str(tmp_path / "diagnoses.csv"),
        "--out", str(out), "--normalize", "--coding-adjustment", "--explain", str(tmp_path / "explain.csv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0].replace('"', "").split(",")
    assert header == [*SCORE_COLUMNS, "normalized_score", "payment_score"]
    rows = {r["member_id"]: r for r in _read(out)}
    # methodology.md §7: male 70 (on 1 Feb 2024), E11.65 + I50.22 -> 1.034; PY2024 factor 1.015 and 5.9% -> 0.959.
    a1 = rows["A1"]
    assert (a1["segment"], a1["score"], a1["hccs"], a1["interactions"]) == (
        "COMMUNITY_NA", 1.034, "HCC226;HCC38", "D2;DIABETES_HF_V28"
    )  # fmt: skip
    assert (a1["normalized_score"], a1["payment_score"]) == (1.019, 0.959)
    assert rows["A2"]["segment"] == "COMMUNITY_FBA"
    rejects = _read(tmp_path / "scores.rejects.csv")
    assert [(r["table"], r["source_line"], r["field"]) for r in rejects] == [
        ("persons", 4, "birth_date"),
        ("diagnoses", 5, "member_id"),
    ]
    assert "persons: read 3, loaded 2, rejected 1" in result.output
    assert "diagnoses: read 4, loaded 3, rejected 1" in result.output
    explained = _read(tmp_path / "explain.csv")
    assert round(sum(r["coefficient"] for r in explained if r["member_id"] == "A1"), 3) == 1.034


def test_blended_payment_score(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    result = invoke(
        "--model", "V28", "--payment-year", "2024", "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out), "--blend",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["member_id"]: r for r in _read(out)}
    # PY2024: 67% V24 (1.148 / 1.146) + 33% V28 (1.034 / 1.015), 5.9% (methodology.md §7 figures):
    # round(0.67 x 1.002 + 0.33 x 1.019, 3) = 1.008; round(1.008 x 0.941, 3) = 0.949.
    assert rows["A1"]["blended_payment_score"] == 0.949


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text("member_id,birth_date,sex\nA1,1954-01-01,M\n")
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    result = invoke(
        "--persons", str(tmp_path / "persons.csv"), "--diagnoses", str(tmp_path / "diagnoses.csv"),
        "--out", str(tmp_path / "scores.csv"),
    )  # fmt: skip
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    assert "persons.csv" in message and "orec" in message


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    generate(300, folder, years=1, end_year=2025, seed=5)
    return folder


def test_from_canonical_tables(population: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    result = invoke("--from", str(population), "--payment-year", "2026", "--out", str(out))
    assert result.exit_code == 0, result.output
    scores = pq.read_table(out)
    members = pq.read_table(population / "members.parquet").num_rows
    rejected = pacsv.read_csv(tmp_path / "scores.rejects.csv").to_pylist()
    person_rejects = [r for r in rejected if r["table"] == "persons"]
    assert scores.num_rows + len(person_rejects) == members
    assert scores.column_names[: len(SCORE_COLUMNS)] == SCORE_COLUMNS
    # Synthetic claims carry HCC diagnoses: some members must have payment HCCs.
    assert any(h for h in scores.column("hccs").to_pylist())
