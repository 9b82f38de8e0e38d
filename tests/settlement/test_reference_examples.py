"""Worked examples of the reference (methodology.md) and published CMS results, settled through contracts.

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

# 42 CFR 425.604(b) MSR table (methodology.md section 1.2), interpolated within each band.
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


def _net(contract: object, period: str = "2025", **inputs: object) -> tuple[D, object]:
    settlement = settle(contract, period, [EntityInputs(entity_id="E1", **inputs)])  # type: ignore[arg-type]
    assert not settlement.rejected, settlement.rejected
    statement = settlement.statements[0]
    return statement.net_settlement, statement


def test_mssp_basic_e_savings_quality_met() -> None:
    # methodology.md 1.7 B: N 20,000 -> MSR 2.5 %; B $234.0M, E $226.0M; 50 % -> $4.0M -> x 0.98 = $3,920,000.
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
    # methodology.md 1.7 B: alternative QPS only, HEA score 0.60 -> FSR 0.30 -> $2.4M -> $2,352,000.
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
    # methodology.md 1.7 B: E $242.0M, loss $8.0M x 30 % = $2.4M; cap min(8 % x $50M, 4 % x $234M) = $4.0M.
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
    # methodology.md 1.7 C: loss $8.0M; rate max(0.40, 1 - 0.75 x score) -> $3.2M / $5.0M; QPS failed 75 % -> $6.0M.
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
    # methodology.md 1.7 A0 (PY2018 PUF, ACO A1409): GenSaveLoss 37,681,081, FSR 0.4541, ABtotBnchmk 121,182,225;
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
    # methodology.md 1.7 A (PY2018 PUF A1001): N 77,372 -> MSR 2 %; B 1,072,551,536; E 960,028,237;
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
    # methodology.md 3.1 derived example (PY3, good quality): 1/3 x 25,000 + 2/3 x 27,000 = 26,333.33; discount
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
    # methodology.md 3.1: repayment discount "PY1 n/a" -- PY1 carries no downside; spending above target owes 0.
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


@pytest.mark.parametrize(
    ("adjustment", "expected"), [(D("-0.10"), D("23875.20")), (D("0.50"), D("39792.00"))]
)
def test_primary_care_first_template(adjustment: D, expected: D) -> None:
    # methodology.md section 4 derived example: risk group 2, 500 beneficiaries -> 500 x $45 = $22,500; 100 visits
    # x $40.28 = $4,028; total $26,528; PBA -10 % -> $23,875.20, +50 % -> $39,792.
    net, statement = _net(
        load_template("primary_care_first"),
        risk_group="2",
        member_months=500,
        visits=100,
        performance_adjustment=adjustment,
    )
    assert statement.summary["amount_total_primary_care_payment"] == D("26528.00")
    assert net == expected


def test_performance_adjustment_is_bounded() -> None:
    # PCF's PBA ranges -10 % to +50 % (methodology.md section 4): a requested +80 % pays +50 %.
    net, _ = _net(
        load_template("primary_care_first"),
        risk_group="2",
        member_months=500,
        visits=100,
        performance_adjustment=D("0.8"),
    )
    assert net == D("39792.00")


def test_oncology_care_model_template() -> None:
    # Hand arithmetic on the verified OCM parameters (methodology.md 3.3): MEOS $160 PBPM; one-sided target =
    # benchmark x (1 - 4 %). 50 episodes with 300 episode months -> MEOS 300 x 160 = 48,000 (billed monthly);
    # benchmark 30,000 per episode -> target 28,800 x 50 = 1,440,000; actual 1,400,000 -> PBP 40,000.
    net, statement = _net(
        load_template("oncology_care_model"),
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
    # Hand arithmetic on the verified CPC+ Track 2 parameters (methodology.md section 4): tier 2 $11 PBPM and
    # complex tier $100 PBPM; PBIP $4.00 PBPM prepaid. 1,200 tier-2 months + 60 complex months -> 13,200 + 6,000 =
    # 19,200; PBIP prepaid 4.00 x 1,260 = 5,040; half earned -> 2,520 kept, 2,520 recouped.
    net, statement = _net(
        load_template("cpc_plus_track2"),
        months_by_cell={"tier2": 1200, "complex": 60},
        performance_score=D("0.5"),
    )
    assert statement.summary["amount_care_management_fee"] == D("19200.00")
    assert statement.summary["amount_pbip"] == D("2520.00")
    assert net == D("21720.00")
    # CMF and the PBIP were paid during the year: the settlement recoups the unearned half of the PBIP.
    assert statement.balance_due == D("-2520.00")


def test_enhancing_oncology_model_meos_and_recoupment() -> None:
    # Hand arithmetic on the EOM template: MEOS $70 PBPM + $30 for dual months (methodology.md 3.3, secondary
    # page). 600 episode months, 100 of them dual -> 42,000 + 3,000 = 45,000. Target = benchmark price x (1 - 4 %)
    # (template placeholder): 20 episodes x 25,000 x 0.96 = 480,000; actual 500,000 -> shortfall 20,000; the
    # 4 % stop-loss, 4 % x 480,000 = 19,200, binds -> owes 19,200. Net 45,000 - 19,200 = 25,800.
    net, statement = _net(
        load_template("enhancing_oncology_model"),
        member_months=600,
        dual_member_months=100,
        episodes=20,
        benchmark_price=D("25000"),
        episode_payments=D("500000"),
    )
    assert statement.summary["amount_meos"] == D("45000.00")
    assert statement.summary["amount_performance_based_payment"] == D("-19200.00")
    assert net == D("25800.00")


def test_bpci_advanced_quality_adjusts_the_gain() -> None:
    # Hand arithmetic on the BPCI-A template (parameters unverified, structure from the model description):
    # 40 episodes x 30,000 x (1 - 3 %) = 1,164,000 target; actual 1,100,000 -> NPRA 64,000 (stop-gain 20 % =
    # 232,800 not binding); CQS adjustment 10 % x (1 - 0.8) = 2 % -> 64,000 x 0.98 = 62,720.
    net, _ = _net(
        load_template("bpci_advanced"),
        episodes=40,
        benchmark_price=D("30000"),
        episode_payments=D("1100000"),
        quality_score=D("0.8"),
    )
    assert net == D("62720.00")


@pytest.mark.parametrize(
    ("template", "inputs", "expected"),
    [
        # methodology.md 1.7 B (BASIC E, PY2025): savings -> 3,920,000; losses with $50M revenue -> owes 2,400,000
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
        # methodology.md 1.7 C (ENHANCED): score 0.90 -> 3.2M, 0.50 -> 5.0M, QPS failed -> 6.0M owed
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
