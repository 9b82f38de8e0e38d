"""CMS125 and CMS130 against selected official CMS test cases (MeasureReports in expected.csv).

The cases go through the FHIR loader and are evaluated together in one pass (``evaluate_measures``),
which also checks that sharing the tagging and facts between measures changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from tests.quality.decks import FIXTURES

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.quality.ecqm import CMS125, CMS130
from apmkit.quality.evaluate import evaluate_measures

CASES = FIXTURES / "cms125_cms130"


def test_cms125_and_cms130_cases(engine: Engine, tmp_path: Path) -> None:
    ingest(engine, "fhir", CASES, tmp_path / "canonical")
    tables = engine.canonical(tmp_path / "canonical")
    results = evaluate_measures(
        [CMS125, CMS130],
        tables.members,
        tables.clinical,
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
        materialize=engine.materialize,
    )
    got = {
        measure: {r["patient_id"]: r for r in engine.to_arrow(table).to_pylist()}
        for measure, table in results.items()
    }
    with open(CASES / "expected.csv", newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert len(expected) == 7
    for case in expected:
        row = got[case["measure"]][case["test_case_id"]]
        for column in ("initial_population", "denominator", "denominator_exclusion", "numerator"):
            assert row[column] == int(case[column]), (case["case"], column, row["evidence"])
