"""Shared fixtures of the simulation tests: a synthetic population and a contract with several components."""

from __future__ import annotations

from pathlib import Path

import pytest

from apmkit.synth import generate

CONTRACT = """
id: sim_test
name: simulation test
attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}
benchmark:
  method: general
  general:
    base_years: [2024]
    performance_year: 2025
    annual_trend: "0.04"
    regional_weight: "0.25"
    full_credibility_member_months: 12000
definitions:
  cost_basis: allowed_amount
  eligible_months: enrolled
  truncation: {method: amount, amount: 100000}
  runout_months: 3
  completion_factor: 1.013
components:
  - id: shared_savings
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate:
        kind: variable
        bands:
          - {min_population: 1, max_population: 300, rate_at_min: 0.039, rate_at_max: 0.036}
          - {min_population: 301, rate_at_min: 0.03}
      max_sharing_rate: 0.55
      loss_rate: {method: fixed, rate: 0.4}
      savings_cap: {pct_of_benchmark: 0.05}
      loss_cap: {pct_of_benchmark: 0.03}
      sequestration_rate: 0.02
  - id: sequestration
    type: sequestration
    rate: 0.01
    applies_to: [shared_savings]
  - id: infrastructure
    type: infrastructure_payment
    pbpm: 2.5
"""


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim") / "data"
    generate(900, folder, years=2, seed=5)
    return folder


@pytest.fixture(scope="session")
def contract_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "contract.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path
