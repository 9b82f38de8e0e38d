"""Spark plans stay small: what a query reads twice is computed once, and a materialized table is a file.

Spark inlines every common table expression at each reference and a cached DataFrame keeps the whole query
that made it, so a contract run's plans grew to megabytes and Spark spent most of the run planning them.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from apmkit.engines import Engine

ROWS = pa.table({"k": [1, 1, 2, 3, 3, 3], "v": [10, 20, 30, 40, 50, 60]})


def _self_joined(engine: Engine) -> object:
    t = engine.from_arrow(ROWS)
    totals = t.group_by("k").aggregate(total=t.v.sum())
    other = totals.select(k2=totals.k, total2=totals.total)
    return totals.join(other, totals.k == other.k2)


@pytest.mark.spark
def test_a_subquery_read_twice_is_computed_once_on_spark(spark_engine: Engine, duckdb_engine: Engine) -> None:
    joined = _self_joined(spark_engine)
    sql = spark_engine.backend.compile(joined)
    assert "WITH" not in sql.upper()  # the totals were computed ahead and are read as a table
    expected = [{"k": 1, "total": 30, "k2": 1, "total2": 30}, {"k": 2, "total": 30, "k2": 2, "total2": 30}]
    expected.append({"k": 3, "total": 150, "k2": 3, "total2": 150})
    assert sorted(spark_engine.rows(joined), key=lambda r: r["k"]) == expected
    assert sorted(duckdb_engine.rows(_self_joined(duckdb_engine)), key=lambda r: r["k"]) == expected


@pytest.mark.spark
def test_a_materialized_table_does_not_carry_the_plan_that_made_it(spark_engine: Engine) -> None:
    t = spark_engine.from_arrow(ROWS)
    for _ in range(5):  # each step reads the previous one twice: a carried plan doubles every step
        t = spark_engine.materialize(t.union(t).distinct())
    frame = spark_engine._spark.sql(spark_engine.backend.compile(t))
    plan = frame._jdf.queryExecution().optimizedPlan().toString()
    assert len(plan) < 2000, plan[:500]
    assert sorted(spark_engine.rows(t), key=lambda r: (r["k"], r["v"])) == ROWS.to_pylist()


@pytest.mark.spark
def test_float_literals_compile_on_spark(spark_engine: Engine) -> None:
    # ibis's PySpark compiler reads its backend options for float literals: the engine's backend registers them
    t = spark_engine.from_arrow(ROWS)
    assert spark_engine.rows(t.filter(t.v > 45.5).select("v").order_by("v")) == [{"v": 50}, {"v": 60}]
