"""The eCQM engine gives the same populations on PySpark as on DuckDB (tiny hand-built CMS165 input)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apmkit.engines import Engine
from apmkit.quality.ecqm import CMS122, CMS165
from apmkit.quality.evaluate import POPULATIONS, evaluate_measures
from apmkit.schemas import CLINICAL, MEMBERS

SNOMED, LOINC, ICD10 = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/icd-10-cm"
T = dt.datetime


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


def _rows() -> list[dict[str, Any]]:
    rows = []
    for member, systolic in (("A", 132.0), ("B", 151.0)):
        rows += [
            _record(
                f"c-{member}",
                member,
                "Condition",
                ICD10,
                "I10",
                T(2024, 5, 1),
                status="active",
                effective_end=None,
            ),
            _record(
                f"e-{member}",
                member,
                "Encounter",
                "http://www.ama-assn.org/go/cpt",
                "99213",
                T(2025, 3, 1),
                status="finished",
                category="AMB",
            ),
            _record(f"bp-{member}", member, "Observation", LOINC, "85354-9", T(2025, 9, 1), status="final"),
        ]
        for index, (component, value) in enumerate((("8480-6", systolic), ("8462-4", 80.0)), start=1):
            rows.append(
                {
                    **_record(
                        f"bp-{member}", member, "Observation", LOINC, "85354-9", T(2025, 9, 1), status="final"
                    ),
                    "component_index": index,
                    "component_code_system": LOINC,
                    "component_code": component,
                    "value_numeric": value,
                }
            )
    rows.append(
        _record(
            "a1c-A", "A", "Observation", LOINC, "4548-4", T(2025, 6, 1), status="final", value_numeric=9.4
        )
    )
    rows.append(
        _record("dm-A", "A", "Condition", ICD10, "E119", T(2023, 1, 1), status="active", effective_end=None)
    )
    return rows


def _evaluate(engine: Engine) -> list[dict[str, Any]]:
    members = engine.from_rows(
        [
            {"member_id": "A", "birth_date": dt.date(1955, 4, 2), "sex": "F"},
            {"member_id": "B", "birth_date": dt.date(1960, 7, 9), "sex": "M"},
        ],
        MEMBERS,
    )
    clinical = engine.from_rows(_rows(), CLINICAL)
    results = evaluate_measures(
        [CMS122, CMS165],
        members,
        clinical,
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
        materialize=engine.materialize,
    )
    out = []
    for measure, table in sorted(results.items()):
        for row in engine.to_arrow(table.select("patient_id", *POPULATIONS, "evidence")).to_pylist():
            out.append({"measure": measure, **row})
    return sorted(out, key=lambda r: (r["measure"], r["patient_id"]))


@pytest.mark.spark
def test_spark_matches_duckdb(spark_engine: Engine, duckdb_engine: Engine) -> None:
    expected = _evaluate(duckdb_engine)
    # Hand-checked: A (systolic 132) controlled, B (151) not; A's HbA1c 9.4 % puts her in CMS122's numerator.
    assert [(r["measure"], r["patient_id"], r["initial_population"], r["numerator"]) for r in expected] == [
        ("CMS122", "A", 1, 1),
        ("CMS122", "B", 0, 0),
        ("CMS165", "A", 1, 1),
        ("CMS165", "B", 1, 0),
    ]
    assert _evaluate(spark_engine) == expected
