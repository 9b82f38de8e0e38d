"""Fixtures for the risk tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa
import pytest
from risk_cases import PERSON_FIELDS

from apmkit.engines import Engine

ALL_PERSON_FIELDS = (*PERSON_FIELDS, "months_since_transplant", "low_income")

BuildTables = Callable[[Iterable[Mapping[str, Any]]], tuple[Any, Any]]


@pytest.fixture(scope="session")
def build_tables(engine: Engine) -> BuildTables:
    """Turn cases ``{member_id, ..., diagnoses: [codes]}`` into (persons, diagnoses) ibis tables of strings.

    Persons carry every model's columns (the ESRD and RxHCC ones too); a model ignores those it
    does not read."""

    def build(cases: Iterable[Mapping[str, Any]]) -> tuple[Any, Any]:
        cases = list(cases)
        persons = pa.table(
            {
                field: pa.array([str(c.get(field, "")) for c in cases], pa.string())
                for field in ALL_PERSON_FIELDS
            }
        )
        pairs = [(c["member_id"], dx) for c in cases for dx in c.get("diagnoses", [])]
        diagnoses = pa.table(
            {
                "member_id": pa.array([p[0] for p in pairs], pa.string()),
                "dx_code": pa.array([p[1] for p in pairs], pa.string()),
            }
        )
        return engine.from_arrow(persons), engine.from_arrow(diagnoses)

    return build
