"""Expressions in apmkit.portable give the same answer on both engines."""

from __future__ import annotations

import pyarrow as pa
import pytest

from apmkit.portable import trim_text

VALUES = ["  snf ", "void", "\tfbd\r\n", "vf", "", "  ", None]
EXPECTED = ["snf", "void", "fbd", "vf", "", "", None]


def trimmed(engine):
    t = engine.from_arrow(pa.table({"i": list(range(len(VALUES))), "s": pa.array(VALUES, pa.string())}))
    return engine.to_arrow(t.select("i", out=trim_text(t.s)).order_by("i")).column("out").to_pylist()


def test_trim_text_keeps_letters_v_and_f(engine):
    assert trimmed(engine) == EXPECTED


@pytest.mark.spark
def test_trim_text_on_spark(spark_engine):
    # ibis's str.strip() returned "sn" and "oid" here on Spark.
    assert trimmed(spark_engine) == EXPECTED
