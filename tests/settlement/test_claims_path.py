"""Claims path: canonical tables -> per-entity population and expenditure (run-out, exclusions, truncation,
completion, stop-loss excess, carve-outs). Expected values are hand sums of the rows below."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pyarrow as pa
import pytest

from apmkit.contracts import contract_from_data
from apmkit.engines import Engine
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, PHARMACY_CLAIMS
from apmkit.settlement import claims
from apmkit.settlement.engine import settle

CONTRACT = contract_from_data(
    {
        "id": "claims_test",
        "name": "claims test",
        "expenditure": {
            "runout_months": 3,
            "completion_factor": "1.01",
            "truncation_per_member": 150000,
            "exclude_claim_types": ["dme"],
            "include_pharmacy": True,
        },
        "target": {"benchmark_per_person_year": 120000},
        "components": [
            {
                "id": "capitation",
                "type": "capitation",
                "scope": "partial",
                "default_pmpm": 10,
                "carve_outs": ["pharmacy"],
                "stop_loss": {"attachment_point": 100000, "reimbursement_rate": "0.5"},
                "prepaid": False,
            },
            {"id": "corridor", "type": "risk_corridor", "gain_bands": [{"lower": 0, "entity_share": "0.5"}]},
        ],
    }
)


def _months(member: str, first: int, last: int, year: int = 2025) -> list[dict[str, Any]]:
    return [
        {"member_id": member, "month": date(year, m, 1), "payer": "medicare", "product": "ffs"}
        for m in range(first, last + 1)
    ]


ENROLLMENT_ROWS = [
    *_months("M1", 1, 12),
    *_months("M1", 12, 12, 2024),  # outside the period
    *_months("M2", 1, 6),
    *_months("M3", 1, 12),
    *_months("M4", 1, 12),  # not attributed
]


def _claim(n: int, member: str, kind: str, day: date, paid: str, processed: date | None) -> dict[str, Any]:
    return {
        "claim_id": f"C{n}",
        "claim_line_number": 1,
        "claim_type": kind,
        "member_id": member,
        "claim_from_date": day,
        "paid_amount": D(paid),
        "processed_date": processed,
    }


MEDICAL_ROWS = [
    _claim(1, "M1", "inpatient", date(2025, 3, 10), "200000.00", date(2025, 4, 1)),
    _claim(2, "M1", "professional", date(2025, 12, 20), "100.50", date(2026, 3, 15)),  # inside the run-out
    _claim(3, "M1", "professional", date(2025, 12, 21), "50.00", date(2026, 4, 2)),  # after the run-out
    _claim(4, "M1", "dme", date(2025, 5, 1), "999.99", date(2025, 6, 1)),  # excluded claim type
    _claim(5, "M2", "outpatient", date(2025, 2, 1), "1234.56", None),  # processing date unknown: counted
    _claim(6, "M2", "professional", date(2024, 12, 31), "10.00", date(2025, 1, 10)),  # before the period
    _claim(7, "M3", "hha", date(2025, 7, 7), "3000.00", date(2025, 8, 1)),
    _claim(8, "M4", "professional", date(2025, 1, 5), "1000.00", date(2025, 2, 1)),  # not attributed
]

PHARMACY_ROWS = [
    {
        "claim_id": "P1",
        "claim_line_number": 1,
        "member_id": "M3",
        "dispensing_date": date(2025, 8, 1),
        "paid_amount": D("45.45"),
        "processed_date": date(2025, 8, 2),
    }
]

ATTRIBUTION = pa.table(
    {"member_id": ["M1", "M2", "M3"], "entity_id": ["ACO1", "ACO1", "ACO2"], "cell": ["low", "high", "low"]}
)


def _measure(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tables = {
        "enrollment": engine.from_rows(ENROLLMENT_ROWS, ENROLLMENT),
        "medical_claims": engine.from_rows(MEDICAL_ROWS, MEDICAL_CLAIMS),
        "pharmacy_claims": engine.from_rows(PHARMACY_ROWS, PHARMACY_CLAIMS),
    }
    spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")
    measures, cells = claims.measure(tables, engine.from_arrow(ATTRIBUTION), spec)
    return engine.to_arrow(measures).to_pylist(), engine.to_arrow(cells).to_pylist()


EXPECTED_MEASURES = [
    {
        "entity_id": "ACO1",
        "population": 2,
        "member_months": 18,
        "members_with_claims": 2,
        "claim_lines": 3,
        # 200,000.00 + 100.50 + 1,234.56
        "expenditure_cents": 20133506,
        # M1 truncated to 150,000.00, M2 1,234.56
        "truncated_expenditure_cents": 15123456,
        "members_truncated": 1,
        # M1: 200,100.50 - 100,000 attachment
        "stop_loss_excess_cents": 10010050,
        "carved_out_cents": 0,
        "risk_score_months": D(0),
        "scored_member_months": 0,
    },
    {
        "entity_id": "ACO2",
        "population": 1,
        "member_months": 12,
        "members_with_claims": 1,
        "claim_lines": 2,
        "expenditure_cents": 304545,  # 3,000.00 + 45.45 pharmacy
        "truncated_expenditure_cents": 304545,
        "members_truncated": 0,
        "stop_loss_excess_cents": 0,
        "carved_out_cents": 4545,  # pharmacy is carved out of the capitation
        "risk_score_months": D(0),
        "scored_member_months": 0,
    },
]
EXPECTED_CELLS = [
    {"entity_id": "ACO1", "cell": "high", "member_months": 6},
    {"entity_id": "ACO1", "cell": "low", "member_months": 12},
    {"entity_id": "ACO2", "cell": "low", "member_months": 12},
]


def test_runout_to_end_of_month_clamps() -> None:
    spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")
    assert spec.runout_end == date(2026, 3, 31)
    november = contract_from_data(
        {**CONTRACT.model_dump(mode="json"), "periods": {"FY": {"start": "2024-12-01", "end": "2025-11-30"}}}
    )
    assert claims.ClaimsMeasureSpec.from_contract(november, "FY").runout_end == date(2026, 2, 28)


def test_measures_per_entity(engine: Engine) -> None:
    measures, cells = _measure(engine)
    assert measures == EXPECTED_MEASURES
    assert cells == EXPECTED_CELLS


def test_member_detail_rows(engine: Engine) -> None:
    tables = {
        "enrollment": engine.from_rows(ENROLLMENT_ROWS, ENROLLMENT),
        "medical_claims": engine.from_rows(MEDICAL_ROWS, MEDICAL_CLAIMS),
        "pharmacy_claims": engine.from_rows(PHARMACY_ROWS, PHARMACY_CLAIMS),
    }
    spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")
    members = claims.member_measures(tables, engine.from_arrow(ATTRIBUTION), spec)
    rows = engine.to_arrow(claims.member_detail(members)).to_pylist()
    assert [(r["entity_id"], r["member_id"]) for r in rows] == [
        ("ACO1", "M1"),
        ("ACO1", "M2"),
        ("ACO2", "M3"),
    ]
    first = rows[0]
    # M1: 200,000.00 + 100.50 counted; truncated at 150,000; 100,100.50 above the 100,000 attachment
    assert (first["expenditure"], first["truncated_expenditure"], first["stop_loss_excess"]) == (
        D("200100.50"),
        D("150000.00"),
        D("100100.50"),
    )
    assert rows[2]["carved_out_expenditure"] == D("45.45")


def test_claims_settlement_end_to_end(engine: Engine) -> None:
    measures, cells = _measure(engine)
    spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")
    entities = claims.entity_inputs(measures, cells, spec, CONTRACT)
    first = entities[0]
    # 151,234.56 x 1.01 completion = 152,746.9056; 18 months = 1.5 person-years; benchmark 120,000 x 1.5
    assert first.expenditure == D("152746.9056")
    assert first.person_years == D("1.5")
    assert first.benchmark == D("180000.0")
    settlement = settle(CONTRACT, "2025", entities)
    statement = settlement.statements[0]
    # capitation 18 x 10 = 180; stop-loss 100,100.50 x 0.5 = 50,050.25
    assert statement.summary["amount_capitation"] == D("50230.25")
    # corridor: (180,000 - 152,746.9056) x 0.5 = 13,626.5472 -> 13,626.55
    assert statement.summary["amount_corridor"] == D("13626.55")
    assert statement.net_settlement == D("63856.80")
    detail = next(line for line in statement.lines if line.label == "Actual expenditure")
    assert detail.inputs["expenditure_before_truncation"] == "201335.06"
    assert detail.inputs["members_truncated"] == "1"


def test_no_attribution_puts_everyone_in_the_default_entity(engine: Engine) -> None:
    tables = {
        "enrollment": engine.from_rows(ENROLLMENT_ROWS, ENROLLMENT),
        "medical_claims": engine.from_rows(MEDICAL_ROWS, MEDICAL_CLAIMS),
        "pharmacy_claims": engine.from_rows([], PHARMACY_CLAIMS),
    }
    spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")
    measures, cells = claims.measure(tables, None, spec)
    rows = engine.to_arrow(measures).to_pylist()
    assert [r["entity_id"] for r in rows] == ["ENTITY"]
    # 4 members enrolled in 2025; 12 + 6 + 12 + 12 months; M4's 1,000.00 now counts
    assert rows[0]["population"] == 4 and rows[0]["member_months"] == 42
    assert rows[0]["expenditure_cents"] == 20133506 + 300000 + 100000
    assert engine.to_arrow(cells).num_rows == 0


def test_risk_scores_give_tiers_and_average_score(engine: Engine) -> None:
    tiered = contract_from_data(
        {
            **CONTRACT.model_dump(mode="json", exclude_none=True),
            "target": {
                "benchmark_per_person_year": 120000,
                "risk_tiers": [{"min_score": 0, "cell": "low"}, {"min_score": "1.0", "cell": "high"}],
            },
        }
    )
    tables = {
        "enrollment": engine.from_rows(ENROLLMENT_ROWS, ENROLLMENT),
        "medical_claims": engine.from_rows(MEDICAL_ROWS, MEDICAL_CLAIMS),
        "pharmacy_claims": engine.from_rows(PHARMACY_ROWS, PHARMACY_CLAIMS),
    }
    scores = engine.from_arrow(
        pa.table(
            {
                "member_id": ["M1", "M2", "M1"],
                "year": [2025, 2025, 2024],
                "score": [1.2, 0.8, 9.9],  # the 2024 score is not the period's
            }
        )
    )
    links = engine.from_arrow(ATTRIBUTION.drop(["cell"]))
    spec = claims.ClaimsMeasureSpec.from_contract(tiered, "2025")
    measures, cells = claims.measure(tables, links, spec, risk_scores=scores)
    rows = engine.to_arrow(measures).to_pylist()
    # ACO1: 1.2 x 12 + 0.8 x 6 = 19.2 score-months over 18 scored months; ACO2: M3 unscored
    assert rows[0]["risk_score_months"] == D("19.2") and rows[0]["scored_member_months"] == 18
    assert rows[1]["scored_member_months"] == 0
    assert engine.to_arrow(cells).to_pylist() == [
        {"entity_id": "ACO1", "cell": "high", "member_months": 12},
        {"entity_id": "ACO1", "cell": "low", "member_months": 6},
    ]
    entities = claims.entity_inputs(rows, engine.to_arrow(cells).to_pylist(), spec, tiered)
    assert entities[0].risk_score == D("19.2") / D(18)
    assert entities[1].risk_score is None


def test_risk_adjusted_capitation() -> None:
    from apmkit.settlement.inputs import EntityInputs

    contract = contract_from_data(
        {
            "id": "rac",
            "name": "risk-adjusted capitation",
            "components": [{"id": "cap", "type": "capitation", "default_pmpm": 400, "risk_adjusted": True}],
        }
    )
    # 1,000 months x 400 = 400,000 x risk score 1.0667 = 426,680.00
    statement = settle(
        contract, "2025", [EntityInputs(entity_id="E", member_months=1000, risk_score=D("1.0667"))]
    ).statements[0]
    assert statement.net_settlement == D("426680.00")


def _scored_measure(engine: Engine) -> list[dict[str, Any]]:
    tiered = contract_from_data(
        {
            **CONTRACT.model_dump(mode="json", exclude_none=True),
            "target": {"risk_tiers": [{"min_score": 0, "cell": "low"}, {"min_score": "1.0", "cell": "high"}]},
        }
    )
    tables = {
        "enrollment": engine.from_rows(ENROLLMENT_ROWS, ENROLLMENT),
        "medical_claims": engine.from_rows(MEDICAL_ROWS, MEDICAL_CLAIMS),
        "pharmacy_claims": engine.from_rows(PHARMACY_ROWS, PHARMACY_CLAIMS),
    }
    scores = engine.from_arrow(pa.table({"member_id": ["M1", "M2"], "score": [1.2, 0.8]}))
    spec = claims.ClaimsMeasureSpec.from_contract(tiered, "2025")
    measures, cells = claims.measure(tables, engine.from_arrow(ATTRIBUTION.drop(["cell"])), spec, scores)
    return engine.to_arrow(measures).to_pylist() + engine.to_arrow(cells).to_pylist()


@pytest.mark.spark
def test_spark_parity(spark_engine: Engine, duckdb_engine: Engine) -> None:
    assert _measure(spark_engine) == _measure(duckdb_engine) == (EXPECTED_MEASURES, EXPECTED_CELLS)
    assert _scored_measure(spark_engine) == _scored_measure(duckdb_engine)
