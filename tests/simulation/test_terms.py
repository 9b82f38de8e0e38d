"""The vectorized contract terms settle every scenario exactly as the settlement engine settles it alone.

The settlement engine (``settle_entity``) is checked against CMS's published results and the regulation's worked
examples (tests/settlement, tests/mssp); here each random scenario's inputs are settled by it one at a time and by
:func:`apmkit.simulation.settle_scenarios` all at once, and every component amount must agree to the cent.
Properties (caps hold, sharing monotone) are checked with hypothesis on the vectorized terms.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.contracts import parse_contract
from apmkit.errors import ConfigurationError
from apmkit.settlement.engine import settle_entity
from apmkit.settlement.inputs import EntityInputs
from apmkit.simulation import ScenarioInputs, settle_scenarios

HEADER = """
id: sim_terms
name: simulation terms
periods:
  PY1: {start: 2025-01-01, end: 2025-12-31}
components:
"""

CONTRACTS = {
    "one_sided_capped": """
  - id: ss
    type: shared_savings
    terms:
      sided: one_sided
      minimum_savings_rate: {kind: fixed, rate: 0.02}
      max_sharing_rate: 0.50
      savings_cap: {pct_of_benchmark: 0.05}
""",
    "two_sided_mssp_like": """
  - id: ss
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate:
        kind: variable
        bands:
          - {min_population: 1, max_population: 499, rate_at_min: 0.039, rate_at_max: 0.039}
          - {min_population: 500, max_population: 5000, rate_at_min: 0.036, rate_at_max: 0.025}
          - {min_population: 5001, rate_at_min: 0.02}
      sharing_basis: first_dollar
      max_sharing_rate: 0.60
      quality: {method: scale}
      loss_rate: {method: one_minus_final_sharing_rate, floor: 0.40, ceiling: 0.60}
      savings_cap: {pct_of_benchmark: 0.15}
      loss_cap: {pct_of_benchmark: 0.10}
      sequestration_rate: 0.02
""",
    "above_msr_gate_sliding_revenue_caps": """
  - id: ss
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate: {kind: fixed, rate: 0.01}
      minimum_loss_rate: {kind: fixed, rate: 0.015}
      sharing_basis: above_minimum_rate
      max_sharing_rate: 0.50
      quality: {method: gate_or_sliding_scale}
      loss_rate: {method: fixed, rate: 0.30}
      savings_cap: {pct_of_benchmark: 0.10}
      loss_cap: {pct_of_benchmark: 0.04, pct_of_revenue: 0.08}
      sequestration_rate: 0.02
      sequestration_before_cap: true
  - id: seq
    type: sequestration
    rate: 0.01
    applies_to: [ss]
  - id: interim
    type: interim_payments
    schedule: quarterly
    share_of_expected: 0.25
""",
    "mssp_guardrail_termination": """
  - id: ss
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate: {kind: fixed, rate: 0.02}
      max_sharing_rate: 0.5
      quality: {method: gate_or_sliding_scale}
      loss_rate: {method: fixed, rate: 0.3}
      loss_cap: {pct_of_benchmark: 0.04}
      below_msr_sharing: {rate_factor: 0.5, min_population: 5000}
      loss_benchmark_guardrail: {}
      termination: {savings_forfeited: true, losses: prorated_share_input}
""",
    "percent_of_premium": """
  - id: cap
    type: capitation
    basis: percent_of_premium
    percent_of_premium: 0.85
    stop_loss: {attachment_point: 100000}
  - id: p4r
    type: pay_for_reporting
    bonus_pbpm: 1.5
""",
    "withhold_incentive_adjustment_meos": """
  - id: cap
    type: capitation
    default_pmpm: 480.55
    stop_loss: {attachment_point: 150000, reimbursement_rate: 0.9}
  - id: withhold
    type: withhold
    withhold_rate: 0.05
    applies_to: [cap]
    returned_by_score:
      - {min_score: 0.5, value: 0.5}
      - {min_score: 0.8, value: 1}
  - id: ffs_withhold
    type: withhold
    withhold_rate: 0.02
    score_input: performance_score
    returned_by_score:
      - {min_score: 0.6, value: 0.75}
  - id: incentive
    type: performance_incentive
    prepaid_pbpm: 2.75
    score_input: quality_score
    earned_by_score:
      - {min_score: 0.4, value: 0.5}
      - {min_score: 0.75, value: 1}
  - id: incentive_share
    type: performance_incentive
    prepaid_pbpm: 1.10
    score_input: quality_score
  - id: adjustment
    type: performance_adjustment
    applies_to: [cap]
    minimum: -0.1
    maximum: 0.05
  - id: meos
    type: episode_services_payment
    pbpm: 160
    dual_pbpm_addition: 30
