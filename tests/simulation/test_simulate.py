"""``apmkit simulate`` end to end: with zero variance it is the run's statement to the cent; with a normal
spread it matches the closed form within sampling error; a seed reproduces it; OUT has one row per entity."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apmkit.contracts import parse_contract
from apmkit.settlement.inputs import EntityInputs
from apmkit.simulation import Assumptions, EntitySetup, MemberPool, RunFigures, simulate
from apmkit.workspace import Workspace
from apmkit.workspace.simulate import SUMMARY_COLUMNS, SimulationRequest, prepare, run_simulation
from apmkit.workspace.simulate.preparation import population_pool

from .conftest import CONTRACT, apmkit


@pytest.fixture(scope="module")
def run_out(population: Path, contract_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "run"
    with Workspace(population) as workspace:
        workspace.run(contract_file, "2025", out=out)
    return out


def test_zero_variance_is_the_run_statement_to_the_cent(
    population: Path, contract_file: Path, run_out: Path, tmp_path: Path
) -> None:
    result = run_simulation(
        SimulationRequest(population, contract_file, "2025", 3, 1, Assumptions(resample=False))
    )
    statement = pd.read_parquet(run_out / "summary.parquet").set_index("entity_id")
    assert len(result.outcomes) == len(statement) >= 2
    for outcome in result.outcomes:
        expected = statement.loc[outcome.entity_id]
        for component in ("shared_savings", "sequestration", "infrastructure"):
            cents = outcome.settlement.components[component].amount
            assert (cents == int(Decimal(str(expected[f"amount_{component}"])) * 100)).all(), component
        assert (outcome.settlement.net == int(Decimal(str(expected["net_settlement"])) * 100)).all()
        # the inputs themselves are the run's: benchmark and completed expenditure, exactly
        assert set(outcome.inputs.benchmark.tolist()) == {Decimal(str(expected["benchmark"]))}
        assert set(outcome.inputs.expenditure.tolist()) == {Decimal(str(expected["expenditure"]))}
    assert any(o.settlement.components["shared_savings"].amount[0] != 0 for o in result.outcomes)


def test_a_seed_reproduces_the_simulation(population: Path, contract_file: Path, tmp_path: Path) -> None:
    spread = Assumptions(trend_sd=0.03, panel_sd=0.05, churn=0.1, coding_sd=0.01)
    first = run_simulation(SimulationRequest(population, contract_file, "2025", 300, 7, spread))
    again = simulate(
        first.prepared.contract, first.prepared.setups, scenarios=300, seed=7, assumptions=spread
    )
    other = simulate(
        first.prepared.contract, first.prepared.setups, scenarios=300, seed=8, assumptions=spread
    )
    for a, b, c in zip(first.outcomes, again, other, strict=True):
        assert (a.settlement.net == b.settlement.net).all()
        assert (a.totals.population == b.totals.population).all()
        assert not (a.totals.truncated_cents == c.totals.truncated_cents).all()


def test_members_outside_the_entities_come_in_member_order(
    population: Path, contract_file: Path, run_out: Path
) -> None:
    """Churn and the MSR population draw the members no entity holds by position: they must come in member order,
    not in the engine's join order (which differs between processes), or a seed would not reproduce the draws."""
    years = pd.read_parquet(run_out / "member_years.parquet")
    held = pd.read_parquet(run_out / "member_detail.parquet")["member_id"].astype(str)
    years["member_id"] = years["member_id"].astype(str)
    unattributed = years[(years["year"] == 2025) & ~years["member_id"].isin(held)]
    order = ["member_id", "member_months", "truncated_cents", "cost_cents"]
    expected = unattributed.sort_values(order)["truncated_cents"].astype("int64").to_numpy()
    with Workspace(population) as workspace:
        prepared = prepare(workspace, SimulationRequest(population, contract_file, "2025", 1, 1))
    whole = population_pool(prepared)  # each entity's members, then the unattributed ones
    assert whole.size > expected.size > 1
    assert (whole.truncated_cents[-expected.size :] == expected).all()


