"""The OCM and EOM templates settle each practice (billing TIN) from claims in one run.

A hand-made population of chemotherapy patients. The episodes each practice is settled for are worked out below
by hand from the episode rule (docs/reference/methodology.md §3.3: six-month episodes triggered by chemotherapy,
OCM Request for Applications, Feb 2015; the parts that are apmkit's reading are stated in docs/episodes.md): a
trigger (a listed Part B HCPCS or Part D NDC) with a cancer-diagnosed claim from 59 days before to the trigger day
starts an episode ending the day before the same date six months later; a trigger inside an episode starts none;
the practice is the billing TIN with the most E&M visits with a cancer diagnosis during the episode (ties: the
earliest visit); the cancer type is the plurality type of the cancer diagnoses. Episode spending (every medical
line and Part D fill in the window) is summed here in plain Python from the rows; the payments follow the
templates' words: MEOS = PBPM x episode months (EOM: + the dual addition x dual months); the performance-based
payment = benchmark x (1 - discount) - actual, limited by stop-gain / stop-loss x target and scaled by quality.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from apmkit.contracts import load_template
from apmkit.engines import Engine
from apmkit.errors import ApmkitError
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS, PHARMACY_CLAIMS
from apmkit.workspace import Workspace

CENT = Decimal("0.01")
T1, T2 = "111111111", "222222222"
CHEMO, NDC = "J9271", "12345678901"
D = dt.date

# (member, date, billing TIN, HCPCS, dx_1, paid); E&M = 99213
MEDICAL: list[tuple[str, dt.date, str, str, str, str]] = [
    # M1 breast: episode 1 from 2025-02-01 (to 2025-07-31), the 2025-03-01 dose inside it; episode 2 from 2025-08-05
    (
        "M1",
        D(2025, 1, 10),
        T1,
        "99213",
        "C50911",
        "150",
    ),  # the diagnosis before the trigger (not in the window)
    ("M1", D(2025, 2, 1), T1, CHEMO, "C50911", "10000"),
    ("M1", D(2025, 3, 1), T1, CHEMO, "C50911", "10000"),
    ("M1", D(2025, 3, 1), T1, "99213", "C50911", "150"),
    ("M1", D(2025, 4, 1), T2, "99213", "C50911", "150"),
    ("M1", D(2025, 5, 1), T2, "99213", "C50911", "150"),  # T2: 2 visits, T1: 1 -> episode 1 is T2's
    ("M1", D(2025, 7, 31), T1, "G0463", "C50911", "2000"),  # the window's last day
    ("M1", D(2025, 8, 1), T1, "G0463", "I10", "999"),  # between the two episodes
    ("M1", D(2025, 8, 5), T1, CHEMO, "C50911", "10000"),
    ("M1", D(2025, 9, 1), T1, "99213", "C50911", "150"),
    ("M1", D(2025, 12, 1), T1, "G0463", "C50911", "3000"),
    # M2 prostate: a Part D trigger on 2025-03-10 (diagnosis 37 days before); one visit each, T1's first; dies
    ("M2", D(2025, 2, 1), T1, "99213", "C61", "150"),
    ("M2", D(2025, 4, 1), T1, "99213", "C61", "150"),
    ("M2", D(2025, 5, 1), T2, "99213", "C61", "150"),
    ("M2", D(2025, 5, 20), T1, "G0463", "C61", "8000"),
    # M3 lung: the only cancer diagnosis 120 days before the dose -> no episode
    ("M3", D(2025, 1, 1), T1, "99213", "C3490", "150"),
    ("M3", D(2025, 5, 1), T1, CHEMO, "Z5111", "10000"),
    # M4 bladder: OCM's `other` type; EOM covers seven types only -> no EOM episode
    ("M4", D(2025, 6, 1), T1, CHEMO, "C679", "10000"),
    ("M4", D(2025, 6, 15), T1, "99213", "C679", "150"),
    # M5 breast: the episode starts in 2024 -> not reconciled in 2025 (starting_in_period)
    ("M5", D(2024, 11, 1), T1, CHEMO, "C50912", "10000"),
    ("M5", D(2024, 11, 15), T1, "99213", "C50912", "150"),
    ("M5", D(2025, 1, 15), T1, "99213", "C50912", "150"),
    # M6 prostate: no E&M visit -> not attributed
    ("M6", D(2025, 9, 1), T2, CHEMO, "C61", "10000"),
    # M7 breast, in Medicare Advantage in the trigger month -> ineligible
    ("M7", D(2025, 4, 1), T2, CHEMO, "C50911", "10000"),
    ("M7", D(2025, 4, 20), T2, "99213", "C50911", "150"),
]
PHARMACY = [("M1", D(2025, 4, 15), "00000000000", "500"), ("M2", D(2025, 3, 10), NDC, "3000")]
DEATHS = {"M2": D(2025, 6, 15)}
DUAL_MONTHS = {("M1", D(2025, 3, 1)), ("M1", D(2025, 4, 1))}

# worked out by hand from the rule: (member, trigger, practice, cancer type, episode months, dual months)
EPISODES_2025 = [
    ("M1", D(2025, 2, 1), T2, "breast", 6, 2),
    ("M1", D(2025, 8, 5), T1, "breast", 6, 0),
    ("M2", D(2025, 3, 10), T1, "prostate", 4, 0),  # months from 03-10, 04-10, 05-10, 06-10 start before death
    ("M4", D(2025, 6, 1), T1, "other", 6, 0),
]
TERMS = {
    "oncology_care_model": {
        "quality_adjustment_of_gain: REQUIRED": "quality_adjustment_of_gain: 0.5",
        "quality_full_score: REQUIRED": "quality_full_score: 100",
        "stop_gain: REQUIRED": "stop_gain: 0.10",
    },
    "enhancing_oncology_model": {
        "pbpm: REQUIRED": "pbpm: 70",
        "dual_pbpm_addition: REQUIRED": "dual_pbpm_addition: 30",
        "discount: REQUIRED": "discount: 0.05",
        "quality_adjustment_of_gain: REQUIRED": "quality_adjustment_of_gain: 0.10",
        "quality_adjustment_of_loss: REQUIRED": "quality_adjustment_of_loss: 0.10",
        "quality_full_score: REQUIRED": "quality_full_score: 100",
        "stop_gain: REQUIRED": "stop_gain: 0.20",
        "stop_loss: REQUIRED": "stop_loss: 0.20",
    },
}
PRICES = {T1: {"breast": "15000", "prostate": "14000", "other": "12000"}, T2: {"breast": "20000"}}
QUALITY = {T1: "80", T2: "50"}


def _write_population(folder: Path) -> None:
    members = sorted({row[0] for row in MEDICAL})
    claims = [
        {
            "claim_id": f"C{n:03d}",
            "claim_line_number": 1,
            "claim_type": "professional",
            "member_id": member,
            "claim_from_date": day,
            "claim_thru_date": day,
            "service_date": day,
            "billing_tin": tin,
            "hcpcs_code": hcpcs,
            "dx_1": dx,
            "paid_amount": Decimal(paid),
            "allowed_amount": Decimal(paid),
        }
        for n, (member, day, tin, hcpcs, dx, paid) in enumerate(MEDICAL)
    ]
    fills = [
        {
            "claim_id": f"R{n}",
            "claim_line_number": 1,
            "member_id": member,
            "dispensing_date": day,
            "ndc": ndc,
            "paid_amount": Decimal(paid),
            "allowed_amount": Decimal(paid),
        }
        for n, (member, day, ndc, paid) in enumerate(PHARMACY)
    ]
    enrollment = [
        {
            "member_id": member,
            "month": D(year, month, 1),
            "payer": "cms",
            "product": "ffs",
            "part_a": True,
            "part_b": True,
            "medicare_advantage": member == "M7",
            "esrd": False,
            "dual_status_code": "02" if (member, D(year, month, 1)) in DUAL_MONTHS else "NA",
        }
        for member in members
        for year in (2024, 2025, 2026)
        for month in range(1, 13)
    ]
    people = [
        {"member_id": m, "birth_date": D(1950, 1, 1), "sex": "F", "death_date": DEATHS.get(m)}
        for m in members
    ]
    with Engine.duckdb() as engine:
        for name, rows, schema in (
            ("members", people, MEMBERS),
            ("enrollment", enrollment, ENROLLMENT),
            ("medical_claims", claims, MEDICAL_CLAIMS),
            ("pharmacy_claims", fills, PHARMACY_CLAIMS),
        ):
            engine.write_parquet(engine.from_rows(rows, schema), folder / f"{name}.parquet")


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oncology") / "data"
    _write_population(folder)
    return folder


def _contract(tmp_path: Path, name: str, triggers: str | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    subprocess.run(
        [sys.executable, "-m", "apmkit", "contract", "template", name, "--out", str(path)],
        check=True,
        capture_output=True,
    )
    text = path.read_text(encoding="utf-8")
    given = triggers or f"[{{system: hcpcs, code: {CHEMO}}}, {{system: ndc, code: '{NDC}'}}]"
    text = text.replace("trigger_codes: REQUIRED", f"trigger_codes: {given}")
    for old, new in TERMS[name].items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def _inputs(tmp_path: Path, types: tuple[str, ...]) -> Path:
    path = tmp_path / "inputs.csv"
    header = ["entity_id", "quality_score", *(f"benchmark_price.{t}" for t in types)]
    rows = [[tin, QUALITY[tin], *(PRICES[tin].get(t, "") for t in types)] for tin in (T1, T2)]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _spending(member: str, start: dt.date) -> Decimal:
    """Every medical line and Part D fill of the member from the trigger to the day before start + 6 months."""
    end = D(start.year + (start.month + 5) // 12, (start.month + 5) % 12 + 1, start.day) - dt.timedelta(
        days=1
    )
    medical = sum(Decimal(r[5]) for r in MEDICAL if r[0] == member and start <= r[1] <= end)
    fills = sum(Decimal(r[3]) for r in PHARMACY if r[0] == member and start <= r[1] <= end)
    return medical + fills


def _expected(model: str) -> dict[str, dict[str, Decimal]]:
    """MEOS and performance-based payment per practice, from the template's words and the terms above."""
    ocm = model == "oncology_care_model"
    episodes = [e for e in EPISODES_2025 if ocm or e[3] != "other"]  # EOM: seven cancer types only
    result: dict[str, dict[str, Decimal]] = {}
    for tin in (T1, T2):
        mine = [e for e in episodes if e[2] == tin]
        months = sum(e[4] for e in mine)
        duals = sum(e[5] for e in mine)
        meos = Decimal(160) * months if ocm else Decimal(70) * months + Decimal(30) * duals
        discount = Decimal("0.04") if ocm else Decimal("0.05")
        target = sum(Decimal(PRICES[tin][e[3]]) for e in mine) * (1 - discount)
        actual = sum(_spending(e[0], e[1]) for e in mine)
        share = Decimal(QUALITY[tin]) / 100
        if target > actual:
            stop_gain = Decimal("0.10") if ocm else Decimal("0.20")
            adjust = Decimal("0.5") if ocm else Decimal("0.10")
            pbp = min(target - actual, stop_gain * target) * (1 - adjust * (1 - share))
        elif ocm:
            pbp = Decimal(0)  # one-sided
        else:
            pbp = -min(actual - target, Decimal("0.20") * target) * (1 - Decimal("0.10") * share)
        result[tin] = {"meos": meos, "performance_based_payment": pbp.quantize(CENT, ROUND_HALF_UP)}
    return result


