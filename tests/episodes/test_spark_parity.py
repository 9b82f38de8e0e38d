"""Engine parity: the episode build and the MSSP per-member truncation give the same answer on PySpark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from apmkit.benchmark.expenditure import eligible_member_months, member_year_expenditure
from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.definitions import cjr_definition
from apmkit.episodes.price import price_episodes
from apmkit.episodes.spec import EpisodeBuildSpec, TargetPriceSpec
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS


@pytest.mark.spark
def test_episodes_and_truncation_on_spark(spark_engine: Engine) -> None:
    engine = spark_engine
    enrollment = engine.from_rows(
        [
            {
                "member_id": "O1",
                "month": dt.date(2023, m, 1),
                "payer": "cms",
                "product": "ffs",
                "part_a": True,
                "part_b": True,
                "medicare_advantage": False,
            }
            for m in range(1, 13)
        ],
        ENROLLMENT,
    )
    stays = [
        (dt.date(2023, 1, 10), dt.date(2023, 1, 12), "10000.00"),
        (dt.date(2023, 2, 15), dt.date(2023, 2, 17), "11000.00"),
        (dt.date(2023, 5, 1), dt.date(2023, 5, 3), "12000.00"),
    ]
    claims = engine.from_rows(
        [
            {
                "claim_id": f"c{i}",
                "claim_line_number": 1,
                "claim_type": "inpatient",
                "member_id": "O1",
                "claim_from_date": a,
                "service_date": a,
                "admission_date": a,
                "discharge_date": d,
                "ms_drg": "470",
                "paid_amount": D(p),
                "facility_ccn": "010001",
            }
            for i, (a, d, p) in enumerate(stays)
        ],
        MEDICAL_CLAIMS,
    )
    built = build_episodes(
        {"medical_claims": claims, "enrollment": enrollment},
        EpisodeBuildSpec(definitions=(cjr_definition(),)),
        fetch=engine.rows,
        materialize=engine.materialize,
    )
    rows = sorted(engine.to_arrow(built.episodes).to_pylist(), key=lambda r: r["anchor_start"])
    # Same hand-worked answer as tests/episodes/test_build.py::test_overlap_chain_is_resolved_greedily
    assert [r["status"] for r in rows] == ["kept", "overlap_dropped", "kept"]
    assert rows[0]["total_amount"] == D("21000.00")
    assert rows[0]["window_end"] == dt.date(2023, 4, 11)

    # Pricing on the same engine: baseline = the two kept 2023 episodes ($21,000 and $12,000), 100%
    # regional, no cap: target (21,000 + 12,000) / 2 x 0.97 = 16,005; NPRA 2 x 16,005 - 33,000 = -990.
    pricing = TargetPriceSpec(
        performance_year="T",
        baseline_years=(2023,),
        hospital_weight=D(0),
        minimum_hospital_episodes=0,
        high_cost_cap_sd=None,
    )
    priced = price_episodes(built.episodes, built.episodes, pricing, fetch=engine.rows)
    (price,) = priced.target_prices.to_pylist()
    assert price["target_price"] == D("16005.00")
    (recon,) = priced.hospital_reconciliation.to_pylist()
    assert recon["reconciliation_amount"] == D("-990.00")

    members = engine.from_rows([{"member_id": "O1", "birth_date": dt.date(1950, 6, 15)}], MEMBERS)
    months = eligible_member_months(enrollment, members, [2023])
    result = member_year_expenditure(
        claims, months, truncation_thresholds={2023: {"aged_non_dual": D(30000)}}
    )
    (row,) = engine.to_arrow(result).to_pylist()
    assert (row["expenditure_cents"], row["truncated_cents"]) == (3300000, 3000000)
