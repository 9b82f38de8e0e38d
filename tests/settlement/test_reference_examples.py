"""Worked examples of the reference (docs/reference/methodology.md) and published CMS results, settled through contracts.

Every expected number is taken from the reference document or a CMS public use file row it quotes, or is
hand arithmetic on published parameters (said so at the test); none comes from apmkit's own output.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest

from apmkit.contracts import contract_from_data, load_template
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs

# 42 CFR 425.604(b) MSR table (docs/reference/methodology.md §1.2), interpolated within each band.
MSSP_MSR_BANDS = [
    {"min_population": 5000, "max_population": 5999, "rate_at_min": "0.039", "rate_at_max": "0.036"},
    {"min_population": 6000, "max_population": 6999, "rate_at_min": "0.036", "rate_at_max": "0.034"},
    {"min_population": 7000, "max_population": 7999, "rate_at_min": "0.034", "rate_at_max": "0.032"},
    {"min_population": 8000, "max_population": 8999, "rate_at_min": "0.032", "rate_at_max": "0.031"},
    {"min_population": 9000, "max_population": 9999, "rate_at_min": "0.031", "rate_at_max": "0.030"},
    {"min_population": 10000, "max_population": 14999, "rate_at_min": "0.030", "rate_at_max": "0.027"},
    {"min_population": 15000, "max_population": 19999, "rate_at_min": "0.027", "rate_at_max": "0.025"},
    {"min_population": 20000, "max_population": 49999, "rate_at_min": "0.025", "rate_at_max": "0.022"},
    {"min_population": 50000, "max_population": 59999, "rate_at_min": "0.022", "rate_at_max": "0.020"},
    {"min_population": 60000, "rate_at_min": "0.020"},
]


def _contract(component: dict, **extra: object) -> object:
    return contract_from_data({"id": "test", "name": "test", "components": [component], **extra})


def _basic_e() -> object:
    return _contract(
        {
            "id": "shared_savings",
            "type": "shared_savings",
            "terms": {
                "sided": "two_sided",
                "minimum_savings_rate": {"kind": "variable", "bands": MSSP_MSR_BANDS},
                "max_sharing_rate": "0.50",
                "quality": {"method": "gate_or_sliding_scale"},
                "loss_rate": {"method": "fixed", "rate": "0.30"},
                "savings_cap": {"pct_of_benchmark": "0.10"},
                "loss_cap": {"pct_of_benchmark": "0.04", "pct_of_revenue": "0.08"},
                "sequestration_rate": "0.02",
            },
        }
    )


def with_terms(name: str, terms: dict[str, object]) -> object:
    """Template ``name`` with its REQUIRED terms set as a user's copy would state them (``component.field`` or
    ``component.field.key`` for a rate table)."""
    data = load_template(name).model_dump(mode="json", exclude_none=True)
    components = {c["id"]: c for c in data["components"]}
    for key, value in terms.items():
        component_id, field, *rest = key.split(".")
        if rest:
            components[component_id][field][rest[0]] = value
        else:
            components[component_id][field] = value
    return contract_from_data(data, name)


def _net(contract: object, period: str = "2025", **inputs: object) -> tuple[D, object]:
    settlement = settle(contract, period, [EntityInputs(entity_id="E1", **inputs)])  # type: ignore[arg-type]
    assert not settlement.rejected, settlement.rejected
    statement = settlement.statements[0]
    return statement.net_settlement, statement


def test_mssp_basic_e_savings_quality_met() -> None:
    # docs/reference/methodology.md §1.7 B: N 20,000 -> MSR 2.5 %; B $234.0M, E $226.0M; 50 % -> $4.0M -> x 0.98 = $3,920,000.
    net, statement = _net(
        _basic_e(),
        benchmark=D("234000000"),
        expenditure=D("226000000"),
        population=20000,
        quality_standard_met=True,
    )
    assert net == D("3920000.00")
    assert statement.summary["minimum_savings_rate"] == D("0.025")


def test_mssp_basic_e_alternative_quality_standard() -> None:
    # docs/reference/methodology.md §1.7 B: alternative QPS only, HEA score 0.60 -> FSR 0.30 -> $2.4M -> $2,352,000.
    net, _ = _net(
        _basic_e(),
        benchmark=D("234000000"),
        expenditure=D("226000000"),
        population=20000,
        quality_standard_met=False,
        alternative_quality_standard_met=True,
        quality_score=D("0.60"),
    )
    assert net == D("2352000.00")


def test_mssp_basic_e_losses_revenue_cap() -> None:
    # docs/reference/methodology.md §1.7 B: E $242.0M, loss $8.0M x 30 % = $2.4M; cap min(8 % x $50M, 4 % x $234M) = $4.0M.
    net, statement = _net(
        _basic_e(),
        benchmark=D("234000000"),
        expenditure=D("242000000"),
        population=20000,
        quality_standard_met=True,
        participant_revenue=D("50000000"),
    )
    assert net == D("-2400000.00")
    assert statement.summary["loss_cap"] == D("4000000")


@pytest.mark.parametrize(
    ("score", "met", "owed"),
    [
        (D("0.90"), True, D("3200000.00")),
        (D("0.50"), True, D("5000000.00")),
        (D("0.90"), False, D("6000000.00")),
    ],
)
def test_mssp_enhanced_loss_rate(score: D, met: bool, owed: D) -> None:
    # docs/reference/methodology.md §1.7 C: loss $8.0M; rate max(0.40, 1 - 0.75 x score) -> $3.2M / $5.0M; QPS failed 75 % -> $6.0M.
    contract = _contract(
        {
            "id": "shared_savings",
            "type": "shared_savings",
            "terms": {
                "sided": "two_sided",
                "minimum_savings_rate": {"kind": "variable", "bands": MSSP_MSR_BANDS},
                "max_sharing_rate": "0.75",
                "quality": {"method": "gate_or_sliding_scale"},
                "loss_rate": {
                    "method": "one_minus_max_rate_times_quality",
                    "max_rate_factor": "0.75",
                    "floor": "0.40",
                    "ceiling": "0.75",
                },
                "savings_cap": {"pct_of_benchmark": "0.20"},
                "loss_cap": {"pct_of_benchmark": "0.15"},
            },
        }
    )
    net, _ = _net(
        contract,
        benchmark=D("234000000"),
        expenditure=D("242000000"),
        population=20000,
        quality_score=score,
        quality_standard_met=met,
    )
    assert net == -owed


def _track1_py2018() -> object:
    return _contract(
        {
            "id": "shared_savings",
            "type": "shared_savings",
            "terms": {
                "sided": "one_sided",
                "minimum_savings_rate": {"kind": "variable", "bands": MSSP_MSR_BANDS},
                "max_sharing_rate": "0.50",
                "quality": {"method": "scale"},
                "savings_cap": {"pct_of_benchmark": "0.10"},
                "sequestration_rate": "0.02",
            },
        }
    )


def test_mssp_puf_a1409_capped() -> None:
    # docs/reference/methodology.md §1.7 A0 (PY2018 PUF, ACO A1409): GenSaveLoss 37,681,081, FSR 0.4541, ABtotBnchmk 121,182,225;
    # the 10 % cap binds: published EarnSaveLoss 12,118,223. E = B - GenSaveLoss. QualScore 0.9082 gives FSR 0.4541.
    # The PUF row's N_AB is not quoted in the reference; any N >= 5,000 has MSR <= 3.9 %, far below 31.1 % savings.
    net, statement = _net(
        _track1_py2018(),
        period="2018",
        benchmark=D("121182225"),
        expenditure=D("121182225") - D("37681081"),
        population=5000,
        quality_score=D("0.9082"),
    )
    # The PUF publishes whole dollars: 10 % x 121,182,225 = 12,118,222.50 -> 12,118,223.
    assert net == D("12118222.50")
    assert net.quantize(D(1), rounding=ROUND_HALF_UP) == D("12118223")
    assert statement.summary["outcome"] == "savings"


def test_mssp_puf_a1001_within_puf_tolerance() -> None:
    # docs/reference/methodology.md §1.7 A (PY2018 PUF A1001): N 77,372 -> MSR 2 %; B 1,072,551,536; E 960,028,237;
    # QualScore 0.9084 -> FSR 0.4542; 112,523,299 x 0.4542 x 0.98 = 50,085,921 (reference), published 50,087,988
    # (the PUF's FSR is rounded to 4 dp): within the 0.05 % acceptance tolerance.
    net, statement = _net(
        _track1_py2018(),
        period="2018",
        benchmark=D("1072551536"),
        expenditure=D("960028237"),
        population=77372,
        quality_score=D("0.9084"),
    )
    assert statement.summary["minimum_savings_rate"] == D("0.020")
    assert net.quantize(D(1)) == D("50085921")
    assert abs(net - D("50087988")) / D("50087988") <= D("0.0005")


def test_cjr_py3_good_quality_template() -> None:
    # docs/reference/methodology.md §3.1 derived example (PY3, good quality): 1/3 x 25,000 + 2/3 x 27,000 = 26,333.33; discount
    # 3 % - 1 pp = 2 % -> 25,806.67; 100 episodes, actual 2,450,000 -> NPRA 130,666.67; stop-gain 10 % not binding.
    contract = load_template("cjr")
    settlement = settle(
        contract,
        "PY3",
        [
            EntityInputs(
                entity_id="H1",
                episodes=100,
                episode_payments=D("2450000"),
                hospital_price=D("25000"),
                regional_price=D("27000"),
                quality_score=D("10.0"),
            )
        ],
    )
    statement = settlement.statements[0]
    assert statement.net_settlement == D("130666.67")
    stop_gain = next(line for line in statement.lines if line.label == "Stop-gain limit")
    assert stop_gain.value is not None and stop_gain.value.quantize(D("0.01")) == D("258066.67")
    assert any("PY3" in step for step in settlement.glide_path_applied)


def test_cjr_py1_has_no_repayment() -> None:
    # docs/reference/methodology.md §3.1: repayment discount "PY1 n/a" -- PY1 carries no downside; spending above target owes 0.
    settlement = settle(
        load_template("cjr"),
        "PY1",
        [
            EntityInputs(
                entity_id="H1",
                episodes=100,
                episode_payments=D("3000000"),
                hospital_price=D("25000"),
                regional_price=D("27000"),
                quality_score=D("10.0"),
            )
        ],
    )
    assert settlement.statements[0].net_settlement == D("0")


PCF_TERMS = {
    "total_primary_care_payment.pbpm_by_risk_group.1": "28",
    "total_primary_care_payment.pbpm_by_risk_group.2": "45",
    "total_primary_care_payment.pbpm_by_risk_group.3": "100",
    "total_primary_care_payment.pbpm_by_risk_group.4": "175",
    "total_primary_care_payment.flat_visit_fee": "40.28",
}
PCF = with_terms("primary_care_first", PCF_TERMS)


@pytest.mark.parametrize(
    ("adjustment", "expected"), [(D("-0.10"), D("23875.20")), (D("0.50"), D("39792.00"))]
)
def test_primary_care_first_template(adjustment: D, expected: D) -> None:
    # docs/reference/methodology.md §4 derived example, with the example's rates stated as the contract's terms (the
    # template leaves them REQUIRED): risk group 2, 500 beneficiaries -> 500 x $45 = $22,500; 100 visits
    # x $40.28 = $4,028; total $26,528; PBA -10 % -> $23,875.20, +50 % -> $39,792.
    net, statement = _net(
        PCF,
        risk_group="2",
        member_months=500,
        visits=100,
        performance_adjustment=adjustment,
    )
    assert statement.summary["amount_total_primary_care_payment"] == D("26528.00")
    assert net == expected
    # The PBP (quarterly in advance) and the visit fees (as claims were paid) were paid during the period: the
    # balance due at settlement is the adjustment alone, -2,652.80 or +13,264.00.
    assert statement.paid_during_period == D("26528.00")
    assert statement.balance_due == expected - D("26528.00")


def test_performance_adjustment_is_bounded() -> None:
    # PCF's PBA ranges -10 % to +50 % (docs/reference/methodology.md §4): a requested +80 % pays +50 %.
    net, _ = _net(
        PCF,
        risk_group="2",
        member_months=500,
        visits=100,
        performance_adjustment=D("0.8"),
    )
    assert net == D("39792.00")


def test_oncology_care_model_template() -> None:
    # Hand arithmetic on the verified OCM parameters (docs/reference/methodology.md §3.3): MEOS $160 PBPM; one-sided target =
    # benchmark x (1 - 4 %). 50 episodes with 300 episode months -> MEOS 300 x 160 = 48,000 (billed monthly);
    # benchmark 30,000 per episode -> target 28,800 x 50 = 1,440,000; actual 1,400,000 -> PBP 40,000.
    # The template leaves the stop-gain and the quality adjustment REQUIRED; this agreement states 20 % and
    # no quality adjustment (neither binds here).
    ocm = with_terms(
        "oncology_care_model",
        {
            "performance_based_payment.stop_gain": "0.20",
            "performance_based_payment.quality_adjustment_of_gain": "0",
            "performance_based_payment.quality_full_score": "1",
        },
    )
    net, statement = _net(
        ocm,
        member_months=300,
        episodes=50,
        benchmark_price=D("30000"),
        episode_payments=D("1400000"),
    )
    assert statement.summary["amount_meos"] == D("48000.00")
    assert statement.summary["amount_performance_based_payment"] == D("40000.00")
    assert net == D("88000.00")
    assert statement.balance_due == D("40000.00")


def test_cpc_plus_track2_fees_and_pbip() -> None:
    # Hand arithmetic on the verified CPC+ Track 2 parameters (docs/reference/methodology.md §4): tier 2 $11 PBPM and
    # complex tier $100 PBPM; PBIP $4.00 PBPM prepaid. 1,200 tier-2 months + 60 complex months -> 13,200 + 6,000 =
    # 19,200; PBIP prepaid 4.00 x 1,260 = 5,040; performance_score 0.5 = half earned -> 2,520 kept, 2,520 recouped.
    # Tiers 1, 3 and 4 are REQUIRED terms of the template (unused here: this practice has none of their months).
    cpc = with_terms(
        "cpc_plus_track2",
        {f"care_management_fee.pbpm_by_tier.{tier}": "1" for tier in ("tier1", "tier3", "tier4")},
    )
    net, statement = _net(
        cpc,
        months_by_cell={"tier2": 1200, "complex": 60},
        performance_score=D("0.5"),
    )
    assert statement.summary["amount_care_management_fee"] == D("19200.00")
    assert statement.summary["amount_pbip"] == D("2520.00")
    assert net == D("21720.00")
    # CMF and the PBIP were paid during the year: the settlement recoups the unearned half of the PBIP.
    assert statement.balance_due == D("-2520.00")


def test_enhancing_oncology_model_meos_and_recoupment() -> None:
    # Hand arithmetic on the EOM template with an agreement's terms: MEOS $70 PBPM + $30 for dual months
    # (docs/reference/methodology.md §3.3, secondary page). 600 episode months, 100 of them dual -> 42,000 + 3,000 = 45,000.
    # Target = benchmark price x (1 - 4 %): 20 episodes x 25,000 x 0.96 = 480,000; actual 500,000 -> shortfall
    # 20,000; the 4 % stop-loss, 4 % x 480,000 = 19,200, binds -> owes 19,200. Net 45,000 - 19,200 = 25,800.
    eom = with_terms(
        "enhancing_oncology_model",
        {
            "meos.pbpm": "70",
            "meos.dual_pbpm_addition": "30",
            "performance_based_payment.discount": "0.04",
            "performance_based_payment.stop_gain": "0.04",
            "performance_based_payment.stop_loss": "0.04",
            "performance_based_payment.quality_adjustment_of_gain": "0",
            "performance_based_payment.quality_adjustment_of_loss": "0",
            "performance_based_payment.quality_full_score": "1",
        },
    )
    net, statement = _net(
        eom,
        member_months=600,
        dual_member_months=100,
        episodes=20,
        benchmark_price=D("25000"),
        episode_payments=D("500000"),
    )
    assert statement.summary["amount_meos"] == D("45000.00")
    assert statement.summary["amount_performance_based_payment"] == D("-19200.00")
    assert net == D("25800.00")


BPCI_TERMS = {
    "reconciliation.discount": "0.03",
    "reconciliation.quality_adjustment_of_gain": "0.10",
    "reconciliation.quality_adjustment_of_loss": "0.10",
    "reconciliation.quality_full_score": "1",
    "reconciliation.stop_gain": "0.20",
    "reconciliation.stop_loss": "0.20",
}


def test_bpci_advanced_quality_adjusts_the_gain() -> None:
    # Hand arithmetic on the BPCI-A template with an agreement's terms (3 % discount, 10 % CQS adjustment,
    # 20 % limits): 40 episodes x 30,000 x (1 - 3 %) = 1,164,000 target; actual 1,100,000 -> NPRA 64,000
    # (stop-gain 20 % = 232,800 not binding); CQS adjustment 10 % x (1 - 0.8) = 2 % -> 64,000 x 0.98 = 62,720.
    net, _ = _net(
        with_terms("bpci_advanced", BPCI_TERMS),
        episodes=40,
        benchmark_price=D("30000"),
        episode_payments=D("1100000"),
        quality_score=D("0.8"),
    )
    assert net == D("62720.00")


def test_bpci_advanced_quality_adjusts_the_repayment() -> None:
    # The template's own note: the CQS adjusts positive AND negative amounts. Same terms; actual 1,250,000 ->
    # 1,250,000 - 1,164,000 = 86,000 owed (stop-loss 20 % x 1,164,000 = 232,800 not binding); a CQS of 0.8
    # forgives 10 % x 0.8 = 8 % of it -> owes 86,000 x 0.92 = 79,120.
    net, statement = _net(
        with_terms("bpci_advanced", BPCI_TERMS),
        episodes=40,
        benchmark_price=D("30000"),
        episode_payments=D("1250000"),
        quality_score=D("0.8"),
    )
    assert net == D("-79120.00")
    assert any(line.label == "Quality adjustment of the repayment" for line in statement.lines)  # type: ignore[attr-defined]


def test_bpci_advanced_prices_from_the_payers_benchmark_price() -> None:
    # BPCI-A target prices are CMS's, given per participant: without benchmark_price the entity is refused
    # (no fallback to a CJR-style hospital/regional blend).
    settlement = settle(
        with_terms("bpci_advanced", BPCI_TERMS),  # type: ignore[arg-type]
        "2025",
        [
            EntityInputs(
                entity_id="E1",
                episodes=40,
                regional_price=D("30000"),
                episode_payments=D("1100000"),
                quality_score=D("0.8"),
            )
        ],
    )
    assert not settlement.statements
    assert "field benchmark_price is required" in settlement.rejected[0]["reason"]


def test_quality_adjustment_needs_a_quality_score() -> None:
    # A missing CQS must not pay the full gain: the entity is refused, naming the field.
    settlement = settle(
        with_terms("bpci_advanced", BPCI_TERMS),  # type: ignore[arg-type]
        "2025",
        [
            EntityInputs(
                entity_id="E1", episodes=40, benchmark_price=D("30000"), episode_payments=D("1100000")
            )
        ],
    )
    assert not settlement.statements
    assert "field quality_score is required" in settlement.rejected[0]["reason"]


def test_cjr_needs_the_composite_quality_score() -> None:
    # CJR quality bands decide the discount and the payment eligibility (42 CFR 510.315): no CQS, no payment
    # computed on a band nobody chose.
    settlement = settle(
        load_template("cjr"),
        "PY3",
        [
            EntityInputs(
                entity_id="H1",
                episodes=100,
                episode_payments=D("2450000"),
                hospital_price=D("25000"),
                regional_price=D("27000"),
            )
        ],
    )
    assert not settlement.statements
    assert "field quality_score is required" in settlement.rejected[0]["reason"]


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        (
            "bpci_advanced",
            [
                "discount",
                "quality_adjustment_of_gain",
                "quality_adjustment_of_loss",
                "quality_full_score",
                "stop_gain",
                "stop_loss",
            ],
        ),
        ("primary_care_first", ["pbpm_by_risk_group.1", "pbpm_by_risk_group.4", "flat_visit_fee"]),
        ("enhancing_oncology_model", ["meos].pbpm", "dual_pbpm_addition", "stop_loss"]),
        ("oncology_care_model", ["stop_gain", "quality_adjustment_of_gain"]),
        ("cpc_plus_track1", ["pbpm_by_tier.tier3", "pbpm_by_tier.tier4"]),
        ("cpc_plus_track2", ["pbpm_by_tier.tier1", "pbpm_by_tier.tier3"]),
    ],
)
def test_unverified_terms_are_required_inputs(template: str, fields: list[str]) -> None:
    # No placeholder pays: a template whose amounts no CMS document verifies stops the whole run, naming each
    # REQUIRED term, until the agreement's values are set.
    from apmkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        settle(load_template(template), "2025", [EntityInputs(entity_id="E1")])
    message = str(info.value)
    assert message.count("\n") == 0
    for field in fields:
        assert field in message


def test_money_places_apply_to_shared_savings() -> None:
    # rounding.money_places 0: whole dollars for every component, shared savings included, rounded once.
    # Savings 1,000,000 - 949,999.01 = 50,000.99 (5.0 % >= 2 % MSR), first-dollar 50 % -> 25,000.495 exactly:
    # whole dollars 25,000 (rounding the cents figure 25,000.50 again would give 25,001).
    contract = _contract(
        {
            "id": "shared_savings",
            "type": "shared_savings",
            "terms": {
                "sided": "one_sided",
                "minimum_savings_rate": {"kind": "fixed", "rate": "0.02"},
                "sharing_basis": "first_dollar",
                "max_sharing_rate": "0.50",
            },
        },
        rounding={"money_places": 0},
    )
    net, statement = _net(contract, benchmark=D("1000000"), expenditure=D("949999.01"))
    assert net == D("25000")
    assert statement.summary["earned_savings"] == D("25000")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("template", "inputs", "expected"),
    [
        # docs/reference/methodology.md §1.7 B (BASIC E, PY2025): savings -> 3,920,000; losses with $50M revenue -> owes 2,400,000
        ("mssp_basic_e", {"expenditure": D("226000000"), "quality_standard_met": True}, D("3920000.00")),
        (
            "mssp_basic_e",
            {
                "expenditure": D("242000000"),
                "quality_standard_met": True,
                "participant_revenue": D("50000000"),
            },
            D("-2400000.00"),
        ),
        # docs/reference/methodology.md §1.7 C (ENHANCED): score 0.90 -> 3.2M, 0.50 -> 5.0M, QPS failed -> 6.0M owed
        (
            "mssp_enhanced",
            {"expenditure": D("242000000"), "quality_score": D("0.9"), "quality_standard_met": True},
            D("-3200000.00"),
        ),
        (
            "mssp_enhanced",
            {"expenditure": D("242000000"), "quality_score": D("0.5"), "quality_standard_met": True},
            D("-5000000.00"),
        ),
        (
            "mssp_enhanced",
            {"expenditure": D("242000000"), "quality_score": D("0.9"), "quality_standard_met": False},
            D("-6000000.00"),
        ),
    ],
)
def test_mssp_templates_through_the_settlement_engine(template: str, inputs: dict, expected: D) -> None:
    from apmkit.contracts import template_names

    if template not in template_names():
        pytest.skip(f"{template} template not shipped yet (MSSP engineer)")
    net, _ = _net(load_template(template), benchmark=D("234000000"), population=20000, **inputs)
    assert net == expected
