"""Engine parity: the MSSP benchmark end to end on PySpark gives the reference-derived answer."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apmkit.benchmark.mssp import mssp_benchmark
from apmkit.benchmark.spec import MsspBenchmarkSpec
from apmkit.engines import Engine

from .test_mssp_end_to_end import SPEC, _county, _population


@pytest.mark.spark
def test_mssp_benchmark_on_spark(spark_engine: Engine) -> None:
    engine = spark_engine
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(SPEC),
        fetch=engine.rows,
        materialize=engine.materialize,
        county=_county(engine),
    )
    # Same figures as test_mssp_end_to_end (docs/reference/methodology.md §1.5 derived examples): +$350, update 1.0470
    assert result.by_type["aged_non_dual"]["adjustment"] == D("350.00")
    assert result.updated_per_capita.quantize(D("0.01")) == D("11883.45")
    assert result.total_benchmark == D("47533.80")