""",
    "corridor_capitation_fees": """
  - id: cap
    type: capitation
    pmpm_by_cell: {low: 310.25, high: 1290.10}
    default_pmpm: 500
    risk_adjusted: true
    stop_loss: {attachment_point: 100000, reimbursement_rate: 0.8}
  - id: corridor
    type: risk_corridor
    symmetric: false
    gain_bands:
      - {lower: 0, upper: 0.03, entity_share: 0}
      - {lower: 0.03, upper: 0.08, entity_share: 0.5}
      - {lower: 0.08, entity_share: 0.8}
    loss_bands:
      - {lower: 0, upper: 0.02, entity_share: 0.1}
      - {lower: 0.02, entity_share: 0.9}
  - id: fees
    type: care_management_fee
    pbpm_by_tier: {low: 10.5, high: 45}
  - id: p4p
    type: pay_for_performance
    pbpm_by_score:
      - {min_score: 0.5, value: -2}
      - {min_score: 0.8, value: 3.25}
  - id: euc
    type: extreme_uncontrollable
    applies_to: [corridor]
  - id: infra
    type: infrastructure_payment
    lump_sum: 25000
    pbpm: 1.15
""",
}


def contract(name: str):  # type: ignore[no-untyped-def]
    header = HEADER
    if name == "percent_of_premium":
        header = header.replace("components:", "target: {premium_per_member_month: 912.37}\ncomponents:")
    return parse_contract(header + CONTRACTS[name], source=f"{name}.yaml")


FLAGS = {
    "mssp_guardrail_termination": {
        "guardrail_applies": True,
        "below_msr_sharing_eligible": True,
        "terminated_during_year": True,
        "termination_loss_share": Decimal("0.5833"),
    }
}


def random_scenarios(
    seed: int, size: int, *, cells: bool, flags: dict[str, object] | None = None
) -> tuple[EntityInputs, ScenarioInputs]:
    rng = np.random.default_rng(seed)
    fixed = EntityInputs(
        entity_id="E1",
        source="scenarios.csv line 2",
        participant_revenue=Decimal("1234567.89"),
        euc_affected_fraction=Decimal("0.25"),
        euc_loss_reduction=Decimal("1000"),
        alternative_quality_standard_met=True,
        reported=True,
        performance_score=Decimal("0.66"),
        performance_adjustment=Decimal("0.0731"),
        base_payments=Decimal("2345678.91"),
        dual_member_months=1234,
        **(flags or {}),  # type: ignore[arg-type]
    )
    population = rng.integers(200, 9000, size).astype(np.int64)
    months = population * 12 - rng.integers(0, 100, size)
    benchmark = np.empty(size, dtype=object)
    benchmark[:] = [Decimal(int(v)).scaleb(-2) for v in rng.integers(10**8, 10**10, size)]
    expenditure = np.empty(size, dtype=object)
    expenditure[:] = [
        b * Decimal(str(round(f, 6))) for b, f in zip(benchmark, rng.normal(1, 0.06, size), strict=True)
    ]
    quality = np.empty(size, dtype=object)
    quality[:] = [Decimal(int(v)).scaleb(-4) for v in rng.integers(3000, 10001, size)]
    met = rng.random(size) < 0.7
    excess = np.empty(size, dtype=object)
    excess[:] = [Decimal(int(v)).scaleb(-2) for v in rng.integers(0, 10**7, size)]
    risk = np.empty(size, dtype=object)
    risk[:] = [Decimal(int(v)).scaleb(-6) for v in rng.integers(700_000, 1_400_000, size)]
    low = (months * rng.uniform(0.3, 0.7, size)).astype(np.int64)
    recalculated = np.empty(size, dtype=object)
    recalculated[:] = [
        (b * Decimal(str(round(f, 4)))).quantize(Decimal("0.01"))
        for b, f in zip(benchmark, rng.uniform(0.95, 1.08, size), strict=True)
    ]
    scenario = ScenarioInputs(
        fixed=fixed,
        benchmark=benchmark,
        expenditure=expenditure,
        population=population,
        member_months=months.astype(np.int64),
        quality_score=quality,
        quality_standard_met=met,
        stop_loss_excess=excess,
        risk_score=risk,
        months_by_cell={"low": low, "high": months - low} if cells else {},
        recalculated_benchmark=recalculated,
    )
    return fixed, scenario


def engine_amounts(
    contract_model, fixed: EntityInputs, scenario: ScenarioInputs, k: int
) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    update = {
        "benchmark": scenario.benchmark[k],
        "expenditure": scenario.expenditure[k],
        "population": int(scenario.population[k]),
        "member_months": int(scenario.member_months[k]),
        "quality_score": scenario.quality_score[k] if scenario.quality_score is not None else None,
        "quality_standard_met": bool(scenario.quality_standard_met[k])
        if scenario.quality_standard_met is not None
        else None,
        "stop_loss_excess": scenario.stop_loss_excess[k] if scenario.stop_loss_excess is not None else None,
        "risk_score": scenario.risk_score[k] if scenario.risk_score is not None else None,
        "months_by_cell": {c: int(m[k]) for c, m in scenario.months_by_cell.items()},
        "recalculated_benchmark": scenario.recalculated_benchmark[k]
        if scenario.recalculated_benchmark is not None
        else None,
    }
    statement = settle_entity(contract_model, "PY1", fixed.model_copy(update=update))
    amounts = {r.component_id: r.amount for r in statement.components}
    amounts["(net)"] = statement.net_settlement
    amounts["(paid)"] = statement.paid_during_period
    return amounts


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_scenario_settles_as_the_engine_settles_it(name: str) -> None:
    model = contract(name)
    fixed, scenario = random_scenarios(
        sorted(CONTRACTS).index(name), 300, cells="capitation" in CONTRACTS[name], flags=FLAGS.get(name)
    )
    settled = settle_scenarios(model, scenario)
    for k in range(scenario.size):
        expected = engine_amounts(model, fixed, scenario, k)
        got = {cid: Decimal(int(o.amount[k])).scaleb(-2) for cid, o in settled.components.items()}
        got["(net)"] = Decimal(int(settled.net[k])).scaleb(-2)
        got["(paid)"] = Decimal(int(settled.paid[k])).scaleb(-2)
        assert got == expected, f"scenario {k}"


def test_both_outcomes_occur_in_the_random_scenarios() -> None:
    """The comparison above is not vacuous: savings, losses and neither all happen."""
    _fixed, scenario = random_scenarios(5, 300, cells=False)
    settled = settle_scenarios(contract("two_sided_mssp_like"), scenario)
    ss = settled.components["ss"]
    assert ss.figures["outcome_savings"].sum() > 20
    assert ss.figures["outcome_losses"].sum() > 20
    assert (~ss.figures["outcome_savings"] & ~ss.figures["outcome_losses"]).sum() > 20


def test_a_component_not_simulated_is_refused_by_name() -> None:
    model = parse_contract(
        HEADER
        + """
  - id: bundle
    type: prospective_bundle
    bundle_price: 1000
