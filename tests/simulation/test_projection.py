"""Interim projections: chain-ladder completion factors against independent pandas volume-weighted averages
(chainladder's published RAA sample and a triangle with a known payment pattern), the year-end projection against
hand arithmetic, and ``apmkit project`` end to end against an independent sum of the claims known at the date."""

from __future__ import annotations

import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apmkit.contracts import parse_contract
from apmkit.settlement.inputs import EntityInputs
from apmkit.simulation.projection import EntityToDate, chain_ladder, month_ends, project_entity

from .conftest import apmkit


def raa() -> pd.DataFrame:
    import chainladder as cl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl.load_sample("raa").to_frame(origin_as_datetime=False)


def test_completion_factors_of_the_raa_sample_are_volume_weighted_link_ratios() -> None:
    """chainladder's RAA sample (Reinsurance Association of America, 10 accident years): each age-to-age factor is
    Σ C(i, j+1) / Σ C(i, j) over the accident years with both ages — computed here with pandas alone."""
    cumulative = raa()
    ages = list(cumulative.columns)
    expected = []
    for j in range(len(ages) - 1):
        both = cumulative[[ages[j], ages[j + 1]]].dropna()
        expected.append(both[ages[j + 1]].sum() / both[ages[j]].sum())
    incremental = cumulative.diff(axis=1).fillna(cumulative)
    rows = [
        (date(int(str(origin)[:4]), 1, 1), lag, float(incremental.loc[origin, age]))
        for origin in incremental.index
        for lag, age in enumerate(ages)
        if pd.notna(cumulative.loc[origin, age])
    ]
    development = chain_ladder(rows, grain="Y")
    assert development.ages == tuple(range(1, len(ages) + 1))
    assert development.ldf[:-1] == pytest.approx(expected, rel=1e-12)
    # the published age-to-age factors of the RAA triangle (Mack 1994, "Measuring the variability of chain ladder
    # reserve estimates"; the same figures in the chainladder and R ChainLadder examples), to three decimals
    published = [2.999, 1.624, 1.271, 1.172, 1.113, 1.042, 1.033, 1.017, 1.009]
    assert [round(f, 3) for f in development.ldf[:-1]] == published
    for k in range(len(ages)):
        assert development.cdf[k] == pytest.approx(float(np.prod(expected[k:])), rel=1e-12)


