"""Episode construction on hand-built claims.

Expected windows, statuses and amounts are worked by hand from the rules cited in
apmkit.episodes.build (CJR 42 CFR 510.210(a): discharge day = day 1 of 90; Shadow Bundles exclusion
lists), shown in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.definitions import bpcia_definitions, cjr_definition, excluded_part_b_hcpcs
from apmkit.episodes.spec import EpisodeBuildSpec, EpisodeDefinition
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS

_n = 0


def claim(member: str, kind: str, start: dt.date, paid: str, **extra: Any) -> dict[str, Any]:
    global _n
    _n += 1
    row = {
        "claim_id": f"c{_n}",
        "claim_line_number": 1,
        "claim_type": kind,
        "member_id": member,
        "claim_from_date": start,
        "service_date": start,
        "paid_amount": D(paid),
        "facility_ccn": "010001",
    }
    row.update(extra)
    return row


def stay(
    member: str, admit: dt.date, discharge: dt.date, drg: str, paid: str, dx: str = "M170"
) -> dict[str, Any]:
    return claim(
        member,
        "inpatient",
        admit,
        paid,
        admission_date=admit,
        discharge_date=discharge,
        claim_thru_date=discharge,
        ms_drg=drg,
        dx_1=dx,
    )


def covered(member: str, months: list[tuple[int, int]], **flags: Any) -> list[dict[str, Any]]:
    base = {"payer": "cms", "product": "ffs", "part_a": True, "part_b": True, "medicare_advantage": False}
    return [{"member_id": member, "month": dt.date(y, m, 1), **base, **flags} for y, m in months]


YEAR_2023 = [(2023, m) for m in range(1, 13)]


def _build(
    engine: Engine, claims: list[dict[str, Any]], enrollment: list[dict[str, Any]], spec: EpisodeBuildSpec
):
    tables = {
        "medical_claims": engine.from_rows(claims, MEDICAL_CLAIMS),
        "enrollment": engine.from_rows(enrollment, ENROLLMENT),
    }
    rows = engine.to_arrow(
        build_episodes(tables, spec, fetch=engine.rows, materialize=engine.materialize).episodes
    ).to_pylist()
    return sorted(rows, key=lambda r: (r["member_id"], r["anchor_start"]))


CJR = EpisodeBuildSpec(definitions=(cjr_definition(),))


def test_cjr_window_and_exclusions(engine: Engine) -> None:
    part_b_drug = excluded_part_b_hcpcs()[0]
    claims = [
        stay("M1", dt.date(2023, 3, 1), dt.date(2023, 3, 4), "470", "12000.00"),
        claim("M1", "snf", dt.date(2023, 3, 10), "5000.00"),
        # discharge 3/4 is day 1, so day 90 is 6/1: included; 6/2 is outside
        claim("M1", "professional", dt.date(2023, 6, 1), "100.00"),
        claim("M1", "professional", dt.date(2023, 6, 2), "200.00"),
        # readmission with an excluded MS-DRG (001, Table 19) is not episode spending; DRG 194 is
        stay("M1", dt.date(2023, 4, 1), dt.date(2023, 4, 5), "001", "50000.00"),
        stay("M1", dt.date(2023, 4, 20), dt.date(2023, 4, 22), "194", "8000.00"),
        # an excluded Part B drug (Table 35)
        claim("M1", "outpatient", dt.date(2023, 3, 20), "40.00", hcpcs_code=part_b_drug),
        # before the anchor: not counted
        claim("M1", "professional", dt.date(2023, 2, 28), "75.00"),
    ]
    (episode,) = _build(engine, claims, covered("M1", YEAR_2023), CJR)
    assert episode["status"] == "kept"
    assert episode["window_end"] == dt.date(2023, 6, 1)
    assert episode["price_group"] == "470"
    assert episode["anchor_amount"] == D("12000.00")
    assert episode["post_anchor_amount"] == D("13100.00")  # 5,000 + 100 + 8,000
    assert episode["total_amount"] == D("25100.00")
    assert episode["claim_lines"] == 4


def test_hip_fracture_price_groups(engine: Engine) -> None:
    claims = [
        stay("F1", dt.date(2023, 1, 5), dt.date(2023, 1, 8), "470", "10000.00", dx="S72001A"),
        stay("F2", dt.date(2023, 1, 5), dt.date(2023, 1, 8), "522", "10000.00", dx="M1611"),
        stay("F3", dt.date(2023, 1, 5), dt.date(2023, 1, 8), "469", "10000.00", dx="M1611"),
    ]
    enrollment = covered("F1", YEAR_2023) + covered("F2", YEAR_2023) + covered("F3", YEAR_2023)
    groups = {r["member_id"]: r["price_group"] for r in _build(engine, claims, enrollment, CJR)}
    # 510.300(a)(1): 470 with hip fracture; 522 = 470 with hip fracture; 469 without
    assert groups == {"F1": "470_subgroup", "F2": "470_subgroup", "F3": "469"}


def test_day_one_eligibility(engine: Engine) -> None:
    claims = [
        stay("E1", dt.date(2023, 2, 1), dt.date(2023, 2, 3), "470", "9000.00"),
        stay("E2", dt.date(2023, 2, 1), dt.date(2023, 2, 3), "470", "9000.00"),
        stay("E3", dt.date(2023, 2, 1), dt.date(2023, 2, 3), "470", "9000.00"),
    ]
    enrollment = (
        covered("E1", [(2023, 2)], medicare_advantage=True)
        + covered("E2", [(2023, 1)])  # no coverage in the anchor month
        + covered("E3", [(2023, 2)], part_b=False)
    )
    rows = _build(engine, claims, enrollment, CJR)
    assert [r["status"] for r in rows] == ["ineligible"] * 3
    assert rows[1]["reason"] == "no enrollment in the anchor month"
    assert all(r["total_amount"] is None for r in rows)


def test_overlap_chain_is_resolved_greedily(engine: Engine) -> None:
    # E1 1/10-1/12 (window to 4/11); E2 anchor 2/15 inside E1 -> dropped; E3 anchor 5/1 overlaps only
    # the dropped E2 (window to 5/17) -> kept.
    claims = [
        stay("O1", dt.date(2023, 1, 10), dt.date(2023, 1, 12), "470", "10000.00"),
        stay("O1", dt.date(2023, 2, 15), dt.date(2023, 2, 17), "470", "11000.00"),
        stay("O1", dt.date(2023, 5, 1), dt.date(2023, 5, 3), "470", "12000.00"),
    ]
    rows = _build(engine, claims, covered("O1", YEAR_2023), CJR)
    assert [r["status"] for r in rows] == ["kept", "overlap_dropped", "kept"]
    # E1's window holds its own stay and the dropped E2's stay (2/15, before 4/11)
    assert rows[0]["total_amount"] == D("21000.00")
    assert rows[0]["window_end"] == dt.date(2023, 4, 11)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("precedence", ["overlap_dropped", "kept"]), ("first", ["kept", "overlap_dropped"])],
)
def test_precedence_between_categories(engine: Engine, rule: str, expected: list[str]) -> None:
    surgical = EpisodeDefinition(episode_id="HIGH", trigger_ms_drgs=("291",), precedence=1)
    outpatient = EpisodeDefinition(
        episode_id="LOW", setting="outpatient", trigger_hcpcs=("27447",), precedence=2
    )
    claims = [
        claim("P1", "outpatient", dt.date(2023, 1, 5), "15000.00", hcpcs_code="27447"),
        stay("P1", dt.date(2023, 1, 20), dt.date(2023, 1, 25), "291", "9000.00"),
    ]
    spec = EpisodeBuildSpec(definitions=(surgical, outpatient), overlap=rule)
    rows = _build(engine, claims, covered("P1", YEAR_2023), spec)
    assert [r["status"] for r in rows] == expected


def test_bpcia_categories_trigger(engine: Engine) -> None:
    # MS-DRG 291 (heart failure) triggers A0010 Congestive heart failure in the Shadow Bundles list.
    claims = [stay("B1", dt.date(2023, 7, 1), dt.date(2023, 7, 6), "291", "8000.00")]
    (episode,) = _build(engine, claims, covered("B1", YEAR_2023), EpisodeBuildSpec())
    assert episode["episode_id"] == "A0010-IP"
    assert len(bpcia_definitions()) == 36
    assert len({d.name for d in bpcia_definitions()}) == 34
