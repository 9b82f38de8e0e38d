"""Builders for small hand-made attribution scenarios (rows written from the regulation text)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from apmkit.attribution.assign import AttributionInputs, AttributionResult, attribute
from apmkit.attribution.inputs import ASSIGNMENT_INPUT, PARTICIPANTS
from apmkit.engines import Engine
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS, PROVIDERS

_claim_ids = itertools.count(1)


def claim(
    member: str,
    npi: str | None,
    tin: str | None,
    specialty: str | None,
    code: str,
    day: str,
    allowed: str = "100.00",
    **extra: Any,
) -> dict[str, Any]:
    """One professional claim line."""
    row: dict[str, Any] = {
        "claim_id": f"C{next(_claim_ids)}",
        "claim_line_number": 1,
        "claim_type": "professional",
        "member_id": member,
        "payer": "medicare",
        "claim_from_date": dt.date.fromisoformat(day),
        "service_date": dt.date.fromisoformat(day),
        "rendering_npi": npi,
        "rendering_specialty": specialty,
        "billing_tin": tin,
        "place_of_service": "11",
        "hcpcs_code": code,
        "allowed_amount": Decimal(allowed),
        "source_file": "claims.csv",
        "source_line": next(_claim_ids),
    }
    row.update(extra)
    return row


def months(year: int, first: int = 1, last: int = 12) -> list[dt.date]:
    return [dt.date(year, m, 1) for m in range(first, last + 1)]


def enrolled(
    member: str, month_list: Iterable[dt.date], *, part_a: bool = True, part_b: bool = True, ma: bool = False
) -> list[dict[str, Any]]:
    return [
        {
            "member_id": member,
            "month": m,
            "payer": "medicare",
            "product": "ffs",
            "line_of_business": "medicare_ffs",
            "part_a": part_a,
            "part_b": part_b,
            "medicare_advantage": ma,
        }
        for m in month_list
    ]


def member(member_id: str, state: str = "OH", death: dt.date | None = None) -> dict[str, Any]:
    return {"member_id": member_id, "state_code": state, "death_date": death, "sex": "F"}


def provider(npi: str, tin: str, specialty: str, primary_care: bool) -> dict[str, Any]:
    return {"npi": npi, "tin": tin, "specialty_code": specialty, "is_primary_care": primary_care}


def participant(entity: str, tin: str, npi: str | None = None, line: int = 1) -> dict[str, Any]:
    return {
        "entity_id": entity,
        "tin": tin,
        "npi": npi,
        "source_file": "participants.csv",
        "source_line": line,
    }


def assignment(
    member_id: str,
    *,
    entity: str | None = None,
    tin: str | None = None,
    npi: str | None = None,
    start: str = "2024-01-01",
    end: str | None = None,
    line: int = 1,
    source: str = "roster.csv",
) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "entity_id": entity,
        "tin": tin,
        "npi": npi,
        "start_date": dt.date.fromisoformat(start),
        "end_date": dt.date.fromisoformat(end) if end else None,
        "source_file": source,
        "source_line": line,
    }


class Scenario:
    """Tables for one run, built from rows, executed on the test engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def inputs(
        self,
        *,
        claims: Sequence[dict[str, Any]] = (),
        enrollment: Sequence[dict[str, Any]] = (),
        members: Sequence[dict[str, Any]] = (),
        providers: Sequence[dict[str, Any]] = (),
        participants: Sequence[dict[str, Any]] | None = None,
        **assignment_inputs: Sequence[dict[str, Any]],
    ) -> AttributionInputs:
        e = self.engine
        extras = {
            name: e.from_arrow(pa.Table.from_pylist(list(rows), schema=ASSIGNMENT_INPUT.arrow_schema()))
            for name, rows in assignment_inputs.items()
        }
        return AttributionInputs(
            members=e.from_rows(members, MEMBERS),
            enrollment=e.from_rows(enrollment, ENROLLMENT),
            medical_claims=e.from_rows(claims, MEDICAL_CLAIMS),
            providers=e.from_rows(providers, PROVIDERS),
            participants=(
                e.from_arrow(pa.Table.from_pylist(list(participants), schema=PARTICIPANTS.arrow_schema()))
                if participants is not None
                else None
            ),
            **extras,
        )

    def run(
        self, inputs: AttributionInputs, spec: Any, as_of: dt.date
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        result: AttributionResult = attribute(inputs, spec, as_of, materialize=self.engine.materialize)
        rows = self.engine.to_arrow(result.attribution).to_pylist()
        by_member = {r["member_id"] if r["episode_id"] is None else r["episode_id"]: r for r in rows}
        assert len(by_member) == len(rows), "one row per member (or episode)"
        rejects = self.engine.to_arrow(result.rejects).to_pylist()
        return by_member, rejects


@pytest.fixture
def scenario(engine: Engine) -> Scenario:
    return Scenario(engine)