def _components(statement: object) -> dict[str, Decimal]:
    return {c.component_id: c.amount for c in statement.components}  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["oncology_care_model", "enhancing_oncology_model"])
def test_template_settles_each_practice_from_claims(population: Path, tmp_path: Path, model: str) -> None:
    types = ("breast", "prostate", "other") if model == "oncology_care_model" else ("breast", "prostate")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(_contract(tmp_path, model), "2025", inputs=_inputs(tmp_path, types), out=out)
    expected = _expected(model)
    by_tin = {s.entity_id: s for s in result.settlement.statements}
    assert sorted(by_tin) == [T1, T2]
    for tin, amounts in expected.items():
        assert _components(by_tin[tin]) == amounts, tin
    if model == "oncology_care_model":
        # T1 below target with the 10 % stop-gain binding; T2 above target: one-sided, nothing owed
        assert expected[T1]["performance_based_payment"] == Decimal("3542.40")
        assert expected[T2]["performance_based_payment"] == 0
    else:
        assert expected[T1]["performance_based_payment"] > 0 > expected[T2]["performance_based_payment"]
    summary = pd.read_parquet(out / "summary.parquet").set_index("entity_id")
    for tin, amounts in expected.items():
        assert Decimal(str(summary.loc[tin, "net_settlement"])).quantize(CENT) == sum(amounts.values())


