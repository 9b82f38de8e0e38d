"""The utilization events mart against docs/reference/analytics-definitions.md §3, on hand-made claims whose
expected events are counted by hand from the definitions' words."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.reports.events import utilization_events
from apmkit.schemas import MEDICAL_CLAIMS


def claim(claim_id: str, member: str, kind: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": kind,
        "member_id": member,
    }
    row.update(fields)
    return row


ROWS = [
    # member a: c1 ends in a transfer (02) and c2 starts the same day -> one stay 01-10..01-20;
    # c3 and c4 are adjacent (next day) -> one stay 02-05..02-12, 16 days after the first: a readmission
    claim(
        "c1",
        "a",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 1, 10),
        discharge_date=date(2025, 1, 15),
        discharge_status="02",
        allowed_amount=1000,
    ),
    claim(
        "c2",
        "a",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 1, 15),
        discharge_date=date(2025, 1, 20),
        discharge_status="01",
        allowed_amount=2000,
    ),
    claim(
        "c3",
        "a",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 2, 5),
        discharge_date=date(2025, 2, 8),
        discharge_status="01",
        allowed_amount=3000,
    ),
    claim(
        "c4",
        "a",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 2, 9),
        discharge_date=date(2025, 2, 12),
        discharge_status="01",
        allowed_amount=4000,
    ),
    # member b: died in hospital (status 20): an admission, not an index stay
    claim(
        "c5",
        "b",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 4, 1),
        discharge_date=date(2025, 4, 3),
        discharge_status="20",
        allowed_amount=500,
    ),
    # member b: an outpatient claim with an ED revenue line and another line: one ED visit with the claim's dollars
    claim(
        "o1",
        "b",
        "outpatient",
        bill_type="131",
        service_date=date(2025, 3, 1),
        revenue_code="0450",
        allowed_amount=300,
    ),
    {
        **claim(
            "o1",
            "b",
            "outpatient",
            bill_type="131",
            service_date=date(2025, 3, 1),
            revenue_code="0300",
            allowed_amount=50,
        ),
        "claim_line_number": 2,
    },
    # observation by revenue 0762, and by HCPCS G0378
    claim(
        "o2",
        "b",
        "outpatient",
        bill_type="131",
        service_date=date(2025, 3, 5),
        revenue_code="0762",
        allowed_amount=700,
    ),
    claim(
        "o3",
        "c",
        "outpatient",
        bill_type="131",
        service_date=date(2025, 6, 5),
        revenue_code="0760",
        hcpcs_code="G0378",
        allowed_amount=90,
    ),
    # member c: ED codes on an inpatient claim -> an ED visit leading to admission (not an ED visit)
    claim(
        "c6",
        "c",
        "inpatient",
        bill_type="111",
        admission_date=date(2025, 5, 1),
        discharge_date=date(2025, 5, 4),
        discharge_status="01",
        revenue_code="0981",
        allowed_amount=800,
    ),
    # member c: SNF 1-10 March = 10 days; imaging 71046 (radiology section) but not 99213
    claim(
        "s1",
        "c",
        "snf",
        bill_type="211",
        claim_from_date=date(2025, 3, 1),
        claim_thru_date=date(2025, 3, 10),
        allowed_amount=4500,
    ),
    claim(
        "p1",
        "c",
        "professional",
        service_date=date(2025, 7, 1),
        hcpcs_code="71046",
        place_of_service="22",
        rendering_npi="1000000004",
        allowed_amount=40,
    ),
    claim(
        "p2",
        "c",
        "professional",
        service_date=date(2025, 7, 1),
        hcpcs_code="99213",
        place_of_service="11",
        allowed_amount=90,
    ),
    # a voided claim and a claim of another type of bill (not acute: 18x swing bed) count for nothing
    claim(
        "v1",
        "c",
        "outpatient",
        bill_type="131",
        service_date=date(2025, 8, 1),
        revenue_code="0450",
        adjustment_type="void",
        allowed_amount=100,
    ),
    claim(
        "x1",
        "c",
        "inpatient",
        bill_type="181",
        admission_date=date(2025, 9, 1),
        discharge_date=date(2025, 9, 3),
        discharge_status="01",
        allowed_amount=100,
    ),
]


def test_events_follow_the_definitions(duckdb_engine: Engine) -> None:
    frame = pd.DataFrame(ROWS)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    claims = MEDICAL_CLAIMS.select_from(duckdb_engine.from_arrow(table))
    events = duckdb_engine.to_arrow(
        utilization_events(claims, date(2025, 1, 1), date(2025, 12, 31))
    ).to_pandas()
    counted = events.groupby(["member_id", "event"])["quantity"].sum().to_dict()
    assert counted == {
        ("a", "admission"): 2,
        ("a", "index_stay"): 2,
        ("a", "readmission"): 1,
        ("b", "admission"): 1,
        ("b", "ed_visit"): 1,
        ("b", "observation"): 1,
        ("c", "admission"): 1,
        ("c", "index_stay"): 1,
        ("c", "ed_to_admission"): 1,
        ("c", "observation"): 1,
        ("c", "snf_days"): 10,
        ("c", "imaging"): 1,
    }
    stays = events[(events.member_id == "a") & (events.event == "admission")].sort_values("event_date")
    assert list(stays["cents"]) == [300_000, 700_000]  # each stay carries all its claims
    assert list(stays["event_date"]) == [date(2025, 1, 10), date(2025, 2, 5)]
    readmitted = events[events.event == "readmission"]
    assert list(readmitted["event_date"]) == [date(2025, 1, 20)]  # dated at the index discharge
    ed = events[events.event == "ed_visit"]
    assert list(ed["cents"]) == [35_000]
    imaging = events[events.event == "imaging"]
    assert list(imaging["npi"]) == ["1000000004"] and list(imaging["place_of_service"]) == ["22"]
