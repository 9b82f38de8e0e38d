"""Claims-based measures on hand-built claims: expected values follow from the definitions in the
docstrings (30-day window from the discharge day, excluded discharge statuses, PQI principal-diagnosis
prefixes and age bands from AHRQ's PQI overall composite)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apmkit.engines import Engine
from apmkit.quality.claims import all_cause_readmission, claims_as_clinical, pqi_admissions
from apmkit.quality.evaluate import evaluate
from apmkit.schemas import CLINICAL, MEDICAL_CLAIMS, MEMBERS

D = dt.date


def stay(
    claim: str, member: str, admit: D, discharge: D, status: str = "01", dx: str = "I5022", source: str = "1"
) -> dict[str, Any]:
    return {
        "claim_id": claim,
        "claim_line_number": 1,
        "claim_type": "inpatient",
        "member_id": member,
        "claim_from_date": admit,
        "claim_thru_date": discharge,
        "admission_date": admit,
        "discharge_date": discharge,
        "discharge_status": status,
        "admit_source": source,
        "dx_1": dx,
    }


def test_all_cause_readmission(engine: Engine) -> None:
    claims = engine.from_rows(
        [
            stay("A1", "A", D(2025, 3, 5), D(2025, 3, 10)),
            stay("A2", "A", D(2025, 4, 5), D(2025, 4, 10)),  # 26 days after A1's discharge
            stay("B1", "B", D(2025, 2, 20), D(2025, 3, 1)),
            stay("B2", "B", D(2025, 4, 5), D(2025, 4, 8)),  # 35 days: not a readmission
            stay("C1", "C", D(2025, 5, 1), D(2025, 5, 3), status="20"),  # died: no index stay
            stay("D1", "D", D(2025, 5, 28), D(2025, 6, 1), status="02"),  # transferred out: no index stay
            stay("D2", "D", D(2025, 6, 1), D(2025, 6, 1)),
            stay("D3", "D", D(2025, 7, 1), D(2025, 7, 2)),  # day 30 after D2: a readmission
            stay("E1", "E", D(2024, 12, 20), D(2024, 12, 28)),  # discharged before the period
            stay("E2", "E", D(2025, 1, 10), D(2025, 1, 12)),
        ],
        MEDICAL_CLAIMS,
    )
    out = engine.to_arrow(all_cause_readmission(claims, D(2025, 1, 1), D(2025, 12, 31)).order_by("claim_id"))
    got = {(r["claim_id"], r["readmitted"], r["readmission_claim_id"]) for r in out.to_pylist()}
    assert got == {
        ("A1", 1, "A2"),
        ("A2", 0, None),
        ("B1", 0, None),
        ("B2", 0, None),
        ("D2", 1, "D3"),
        ("D3", 0, None),
        ("E2", 0, None),
    }


def test_pqi_composite(engine: Engine) -> None:
    members = engine.from_rows(
        [
            {"member_id": "OLD", "birth_date": D(1955, 6, 1), "sex": "F"},
            {"member_id": "YOUNG", "birth_date": D(1995, 6, 1), "sex": "M"},
        ],
        MEMBERS,
    )
    claims = engine.from_rows(
        [
            stay("HF", "OLD", D(2025, 2, 1), D(2025, 2, 4), dx="I5022"),
            stay("ASTHMA_OLD", "OLD", D(2025, 3, 1), D(2025, 3, 2), dx="J45901"),
            stay("ASTHMA_YOUNG", "YOUNG", D(2025, 3, 1), D(2025, 3, 2), dx="J45901"),
            stay("PNEUMONIA", "YOUNG", D(2025, 4, 1), D(2025, 4, 3), dx="J18.9"),
            stay("TRANSFER", "OLD", D(2025, 5, 1), D(2025, 5, 3), dx="I5022", source="4"),
            stay("DIABETES_NO_COMPLICATION", "OLD", D(2025, 6, 1), D(2025, 6, 2), dx="E119"),
            stay("UNCONTROLLED", "OLD", D(2025, 7, 1), D(2025, 7, 2), dx="E1165"),
            stay("LAST_YEAR", "OLD", D(2024, 7, 1), D(2024, 7, 2), dx="I5022"),
        ],
        MEDICAL_CLAIMS,
    )
    out = engine.to_arrow(pqi_admissions(claims, members, D(2025, 1, 1), D(2025, 12, 31)))
    assert {(r["claim_id"], r["pqi"]) for r in out.to_pylist()} == {
        ("HF", "PQI08"),
        ("ASTHMA_OLD", "PQI05"),
        ("ASTHMA_YOUNG", "PQI15"),
        ("PNEUMONIA", "PQI11"),
        ("UNCONTROLLED", "PQI14"),
    }


def test_ecqm_closes_on_claims(engine: Engine) -> None:
    # CMS130 from claims alone: an office visit (CPT 99213) in 2025 at age 60 and a colonoscopy (CPT 45378)
    # in 2018, within the 10-year lookback -> in the numerator; a patient with only the visit -> not.
    members = engine.from_rows(
        [
            {"member_id": "P1", "birth_date": D(1965, 1, 1), "sex": "M"},
            {"member_id": "P2", "birth_date": D(1965, 1, 1), "sex": "F"},
        ],
        MEMBERS,
    )
    lines = []
    for member, code, day in (
        ("P1", "99213", D(2025, 5, 1)),
        ("P1", "45378", D(2018, 3, 1)),
        ("P2", "99213", D(2025, 5, 1)),
    ):
        lines.append(
            {
                "claim_id": f"{member}-{code}",
                "claim_line_number": 1,
                "claim_type": "professional",
                "member_id": member,
                "service_date": day,
                "service_end_date": day,
                "hcpcs_code": code,
                "dx_1": "Z1211",
            }
        )
    clinical = claims_as_clinical(engine.from_rows(lines, MEDICAL_CLAIMS))
    assert clinical.schema() == CLINICAL.ibis_schema()
    out = engine.to_arrow(
        evaluate(
            "CMS130",
            members,
            engine.materialize(clinical),
            D(2025, 1, 1),
            D(2025, 12, 31),
            materialize=engine.materialize,
        ).order_by("patient_id")
    )
    rows = out.to_pylist()
    assert [(r["patient_id"], r["initial_population"], r["numerator"]) for r in rows] == [
        ("P1", 1, 1),
        ("P2", 1, 0),
    ]
    assert "colonoscopy=Procedure/Claim/P1-45378/1" in rows[0]["evidence"]