""",
        source="x.yaml",
    )
    _, scenario = random_scenarios(1, 3, cells=False)
    with pytest.raises(
        ConfigurationError, match=r"components\[0:bundle\] \(prospective_bundle\): not simulated"
    ):
        settle_scenarios(model, scenario)


def test_missing_revenue_for_a_revenue_cap_is_an_error_naming_the_field() -> None:
    model = contract("above_msr_gate_sliding_revenue_caps")
    fixed, scenario = random_scenarios(2, 50, cells=False)
    bare = ScenarioInputs(
        **{**scenario.__dict__, "fixed": fixed.model_copy(update={"participant_revenue": None})}  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigurationError, match="participant_revenue is missing"):
        settle_scenarios(model, bare)


def _one_sided(rate: str, cap: str | None):  # type: ignore[no-untyped-def]
    cap_text = f"\n      savings_cap: {{pct_of_benchmark: {cap}}}" if cap else ""
    return parse_contract(
        HEADER
        + f"""
  - id: ss
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate: {{kind: fixed, rate: 0.01}}
      max_sharing_rate: {rate}
      loss_rate: {{method: fixed, rate: 0.4}}
      loss_cap: {{pct_of_benchmark: 0.05}}{cap_text}
""",
        source="p.yaml",
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    low=st.decimals("0.05", "0.5", places=2),
    step=st.decimals("0.01", "0.5", places=2),
    cap=st.decimals("0.01", "0.2", places=3),
)
def test_caps_hold_and_sharing_is_monotone(seed: int, low: Decimal, step: Decimal, cap: Decimal) -> None:
    _, scenario = random_scenarios(seed, 60, cells=False)
    high = min(low + step, Decimal(1))
    lower = settle_scenarios(_one_sided(str(low), str(cap)), scenario)
    higher = settle_scenarios(_one_sided(str(high), str(cap)), scenario)
    benchmark_cents = np.asarray([int(b * 100) for b in scenario.benchmark], dtype=np.int64)
    # earned savings never exceed the savings cap, owed losses never exceed the loss cap (to the half cent)
    assert (lower.components["ss"].figures["earned_savings"] <= benchmark_cents * float(cap) + 1).all()
    assert (lower.components["ss"].figures["owed_losses"] <= benchmark_cents * 0.05 + 1).all()
    # a higher sharing rate never pays less
    assert (higher.net >= lower.net).all()


def test_guardrail_and_termination_change_outcomes_in_the_random_scenarios() -> None:
    """The MSSP comparison above is not vacuous: the guardrail moves or cancels some losses, and the terminated
    entity earns nothing while owing its pro-rated share."""
    name = "mssp_guardrail_termination"
    fixed, scenario = random_scenarios(sorted(CONTRACTS).index(name), 300, cells=False, flags=FLAGS[name])
    guarded = settle_scenarios(contract(name), scenario)
    plain = ScenarioInputs(
        **{**scenario.__dict__, "fixed": fixed.model_copy(update={"guardrail_applies": False})}
    )  # type: ignore[arg-type]
    unguarded = settle_scenarios(contract(name), plain)
    assert (guarded.net != unguarded.net).sum() > 5
    assert (guarded.net <= 0).all() and (guarded.net < 0).sum() > 20