def test_a_known_payment_pattern_gives_its_completion_factors() -> None:
    """Every month incurs $1,000, paid 60 % in the month, 30 % a month later, 10 % two months later."""
    rows = []
    for index in range(12):
        origin = date(2024 + index // 12, index % 12 + 1, 1)
        for lag, share in enumerate((600.0, 300.0, 100.0)):
            if index + lag < 12:  # known by the end of December
                rows.append((origin, lag, share))
    development = chain_ladder(rows, grain="M")
    assert development.cdf_at(1) == pytest.approx(1 / 0.6)
    assert development.cdf_at(2) == pytest.approx(1 / 0.9)
    assert development.cdf_at(3) == pytest.approx(1.0)
    assert development.cdf_at(10) == 1.0


def test_year_end_projection_from_its_words() -> None:
    """Six months of 1,000 members at $800 PMPM, paid 60/30/10 over three months; benchmark $850 PMPM; one-sided,
    first dollar, MSR 0, 50 %: year-end spending 12 × 1,000 × 800, net 0.5 × 12,000 × (850 − 800) = $300,000."""
    rows = [
        (date(2025, m, 1), lag, float(v))
        for m in range(1, 13)
        for lag, v in enumerate((480_000.0, 240_000.0, 80_000.0))
        if m + lag <= 6 or m <= 3  # the older months' full pattern plus what June knows
    ]
    development = chain_ladder(rows, grain="M")
    paid = {1: 800_000, 2: 800_000, 3: 800_000, 4: 800_000, 5: 720_000, 6: 480_000}  # dollars known by June
    contract = parse_contract(
        """
id: p
name: projection
periods: {PY1: {start: 2025-01-01, end: 2025-12-31}}
components:
  - id: ss
    type: shared_savings
    terms: {sided: one_sided, minimum_savings_rate: {kind: fixed, rate: 0}, max_sharing_rate: 0.5}
""",
        source="p.yaml",
    )
    entity = EntityToDate(
        fixed=EntityInputs(entity_id="E", source="t"),
        months=tuple(date(2025, m, 1) for m in range(1, 7)),
        paid_cents=tuple(paid[m] * 100 for m in range(1, 7)),
        member_months=(1000,) * 6,
        population=1000,
        benchmark_pmpm=Decimal(850),
    )
    row = project_entity(
        contract,
        entity,
        development,
        as_of=date(2025, 6, 30),
        period_end=date(2025, 12, 31),
        scenarios=200,
        seed=1,
    )
    assert row["completed_to_date"] == Decimal("4800000.00")
    assert row["projected_expenditure"] == Decimal("9600000.00")
    assert row["projected_benchmark"] == Decimal("10200000.00")
    assert row["projected_net"] == Decimal("300000.00")
    assert row["projected_net_p05"] == row["projected_net_p95"] == Decimal("300000.00")


def test_line_charts_put_iso_dates_on_a_time_axis() -> None:
    """The projection's movement chart plots as-of dates (ISO text): a temporal x axis, as the cash position's
    months; the MSR chart's panel sizes stay quantitative."""
    from apmkit.simulation.charts import line_chart

    movement = [{"as_of": "2025-01-31", "projected_net": Decimal("12.5"), "entity_id": "A"}]
    spec = line_chart(movement, "as_of", "projected_net", "entity_id", "movement")
    assert spec["encoding"]["x"] == {"field": "as_of", "type": "temporal"}
    assert spec["data"]["values"] == [{"as_of": "2025-01-31", "projected_net": 12.5, "entity_id": "A"}]
    month = line_chart([{"month": "2025-02-01", "expected": Decimal(1)}], "month", "expected", None, "cash")
    assert month["encoding"]["x"]["type"] == "temporal"
    sizes = line_chart(
        [{"panel_size": 500, "msr": 0.03, "source": "CMS"}], "panel_size", "msr", "source", "msr"
    )
    assert sizes["encoding"]["x"]["type"] == "quantitative"


def test_month_ends() -> None:
    assert month_ends(date(2025, 1, 1), date(2025, 3, 15)) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 15),
    ]


def test_cli_project_pays_to_date_what_the_claims_say(
    population: Path, contract_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "projection"
    done = apmkit(
        *("project", "--contract", contract_file, "--from", population, "--as-of", "2025-06-30"),
        *("--scenarios", 200, "--out", out),
    )
    assert done.returncode == 0, done.stderr
    projection = pd.read_parquet(out / "projection.parquet")
    movement = pd.read_parquet(out / "movement.parquet")
    assert len(movement) == 6 * len(projection)
    # independent: allowed amounts of non-void medical lines of the entity's members, served January-June 2025 and
    # processed by 30 June 2025 (a line without a processed date counts in its service month)
    claims = pd.read_parquet(population / "medical_claims.parquet")
    claims = claims[claims["adjustment_type"].fillna("original") != "void"]
    day = pd.to_datetime(claims["service_date"].fillna(claims["claim_from_date"]))
    processed = pd.to_datetime(claims["processed_date"]).fillna(day)
    known = claims[(day >= "2025-01-01") & (day <= "2025-06-30") & (processed <= "2025-06-30")]
    run = tmp_path / "run"
    from apmkit.workspace import Workspace

    with Workspace(population) as workspace:
        workspace.run(contract_file, "2025", out=run, formats=())
    members = pd.read_parquet(run / "member_detail.parquet")[["entity_id", "member_id"]]
    joined = known.merge(members, on="member_id")
    cents = joined["allowed_amount"].map(lambda v: int((Decimal(str(v)) * 100).to_integral_value()))
    expected = cents.groupby(joined["entity_id"]).sum()
    for _, row in projection.iterrows():
        assert int(row["paid_to_date"] * 100) == expected[row["entity_id"]]
        assert row["completed_to_date"] >= row["paid_to_date"]
        assert row["projected_net_p05"] <= row["projected_net"] <= row["projected_net_p95"]
    completion = pd.read_parquet(out / "completion.parquet")
    assert (completion["cdf"] >= 1 - 1e-9).all() and completion["age"].is_monotonic_increasing
