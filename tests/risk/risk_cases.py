"""Helpers for the risk tests: fixture files and person records from compact case descriptions."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

RISK_FIXTURES = Path(__file__).parent.parent / "fixtures" / "risk"

PERSON_FIELDS = (
    "member_id",
    "birth_date",
    "sex",
    "orec",
    "ltimcaid",
    "nemcaid",
    "dual_status_code",
    "esrd",
    "snp",
    "institutional",
    "new_enrollee",
)


def birth_date_for_age(age: int, payment_year: int) -> str:
    """A birth date that makes a person ``age`` on February 1 of the payment year."""
    return date(payment_year - age, 1, 1).isoformat()


def read_fixture(name: str) -> list[dict[str, str]]:
    with (RISK_FIXTURES / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
