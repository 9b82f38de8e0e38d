"""Quality-score files for ``apmkit quality score``: the spec document and the score CSVs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv
from pydantic import ValidationError

from apmkit.documents import read_yaml
from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.quality.spec import QualitySpec


def load_quality_spec(path: Path) -> QualitySpec:
    """A quality spec YAML, or the ``quality:`` section of a contract; errors name the file and field."""
    document = read_yaml(path)
    if isinstance(document, dict) and "quality" in document:
        document = document["quality"]
    try:
        return QualitySpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputFileError(path, first["msg"], field=field or None) from exc


def write_table_csv(engine: Engine, expr: ir.Table, out: Path) -> pa.Table:
    """Execute ``expr`` and write it as CSV (the folder is created); returns the rows written."""
    data = engine.to_arrow(expr)
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(data, out)
    return data


def write_scores(out: Path, scores: list[dict[str, Any]], measure_rows: list[dict[str, Any]]) -> Path:
    """``out``: one row per entity (entity_id and method first); ``<out>_measures.csv``: one row per entity and
    measure. Returns the measures file."""
    columns = sorted(
        {key for row in scores for key in row}, key=lambda k: (k != "entity_id", k != "method", k)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(scores)
    measures_out = out.with_name(out.stem + "_measures.csv")
    with open(measures_out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(measure_rows[0]) if measure_rows else ["entity_id"])
        writer.writeheader()
        writer.writerows(measure_rows)
    return measures_out
