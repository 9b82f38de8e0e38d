"""``apmkit episodes build`` and ``apmkit episodes price`` end to end on Parquet files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.engines import Engine
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS

from .test_build import claim, covered, stay

PRICING = """
episodes:
  pricing:
    performance_year: PY3
    baseline_years: [2022]
    hospital_weight: "0"
    minimum_hospital_episodes: 0
    high_cost_cap_sd: null
    discount: "0.03"
"""


def test_build_then_price(tmp_path: Path, engine: Engine) -> None:
    claims, enrollment = [], []
    for i in range(4):
        member = f"M{i}"
        year = 2022 if i < 2 else 2023
        claims.append(stay(member, dt.date(year, 3, 1), dt.date(year, 3, 4), "470", "20000.00"))
        claims.append(claim(member, "snf", dt.date(year, 3, 10), "5000.00"))
        enrollment += covered(member, [(year, 3)])
    data = tmp_path / "data"
    engine.write_parquet(engine.from_rows(claims, MEDICAL_CLAIMS), data / "medical_claims.parquet")
    engine.write_parquet(engine.from_rows(enrollment, ENROLLMENT), data / "enrollment.parquet")
    runner = CliRunner()
    built = runner.invoke(
        app,
        [
            "-q",
            "episodes",
            "build",
            "--from",
            str(data),
            "--out",
            str(tmp_path / "ep"),
            "--definitions",
            "cjr",
        ],
    )
    assert built.exit_code == 0, built.output
    episodes = pq.read_table(tmp_path / "ep" / "episodes.parquet").to_pylist()
    assert [e["total_amount"] for e in episodes] == [D("25000.00")] * 4

    contract = tmp_path / "cjr.yaml"
    contract.write_text(PRICING)
    priced = runner.invoke(
        app,
        [
            "-q",
            "episodes",
            "price",
            "--contract",
            str(contract),
            "--baseline",
            str(tmp_path / "ep/episodes.parquet"),
            "--performance",
            str(tmp_path / "ep/episodes.parquet"),
            "--performance-year",
            "2023",
            "--out",
            str(tmp_path / "price"),
        ],
    )
    assert priced.exit_code == 0, priced.output
    (recon,) = pq.read_table(tmp_path / "price" / "hospital_reconciliation.parquet").to_pylist()
    # regional baseline mean $25,000 x (1 - 3%) = $24,250 per episode; 2 PY episodes at $25,000
    # -> NPRA 48,500 - 50,000 = -1,500 (repayment, within the 10% stop-loss)
    assert recon["target_amount"] == D("48500.00")
    assert recon["reconciliation_amount"] == D("-1500.00")
    amounts = pq.read_table(tmp_path / "price" / "episode_amounts.parquet").to_pylist()
    assert [(a["target_price"], a["variance"]) for a in amounts] == [(D("24250.00"), D("-750.00"))] * 2
