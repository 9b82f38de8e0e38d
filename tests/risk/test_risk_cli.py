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
    # docs/reference/methodology.md §7: male 70 (on 1 Feb 2024), E11.65 + I50.22 -> 1.034; PY2024 factor 1.015 and 5.9% -> 0.959.
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
    # PY2024: 67% V24 (1.148 / 1.146) + 33% V28 (1.034 / 1.015), 5.9% (docs/reference/methodology.md §7 figures):
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


@pytest.mark.parametrize("rate", ["5", "1", "1.0", "-0.059", "nan", "inf"])
def test_coding_adjustment_rate_outside_0_to_1_is_refused(tmp_path: Path, rate: str) -> None:
    # issue 15: "--coding-adjustment-rate 5 gives negative scores" (5 meant as 5 %, applied as 500 %).
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    result = invoke(
        "--model", "V28", "--payment-year", "2024", "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out),
        "--coding-adjustment-rate", rate,
    )  # fmt: skip
    assert result.exit_code != 0
    assert (
        "--coding-adjustment-rate: coding-intensity adjustment must be a fraction from 0 to below 1"
        in str(result.exception)
    )
    assert not out.exists()


def test_coding_adjustment_rate_as_a_fraction(tmp_path: Path) -> None:
    from decimal import ROUND_HALF_UP
    from decimal import Decimal as D

    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    result = invoke(
        "--model", "V28", "--payment-year", "2024", "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out),
        "--normalization-factor", "1.015", "--coding-adjustment-rate", "0.05",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    a1 = {r["member_id"]: r for r in _read(out)}["A1"]
    # docs/reference/methodology.md §7 raw 1.034; normalized round(1.034 / 1.015, 3); payment round(normalized x 0.95, 3)
    normalized = (D("1.034") / D("1.015")).quantize(D("0.001"), ROUND_HALF_UP)
    payment = (normalized * (1 - D("0.05"))).quantize(D("0.001"), ROUND_HALF_UP)
    assert (normalized, payment) == (D("1.019"), D("0.968"))
    assert (a1["normalized_score"], a1["payment_score"]) == (float(normalized), float(payment))


@pytest.mark.parametrize("year", ["2025", "2026", "2027"])
def test_normalize_after_2024_needs_the_factor(tmp_path: Path, year: str) -> None:
    # issue 15: the 2025-2027 factors shipped were third-party figures used with only a warning. Until they are
    # checked against CMS's Rate Announcements, --normalize for those years must be given the factor.
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    common = [
        "--model", "V28", "--payment-year", year, "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out),
    ]  # fmt: skip
    result = invoke(*common, "--normalize")
    assert result.exit_code != 0
    assert f"no published normalization factor for V28 in {year}" in str(result.exception)
    assert "--normalization-factor" in str(result.exception)
    assert not out.exists()
    result = invoke(*common, "--normalize", "--normalization-factor", "1.2")
    assert result.exit_code == 0, result.output
    assert "third-party" not in result.output
    from decimal import ROUND_HALF_UP
    from decimal import Decimal as D

    for row in _read(out):  # normalized = round(raw / factor, 3), half-up, from the row's own raw score
        expected = (D(str(row["score"])) / D("1.2")).quantize(D("0.001"), ROUND_HALF_UP)
        assert D(str(row["normalized_score"])) == expected


def test_blend_after_2024_needs_every_models_factor(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    common = [
        "--model", "V28", "--payment-year", "2025", "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out), "--blend",
    ]  # fmt: skip
    missing_v24 = invoke(*common, "--normalization-factor", "1.045")
    assert missing_v24.exit_code != 0
    assert "no published normalization factor for V24 in 2025" in str(missing_v24.exception)
    assert not out.exists()
    bad = invoke(*common, "--normalization-factor", "1.045", "--blend-factor", "V24")
    assert "--blend-factor: write MODEL=FACTOR" in str(bad.exception)
    given = invoke(*common, "--normalization-factor", "1.045", "--blend-factor", "v24=1.153")
    assert given.exit_code == 0, given.output
    assert "blended_payment_score" in out.read_text().splitlines()[0]


def test_from_tables_applies_cms_new_enrollee_rule_and_says_so(tmp_path: Path) -> None:
    # issue 15: members whose enrollment starts in the payment year were scored as continuing. The synthetic
    # population spans 2025-2026 (new entrants join in 2026), so its enrollment table covers the 2025 data year.
    import pandas as pd

    folder = tmp_path / "synth"
    generate(600, folder, years=2, end_year=2026, seed=11)
    out = tmp_path / "scores.parquet"
    result = invoke("--from", str(folder), "--payment-year", "2026", "--out", str(out))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "new enrollees by CMS's rule: fewer than 12 months of Part B in 2025" in said
    # Independent count from the rule's words: Part B months in 2025 per member, 0 without 2025 rows.
    enrollment = pq.read_table(folder / "enrollment.parquet").to_pandas()
    enrollment["month"] = pd.to_datetime(enrollment["month"])
    in_2025 = enrollment[
        (enrollment["month"].dt.year == 2025) & enrollment["part_b"].fillna(False).astype(bool)
    ]
    part_b_months = in_2025.groupby("member_id")["month"].nunique()
    scores = pq.read_table(out, columns=["member_id", "segment"]).to_pandas()
    # ESRD members are outside the CMS-HCC segments (scored by the ESRD model): compare the others.
    members = pq.read_table(folder / "members.parquet", columns=["member_id", "esrd"]).to_pandas()
    esrd = set(members.loc[members["esrd"].fillna(False).astype(bool), "member_id"])
    scores = scores[~scores["member_id"].isin(esrd)]
    months = scores["member_id"].map(part_b_months).fillna(0)
    expected_new = set(scores.loc[months < 12, "member_id"])
    assert expected_new - set(part_b_months.index)  # some members have no 2025 rows at all (2026 entrants)
    scored_new = set(scores.loc[scores["segment"].str.contains("NEW_ENROLLEE"), "member_id"])
    assert scored_new == expected_new
