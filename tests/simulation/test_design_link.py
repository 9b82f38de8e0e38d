"""``apmkit design`` and ``apmkit finance readiness`` settle their expenditure scenarios with the simulation module:
the downside must be what settling each scenario with the settlement engine gives (the documented method)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from apmkit.contracts import parse_contract
from apmkit.design.readiness import _percentile, simulated_downside
from apmkit.money import round_money, to_decimal
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs

CONTRACT = """
id: readiness_two_sided
name: two-sided
periods: {PY1: {start: 2025-01-01, end: 2025-12-31}}
components:
  - id: ss
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate: {kind: fixed, rate: 0.02}
      max_sharing_rate: 0.5
      quality: {method: scale}
      loss_rate: {method: one_minus_final_sharing_rate, floor: 0.4, ceiling: 0.6}
      savings_cap: {pct_of_benchmark: 0.1}
      loss_cap: {pct_of_benchmark: 0.04}
  - id: fee
    type: infrastructure_payment
    pbpm: 3
"""


def test_downside_equals_the_engine_settling_each_scenario() -> None:
    contract = parse_contract(CONTRACT, source="c.yaml")
    entity = EntityInputs(
        entity_id="E",
        source="readiness",
        benchmark=Decimal("12345678.90"),
        population=1000,
        member_months=11_800,
        quality_score=Decimal("0.87"),
        quality_standard_met=True,
    )
    downside = simulated_downside(contract, "PY1", entity, scenarios=300, sd=Decimal("0.06"), seed=3)
    # the documented method, settled one scenario at a time by the engine
    draws = np.random.default_rng(3).normal(0.0, 0.06, size=300)
    rows = [
        entity.model_copy(
            update={
                "expenditure": max(
                    round_money(entity.benchmark * (1 + to_decimal(round(float(d), 6)))), Decimal(0)
                ),
                "entity_id": f"s{i}",
            }
        )
        for i, d in enumerate(draws)
    ]
    nets = [s.net_settlement for s in settle(contract, "PY1", rows).statements]
    assert downside.p95_loss == round_money(max(-_percentile(nets, Decimal("0.05")), Decimal(0)))
    assert downside.expected_net == round_money(sum(nets, Decimal(0)) / len(nets))
    assert downside.p95_loss > 0  # losses happen: the comparison is not vacuous
