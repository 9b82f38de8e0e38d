"""A small hand-made run (marts + canonical tables + run.json) for the performance-report tests.

Two entities: E1 (TIN 111111111; NPIs 1000000001, 1000000002) and E2 (TIN 222222222; NPI 1000000003); m6 is
not attributed. Payers A and B; performance period 2025, baseline 2024. Every figure the tests expect is
computed from these frames with pandas, from the definitions in docs/reference/analytics-definitions.md.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

T1, T2 = "111111111", "222222222"
N1, N2, N3 = "1000000001", "1000000002", "1000000003"

ATTRIBUTION = pd.DataFrame(
    {
        "member_id": ["m1", "m2", "m3", "m4", "m5", "m6"],
        "attributed": [True, True, True, True, True, False],
        "entity_id": ["E1", "E1", "E1", "E2", "E2", None],
        "tin": [T1, T1, T1, T2, T2, None],
        "npi": [N1, N1, N2, N3, N3, None],
        "step": ["plurality"] * 5 + [None],
    }
)


def _months(member: str, first: date, last: date, payer: str) -> list[dict[str, object]]:
    rows = []
    month = first
    while month <= last:
        rows.append({"member_id": member, "month": month, "payer": payer})
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return rows


ENROLLMENT = pd.DataFrame(
    _months("m1", date(2024, 1, 1), date(2025, 12, 1), "A")
    + _months("m2", date(2025, 1, 1), date(2025, 6, 1), "A")
    + _months("m2", date(2025, 7, 1), date(2025, 12, 1), "B")
    + _months("m3", date(2025, 1, 1), date(2025, 12, 1), "A")
    + _months("m4", date(2024, 7, 1), date(2025, 12, 1), "A")
    + _months("m5", date(2025, 1, 1), date(2025, 9, 1), "A")
    + _months("m6", date(2025, 1, 1), date(2025, 12, 1), "A")
)
MEMBER_MONTHS = ENROLLMENT.assign(year=[m.year for m in ENROLLMENT["month"]])[["member_id", "year", "month"]]

EXPENDITURE = pd.DataFrame(
    [
        ("m1", date(2024, 5, 1), "inpatient", 1_000_000),
        ("m1", date(2025, 3, 1), "inpatient", 1_200_000),
        ("m1", date(2025, 3, 1), "professional", 30_000),
        ("m2", date(2025, 2, 1), "professional", 15_000),
        ("m2", date(2025, 8, 1), "outpatient", 45_001),
        ("m3", date(2025, 5, 1), "outpatient", 80_000),
        ("m3", date(2025, 11, 1), "dme", 9_999),
        ("m4", date(2024, 9, 1), "professional", 50_000),
        ("m4", date(2025, 2, 1), "inpatient", 900_000),
        ("m4", date(2025, 4, 1), "snf", 300_000),
        ("m5", date(2025, 6, 1), "hha", 120_000),
        ("m6", date(2025, 1, 1), "inpatient", 5_000_000),
    ],
    columns=["member_id", "month", "service_category", "cents"],
).assign(year=lambda f: [m.year for m in f["month"]], claim_lines=1)

RISK = pd.DataFrame(
    {"member_id": ["m1", "m2", "m3", "m4", "m5", "m6"], "score": [1.2, 0.8, 1.0, 1.5, 0.5, 1.0]}
)
BENCHMARK = pd.DataFrame({"entity_id": ["E1", "E2"], "benchmark_pmpm": ["900.00", "800.00"]})

UTILIZATION = pd.DataFrame(
    [
        ("m1", "admission", date(2025, 3, 4), 1),
        ("m1", "index_stay", date(2025, 3, 9), 1),
        ("m1", "ed_visit", date(2025, 3, 2), 1),
        ("m1", "ed_visit", date(2025, 3, 20), 1),
        ("m3", "ed_visit", date(2025, 5, 5), 1),
        ("m4", "admission", date(2025, 2, 1), 1),
        ("m4", "admission", date(2025, 2, 20), 1),
        ("m4", "index_stay", date(2025, 2, 5), 1),
        ("m4", "readmission", date(2025, 2, 5), 1),
        ("m4", "index_stay", date(2025, 2, 25), 1),
        ("m4", "snf_days", date(2025, 4, 1), 12),
        ("m5", "ed_visit", date(2025, 6, 1), 1),
        ("m5", "ed_visit", date(2025, 6, 9), 1),
        ("m5", "ed_visit", date(2025, 7, 9), 1),
        ("m5", "ed_visit", date(2025, 8, 9), 1),
        ("m5", "imaging", date(2025, 10, 9), 1),
        ("m6", "admission", date(2025, 1, 3), 1),
    ],
    columns=["member_id", "event", "event_date", "quantity"],
).assign(
    month=lambda f: [d.replace(day=1) for d in f["event_date"]],
    cents=0,
    npi=None,
    tin=None,
    facility=None,
    place_of_service=None,
)


CLAIMS = pd.DataFrame(
    {
        "claim_id": ["p1", "p2", "p3", "p4"],
        "claim_line_number": [1, 1, 1, 1],
        "claim_type": ["professional"] * 4,
        "member_id": ["m1", "m2", "m4", "m3"],
        "service_date": [date(2025, 3, 10), date(2025, 2, 3), date(2024, 9, 2), date(2025, 5, 6)],
        "rendering_specialty": ["08", "08", "06", "11"],
        "place_of_service": ["11", "11", "22", "24"],
        "allowed_amount": [300.0, 150.0, 500.0, 80.5],
    }
)


def _write(frame: pd.DataFrame, path: Path, types: dict[str, pa.DataType] | None = None) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if types:
        table = table.cast(
            pa.schema([pa.field(n, types.get(n, table.schema.field(n).type)) for n in table.column_names])
        )
    pq.write_table(table, path)


@pytest.fixture(scope="session")
def handmade_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("handmade")
    data, run = root / "data", root / "run"
    data.mkdir()
    run.mkdir()
    _write(ENROLLMENT.assign(product="p", line_of_business="commercial"), data / "enrollment.parquet")
    members = pd.DataFrame(
        {
            "member_id": ["m1", "m2", "m3", "m4", "m5", "m6"],
            "birth_date": [
                date(1950, 1, 1),
                date(1941, 6, 30),
                date(1958, 12, 31),
                date(1930, 2, 2),
                date(1960, 1, 1),
                date(1950, 1, 1),
            ],
            "sex": ["F", "M", "F", "F", "M", "U"],
            "race_code": ["1", "2", "1", "1", "2", "1"],
            "dual_status_code": ["NA", "02", "NA", "NA", "08", "NA"],
        }
    )
    _write(members, data / "members.parquet")
    _write(CLAIMS, data / "medical_claims.parquet", {"allowed_amount": pa.decimal128(18, 2)})
    _write(ATTRIBUTION, run / "attribution.parquet")
    _write(MEMBER_MONTHS, run / "member_months.parquet", {"year": pa.int32()})
    _write(
        EXPENDITURE.assign(amount=EXPENDITURE["cents"] / 100),
        run / "expenditure.parquet",
        {"year": pa.int32()},
    )
    _write(RISK, run / "risk_scores.parquet")
    _write(
        BENCHMARK.assign(benchmark_pmpm=[float(v) for v in BENCHMARK["benchmark_pmpm"]]),
        run / "benchmark_entities.parquet",
        {"benchmark_pmpm": pa.decimal128(18, 2)},
    )
    _write(
        UTILIZATION,
        run / "utilization.parquet",
        {"npi": pa.string(), "tin": pa.string(), "facility": pa.string(), "place_of_service": pa.string()},
    )
    (run / "run.json").write_text(
        json.dumps(
            {
                "contract_id": "handmade",
                "period": "2025",
                "start": "2025-01-01",
                "end": "2025-12-31",
                "base_years": [2024],
                "cost_basis": "allowed_amount",
                "include_pharmacy": False,
                "data": str(data.resolve()),
            }
        ),
        encoding="utf-8",
    )
    return run
