"""Parity subset run on PySpark local in `make test`: ingest, then a canonical-table aggregate, on both engines."""

from __future__ import annotations

import pytest

from apmkit.ingest import ingest
from apmkit.money import div_round_half_up, from_cents, to_cents
from apmkit.synth import generate


def summary(engine, folder):
    claims = engine.canonical(folder).medical_claims
    cents = to_cents(claims.allowed_amount)
    agg = claims.group_by("claim_type").agg(
        lines=claims.count(),
        members=claims.member_id.nunique(),
        allowed_cents=cents.sum(),
    )
    agg = agg.mutate(per_member=from_cents(div_round_half_up(agg.allowed_cents, agg.members)))
    return engine.to_arrow(agg.order_by("claim_type")).to_pylist()


@pytest.mark.spark
def test_ingest_and_aggregate_agree_between_duckdb_and_spark(duckdb_engine, spark_engine, tmp_path):
    generate(60, tmp_path / "synth", seed=11)
    # Re-export one table to canonical CSV so the CSV reader, conformance and final action run on both engines.
    claims = duckdb_engine.read_parquet(tmp_path / "synth" / "medical_claims.parquet").select(
        # A realistic subset of columns keeps Spark's plan for the conformance step small.
        "claim_id",
        "claim_line_number",
        "claim_type",
        "member_id",
        "claim_from_date",
        "service_date",
        "rendering_npi",
        "billing_tin",
        "facility_ccn",
        "revenue_code",
        "hcpcs_code",
        "ms_drg",
        "dx_1",
        "dx_2",
        "units",
        "allowed_amount",
        "paid_amount",
        "adjustment_type",
        "processed_date",
    )
    (tmp_path / "csv").mkdir()
    duckdb_engine.backend.to_csv(claims, str(tmp_path / "csv" / "medical_claims.csv"))
    ran = {}
    for engine in (duckdb_engine, spark_engine):
        report = ingest(engine, "csv", tmp_path / "csv", tmp_path / f"out-{engine.name}")
        assert report.reconciles and report.totals.quarantined == 0
        ran[engine.name] = (
            report.tables["medical_claims"].loaded,
            summary(engine, tmp_path / f"out-{engine.name}"),
        )
    assert ran["duckdb"] == ran["pyspark"]
    assert ran["duckdb"][0] > 500


@pytest.mark.spark
def test_large_arrow_tables_reach_spark_whole(spark_engine):
    # Above the in-memory limit an Arrow table goes to Spark through Parquet: every row and type arrives.
    import decimal

    import pyarrow as pa

    from apmkit.engines import _SPARK_LOCAL_ROWS

    rows = _SPARK_LOCAL_ROWS + 7
    data = pa.table(
        {
            "member_id": pa.array([f"M{i:07d}" for i in range(rows)]),
            "amount": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(18, 2)),
        }
    )
    table = spark_engine.from_arrow(data)
    got = spark_engine.to_arrow(
        table.aggregate(n=table.count(), total=table.amount.sum(), top=table.member_id.max())
    )
    assert got.to_pylist() == [
        {"n": rows, "total": decimal.Decimal(rows * (rows - 1) // 2) / 100, "top": f"M{rows - 1:07d}"}
    ]