def _pool(values: np.ndarray) -> MemberPool:
    return MemberPool.from_columns(months=np.full(values.size, 12, np.int64), truncated_cents=values)


def _normal_case(sided: str = "one_sided", msr: str = "0.01") -> tuple[object, EntitySetup, Decimal]:
    contract = parse_contract(
        f"""
id: closed_form
name: closed form
periods: {{PY1: {{start: 2025-01-01, end: 2025-12-31}}}}
components:
  - id: ss
    type: shared_savings
    terms:
      sided: {sided}
      minimum_savings_rate: {{kind: fixed, rate: {msr}}}
      max_sharing_rate: 1
      loss_rate: {{method: fixed, rate: 1}}
""",
        source="closed.yaml",
    )
    values = np.random.default_rng(3).integers(100_000, 2_000_000, 4000).astype(np.int64)
    total = Decimal(int(values.sum())).scaleb(-2)
    entity = EntityInputs(
        entity_id="E",
        source="closed",
        benchmark=total,
        expenditure=total,
        population=4000,
        member_months=48000,
    )
    run = RunFigures(total, total, 48000, int(values.sum()), Decimal(1), False)
    return contract, EntitySetup(fixed=entity, pool=_pool(values), run=run), total


def test_normal_trend_matches_the_closed_form() -> None:
    """Expenditure E = E0 (1 + t), t ~ N(0, s), benchmark B = E0, MSR 0, rate 1, one-sided: the net is
    B − E = −t E0 (first dollar) only when −t ≥ m, else 0: E[net] = E0 s φ(m/s) and P(clear) = 1 − Φ(m/s)."""
    contract, setup, total = _normal_case()
    s, m, n = 0.02, 0.01, 20_000
    outcome = simulate(
        contract, [setup], scenarios=n, seed=11, assumptions=Assumptions(resample=False, trend_sd=s)
    )[0]
    e0 = float(total)
    phi = math.exp(-((m / s) ** 2) / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc((m / s) / math.sqrt(2))  # 1 − Φ(m/s)
    expected = e0 * s * phi
    # second moment of X·1{X ≥ m} for X ~ N(0, s): s² [(m/s) φ + (1 − Φ)]
    second = e0**2 * s**2 * ((m / s) * phi + tail)
    standard_error = math.sqrt(second - expected**2) / math.sqrt(n)
    got = float(outcome.settlement.net.mean()) / 100
    assert abs(got - expected) < 4 * standard_error
    cleared = float(outcome.settlement.cleared_msr.mean())  # type: ignore[union-attr]
    assert abs(cleared - tail) < 4 * math.sqrt(tail * (1 - tail) / n)


def test_bootstrap_total_is_normal_with_the_pool_variance() -> None:
    """A bootstrap of N member-years has mean N μ and variance N σ² (the pool's own, ddof 0): with B = N μ,
    rate 1 and MSR 0, two-sided, E[net] = 0 and E[|net|] = √N σ √(2/π)."""
    contract, setup, _total = _normal_case(sided="two_sided", msr="0")
    n = 8000
    outcome = simulate(contract, [setup], scenarios=n, seed=3, assumptions=Assumptions())[0]
    values = setup.pool.truncated_cents / 100
    sigma = math.sqrt(values.size) * float(values.std())
    net = outcome.settlement.net / 100
    assert abs(float(net.mean())) < 4 * sigma / math.sqrt(n)
    mean_abs = sigma * math.sqrt(2 / math.pi)
    assert abs(float(np.abs(net).mean()) - mean_abs) < 4 * sigma * math.sqrt(1 - 2 / math.pi) / math.sqrt(n)


def test_cli_writes_one_summary_row_per_entity(population: Path, contract_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    done = apmkit(
        *(
            "simulate",
            "--contract",
            contract_file,
            "--from",
            population,
            "--period",
            2025,
            "--scenarios",
            500,
        ),
        *("--seed", 1, "--out", out, "--trend-sd", 0.03, "--churn", 0.1, "--care-management-pmpm", 4.25),
    )
    assert done.returncode == 0, done.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["entity_id"].is_unique and len(summary) >= 2
    for column in ("expected_net", "p05_net", "p95_net", "prob_owe", "cvar95", "prob_clear_msr"):
        assert summary[column].notna().all()
    assert (summary["p05_net"] <= summary["p95_net"]).all()
    assert (summary["cvar95"] <= summary["p05_net"]).all()
    scenarios = pd.read_parquet(out / "scenarios.parquet")
    assert len(scenarios) == 500 * len(summary)
    # the margin is the net less member months × the care-management PMPM
    cost = (scenarios["member_months"].map(Decimal) * Decimal("4.25")).map(
        lambda v: v.quantize(Decimal("0.01"))
    )
    assert (scenarios["care_management_cost"] == cost).all()
    assert (scenarios["margin"] == scenarios["net_settlement"] - scenarios["care_management_cost"]).all()
    spec = json.loads((out / "charts" / "net_distribution.vl.json").read_text())
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert json.loads((out / "simulation.json").read_text())["seed"] == 1


def test_cli_refuses_a_contract_it_cannot_simulate(population: Path, tmp_path: Path) -> None:
    path = tmp_path / "bundle.yaml"
    path.write_text(
        CONTRACT.split("components:")[0]
        + "components:\n  - {id: bundle, type: prospective_bundle, bundle_price: 1000}\n",
        encoding="utf-8",
    )
    out = tmp_path / "never"
    done = apmkit("simulate", "--contract", path, "--from", population, "--period", 2025, "--out", out)
    assert done.returncode == 2
    assert "prospective_bundle" in done.stderr and "not simulated" in done.stderr
    assert not out.exists()


def test_cli_compare_and_sensitivity(population: Path, contract_file: Path, tmp_path: Path) -> None:
    richer = tmp_path / "richer.yaml"
    richer.write_text(
        CONTRACT.replace("id: sim_test", "id: sim_richer").replace(
            "max_sharing_rate: 0.55", "max_sharing_rate: 0.75"
        ),
        encoding="utf-8",
    )
    common = ["--from", population, "--period", 2025, "--scenarios", 300, "--assume", "trend_sd=0.03"]
    done = apmkit("simulate", "compare", contract_file, richer, *common, "--out", tmp_path / "cmp")
    assert done.returncode == 0, done.stderr
    compared = pd.read_parquet(tmp_path / "cmp" / "compare.parquet")
    assert set(compared["contract"]) == {"sim_test", "sim_richer"}
    # the same scenarios under a higher sharing rate and the same loss rate: never worse in expectation
    mean = compared.set_index(["contract", "entity_id"])["expected_net"]
    for entity_id in compared["entity_id"].unique():
        assert mean[("sim_richer", entity_id)] >= mean[("sim_test", entity_id)]
    appetite = pd.read_parquet(tmp_path / "cmp" / "appetite.parquet")
    assert set(appetite["risk_weight"]) == {i / 10 for i in range(11)}
    done = apmkit(
        *("simulate", "sensitivity", "--contract", contract_file, *common),
        *(
            "--vary",
            "term:shared_savings.terms.max_sharing_rate=0.4,0.7",
            "--vary",
            "assumption:trend=-0.02,0.02",
        ),
        *("--named", "recession:trend=0.05,churn=0.2", "--out", tmp_path / "tornado"),
    )
    assert done.returncode == 0, done.stderr
    tornado = pd.read_parquet(tmp_path / "tornado" / "sensitivity.parquet")
    assert set(tornado["parameter"]) == {"term shared_savings.terms.max_sharing_rate", "assumption trend"}
    assert (tornado["swing"] >= 0).all()
    assert json.loads((tmp_path / "tornado" / "charts" / "tornado.vl.json").read_text())["mark"] == "bar"
    named = pd.read_parquet(tmp_path / "tornado" / "named_scenarios.parquet")
    assert set(named["scenario"]) == {"base", "recession"}
    # 5 % more spending leaves less to share
    side = named.set_index(["scenario", "entity_id"])["expected_net"]
    assert all(side[("recession", e)] <= side[("base", e)] for e in named["entity_id"].unique())


def test_cli_msr(population: Path, contract_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "msr"
    done = apmkit(
        *("simulate", "msr", "--contract", contract_file, "--from", population, "--period", 2025),
        *("--scenarios", 300, "--panel-sizes", "500,5000", "--out", out),
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(out / "msr.parquet")
    assert list(table["panel_size"]) == [500, 5000]
    assert table.loc[1, "published_msr"] == 0.039
    assert (table["simulated_msr"].diff().dropna() < 0).all()  # larger panels need a smaller MSR


CELLS_CONTRACT = """
id: sim_cells
name: capitation by risk tier
attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}
risk_adjustment: {model: V28, payment_year: 2025}
target:
  benchmark_per_person_year: 11000
  risk_tiers:
    - {min_score: 0, cell: low}
    - {min_score: 1.2, cell: high}
definitions:
  cost_basis: allowed_amount
  eligible_months: enrolled
  runout_months: 3
components:
  - id: capitation
    type: capitation
    pmpm_by_cell: {low: 610.25, high: 1290.10}
    risk_adjusted: true
    stop_loss: {attachment_point: 40000, reimbursement_rate: 0.8}
  - id: fees
    type: care_management_fee
    pbpm_by_tier: {low: 10.5, high: 45}
  - id: corridor
    type: risk_corridor
    gain_bands:
      - {lower: 0, upper: 0.03, entity_share: 0}
      - {lower: 0.03, entity_share: 0.5}
"""


def test_zero_variance_with_cells_scores_and_stop_loss(population: Path, tmp_path: Path) -> None:
    """Risk tiers from V28 scores, a risk-adjusted capitation by cell with stop-loss, tiered fees and a corridor:
    with no spread every component equals the run's statement to the cent."""
    path = tmp_path / "cells.yaml"
    path.write_text(CELLS_CONTRACT, encoding="utf-8")
    with Workspace(population) as workspace:
        workspace.run(path, "2025", out=tmp_path / "run", formats=())
    statement = pd.read_parquet(tmp_path / "run" / "summary.parquet").set_index("entity_id")
    result = run_simulation(SimulationRequest(population, path, "2025", 2, 1, Assumptions(resample=False)))
    assert result.outcomes
    for outcome in result.outcomes:
        expected = statement.loc[outcome.entity_id]
        for component in ("capitation", "fees", "corridor"):
            cents = outcome.settlement.components[component].amount
            assert (cents == int(Decimal(str(expected[f"amount_{component}"])) * 100)).all(), component
        assert set(outcome.inputs.months_by_cell) == {"low", "high"}
    assert any(o.settlement.components["capitation"].amount[0] != 0 for o in result.outcomes)
    # with resampling and churn, members from outside the entity bring their cells too: every scored member has a
    # cell (the lowest tier starts at 0) and unscored members have none, as on the claims path
    spread = run_simulation(SimulationRequest(population, path, "2025", 50, 2, Assumptions(churn=0.1)))
    for outcome in spread.outcomes:
        cells = sum(outcome.inputs.months_by_cell.values())
        assert (cells == outcome.totals.scored_months).all()
        assert (cells <= outcome.totals.member_months).all()


def test_cli_roi_and_cashflow(population: Path, contract_file: Path, tmp_path: Path) -> None:
    common = ["--contract", contract_file, "--from", population, "--period", 2025, "--scenarios", 200]
    done = apmkit(
        *("simulate", "roi", *common, "--assume", "care_management_pmpm=20"),
        *("--initiative", "admissions:0.02:3.5", "--out", tmp_path / "roi"),
    )
    assert done.returncode == 0, done.stderr
    even = pd.read_parquet(tmp_path / "roi" / "break_even.parquet")
    assert even["entity_id"].is_unique
    initiatives = pd.read_parquet(tmp_path / "roi" / "initiatives.parquet")
    assert set(initiatives["initiative"]) == {"admissions"}
    assert (initiatives["expected_cost"] > 0).all()
    done = apmkit("simulate", "cashflow", *common, "--settlement-lag-months", 8, "--out", tmp_path / "cash")
    assert done.returncode == 0, done.stderr
    flows = pd.read_parquet(tmp_path / "cash" / "cashflow.parquet")
    settlement = flows[flows["item"].str.startswith("balance at settlement")]
    assert set(pd.to_datetime(settlement["month"]).dt.strftime("%Y-%m")) == {"2026-08"}
    # without --settlement-lag-months the command refuses (the timing is in the agreement)
    refused = apmkit("simulate", "cashflow", *common, "--out", tmp_path / "never")
    assert refused.returncode == 2 and not (tmp_path / "never").exists()


def test_cashflow_ffs_receipts_are_the_claims_paid_to_the_entity_tins(
    population: Path, contract_file: Path, run_out: Path
) -> None:
    """Fee-for-service receipts: an independent pandas sum of ``paid_amount`` over the claims Parquet, lines with a
    2025 thru date billed under the entity's TIN (the contract attributes at TIN level: the entity is the TIN),
    by the month of ``processed_date`` (the thru date when empty) — exact cents; the contract's flows unchanged."""
    from apmkit.workspace.simulate import run_cashflow

    request = SimulationRequest(population, contract_file, "2025", 20, 3)
    rows = pd.DataFrame(run_cashflow(request, settlement_lag_months=8).tables["cashflow"])
    claims = pd.read_parquet(population / "medical_claims.parquet")
    thru = pd.to_datetime(claims["claim_thru_date"])
    paid_on = pd.to_datetime(claims["processed_date"]).fillna(thru)
    entities = set(pd.read_parquet(run_out / "summary.parquet")["entity_id"].astype(str))
    mine = claims[(thru.dt.year == 2025) & claims["billing_tin"].astype(str).isin(entities)].copy()
    mine["cents"] = [int(Decimal(str(v)) * 100) for v in mine["paid_amount"]]
    mine["month"] = paid_on[mine.index].dt.strftime("%Y-%m")
    expected = mine.groupby(["billing_tin", "month"])["cents"].sum()
    assert expected.sum() > 0
    ffs = rows[rows["item"] == "fee-for-service receipts"]
    got = {(str(r.entity_id), r.month.strftime("%Y-%m")): int(r.ffs_receipts * 100) for r in ffs.itertuples()}
    assert got == {(str(k[0]), k[1]): int(v) for k, v in expected.items()}
    assert ffs["expected"].isna().all()
    # the cumulative position carries the receipts so far; the contract's flows stay as they were (no FFS in them)
    position = rows[rows["item"] == "cumulative cash position"]
    for entity_id, group in position.groupby("entity_id"):
        last = group.sort_values("month").iloc[-1]
        assert int(last["ffs_receipts"] * 100) == int(expected[str(entity_id)].sum())
    flows = rows[~rows["item"].isin(["cumulative cash position", "fee-for-service receipts"])]
    assert flows["ffs_receipts"].isna().all()


def test_cashflow_without_an_attribution_section_leaves_ffs_out_and_says_so(
    population: Path, tmp_path: Path
) -> None:
    """A contract with no attribution section settles every member under its default entity, which has no TINs:
    the cash flow keeps the contract's flows and names the receipts it left out, instead of refusing."""
    from apmkit.workspace.simulate import run_cashflow

    from .conftest import CONTRACT

    text = CONTRACT.replace(
        "attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}\n",
        "",
    )
    assert "attribution:" not in text
    contract = tmp_path / "no_attribution.yaml"
    contract.write_text(text, encoding="utf-8")
    result = run_cashflow(SimulationRequest(population, contract, "2025", 20, 3), settlement_lag_months=8)
    rows = pd.DataFrame(result.tables["cashflow"])
    assert not rows.empty and "fee-for-service receipts" not in set(rows["item"])
    assert rows["ffs_receipts"].isna().all()
    assert any("fee-for-service receipts left out" in note for note in result.notes)
