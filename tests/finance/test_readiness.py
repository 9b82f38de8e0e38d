"""Readiness: downside from loss caps (hand-computed), from simulated settlements, the percentile rule, the
capability assessment's glide-path recommendation and the report."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.contracts import contract_from_data, load_template
from apmkit.design.capability import assess, reserve_level
from apmkit.design.readiness import _percentile, loss_cap_downside, readiness_report, simulated_downside
from apmkit.errors import ConfigurationError
from apmkit.settlement.inputs import EntityInputs

MATURE = {"data": 4, "care_management": 4, "quality": 4, "financial_reserves": 4, "experience": 4}


def test_loss_cap_downside_basic_e() -> None:
    """BASIC level E loss limit = min(8 % of participant revenue, 4 % of benchmark): revenue $3M, benchmark
    $10M -> min($240,000, $400,000) = $240,000."""
    downside = loss_cap_downside(
        load_template("mssp_basic_e"), "2024", benchmark=D("10000000"), revenue=D("3000000")
    )
    assert (downside.method, downside.p95_loss) == ("loss cap", D("240000.00"))


def test_loss_cap_downside_episode_and_upside_only() -> None:
    """BPCI Advanced with an agreement's 20 % stop-loss on a $2M total target = $400,000 (the template leaves the
    stop-loss REQUIRED and is refused until it is set); an upside-only contract risks nothing."""
    template = load_template("bpci_advanced")
    with pytest.raises(ConfigurationError, match="stop_loss is REQUIRED"):
        loss_cap_downside(template, None, benchmark=D("2000000"), revenue=None)
    data = template.model_dump(mode="json", exclude_none=True)
    data["components"][0]["stop_loss"] = "0.20"
    bpci = loss_cap_downside(contract_from_data(data), None, benchmark=D("2000000"), revenue=None)
    assert bpci.p95_loss == D("400000.00")
    upside = loss_cap_downside(load_template("mssp_basic_a"), "2024", benchmark=D("1000000"), revenue=None)
    assert upside.p95_loss == D("0.00")


def test_percentile_is_linear_interpolation() -> None:
    """numpy's default (type 7): for 1..5 the 5th percentile is 1 + 0.05 x 4 x (2 - 1) = 1.2."""
    assert _percentile([D(5), D(1), D(3), D(2), D(4)], D("0.05")) == D("1.20")


ENTITY = EntityInputs(
    entity_id="P1",
    benchmark=D("10000000"),
    person_years=D("1000"),
    population=6000,
    quality_score=D("0.9"),
    quality_standard_met=True,
    participant_revenue=D("3000000"),
)


def test_simulated_downside_is_deterministic_and_within_the_cap() -> None:
    """The simulated loss never exceeds the contract's loss limit ($240,000 for BASIC E here)."""
    contract = load_template("mssp_basic_e")
    first = simulated_downside(contract, "2024", ENTITY, scenarios=200, sd=D("0.08"), seed=3)
    again = simulated_downside(contract, "2024", ENTITY, scenarios=200, sd=D("0.08"), seed=3)
    assert first == again
    assert D(0) < first.p95_loss <= D("240000.00")
    assert first.method == "simulation"


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=1000), st.sampled_from(["0.02", "0.05", "0.10"]))
def test_simulated_loss_never_exceeds_cap(seed: int, sd: str) -> None:
    downside = simulated_downside(
        load_template("mssp_basic_e"), "2024", ENTITY, scenarios=40, sd=D(sd), seed=seed
    )
    assert D(0) <= downside.p95_loss <= D("240000.00")


def test_simulation_needs_a_benchmark() -> None:
    with pytest.raises(ConfigurationError, match="benchmark"):
        simulated_downside(load_template("mssp_basic_e"), "2024", EntityInputs(entity_id="x"))


@pytest.mark.parametrize(
    ("reserves", "downside", "level"),
    [
        ("49999", "100000", 1),
        ("50000", "100000", 2),
        ("100000", "100000", 3),
        ("200000", "100000", 4),
        ("1", "0", 4),
    ],
)
def test_reserve_levels(reserves: str, downside: str, level: int) -> None:
    assert reserve_level(D(reserves), D(downside)) == level


@pytest.mark.parametrize(
    ("levels", "step"),
    [
        ({**MATURE}, "population-based"),
        ({**MATURE, "experience": 3}, "two-sided"),
        ({**MATURE, "experience": 3, "data": 2}, "two-sided"),
        ({**MATURE, "financial_reserves": 2}, "upside-only"),
        ({**MATURE, "care_management": 1}, "upside-only"),
        ({d: 1 for d in MATURE}, "upside-only"),
    ],
)
def test_glide_path_recommendation(levels: dict[str, int], step: str) -> None:
    result = assess(levels)
    assert result.recommended_step == step
    assert result.glide_path[0] == step


def test_gaps_name_the_next_step() -> None:
    result = assess({**MATURE, "experience": 3})
    assert list(result.gaps) == ["experience"]


def test_bad_capability_level() -> None:
    with pytest.raises(ConfigurationError, match="quality"):
        assess({**MATURE, "quality": 5})


def test_report_reserves_vs_downside() -> None:
    """Reserves $300,000 against a $240,000 loss limit: covered, ratio 1.25, reserves level 3."""
    contract = load_template("mssp_basic_e")
    downside = loss_cap_downside(contract, "2024", benchmark=D("10000000"), revenue=D("3000000"))
    report = readiness_report(
        contract=contract,
        downside=downside,
        reserves=D("300000"),
        capability_levels={**MATURE},
        checklist_answers={"leadership": True, "finance_lead": False},
    )
    assert report["can_afford"] is True
    assert report["reserve_cover_ratio"] == "1.25"
    assert report["capability"]["levels"]["financial_reserves"]["level"] == 3
    status = {item["item"]: item["status"] for item in report["checklist"]}
    assert (
        status["leadership"],
        status["finance_lead"],
        status["downside_covered"],
        status["data_lead"],
    ) == (
        "done",
        "to do",
        "done",
        "unknown",
    )
