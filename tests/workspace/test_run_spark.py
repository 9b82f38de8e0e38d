"""Whole-run engine parity: one contract run on PySpark settles a small population exactly as on DuckDB.

Every statement line (entity, component, label, amount) and the summary must be equal to the cent. The
population is small (40 synthetic members over two years) so the run stays near half a minute on Spark local;
the contract has no attribution section (every eligible member belongs to one entity), which keeps the run in
that budget: spending under the definitions (allowed amounts, run-out, eligible months, $100,000 truncation),
the general benchmark's build-up and the shared-savings settlement all run on Spark.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apmkit.engines import Engine
from apmkit.settlement.statement import Settlement
from apmkit.synth import generate
from apmkit.workspace import Workspace

CONTRACT = """
id: run_spark_parity
name: whole-run parity (test)
benchmark:
  method: general
  general:
    base_years: [2024]
    performance_year: 2025
    annual_trend: "0.04"
    regional_weight: "0.25"
    full_credibility_member_months: 1200
definitions:
  cost_basis: allowed_amount
  eligible_months: enrolled
  truncation: {method: amount, amount: 100000}
  runout_months: 3
components:
  - id: shared_savings
    type: shared_savings
    clause: "test agreement section 5"
    terms:
      sided: one_sided
      minimum_savings_rate: {kind: fixed, rate: 0.0}
      sharing_basis: first_dollar
      max_sharing_rate: 0.50
      savings_cap: {pct_of_benchmark: 0.10}
"""


def _lines(settlement: Settlement) -> list[tuple[str, str, str, Decimal | None, dict[str, str]]]:
    return [
        (s.entity_id, line.component_id, line.label, line.value, line.inputs)
        for s in settlement.statements
        for line in s.lines
    ]


@pytest.mark.spark
def test_whole_run_on_spark_equals_duckdb(spark_engine: Engine, tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(40, data, years=2, seed=11)
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    with Workspace(data) as workspace:
        expected = workspace.run(contract, "2025").settlement
    with Workspace(data, engine=spark_engine) as workspace:
        actual = workspace.run(contract, "2025").settlement
    assert expected.statements, "the DuckDB run settled nothing"
    assert actual.total_net == expected.total_net
    assert [s.summary for s in actual.statements] == [s.summary for s in expected.statements]
    assert _lines(actual) == _lines(expected)
