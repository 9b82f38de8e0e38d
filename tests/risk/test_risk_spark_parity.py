"""The same risk expression gives the same scores and explanations on PySpark local as on DuckDB."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from risk_cases import PERSON_FIELDS, birth_date_for_age

from apmkit.risk import score

CASES = [
    ("dm_hf", {"sex": "M", "age": 70}, ["E11.65", "I50.22", "I50.23"]),
    ("fbd", {"sex": "F", "age": 71, "dual_status_code": "02"}, ["E11.9", "J44.9"]),
    ("ins", {"sex": "F", "age": 80, "institutional": "1", "ltimcaid": "1"}, ["E11.9", "I50.22", "N18.4"]),
    ("ne", {"sex": "M", "age": 64, "new_enrollee": "1"}, []),
    ("disabled", {"sex": "M", "age": 50, "orec": "1"}, ["C50.912", "F03.90", "Z94.4", "K72.11", "G93.1"]),
    ("bad", {"sex": "X", "age": 70}, ["E11.9"]),
]


def _tables(engine: Any) -> tuple[Any, Any]:
    rows = []
    for member, person, _ in CASES:
        row = {field: "" for field in PERSON_FIELDS}
        row.update({"member_id": member, "orec": "0", "ltimcaid": "0", "nemcaid": "0"})
        row.update({k: v for k, v in person.items() if k != "age"})
        row["birth_date"] = birth_date_for_age(person["age"], 2026)
        rows.append(row)
    persons = pa.Table.from_pylist(rows)
    pairs = [(member, dx) for member, _, codes in CASES for dx in codes]
    diagnoses = pa.table({"member_id": [p[0] for p in pairs], "dx_code": [p[1] for p in pairs]})
    return engine.from_arrow(persons), engine.from_arrow(diagnoses)


def _run(engine: Any) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    persons, diagnoses = _tables(engine)
    result = score(persons, diagnoses, model="V28", payment_year=2026, normalization_factor="1.015")
    scores = sorted(engine.to_arrow(result.scores).to_pylist(), key=lambda r: r["member_id"])
    terms = sorted(tuple(r.values()) for r in engine.to_arrow(result.explanations).to_pylist())
    rejects = sorted(tuple(r.values()) for r in engine.to_arrow(result.rejects).to_pylist())
    return scores, terms, rejects


@pytest.mark.spark
def test_scores_match_duckdb(spark_engine: Any, duckdb_engine: Any) -> None:
    expected = _run(duckdb_engine)
    assert expected[0] and expected[1] and expected[2]
    assert _run(spark_engine) == expected
