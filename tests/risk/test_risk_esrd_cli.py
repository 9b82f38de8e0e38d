"""``apmkit risk score --model ESRD-V24`` end to end, and the same expression on PySpark local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.errors import ApmkitError
from apmkit.risk import score
from apmkit.risk.esrd_reference import SEGMENT_COLUMNS

# Two cases of tests/fixtures/risk/esrd_v24_reference_cases.csv (CMS-checked values), ages on 1 Feb 2026,
# a dialysis member and a malformed transplant month.
PERSONS = """member_id,birth_date,sex,orec,ltimcaid,nemcaid,dual_status_code,institutional,new_enrollee,months_since_transplant
G1,1959-01-01,F,0,0,0,02,0,0,6
T1,1976-01-01,M,0,0,0,,0,0,1
D1,1956-01-01,M,2,0,0,,0,0,
B1,1956-01-01,M,2,0,0,,0,0,soon
"""
DIAGNOSES = """member_id,dx_code
G1,D66
D1,E11.9
"""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--quiet", "risk", "score", *args])


def test_esrd_scores_from_csv(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    out = tmp_path / "scores.csv"
    result = invoke(
        "--model", "esrd-v24", "--payment-year", "2026", "--persons", str(tmp_path / "persons.csv"),
        "--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(out), "--explain", str(tmp_path / "x.csv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(column_types={"hccs": pa.string()}))
    assert table.column_names == ["member_id", "segment", "score", "hccs", "interactions", *SEGMENT_COLUMNS]
    rows = {r["member_id"]: r for r in table.to_pylist()}
    assert (rows["G1"]["segment"], rows["G1"]["score"]) == ("SCORE_G_COMM_FBD_GE65_DUR4_9", 3.247)
    assert (rows["T1"]["segment"], rows["T1"]["score"]) == ("SCORE_TRANSPLANT_KIDNEY_ONLY_1M", 5.985)
    assert rows["D1"]["segment"] == "SCORE_DIAL"
    rejects = pacsv.read_csv(tmp_path / "scores.rejects.csv").to_pylist()
    assert [(r["source_line"], r["field"]) for r in rejects] == [(5, "months_since_transplant")]
    assert "scored 3 members with ESRD-V24 PY2026" in result.output


@pytest.mark.parametrize(
    "options,message",
    [
        (("--blend",), "--blend"),
        (("--normalize",), "no published normalization factor for ESRD-V24"),
        (("--model", "ESRD-V21"), "--model must be one of V24, V28, ESRD-V24, RxHCC-V08-T, RxHCC-V08-X"),
    ],
)
def test_esrd_option_errors(tmp_path: Path, options: tuple[str, ...], message: str) -> None:
    (tmp_path / "persons.csv").write_text(PERSONS)
    (tmp_path / "diagnoses.csv").write_text(DIAGNOSES)
    args = ["--model", "ESRD-V24", "--persons", str(tmp_path / "persons.csv")]
    args += ["--diagnoses", str(tmp_path / "diagnoses.csv"), "--out", str(tmp_path / "s.csv"), *options]
    result = invoke(*args)
    assert isinstance(result.exception, ApmkitError)
    assert message in str(result.exception) + result.output


def test_esrd_refuses_canonical_tables(tmp_path: Path) -> None:
    result = invoke("--model", "ESRD-V24", "--from", str(tmp_path), "--out", str(tmp_path / "s.csv"))
    assert isinstance(result.exception, ApmkitError)
    assert "months_since_transplant" in str(result.exception) + result.output


def _run(engine: Any) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    persons = pacsv.read_csv(
        pa.py_buffer(PERSONS.encode()),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in PERSONS.splitlines()[0].split(",")}
        ),
    )
    diagnoses = pacsv.read_csv(pa.py_buffer(DIAGNOSES.encode()))
    result = score(
        engine.from_arrow(persons), engine.from_arrow(diagnoses), model="ESRD-V24", payment_year=2026
    )
    scores = sorted(engine.to_arrow(result.scores).to_pylist(), key=lambda r: r["member_id"])
    rejects = sorted(tuple(r.values()) for r in engine.to_arrow(result.rejects).to_pylist())
    return scores, rejects


@pytest.mark.spark
def test_esrd_scores_match_duckdb_on_spark(spark_engine: Any, duckdb_engine: Any) -> None:
    expected = _run(duckdb_engine)
    # Scores and rejects only: the explanation plan doubles Spark's planning time on the shared machine.
    assert len(expected[0]) == 3 and expected[1]
    assert _run(spark_engine) == expected
