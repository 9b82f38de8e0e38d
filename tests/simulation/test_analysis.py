"""Sensitivity, comparison, break-even, initiative ROI and cash flow, checked against closed forms written from
the contract's words (no spread: every scenario is the same arithmetic a reader can do by hand)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from apmkit.contracts import parse_contract
from apmkit.errors import ConfigurationError
from apmkit.settlement.inputs import EntityInputs
from apmkit.simulation import Assumptions, EntitySetup, MemberPool, RunFigures, Simulator
from apmkit.simulation.analysis import (
    Initiative,
    Variation,
    break_even,
    cash_flow,
    edit_term,
    frontier,
    initiative_roi,
    tornado,
)

CENT = Decimal("0.01")

ONE_SIDED = """
id: one_sided
name: one-sided first dollar
periods: {PY1: {start: 2025-01-01, end: 2025-12-31}}
components:
  - id: ss
    type: shared_savings
    terms:
      sided: one_sided
      minimum_savings_rate: {kind: fixed, rate: 0}
      max_sharing_rate: 0.5
"""


def entity(members: int = 1000, monthly_cents: int = 100_000) -> tuple[EntitySetup, Decimal]:
    """``members`` members of 12 months, each spending ``monthly_cents`` a month; benchmark = expenditure."""
    pool = MemberPool.from_columns(
        months=np.full(members, 12, np.int64), truncated_cents=np.full(members, 12 * monthly_cents, np.int64)
    )
    total = Decimal(members * 12 * monthly_cents).scaleb(-2)
    fixed = EntityInputs(
        entity_id="E",
        source="t",
        benchmark=total,
        expenditure=total,
        population=members,
        member_months=members * 12,
    )
    return EntitySetup(
        fixed=fixed,
        pool=pool,
        run=RunFigures(total, total, members * 12, int(total * 100), Decimal(1), False),
    ), total


def test_edit_term_revalidates_the_component() -> None:
    contract = parse_contract(ONE_SIDED, source="c.yaml")
    edited = edit_term(contract, "ss.terms.max_sharing_rate", "0.7")
    assert edited.components[0].terms.max_sharing_rate == Decimal("0.7")  # type: ignore[union-attr]
    assert contract.components[0].terms.max_sharing_rate == Decimal("0.5")  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError, match=r"term 'ss\.terms\.max_sharing_rate' = 1\.5"):
        edit_term(contract, "ss.terms.max_sharing_rate", "1.5")
    with pytest.raises(ConfigurationError, match="name a component"):
        edit_term(contract, "nope.rate", "1")


def test_tornado_moves_the_expected_net_as_the_terms_say() -> None:
    """Spending 4 % below the benchmark (cost_reduction 0.04): net = rate × 4 % × B, so the rows read
    0.3 × 0.04 × B and 0.8 × 0.04 × B; a trend of ±1 % moves savings to 3 % and 5 % of B."""
    setup, total = entity()
    contract = parse_contract(ONE_SIDED, source="c.yaml")
    base = Assumptions(resample=False, cost_reduction=0.04)
    rows = tornado(
        Simulator([setup], scenarios=3, seed=1),
        contract,
        base,
        [
            Variation.parse("term:ss.terms.max_sharing_rate=0.3,0.8"),
            Variation.parse("assumption:trend=-0.01,0.01"),
        ],
    )
    by = {r["parameter"]: r for r in rows}
    rate = by["term ss.terms.max_sharing_rate"]
    assert rate["expected_net_low"] == (Decimal("0.3") * Decimal("0.04") * total).quantize(
        CENT, ROUND_HALF_UP
    )
    assert rate["expected_net_high"] == (Decimal("0.8") * Decimal("0.04") * total).quantize(
        CENT, ROUND_HALF_UP
    )
    trend = by["assumption trend"]
    # spending factor (1 + t)(1 − 0.04): t = −1 % → 0.9504, t = +1 % → 0.9696
    assert trend["expected_net_low"] == (Decimal("0.5") * (1 - Decimal("0.9504")) * total).quantize(CENT)
    assert trend["expected_net_high"] == (Decimal("0.5") * (1 - Decimal("0.9696")) * total).quantize(CENT)
    assert rows[0]["swing"] >= rows[1]["swing"]


def test_frontier_and_risk_appetite() -> None:
    rows = [
        {"contract": "safe", "entity_id": "E", "expected_net": Decimal(100), "cvar95": Decimal(50)},
        {"contract": "bold", "entity_id": "E", "expected_net": Decimal(300), "cvar95": Decimal(-200)},
        {"contract": "worse", "entity_id": "E", "expected_net": Decimal(90), "cvar95": Decimal(40)},
    ]
    appetite = frontier(rows)
    assert [r["on_frontier"] for r in rows] == [True, True, False]
    # score(w) = (1 − w) E + w CVaR: bold wins while 300 − 500 w > 100 − 50 w, i.e. w < 200/450 = 0.444
    best = {r["risk_weight"]: r["best_contract"] for r in appetite}
    assert best[0.0] == "bold" and best[0.4] == "bold"
    assert best[0.5] == "safe" and best[1.0] == "safe"


def test_break_even_is_the_cost_over_the_shared_savings_rate() -> None:
    """Margin(r) = 0.5 × r × B − cost, cost = $20 PMPM × member months: break-even r = cost / (0.5 B)."""
    setup, total = entity()
    contract = parse_contract(ONE_SIDED, source="c.yaml")
    assumptions = Assumptions(resample=False, care_management_pmpm=Decimal(20))
    rows = break_even(Simulator([setup], scenarios=2, seed=1), contract, assumptions)
    expected = float(Decimal(20) * 12_000 / (Decimal("0.5") * total))
    assert rows[0]["break_even_reduction"] == pytest.approx(expected, abs=2e-4)


def test_initiative_roi_from_its_words() -> None:
    """An initiative cutting spending 3 % at $5 PMPM: gain = 0.5 × 3 % × B, cost = 5 × 12,000 months."""
    setup, total = entity()
    contract = parse_contract(ONE_SIDED, source="c.yaml")
    rows = initiative_roi(
        Simulator([setup], scenarios=2, seed=1),
        contract,
        Assumptions(resample=False),
        [Initiative.parse("outreach:0.03:5")],
    )
    gain = (Decimal("0.5") * Decimal("0.03") * total).quantize(CENT)
    cost = Decimal(5 * 12_000)
    assert rows[0]["expected_net_with"] - rows[0]["expected_net_without"] == gain
    assert rows[0]["expected_cost"] == cost
    assert rows[0]["expected_gain_after_cost"] == gain - cost
    assert rows[0]["roi"] == pytest.approx(float((gain - cost) / cost))
    with pytest.raises(ConfigurationError, match="--initiative"):
        Initiative.parse("no numbers")


def test_cash_flow_adds_up_to_the_net_and_lands_in_the_settlement_month() -> None:
    contract = parse_contract(
        ONE_SIDED
        + """
  - id: interim
    type: interim_payments
    schedule: quarterly
    share_of_expected: 0.5
  - id: infra
    type: infrastructure_payment
    pbpm: 2