def test_episodes_mart_holds_the_rule_s_episodes(population: Path, tmp_path: Path) -> None:
    types = ("breast", "prostate", "other")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        workspace.run(
            _contract(tmp_path, "oncology_care_model"), "2025", inputs=_inputs(tmp_path, types), out=out
        )
    episodes = pd.read_parquet(out / "episodes.parquet")
    kept = episodes[episodes["status"] == "kept"]
    got = sorted(
        (r.member_id, r.anchor_start, r.billing_tin, r.cancer_type, int(r.episode_months), int(r.dual_months))
        for r in kept.itertuples()
    )
    expected = sorted([*EPISODES_2025, ("M5", D(2024, 11, 1), T1, "breast", 6, 0)])
    assert got == expected
    status = {(r.member_id, r.anchor_start): r.status for r in episodes.itertuples()}
    assert status[("M1", D(2025, 3, 1))] == "overlap_dropped"
    assert status[("M6", D(2025, 9, 1))] == "not_attributed"
    assert status[("M7", D(2025, 4, 1))] == "ineligible"
    assert not any(member == "M3" for member, _ in status)
    for row in kept.itertuples():
        assert Decimal(str(row.total_amount)) == _spending(row.member_id, row.anchor_start)
        assert row.window_end == D(2025, 7, 31) if row.anchor_start == D(2025, 2, 1) else True
    # every statement line traces to the reconciled episodes of the practice
    performance = pd.read_parquet(out / "episode_performance.parquet")
    assert sorted(performance["billing_tin"]) == sorted(e[2] for e in EPISODES_2025)
    lines = pd.read_parquet(out / "lines.parquet")
    npra = lines[lines["label"] == "Net payment reconciliation amount (before limits)"]
    assert len(npra) == 2 and all("episode_performance.parquet" in s for s in npra["source"])
    meos = lines[lines["component_id"] == "meos"].set_index("entity_id")
    for tin, mine in performance.groupby("billing_tin"):
        row = meos.loc[[tin]].iloc[0]
        assert "episode_performance.parquet" in row["source"]
        assert int(json.loads(row["inputs"])["episode_months"]) == int(mine["episode_months"].sum())
        assert Decimal(str(row["value"])) == 160 * int(mine["episode_months"].sum())


