"""The same report on PySpark local and on DuckDB gives the same figures (the reports are engine-neutral ibis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apmkit.engines import Engine
from apmkit.reports.framework import ReportRequest
from apmkit.workspace.reports import build_report

pytestmark = pytest.mark.spark


def _sorted(rows: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(tuple(str(v) for v in row.values()) for row in rows)


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("attribution", "summary"),
        ("performance", "cost"),
        ("utilization", "rates"),
        ("variation", "observed_expected"),
    ],
)
def test_spark_gives_the_duckdb_figures(
    handmade_run: Path, spark_engine: Engine, name: str, table: str
) -> None:
    request = ReportRequest(name, by="tin")
    on_duckdb = build_report(handmade_run, request).tables[table].to_pylist()
    on_spark = build_report(handmade_run, request, engine=spark_engine).tables[table].to_pylist()
    assert _sorted(on_spark) == _sorted(on_duckdb)