""",
        source="c.yaml",
    )
    setup, total = entity()
    assumptions = Assumptions(resample=False, cost_reduction=0.05, care_management_pmpm=Decimal(3))
    outcomes = Simulator([setup], scenarios=2, seed=1).run(contract, assumptions)
    rows = cash_flow(contract, date(2025, 1, 1), outcomes, settlement_lag_months=9)
    flows = [r for r in rows if r["item"] != "cumulative cash position"]
    net = Decimal("0.5") * Decimal("0.05") * total + 2 * Decimal(12_000)
    cost = Decimal(3 * 12_000)
    assert sum(r["expected"] for r in flows) == net - cost
    settlement = [r for r in flows if r["item"].startswith("balance at settlement")]
    assert settlement[0]["month"] == date(2026, 9, 1)
    # interim: half of the expected shared savings, in four quarterly instalments (Jan, Apr, Jul, Oct)
    interim = [r for r in flows if r["item"].startswith("interim")]
    assert [r["month"].month for r in interim] == [1, 4, 7, 10]
    assert sum(r["expected"] for r in interim) == (Decimal("0.5") * Decimal("0.5") * Decimal("0.05") * total)
    final = [r for r in rows if r["item"] == "cumulative cash position"][-1]
    assert final["expected"] == net - cost
    # fee-for-service receipts (cents by month offset) ride in their own column: the contract's rows and their
    # numbers stay as they were; the position carries the receipts so far and runs on to their last month
    entity_id = outcomes[0].entity_id
    receipts = {entity_id: {0: 12_345, 3: -100, 25: 500}}
    with_ffs = cash_flow(contract, date(2025, 1, 1), outcomes, settlement_lag_months=9, ffs=receipts)
    strip = ("ffs_receipts",)
    kept = [
        {k: v for k, v in r.items() if k not in strip}
        for r in with_ffs
        if r["item"] != "fee-for-service receipts"
    ]
    assert kept[: len(rows)] == [{k: v for k, v in r.items() if k not in strip} for r in rows]
    assert all(r["ffs_receipts"] is None for r in rows)
    ffs = [
        (r["month"], r["ffs_receipts"], r["expected"])
        for r in with_ffs
        if r["item"] == "fee-for-service receipts"
    ]
    assert ffs == [
        (date(2025, 1, 1), Decimal("123.45"), None),
        (date(2025, 4, 1), Decimal("-1.00"), None),
        (date(2027, 2, 1), Decimal("5.00"), None),
    ]
    position = {r["month"]: r for r in with_ffs if r["item"] == "cumulative cash position"}
    assert position[date(2025, 2, 1)]["ffs_receipts"] == Decimal("123.45")
    assert position[date(2026, 9, 1)]["ffs_receipts"] == Decimal("122.45")
    assert position[date(2027, 2, 1)]["ffs_receipts"] == Decimal("127.45")
    assert position[date(2027, 2, 1)]["expected"] == net - cost


def test_variation_and_assumption_errors_name_the_option() -> None:
    with pytest.raises(ConfigurationError, match="--vary"):
        Variation.parse("term:ss.terms.max_sharing_rate")
    with pytest.raises(ConfigurationError, match="unknown assumption"):
        Variation.parse("assumption:nope=1,2")
    with pytest.raises(ConfigurationError, match="churn"):
        dataclasses.replace(Assumptions(), churn=2).check()


def test_named_scenarios_side_by_side() -> None:
    from apmkit.simulation.analysis import named_scenarios, parse_named

    setup, total = entity()
    contract = parse_contract(ONE_SIDED, source="c.yaml")
    base = Assumptions(resample=False, cost_reduction=0.04)
    lean = parse_named("lean:cost_reduction=0.06", base)
    rows = named_scenarios(Simulator([setup], scenarios=2, seed=1), contract, [("base", base), lean])
    by = {r["scenario"]: r for r in rows}
    assert by["base"]["expected_net"] == (Decimal("0.5") * Decimal("0.04") * total).quantize(CENT)
    assert by["lean"]["expected_net"] == (Decimal("0.5") * Decimal("0.06") * total).quantize(CENT)
    with pytest.raises(ConfigurationError, match="--named"):
        parse_named("no-settings", base)
    with pytest.raises(ConfigurationError, match="unknown assumption"):
        parse_named("x:nope=1", base)


def test_compare_takes_a_glide_path_step_with_file_at_period(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from apmkit.workspace.simulate.compare import contract_at

    path = tmp_path / "glide.yaml"
    path.write_text(
        ONE_SIDED.replace("periods: {PY1: {start: 2025-01-01, end: 2025-12-31}}", "")
        + """
glide_path:
  - {period: "2026", set: {ss.terms.max_sharing_rate: 0.75}}
""",
        encoding="utf-8",
    )
    now, label = contract_at(str(path), "2025")
    later, later_label = contract_at(f"{path}@2026", "2025")
    assert (label, later_label) == ("one_sided", "one_sided@2026")
    assert now.components[0].terms.max_sharing_rate == Decimal("0.5")  # type: ignore[union-attr]
    assert later.components[0].terms.max_sharing_rate == Decimal("0.75")  # type: ignore[union-attr]
    assert later.for_period("2025")[0].components[0].terms.max_sharing_rate == Decimal("0.75")  # type: ignore[union-attr]
