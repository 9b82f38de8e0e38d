"""Every CMS test case of the shipped eCQM decks produces exactly the expected populations.

Expected values are the MeasureReports of the official CMS MADiE test decks (summarized in
``expected_populations_summary.csv`` beside them). The decks go through the real FHIR loader
(``apmkit.ingest``) and the measures run on the engine under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.quality.decks import DECKS, POPULATION_COLUMNS, expected_cases, load_deck

from apmkit.engines import Engine
from apmkit.quality import cms529
from apmkit.quality.evaluate import evaluate

MEASURE_OF_DECK = {deck: measure for measure, deck in DECKS.items()}

KNOWN_DIVERGENCES = {
    # The resources carry a coded value ("Yes") where the case description says 9.1 % / GMI > 9 %; the
    # spec compares the value as a Quantity, and the sibling case with the same coded value
    # (5ed37c9e, "8.9 %") expects numerator 0, so no value-based rule yields both expectations.
    "8956ebb5-d3c0-4112-a34a-200961713efd": "deck data: coded value where the description says 9.1 %",
    "6630d394-c81d-42f5-a218-40b73a2a4949": "deck data: coded value where the description says GMI > 9 %",
    # The loader resolves MedicationRequest.medicationReference to the Medication's code, so the dementia
    # medication counts; the 2025 CQL retrieves by medicationCodeableConcept only (CQLIT-412).
    "45e01fed-56bb-483d-a860-af3d566bda11": "medicationReference is resolved by apmkit (CQLIT-412)",
}


@pytest.fixture(scope="session")
def deck_results(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Per deck: patient id → evaluated populations."""
    results: dict[str, dict[str, Any]] = {}
    for measure, deck in DECKS.items():
        work: Path = tmp_path_factory.mktemp(measure)
        tables = load_deck(engine, deck, work)
        if measure == "CMS529":
            expr = cms529.initial_population(
                tables.members, tables.clinical, dt.date(2026, 7, 1), dt.date(2027, 6, 30)
            )
        else:
            expr = evaluate(
                measure, tables.members, tables.clinical, dt.date(2025, 1, 1), dt.date(2025, 12, 31)
            )
        results[deck] = {row["patient_id"]: row for row in engine.to_arrow(expr).to_pylist()}
    return results


def _cases() -> list[Any]:
    params = []
    for case in expected_cases():
        marks = []
        if case["test_case_id"] in KNOWN_DIVERGENCES:
            marks.append(pytest.mark.xfail(reason=KNOWN_DIVERGENCES[case["test_case_id"]], strict=True))
        params.append(
            pytest.param(
                case, id=f"{MEASURE_OF_DECK[case['measure']]}-{case['test_case_id'][:8]}", marks=marks
            )
        )
    return params


@pytest.mark.parametrize("case", _cases())
def test_case_populations(case: dict[str, str], deck_results: dict[str, dict[str, Any]]) -> None:
    row = deck_results[case["measure"]].get(case["test_case_id"])
    assert row is not None, "patient missing from the output"
    for column in POPULATION_COLUMNS:
        if case[column] == "":
            continue
        assert row[column] == int(case[column]), (column, case["description"], row.get("evidence"))


def test_every_deck_case_is_parametrized() -> None:
    counts: dict[str, int] = {}
    for case in expected_cases():
        counts[MEASURE_OF_DECK[case["measure"]]] = counts.get(MEASURE_OF_DECK[case["measure"]], 0) + 1
    assert counts == {"CMS529": 41, "CMS165": 60, "CMS122": 43, "CMS2": 34}
