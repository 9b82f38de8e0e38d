"""The MSSP benchmark from canonical tables, and the county PUF reader.

The population is built so that each step reproduces a derived example of docs/reference/methodology.md §1.5: per
capita $11,000 in every base year with a flat national trend (historical $11,000), region $12,000 and
national $11,500 (first agreement: +$350 regional adjustment), g_nat 1.040 / g_reg 1.050 / w_nat 0.20 /
ACPT 1.045 (update 1.0470). Updated benchmark = 11,350 x 1.047 = $11,883.45 per capita.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from apmkit.benchmark.mssp import mssp_benchmark
from apmkit.benchmark.spec import MsspBenchmarkSpec
from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.money import round_money
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS
from apmkit.workspace.benchmark import load_county_puf

YEARS = (2021, 2022, 2023, 2024)


def _population(engine: Engine, members: int = 4) -> dict[str, Any]:
    member_rows, enrollment_rows, claim_rows = [], [], []
    for i in range(members):
        mid = f"M{i}"
        member_rows.append({"member_id": mid, "birth_date": dt.date(1940, 1, 1), "county_fips": "01000"})
        for year in YEARS:
            for month in range(1, 13):
                enrollment_rows.append(
                    {
                        "member_id": mid,
                        "month": dt.date(year, month, 1),
                        "payer": "cms",
                        "product": "ffs",
                        "part_a": True,
                        "part_b": True,
                        "medicare_advantage": False,
                    }
                )
            # $11,000 a year in two claims
            for n, amount in enumerate(("6000.00", "5000.00")):
                claim_rows.append(
                    {
                        "claim_id": f"{mid}-{year}-{n}",
                        "claim_line_number": 1,
                        "claim_type": "inpatient",
                        "member_id": mid,
                        "service_date": dt.date(year, 3 + n, 1),
                        "paid_amount": D(amount),
                    }
                )
    return {
        "members": engine.from_rows(member_rows, MEMBERS),
        "enrollment": engine.from_rows(enrollment_rows, ENROLLMENT),
        "medical_claims": engine.from_rows(claim_rows, MEDICAL_CLAIMS),
    }


def _county(engine: Engine) -> Any:
    return engine.from_arrow(
        pa.table(
            {
                "year": pa.array([2023], pa.int32()),
                "county_code": ["01000"],
                "state_name": ["Alabama"],
                "county_name": ["Autauga"],
                "enrollment_type": ["aged_non_dual"],
                "per_capita": pa.array([D("12000.00")], pa.decimal128(18, 2)),
                "risk_score": pa.array([D("1.00000")], pa.decimal128(12, 5)),
                "person_years": pa.array([D("100.00")], pa.decimal128(18, 2)),
            }
        )
    )


SPEC = {
    "base_years": (2021, 2022, 2023),
    "performance_year": 2024,
    "truncation_thresholds": {y: {"aged_non_dual": D(1_000_000)} for y in YEARS},
    "national_per_capita": {y: {"aged_non_dual": D(11500)} for y in (2021, 2022, 2023)},
    "national_weight": D("0.20"),
    "update": {
        "national_growth": {"aged_non_dual": D("1.040")},
        "regional_growth": {"aged_non_dual": D("1.050")},
        "acpt": {"aged_non_dual": D("1.045")},
    },
    "minimum_loss_rate": D("0.02"),
}


def test_mssp_benchmark_end_to_end(engine: Engine) -> None:
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(SPEC),
        fetch=engine.rows,
        materialize=engine.materialize,
        county=_county(engine),
    )
    assert result.historical_per_capita == D(11000)
    assert result.adjustment_applied == "regional"
    assert result.by_type["aged_non_dual"]["adjustment"] == D("350.00")
    assert result.by_type["aged_non_dual"]["update"].quantize(D("0.0001")) == D("1.0470")
    # 11,350 x (2/3 x 1.048 + 1/3 x 1.045) = 11,350 x 1.047 = 11,883.45
    assert result.updated_per_capita.quantize(D("0.01")) == D("11883.45")
    assert result.performance_year_person_years == D(4)
    assert result.total_benchmark == D("47533.80")
    # PY spend 4 x $11,000 = $44,000 < benchmark: no guardrail
    assert result.performance_year_expenditure == D(44000)
    assert result.guardrail_status == "three_way"
    steps = [line.step for line in result.lines]
    assert steps.index("per_capita") < steps.index("historical_benchmark") < steps.index("total_benchmark")


def test_mssp_benchmark_prior_savings_and_renewal(engine: Engine) -> None:
    # Renewal with PSA inputs of docs/reference/methodology.md §1.5 step 4 ($112.50) and a region at the ACO's level (regional
    # adjustment 0, not applied) -> the PSA applies: 11,000 + 112.50 = 11,112.50 before the update.
    spec = dict(
        SPEC,
        agreement_period=2,
        prior_savings={"per_capita_savings": [300, 0, 450], "proration_factor": "0.9"},
    )
    spec["update"] = {"national_growth": {"aged_non_dual": D(1)}}
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(spec),
        fetch=engine.rows,
        materialize=engine.materialize,
    )
    assert result.adjustment_applied == "prior_savings"
    assert result.updated_per_capita == D("11112.50")


def test_county_puf_slice(engine: Engine, fixtures_dir: Path) -> None:
    regional, rejects, read = load_county_puf(
        engine, fixtures_dir / "benchmark" / "county_puf_2018_slice.csv"
    )
    rows = engine.to_arrow(regional).to_pylist()
    assert read == 13
    autauga = {r["enrollment_type"]: r for r in rows if r["county_code"] == "01000"}
    # PUF cells: Autauga ESRD 64,732.80 / 0.93872 / 55.92; AGED/NON-DUAL 9,388.28 / 1.04037 / 3,199.50
    assert autauga["esrd"]["per_capita"] == D("64732.80")
    assert autauga["esrd"]["risk_score"] == D("0.93872")
    assert autauga["aged_non_dual"]["person_years"] == D("3199.50")
    # 13 counties x 4 types minus the suppressed cells: Aleutians East/West (ESRD '.', DISABLED '*'),
    # Bethel (ESRD), Bristol Bay (ESRD, DISABLED, AGED/DUAL) -> 52 - 8 = 44
    assert len(rows) == 44
    assert engine.count(rejects) == 0


def test_county_puf_missing_column(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Year,State Name\n2018,Alabama\n")
    with pytest.raises(InputFileError, match=r"bad\.csv, field County Name"):
        load_county_puf(engine, bad)


def test_mssp_risk_restatement_growth_cap_and_puf_region(engine: Engine, fixtures_dir: Path) -> None:
    # Risk scores: BY1 1.25, BY2 and BY3 1.00, PY 1.10. BY1 is restated at BY3 risk (425.652(a)(3)):
    # 11,000 x 1.00/1.25 = 8,800 -> historical 0.1 x 8,800 + 0.3 x 11,000 + 0.6 x 11,000 = 10,780.
    # PY/BY3 ratio 1.10 exceeds the cap 1.010 + 0.03 = 1.040 (docs/reference/methodology.md §1.4) -> 1.040; update 1 -> 10,780 x 1.04.
    tables = _population(engine)
    scores = engine.from_arrow(
        pa.table(
            {
                "member_id": [f"M{i}" for i in range(4) for _ in YEARS],
                "year": [y for _ in range(4) for y in YEARS],
                "score": [s for _ in range(4) for s in (1.25, 1.0, 1.0, 1.10)],
            }
        )
    )
    regional, _, _ = load_county_puf(engine, fixtures_dir / "benchmark" / "county_puf_2018_slice.csv")
    # The PUF is for 2018: relabel it as BY3 so the members' county 01000 (Autauga, AL) is their region.
    county = regional.mutate(year=ibis.literal(2023, "int32"))
    spec = dict(SPEC, risk_growth={"demographic_growth": "1.010"}, national_weight=None)
    spec["update"] = {"national_growth": {"aged_non_dual": D(1)}}
    result = mssp_benchmark(
        tables,
        MsspBenchmarkSpec.model_validate(spec),
        fetch=engine.rows,
        materialize=engine.materialize,
        risk_scores=scores,
        county=county,
    )
    assert result.historical_per_capita == D("10780.00")
    assert result.by_type["aged_non_dual"]["risk_ratio"] == D("1.040")
    assert result.updated_per_capita == D("11211.2000")
    # Regional expenditure at the ACO's risk: PUF Autauga aged/non-dual 9,388.28 x 1.00 / 1.04037.
    # The ACO spends more than its region -> 15% x (regional - 10,780) < 0, not applied (2024+ rule).
    regional_level = D("9388.28") * D(1) / D("1.04037")
    difference = next(line for line in result.lines if line.step == "regional_difference")
    assert difference.value == round_money(regional_level - D(10780))
    assert result.adjustment_applied == "none"
    # ACO market share: 4 person-years of 3,199.50 + 55.92 + 680.42 + 160.92 assignable in the county
    share = next(line for line in result.lines if line.step == "national_weight").value
    assert share == (D(48) / D(12)) / (D("55.92") + D("680.42") + D("160.92") + D("3199.50"))


def test_guardrail_no_savings_no_losses_reaches_the_settlement(engine: Engine) -> None:
    """425.652(b)(5)(ii): spending above the three-way benchmark by the MLR but below the two-way one means
    neither savings nor losses. The benchmark used to hand the settlement the two-way total as *the* benchmark,
    which then paid savings against it; now the settlement gets both totals and applies the rule itself."""
    from apmkit.programs.mssp.rules import mssp_terms
    from apmkit.settlement.inputs import EntityInputs, apply_benchmarks
    from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings

    spec = {
        **SPEC,
        # two-way growth 1.0, ACPT 0.85: three-way update 2/3 x 1.0 + 1/3 x 0.85 = 0.95
        "update": {
            "national_growth": {"aged_non_dual": D("1.0")},
            "regional_growth": {"aged_non_dual": D("1.0")},
            "acpt": {"aged_non_dual": D("0.85")},
        },
    }
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(spec),
        fetch=engine.rows,
        materialize=engine.materialize,
        county=_county(engine),
    )
    # 4 person-years x 11,350 x 0.95 = 43,130.00 (three-way); x 1.0 = 45,400.00 (two-way); spend 44,000
    assert result.total_benchmark == D("43130.00")
    assert result.total_two_way_benchmark == D("45400.00")
    assert result.guardrail_status == "no_savings_no_losses" and result.guardrail_applies
    (entity,) = apply_benchmarks(
        [EntityInputs(entity_id="ACO")], result.summary_arrow().to_pylist(), "benchmark_summary.parquet"
    )
    terms = mssp_terms("enhanced", 2024, msr_election=D("0.02"))
    inputs = SharedSavingsInputs(
        benchmark=entity.benchmark,
        expenditure=D(44000),
        quality_score=D("0.9"),
        quality_standard_met=True,
        guardrail_applies=entity.guardrail_applies,
        recalculated_benchmark=entity.recalculated_benchmark,
    )
    settled = compute_shared_savings(terms, inputs)
    assert settled.outcome == "neither" and settled.net == D(0)
    # what the old hand-over did: the two-way total as the benchmark -> 3.08 % savings, paid
    old = compute_shared_savings(terms, inputs.model_copy(update={"benchmark": D("45400.00")}))
    assert old.net > 0


def test_rebased_benchmark_of_a_second_agreement(engine: Engine) -> None:
    """A renewing ACO (42 CFR 425.652(c)(2)): equal base-year weights, its second regional adjustment at 50 % for a
    lower-spending ACO (425.656(c)), and the larger of that and its prior savings adjustment (425.652(a)(8)(iv)).
    Every base year is $11,000 -> historical $11,000 with any weights; region $12,000 -> 50 % x 1,000 = $500
    (cap 5 % x $11,500 = $575); PSA $112.50 (methodology §1.5 step 4) is smaller, so $500 applies:
    11,500 before the update; update 1.0 -> 11,500.00 per capita, 4 person-years -> 46,000.00."""
    spec = dict(
        SPEC,
        agreement_period=2,
        regional={"occurrence": 2},
        prior_savings={"per_capita_savings": [300, 0, 450], "proration_factor": "0.9"},
    )
    spec["update"] = {"national_growth": {"aged_non_dual": D(1)}}
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(spec),
        fetch=engine.rows,
        materialize=engine.materialize,
        county=_county(engine),
    )
    assert MsspBenchmarkSpec.model_validate(spec).weights[0] == D(1) / D(3)
    assert result.adjustment_applied == "regional"
    assert result.by_type["aged_non_dual"]["adjustment"] == D("500.00")
    assert result.updated_per_capita == D("11500.00")
    assert result.total_benchmark == D("46000.00")


def test_rebased_benchmark_2019_2023_rule_applies_a_negative_adjustment(engine: Engine) -> None:
    """A renewing ACO under the 2019-2023 rules (42 CFR 425.601(e)(2), (a)(8), (f)(2)): equal base-year weights; a
    higher-spending ACO's second regional adjustment is 25 % of the difference, applied even when negative (cap
    -5 % of national), with no offset factor; the update is the two-way blend (no ACPT).
    Historical $11,000, region $10,000 -> 25 % x -1,000 = -$250 (cap -5 % x 11,500 = -$575) -> $10,750;
    update 1.0 -> 4 person-years x 10,750 = $43,000.00."""
    county = engine.from_arrow(
        pa.table(
            {
                "year": pa.array([2023], pa.int32()),
                "county_code": ["01000"],
                "state_name": ["Alabama"],
                "county_name": ["Autauga"],
                "enrollment_type": ["aged_non_dual"],
                "per_capita": pa.array([D("10000.00")], pa.decimal128(18, 2)),
                "risk_score": pa.array([D("1.00000")], pa.decimal128(12, 5)),
                "person_years": pa.array([D("100.00")], pa.decimal128(18, 2)),
            }
        )
    )
    spec = dict(
        SPEC,
        agreement_period=2,
        regional={"occurrence": 2, "apply_negative": True, "negative_cap_share": "0.05"},
        minimum_loss_rate=None,
    )
    spec["update"] = {"national_growth": {"aged_non_dual": D(1)}}
    result = mssp_benchmark(
        _population(engine),
        MsspBenchmarkSpec.model_validate(spec),
        fetch=engine.rows,
        materialize=engine.materialize,
        county=county,
    )
    assert result.by_type["aged_non_dual"]["adjustment"] == D("-250.00")
    assert result.adjustment_applied == "regional"
    assert result.updated_per_capita == D("10750.00")
    assert result.total_benchmark == D("43000.00")