def test_trigger_list_from_a_csv_next_to_the_contract(population: Path, tmp_path: Path) -> None:
    (tmp_path / "triggers.csv").write_text(f"system,code\nhcpcs,{CHEMO}\nndc,{NDC}\n", encoding="utf-8")
    contract = _contract(tmp_path, "oncology_care_model", triggers="triggers.csv")
    types = ("breast", "prostate", "other")
    with Workspace(population) as workspace:
        result = workspace.run(contract, "2025", inputs=_inputs(tmp_path, types))
    assert {s.entity_id for s in result.settlement.statements} == {T1, T2}
    (tmp_path / "triggers.csv").write_text("system,code\nhcpcs,J9271\nicd,C50\n", encoding="utf-8")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(contract, "2025", inputs=_inputs(tmp_path, types))
    assert "triggers.csv, line 3, field system" in str(info.value)


def test_template_names_the_trigger_list_and_then_cms_s_prices(population: Path, tmp_path: Path) -> None:
    # the shipped template: the trigger list first (exit 2, one line), then CMS's benchmark price per cancer type
    contract = tmp_path / "ocm.yaml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "apmkit",
            "contract",
            "template",
            "oncology_care_model",
            "--out",
            str(contract),
        ],
        check=True,
        capture_output=True,
    )
    args = (
        "--contract",
        str(contract),
        "--from",
        str(population),
        "--period",
        "2025",
        "--out",
        str(tmp_path / "o"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "apmkit", "--quiet", "run", *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "episodes.build.oncology.trigger_codes is REQUIRED" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    quality = tmp_path / "q.csv"
    quality.write_text(f"entity_id,quality_score\n{T1},80\n{T2},50\n", encoding="utf-8")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(_contract(tmp_path, "oncology_care_model"), "2025", inputs=quality)
    assert "field benchmark_price.breast is required" in str(info.value)
    assert not (tmp_path / "o").exists()


def test_eom_template_without_terms_names_them(population: Path) -> None:
    contract = load_template("enhancing_oncology_model")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(contract, "2025")
    assert "trigger_codes is REQUIRED" in str(info.value)


def test_episodes_build_command_reads_the_trigger_csv_beside_the_contract(
    population: Path, tmp_path: Path
) -> None:
    (tmp_path / "triggers.csv").write_text(f"system,code\nhcpcs,{CHEMO}\nndc,{NDC}\n", encoding="utf-8")
    contract = _contract(tmp_path, "oncology_care_model", triggers="triggers.csv")
    options = ("--from", str(population), "--out", str(tmp_path / "built"), "--definitions", str(contract))
    done = subprocess.run(
        [sys.executable, "-m", "apmkit", "episodes", "build", *options],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    episodes = pd.read_parquet(tmp_path / "built" / "episodes.parquet")
    # 5 kept (the four 2025 episodes and M5's 2024 one), M1's second dose inside its episode, M6, M7
    assert (episodes["status"] == "kept").sum() == 5
    assert (episodes["status"] == "not_attributed").sum() == 1
    assert "not attributed 1" in " ".join((done.stdout + done.stderr).split())
