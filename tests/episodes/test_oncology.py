"""Oncology episode construction (apmkit.episodes.oncology): the tie rules, the E&M visit rule, voided claims and
the window, each case built by hand from the rule in docs/episodes.md ("Oncology episodes")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apmkit.contracts import load_template
from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.spec import EpisodeBuildSpec, OncologyEpisodeSpec, TriggerCode
from apmkit.errors import ApmkitError
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS, PHARMACY_CLAIMS
from apmkit.workspace.episodes import prepare_episode_contract

D = dt.date
T1, T2, T3 = "111111111", "222222222", "333333333"
CHEMO = "J9271"
TYPES = {"breast": ("C50",), "prostate": ("C61",)}


def _build(engine: Engine, lines: list[tuple], **options: object) -> list[dict]:
    """``lines``: (member, date, tin, hcpcs, dx_1, paid[, adjustment_type])."""
    claims = [
        {
            "claim_id": f"C{n:03d}",
            "claim_line_number": 1,
            "claim_type": "professional",
            "member_id": row[0],
            "claim_from_date": row[1],
            "service_date": row[1],
            "billing_tin": row[2],
            "hcpcs_code": row[3],
            "dx_1": row[4],
            "paid_amount": Decimal(row[5]),
            "adjustment_type": row[6] if len(row) > 6 else None,
        }
        for n, row in enumerate(lines)
    ]
    members = sorted({row[0] for row in lines})
    enrollment = [
        {
            "member_id": m,
            "month": D(2025, month, 1),
            "payer": "cms",
            "product": "ffs",
            "part_a": True,
            "part_b": True,
            "medicare_advantage": False,
            "esrd": False,
        }
        for m in members
        for month in range(1, 13)
    ]
    tables = {
        "medical_claims": engine.from_rows(claims, MEDICAL_CLAIMS),
        "enrollment": engine.from_rows(enrollment, ENROLLMENT),
        "members": engine.from_rows([{"member_id": m, "sex": "F"} for m in members], MEMBERS),
        "pharmacy_claims": engine.from_rows([], PHARMACY_CLAIMS),
    }
    oncology = OncologyEpisodeSpec(
        trigger_codes=(TriggerCode(system="hcpcs", code=CHEMO),), cancer_types=TYPES, **options
    )
    built = build_episodes(
        tables, EpisodeBuildSpec(oncology=oncology), fetch=engine.rows, materialize=engine.materialize
    )
    return sorted(engine.rows(built.episodes), key=lambda r: (r["member_id"], r["anchor_start"]))


def test_cancer_type_ties_go_to_the_first_type_by_name(engine: Engine) -> None:
    rows = _build(
        engine,
        [
            # A: one breast and one prostate line -> breast (tie, alphabetical); B: two prostate lines, one breast
            ("A", D(2025, 3, 1), T1, CHEMO, "C61", "100"),
            ("A", D(2025, 3, 5), T1, "99213", "C50911", "100"),
            ("B", D(2025, 3, 1), T1, CHEMO, "C61", "100"),
            ("B", D(2025, 3, 5), T1, "99213", "C61", "100"),
            ("B", D(2025, 4, 5), T1, "99213", "C50911", "100"),
        ],
    )
    assert [(r["member_id"], r["cancer_type"]) for r in rows] == [("A", "breast"), ("B", "prostate")]


def test_practice_ties_go_to_the_earliest_visit_then_the_lowest_tin(engine: Engine) -> None:
    rows = _build(
        engine,
        [
            # A: T2 first (March 10), T1 later, one visit each -> T2; B: same day -> the lower TIN, T1
            ("A", D(2025, 3, 1), T3, CHEMO, "C50911", "100"),
            ("A", D(2025, 3, 10), T2, "99213", "C50911", "100"),
            ("A", D(2025, 3, 20), T1, "99214", "C50911", "100"),
            ("B", D(2025, 3, 1), T3, CHEMO, "C50911", "100"),
            ("B", D(2025, 3, 10), T2, "99213", "C50911", "100"),
            ("B", D(2025, 3, 10), T1, "99213", "C50911", "100"),
        ],
    )
    assert [(r["member_id"], r["billing_tin"], r["em_visits"]) for r in rows] == [("A", T2, 1), ("B", T1, 1)]


def test_visits_without_a_cancer_diagnosis_attribute_only_when_the_contract_says_so(engine: Engine) -> None:
    lines = [
        ("A", D(2025, 3, 1), T1, CHEMO, "C50911", "100"),
        ("A", D(2025, 3, 10), T3, "99213", "I10", "100"),
    ]
    (strict,) = _build(engine, lines)
    assert strict["status"] == "not_attributed" and strict["billing_tin"] is None
    assert strict["total_amount"] is None
    (loose,) = _build(engine, lines, em_requires_cancer_dx=False)
    assert loose["status"] == "kept" and loose["billing_tin"] == T3
    assert loose["total_amount"] == Decimal("200.00")


def test_a_voided_dose_triggers_nothing_and_the_window_is_six_months(engine: Engine) -> None:
    rows = _build(
        engine,
        [
            ("A", D(2025, 1, 15), T1, CHEMO, "C50911", "100", "void"),
            ("A", D(2025, 1, 31), T1, CHEMO, "C50911", "100"),
            ("A", D(2025, 2, 2), T1, "99213", "C50911", "40"),
            ("A", D(2025, 7, 30), T1, "99213", "C50911", "7"),  # the last day
            ("A", D(2025, 7, 31), T1, "99213", "C50911", "1000"),  # the day after: not in the episode
        ],
    )
    (episode,) = rows
    assert episode["anchor_start"] == D(2025, 1, 31) and episode["window_end"] == D(2025, 7, 30)
    assert episode["total_amount"] == Decimal("147.00") and episode["anchor_amount"] == Decimal("100.00")
    assert episode["episode_months"] == 6


def test_part_d_triggers_need_pharmacy_counted_and_the_list_is_required() -> None:
    contract = load_template("oncology_care_model")
    with pytest.raises(ApmkitError, match="trigger_codes is REQUIRED"):
        prepare_episode_contract(contract)
    assert contract.episodes is not None and contract.episodes.build.oncology is not None
    onc = contract.episodes.build.oncology.model_copy(
        update={"trigger_codes": (TriggerCode(system="ndc", code="12345678901"),)}
    )
    episodes = contract.episodes.model_copy(
        update={"build": contract.episodes.build.model_copy(update={"oncology": onc})}
    )
    no_pharmacy = contract.definitions.model_copy(update={"include_pharmacy": False})
    with pytest.raises(ApmkitError, match=r"definitions\.include_pharmacy is false"):
        prepare_episode_contract(
            contract.model_copy(update={"episodes": episodes, "definitions": no_pharmacy})
        )
    ready = prepare_episode_contract(contract.model_copy(update={"episodes": episodes}))
    assert ready.episodes is not None and ready.episodes.build.oncology is not None
    assert ready.episodes.build.oncology.include_pharmacy is True


def test_episode_pharmacy_rule_cannot_differ_from_the_definitions() -> None:
    contract = load_template("oncology_care_model")
    assert contract.episodes is not None and contract.episodes.build.oncology is not None
    onc = OncologyEpisodeSpec.model_validate(
        {
            **contract.episodes.build.oncology.model_dump(exclude={"include_pharmacy"}),
            "trigger_codes": [{"system": "hcpcs", "code": CHEMO}],
            "include_pharmacy": False,
        }
    )
    episodes = contract.episodes.model_copy(
        update={"build": contract.episodes.build.model_copy(update={"oncology": onc})}
    )
    with pytest.raises(ApmkitError, match=r"oncology\.include_pharmacy false differs"):
        prepare_episode_contract(contract.model_copy(update={"episodes": episodes}))
