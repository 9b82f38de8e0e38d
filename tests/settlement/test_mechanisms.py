"""Each payment mechanism on small hand-worked examples (expected values are hand arithmetic, shown inline)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from apmkit.contracts import contract_from_data, load_template
from apmkit.contracts.spec import Contract
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.statement import EntityStatement

CORRIDOR_BANDS = [
    {"lower": 0, "upper": "0.03", "entity_share": 0},
    {"lower": "0.03", "upper": "0.08", "entity_share": "0.5"},
    {"lower": "0.08", "entity_share": "0.8"},
]


def contract(*components: dict[str, Any], **extra: Any) -> Contract:
    return contract_from_data({"id": "t", "name": "t", "components": list(components), **extra})


PCF_TERMS = {"pbpm_by_risk_group": {"1": "28", "2": "45", "3": "100", "4": "175"}, "flat_visit_fee": "40.28"}


def pcf() -> Contract:
    """The PCF template with its REQUIRED rates stated (the reference's example rates)."""
    data = load_template("primary_care_first").model_dump(mode="json", exclude_none=True)
    data["components"][0].update(PCF_TERMS)
    return contract_from_data(data)


def one(contract_: Contract, period: str = "2025", **inputs: Any) -> EntityStatement:
    settlement = settle(contract_, period, [EntityInputs(entity_id="E1", **inputs)])
    assert not settlement.rejected, settlement.rejected
    return settlement.statements[0]


def test_risk_corridor_symmetric_gain_and_loss() -> None:
    corridor = {"id": "corridor", "type": "risk_corridor", "gain_bands": CORRIDOR_BANDS}
    # 10 % below target: (5 % x 0.5 + 2 % x 0.8) x 1,000,000 = 25,000 + 16,000 = 41,000 to the entity.
    gain = one(contract(corridor), benchmark=D(1_000_000), expenditure=D(900_000))
    assert gain.net_settlement == D("41000.00")
    # 6 % above target, same bands mirrored: 3 % x 0.5 x 1,000,000 = 15,000 owed.
    loss = one(contract(corridor), benchmark=D(1_000_000), expenditure=D(1_060_000))
    assert loss.net_settlement == D("-15000.00")


def test_risk_corridor_asymmetric_loss_bands() -> None:
    corridor = {
        "id": "corridor",
        "type": "risk_corridor",
        "symmetric": False,
        "gain_bands": CORRIDOR_BANDS,
        "loss_bands": [
            {"lower": 0, "upper": "0.05", "entity_share": 0},
            {"lower": "0.05", "entity_share": 1},
        ],
    }
    # 6 % above target: only the 1 % beyond 5 % is owed, in full: 10,000.
    loss = one(contract(corridor), benchmark=D(1_000_000), expenditure=D(1_060_000))
    assert loss.net_settlement == D("-10000.00")


def test_extreme_uncontrollable_relief_on_corridor_losses() -> None:
    corridor = {"id": "corridor", "type": "risk_corridor", "gain_bands": CORRIDOR_BANDS}
    euc = {"id": "euc", "type": "extreme_uncontrollable", "applies_to": ["corridor"]}
    # owed 15,000; half the months x beneficiaries affected -> relief 7,500; net owed 7,500.
    statement = one(
        contract(corridor, euc),
        benchmark=D(1_000_000),
        expenditure=D(1_060_000),
        euc_affected_fraction=D("0.5"),
    )
    assert statement.summary["amount_euc"] == D("7500.00")
    assert statement.net_settlement == D("-7500.00")


def test_commercial_capitation_template_stop_loss_and_withhold() -> None:
    # Template terms: PMPM low 180, moderate 420, high 1,150; stop-loss above 150,000 at 90 %; 5 % withhold
    # taken from the capitation, returned 50 % at a quality score >= 0.6.
    # Capitation: 1,000 x 180 + 200 x 420 + 100 x 1,150 = 180,000 + 84,000 + 115,000 = 379,000.
    # Stop-loss: 50,000 excess x 0.9 = 45,000. Withhold: 379,000 x 5 % = 18,950, half returned = 9,475.
    # The capitation paid monthly was net of the withhold: 379,000 - 18,950 = 360,050 paid. The period earns
    # 379,000 + 45,000 - 18,950 + 9,475 = 414,525; the balance due is 414,525 - 360,050 = 54,475
    # (stop-loss 45,000 + withhold returned 9,475).
    statement = one(
        load_template("commercial_capitation"),
        months_by_cell={"low": 1000, "moderate": 200, "high": 100},
        stop_loss_excess=D(50_000),
        quality_score=D("0.7"),
    )
    assert statement.summary["amount_capitation"] == D("424000.00")
    assert statement.summary["amount_quality_withhold"] == D("-9475.00")
    assert statement.net_settlement == D("414525.00")
    assert statement.paid_during_period == D("360050.00")
    assert statement.balance_due == D("54475.00")


def test_withhold_on_fee_for_service_base_is_returned_at_settlement() -> None:
    # Without applies_to the withhold comes out of fee-for-service payments outside this statement: only the
    # returned share is paid at settlement. 200,000 x 5 % = 10,000 withheld; score 0.85 returns all of it.
    withhold = {
        "id": "w",
        "type": "withhold",
        "withhold_rate": "0.05",
        "returned_by_score": [{"min_score": 0, "value": 0}, {"min_score": "0.8", "value": 1}],
    }
    statement = one(contract(withhold), base_payments=D(200_000), quality_score=D("0.85"))
    assert (statement.net_settlement, statement.paid_during_period) == (D("10000.00"), D("0"))


def test_capitation_percent_of_premium() -> None:
    capitation = {
        "id": "cap",
        "type": "capitation",
        "scope": "global",
        "basis": "percent_of_premium",
        "percent_of_premium": "0.85",
        "prepaid": False,
    }
    # 85 % of a 1,234,567.89 premium = 1,049,382.7065 -> 1,049,382.71 (half-up to cents).
    statement = one(contract(capitation), premium=D("1234567.89"))
    assert statement.net_settlement == D("1049382.71")


@pytest.mark.parametrize(
    ("score", "p4p", "sequestration"), [(D("0.9"), D("2000"), D("-240")), (D("0.3"), D("-1000"), D("-200"))]
)
def test_sequestration_applies_to_positive_amounts(score: D, p4p: D, sequestration: D) -> None:
    # P4P: -1 PBPM below 0.5, 0 from 0.5, +2 PBPM from 0.8; 1,000 months. Infrastructure lump sum 10,000.
    # Sequestration 2 % of the positive amounts: (10,000 + 2,000) x 2 % = 240, or 10,000 x 2 % = 200.
    statement = one(
        contract(
            {"id": "infrastructure", "type": "infrastructure_payment", "lump_sum": 10000},
            {
                "id": "p4p",
                "type": "pay_for_performance",
                "pbpm_by_score": [
                    {"min_score": 0, "value": -1},
                    {"min_score": "0.5", "value": 0},
                    {"min_score": "0.8", "value": 2},
                ],
            },
            {
                "id": "sequestration",
                "type": "sequestration",
                "rate": "0.02",
                "applies_to": ["infrastructure", "p4p"],
            },
        ),
        member_months=1000,
        quality_score=score,
    )
    assert statement.summary["amount_p4p"] == p4p
    assert statement.summary["amount_sequestration"] == sequestration
    assert statement.net_settlement == D(10000) + p4p + sequestration


def test_interim_payments_share_of_expected() -> None:
    corridor = {"id": "corridor", "type": "risk_corridor", "gain_bands": CORRIDOR_BANDS}
    interim = {
        "id": "interim",
        "type": "interim_payments",
        "schedule": "quarterly",
        "share_of_expected": "0.5",
    }
    # corridor 41,000; half paid in 4 instalments of 5,125 (Jan, Apr, Jul, Oct); 20,500 due at settlement.
    statement = one(contract(corridor, interim), benchmark=D(1_000_000), expenditure=D(900_000))
    instalments = [line for line in statement.lines if line.label.startswith("Interim payment ")]
    assert [line.value for line in instalments] == [D("5125.00")] * 4
    assert [line.inputs["due"] for line in instalments] == [
        "2025-01-01",
        "2025-04-01",
        "2025-07-01",
        "2025-10-01",
    ]
    assert statement.balance_due == D("20500.00")


def test_interim_payments_rounding_remainder_on_last() -> None:
    corridor = {"id": "corridor", "type": "risk_corridor", "gain_bands": CORRIDOR_BANDS}
    interim = {"id": "interim", "type": "interim_payments", "schedule": "monthly"}
    # 10,000.01 / 12 = 833.334... -> 11 x 833.33 and a last 10,000.01 - 9,166.63 = 833.38.
    statement = one(
        contract(corridor, interim),
        benchmark=D(1_000_000),
        expenditure=D(900_000),
        interim_paid=D("10000.01"),
    )
    values = [line.value for line in statement.lines if line.label.startswith("Interim payment ")]
    assert values[:11] == [D("833.33")] * 11
    assert values[11] == D("833.38")
    assert statement.balance_due == D("41000.00") - D("10000.01")


def test_prospective_bundle_with_outliers() -> None:
    bundle = {
        "id": "bundle",
        "type": "prospective_bundle",
        "bundle_price": 25000,
        "outlier_threshold": 60000,
        "outlier_rate": "0.8",
    }
    # 20 bundles x 25,000 = 500,000 paid up front; outlier 10,000 x 0.8 = 8,000 due at settlement.
    statement = one(contract(bundle), episodes=20, outlier_excess=D(10000))
    assert statement.net_settlement == D("508000.00")
    assert statement.balance_due == D("8000.00")


def test_episode_repayment_discount_and_stop_loss() -> None:
    # CJR PY2 terms from the template (glide path): repayment discount 2 %, stop-loss 5 %. Benchmark price
    # 2/3 x 25,000 + 1/3 x 28,000 = 26,000; acceptable quality (no reduction); repayment target
    # 26,000 x 0.98 x 100 = 2,548,000; actual 2,800,000 -> shortfall 252,000 > 5 % x 2,548,000 = 127,400 -> owes 127,400.
    statement = one(
        load_template("cjr"),
        period="PY2",
        episodes=100,
        episode_payments=D(2_800_000),
        hospital_price=D(25_000),
        regional_price=D(28_000),
        quality_score=D("5.5"),
    )
    assert statement.net_settlement == D("-127400.00")


def test_episode_below_acceptable_quality_gets_no_payment() -> None:
    statement = one(
        load_template("cjr"),
        period="PY3",
        episodes=100,
        episode_payments=D(2_000_000),
        hospital_price=D(25_000),
        regional_price=D(27_000),
        quality_score=D("3.0"),
    )
    assert statement.net_settlement == D("0")


def test_cjr_excellent_is_strictly_above_15() -> None:
    # CQS exactly 15.0 is "good" (-1 pp), not "excellent" (> 15.0, -1.5 pp): docs/reference/methodology.md §3.1.
    base = {
        "period": "PY3",
        "episodes": 1,
        "episode_payments": D(0),
        "hospital_price": D(30000),
        "regional_price": D(30000),
    }
    good = one(load_template("cjr"), quality_score=D("15.0"), **base)
    excellent = one(load_template("cjr"), quality_score=D("15.1"), **base)
    assert _line(good, "Effective discount") == D("0.02")
    assert _line(excellent, "Effective discount") == D("0.015")


def _line(statement: EntityStatement, label: str) -> D | None:
    return next(line.value for line in statement.lines if line.label == label)


def test_glide_path_changes_terms_by_year() -> None:
    inputs = {
        "benchmark": D(1_000_000),
        "expenditure": D(900_000),
        "quality_score": D(1),
        "reported": True,
        "member_months": 1200,
    }
    # 2025: 50 % x 100,000 = 50,000 (+ 0.50 x 1,200 = 600 reporting bonus); 2026: 55 % -> 55,000 + 600.
    assert one(load_template("commercial_upside_shared_savings"), "2025", **inputs).net_settlement == D(
        "50600.00"
    )
    assert one(load_template("commercial_upside_shared_savings"), "2026", **inputs).net_settlement == D(
        "55600.00"
    )


def test_missing_input_rejects_the_entity_with_its_reason() -> None:
    settlement = settle(
        pcf(),
        "2025",
        [
            EntityInputs(
                entity_id="P1",
                source="agg.csv line 2",
                member_months=500,
                visits=100,
                performance_adjustment=D(0),
            ),
            EntityInputs(
                entity_id="P2",
                source="agg.csv line 3",
                risk_group="2",
                member_months=500,
                visits=100,
                performance_adjustment=D(0),
            ),
        ],
    )
    assert [s.entity_id for s in settlement.statements] == ["P2"]
    assert settlement.rejected[0]["source_line"] == "2"
    assert (
        "field risk_group is required by component 'total_primary_care_payment'"
        in settlement.rejected[0]["reason"]
    )


def test_unknown_risk_group_is_named() -> None:
    settlement = settle(
        pcf(),
        "2025",
        [
            EntityInputs(
                entity_id="P1", risk_group="9", member_months=5, visits=1, performance_adjustment=D(0)
            )
        ],
    )
    assert "no PBPM for group '9'" in settlement.rejected[0]["reason"]


def test_every_line_names_formula_source_and_clause() -> None:
    statement = one(
        load_template("commercial_capitation"),
        months_by_cell={"low": 10},
        stop_loss_excess=D(0),
        base_payments=D(1800),
        quality_score=D("0.9"),
    )
    for line in statement.lines:
        assert line.formula
        if line.component_id not in ("inputs", "total"):
            assert line.clause.startswith("components[")
    assert [line.sequence for line in statement.lines] == list(range(1, len(statement.lines) + 1))


def test_shared_savings_statement_lines_carry_their_units() -> None:
    """Amounts are USD and rates are rates: "Generated savings/losses" was once shown as a percent."""
    statement = one(
        contract(
            {
                "id": "ss",
                "type": "shared_savings",
                "terms": {
                    "sided": "one_sided",
                    "minimum_savings_rate": {"kind": "fixed", "rate": "0.02"},
                    "sharing_basis": "first_dollar",
                    "max_sharing_rate": "0.5",
                },
            }
        ),
        benchmark=D("1000000"),
        expenditure=D("900000"),
        population=5000,
    )
    units = {line.label: line.unit for line in statement.lines if line.component_id == "ss"}
    assert units["Generated savings/losses"] == "USD"
    assert units["Earned shared savings"] == "USD"
    assert units["Savings rate"] == "rate" and units["Final sharing rate"] == "rate"


def test_money_places_apply_to_every_component() -> None:
    # rounding.money_places 0: every amount and every paid line is whole dollars, whatever the component, and the
    # statement still adds up. Rates are chosen so that each component's exact amount has cents.
    components = [
        {"id": "cap", "type": "capitation", "default_pmpm": "10.555"},
        {"id": "cmf", "type": "care_management_fee", "pbpm_by_tier": {"t1": "3.333"}},
        {
            "id": "pbp",
            "type": "population_based_payment",
            "pbpm_by_risk_group": {"1": "1.115"},
            "flat_visit_fee": "2.345",
        },
        {"id": "pbip", "type": "performance_incentive", "prepaid_pbpm": "1.115"},
        {
            "id": "w",
            "type": "withhold",
            "withhold_rate": "0.033",
            "applies_to": ["cap"],
            "returned_by_score": [{"min_score": 0, "value": "0.5"}],
        },
        {"id": "p4p", "type": "pay_for_performance", "pbpm_by_score": [{"min_score": 0, "value": "0.777"}]},
        {
            "id": "episodes",
            "type": "episode_reconciliation",
            "price_source": "input",
            "discount": "0.03",
            "stop_gain": "0.2",
            "downside": False,
            "quality_adjustment_of_gain": "0.1",
        },
        {"id": "meos", "type": "episode_services_payment", "pbpm": "1.555"},
        {"id": "infra", "type": "infrastructure_payment", "pbpm": "0.555"},
        {"id": "seq", "type": "sequestration", "rate": "0.02", "applies_to": ["episodes"]},
        {
            "id": "ss",
            "type": "shared_savings",
            "terms": {
                "sided": "one_sided",
                "minimum_savings_rate": {"kind": "fixed", "rate": "0.0"},
                "sharing_basis": "first_dollar",
                "max_sharing_rate": "0.5",
            },
        },
    ]
    statement = one(
        contract(*components, rounding={"money_places": 0}),
        member_months=3,
        months_by_cell={"t1": 3},
        risk_group="1",
        visits=3,
        performance_score=D("0.5"),
        quality_score=D("0.7"),
        episodes=3,
        benchmark_price=D("1000.555"),
        episode_payments=D("2000"),
        benchmark=D("1000"),
        expenditure=D("998.99"),
    )
    money_lines = [line for line in statement.lines if line.role in ("amount", "paid")]
    assert {line.component_id for line in money_lines} >= {c["id"] for c in components}
    for line in money_lines:
        assert line.value is not None and line.value == line.value.to_integral_value(), (
            line.component_id,
            line.label,
        )
    assert statement.net_settlement == sum((c.amount for c in statement.components), D(0))
    # e.g. shared savings: 1,000 - 998.99 = 1.01 saved, 50 % = 0.505 -> $1
    assert statement.summary["amount_ss"] == D("1")


def test_performance_incentive_score_is_the_share_earned() -> None:
    # Without bands the score is the share of the prepaid incentive kept: 100 months x $4 = 400 prepaid, 0.25
    # kept -> 100 earned, 300 recouped; a score above 1 is refused, naming the field.
    pbip = {"id": "pbip", "type": "performance_incentive", "prepaid_pbpm": "4"}
    statement = one(contract(pbip), member_months=100, performance_score=D("0.25"))
    assert (statement.net_settlement, statement.balance_due) == (D("100.00"), D("-300.00"))
    settlement = settle(
        contract(pbip), "2025", [EntityInputs(entity_id="E1", member_months=1, performance_score=D(2))]
    )
    assert "field performance_score" in settlement.rejected[0]["reason"]
