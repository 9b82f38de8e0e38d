"""care_gaps_of_measures (one evaluation pass for several eCQMs, used by the run's open_gaps mart) gives the same
rows as care_gaps measure by measure (the gaps engine of `apmkit quality gaps`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from apmkit.engines import Engine
from apmkit.quality.claims import clinical_with_claims
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.gaps import GAP_COLUMNS, care_gaps, care_gaps_of_measures
from apmkit.synth import generate


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gaps-of-measures") / "data"
    generate(300, folder, years=2, seed=11)
    return folder


def _rows(engine: Engine, table) -> list[tuple[object, ...]]:
    rows = engine.to_arrow(table.select(*GAP_COLUMNS)).to_pylist()
    return sorted((tuple(str(r[c]) for c in GAP_COLUMNS) for r in rows), key=str)


def test_one_pass_equals_measure_by_measure(data: Path) -> None:
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    with Engine.duckdb() as engine:
        tables = engine.canonical(data)
        members = engine.materialize(tables["members"])
        clinical = engine.materialize(clinical_with_claims(tables["clinical"], tables["medical_claims"]))
        definitions = list(ECQM_DEFINITIONS.values())
        together = care_gaps_of_measures(
            definitions,
            members,
            clinical,
            start,
            end,
            providers=tables["providers"],
            materialize=engine.materialize,
        )
        total = 0
        for definition, mine in zip(definitions, together, strict=True):
            alone = care_gaps(
                definition,
                members,
                clinical,
                start,
                end,
                providers=tables["providers"],
                materialize=engine.materialize,
            )
            expected = _rows(engine, alone)
            assert _rows(engine, mine) == expected, definition.measure_id
            total += len(expected)
        assert total > 0
