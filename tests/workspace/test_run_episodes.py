"""Episode templates settle from claims in one run: each episode initiator (the anchor hospital) is an entity.

A hand-made population of CJR stays (42 CFR 510.300, 510.305; docs/reference/methodology.md §3.1) whose
reconciliation is computed below in plain Python from the rule's words: historical episode payments per
price group, capped at the regional mean + 2 SD; the hospital-specific price replaced by the regional one for a
hospital with fewer than 20 baseline episodes; the PY3 blend (1/3 hospital, 2/3 region); the 3 % discount less
the quality reduction (2 % for repayments); episodes ending in the performance year; NPRA limited to 10 % of the
target; no reconciliation payment below an acceptable composite quality score.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pandas as pd
import pytest

from apmkit.contracts import load_template
from apmkit.engines import Engine
from apmkit.errors import ApmkitError
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS
from apmkit.workspace import Workspace

CENT = Decimal("0.01")
A, B = "140001", "140002"  # two Illinois hospitals (CCN state code 14): one Census division, one region

# (hospital, MS-DRG, admission, discharge, paid)
STAYS: list[tuple[str, str, dt.date, dt.date, str]] = [
    # baseline 2014-2016: A has 20 DRG-470 episodes at $20,000 and one DRG-469 at $40,000 (21 >= 20)
    *[
        (A, "470", dt.date(2014 + i % 3, 1 + i % 12, 2), dt.date(2014 + i % 3, 1 + i % 12, 5), "20000")
        for i in range(20)
    ],
    (A, "469", dt.date(2015, 6, 1), dt.date(2015, 6, 8), "40000"),
    # B: 10 DRG-470 at $26,000 and one DRG-469 at $50,000 (11 < 20: priced at the regional price)
    *[
        (B, "470", dt.date(2014 + i % 3, 2 + i, 10), dt.date(2014 + i % 3, 2 + i, 13), "26000")
        for i in range(10)
    ],
    (B, "469", dt.date(2016, 3, 1), dt.date(2016, 3, 9), "50000"),
    # performance year PY3 (2018): episodes whose 90-day window ends in 2018
    (A, "470", dt.date(2017, 11, 10), dt.date(2017, 11, 13), "19000"),  # ends 2018-02-10: in PY3
    *[(A, "470", dt.date(2018, 2 + i, 5), dt.date(2018, 2 + i, 8), "19000") for i in range(4)],
    (A, "470", dt.date(2018, 7, 1), dt.date(2018, 7, 4), "60000"),  # above the regional cap
    (A, "469", dt.date(2018, 5, 1), dt.date(2018, 5, 9), "30000"),
    (A, "470", dt.date(2018, 11, 15), dt.date(2018, 11, 18), "19000"),  # ends in 2019: not in PY3
    *[(B, "470", dt.date(2018, 3 + i, 20), dt.date(2018, 3 + i, 23), "21000") for i in range(3)],
]
QUALITY = {A: "7.0", B: "4.0"}  # A good (6.9 <= CQS <= 15: -1 point); B below acceptable (< 5.0)


def _write_population(folder: Path) -> None:
    claims, enrollment, members = [], [], []
    for n, (ccn, drg, admit, discharge, paid) in enumerate(STAYS):
        member = f"M{n:03d}"
        members.append({"member_id": member, "birth_date": dt.date(1945, 1, 1), "sex": "F"})
        claims.append(
            {
                "claim_id": f"C{n:03d}",
                "claim_line_number": 1,
                "claim_type": "inpatient",
                "member_id": member,
                "claim_from_date": admit,
                "claim_thru_date": discharge,
                "admission_date": admit,
                "discharge_date": discharge,
                "service_date": admit,
                "paid_amount": Decimal(paid),
                "allowed_amount": Decimal(paid),
                "facility_ccn": ccn,
                "ms_drg": drg,
                "dx_1": "M1611",
            }
        )
        enrollment += [
            {
                "member_id": member,
                "month": dt.date(year, month, 1),
                "payer": "cms",
                "product": "ffs",
                "part_a": True,
                "part_b": True,
                "medicare_advantage": False,
                "esrd": False,
            }
            for year in range(2014, 2020)
            for month in range(1, 13)
        ]
    with Engine.duckdb() as engine:
        for name, rows, schema in (
            ("members", members, MEMBERS),
            ("enrollment", enrollment, ENROLLMENT),
            ("medical_claims", claims, MEDICAL_CLAIMS),
        ):
            engine.write_parquet(engine.from_rows(rows, schema), folder / f"{name}.parquet")


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("episodes") / "data"
    _write_population(folder)
    return folder


def _cap(values: list[Decimal]) -> Decimal:
    """Regional mean + 2 sample standard deviations, to the cent (one value: no deviation)."""
    with localcontext() as ctx:
        ctx.prec = 50
        mean = sum(values) / len(values)
        if len(values) == 1:
            return mean
        variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
        return (mean + 2 * variance.sqrt()).quantize(CENT, ROUND_HALF_UP)


def _expected_py3() -> dict[str, Decimal]:
    """CJR PY3 for both hospitals: 42 CFR 510.300-510.305 (docs/reference/methodology.md §3.1)."""
    third = Decimal(1) / Decimal(3)
    baseline = [s for s in STAYS if 2014 <= s[2].year <= 2016]
    # the window runs 90 days with the discharge day as day 1 (510.210(a)); PY3 reconciles windows ending in 2018
    performance = [s for s in STAYS if (s[3] + dt.timedelta(days=89)).year == 2018]
    # baseline: every hospital is in one region; caps do not bind (values within 2 SD of their group's mean)
    regional: dict[str, Decimal] = {}
    own: dict[tuple[str, str], Decimal] = {}
    for group in ("469", "470"):
        paid = [Decimal(s[4]) for s in baseline if s[1] == group]
        cap = _cap(paid)
        regional[group] = sum(min(p, cap) for p in paid) / len(paid)
        for ccn in (A, B):
            mine = [min(Decimal(s[4]), cap) for s in baseline if s[1] == group and s[0] == ccn]
            own[(ccn, group)] = sum(mine) / len(mine)
    counts = {ccn: sum(1 for s in baseline if s[0] == ccn) for ccn in (A, B)}
    # performance episodes capped the same way, per price group
    caps = {g: _cap([Decimal(s[4]) for s in performance if s[1] == g]) for g in ("469", "470")}
    result = {}
    for ccn in (A, B):
        mine = [s for s in performance if s[0] == ccn]
        basis = Decimal(0)
        for group in ("469", "470"):
            n = sum(1 for s in mine if s[1] == group)
            hospital = own[(ccn, group)] if counts[ccn] >= 20 else regional[group]
            basis += (third * hospital + (1 - third) * regional[group]) * n
        actual = sum(min(Decimal(s[4]), caps[s[1]]) for s in mine)
        score = Decimal(QUALITY[ccn])
        reduction = Decimal("0.01") if Decimal("6.9") <= score <= 15 else Decimal(0)
        target = basis * (1 - (Decimal("0.03") - reduction))
        if target > actual:
            amount = Decimal(0) if score < 5 else min(target - actual, Decimal("0.10") * target)
        else:
            repay_target = basis * (1 - (Decimal("0.02") - reduction))
            amount = (
                -min(actual - repay_target, Decimal("0.10") * repay_target)
                if actual > repay_target
                else Decimal(0)
            )
        result[ccn] = amount.quantize(CENT, ROUND_HALF_UP)
    return result


def _contract(tmp_path: Path) -> Path:
    path = tmp_path / "cjr.yaml"
    subprocess.run(
        [sys.executable, "-m", "apmkit", "contract", "template", "cjr", "--out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def test_cjr_template_settles_each_hospital_from_claims(population: Path, tmp_path: Path) -> None:
    quality = tmp_path / "cqs.csv"
    quality.write_text(f"entity_id,quality_score\n{A},{QUALITY[A]}\n{B},{QUALITY[B]}\n", encoding="utf-8")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(_contract(tmp_path), "PY3", inputs=quality, out=out)
    expected = _expected_py3()
    summary = pd.read_parquet(out / "summary.parquet").set_index("entity_id")
    assert sorted(summary.index) == [A, B]
    for ccn, amount in expected.items():
        assert Decimal(str(summary.loc[ccn, "net_settlement"])).quantize(CENT) == amount
    # A repays (actual above its repayment target, within the 10 % stop-loss); B is below acceptable quality
    assert expected[A] < 0 and expected[B] == 0
    by_entity = {s.entity_id: s for s in result.settlement.statements}
    labels = [line.label for line in by_entity[A].lines]
    assert "Benchmark episode price, group 469" in labels and "Benchmark episode price, group 470" in labels
    assert any("Quality below the level" in line.label for line in by_entity[B].lines)


def test_each_line_traces_to_the_episode_marts(population: Path, tmp_path: Path) -> None:
    quality = tmp_path / "cqs.csv"
    quality.write_text(f"entity_id,quality_score\n{A},7\n{B},4\n", encoding="utf-8")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(_contract(tmp_path), "PY3", inputs=quality, out=out)
    performance = pd.read_parquet(out / "episode_performance.parquet")
    prices = pd.read_parquet(out / "episode_prices.parquet")
    # the 2017 stay ending in 2018 is reconciled in PY3, the November 2018 one is not
    assert len(performance[performance["facility_ccn"] == A]) == 7
    for statement in result.settlement.statements:
        mine = performance[performance["facility_ccn"] == statement.entity_id]
        lines = {line.label: line for line in statement.lines}
        npra = lines["Net payment reconciliation amount (before limits)"]
        actual = Decimal(str(npra.inputs["actual_episode_payments"]))
        assert actual == sum(Decimal(str(v)) for v in mine["capped_amount"])
        for group, count in mine.groupby("price_group").size().items():
            row = prices[(prices["entity_id"] == statement.entity_id) & (prices["price_group"] == group)]
            assert int(row["performance_episodes"].iloc[0]) == count
            assert int(lines[f"Benchmark amount, group {group}"].inputs["episodes"]) == count
        assert "episode_performance.parquet" in statement.lines[0].source


def test_missing_quality_score_is_asked_for_by_name(population: Path, tmp_path: Path) -> None:
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(_contract(tmp_path), "PY3", out=tmp_path / "o")
    assert "field quality_score is required" in str(info.value)
    assert not (tmp_path / "o").exists()


def test_no_baseline_episode_is_an_error_naming_the_years(population: Path, tmp_path: Path) -> None:
    # baseline years the claims do not cover: an error naming them, never a price of zero
    contract = load_template("cjr")
    assert contract.episodes is not None and contract.episodes.benchmark_prices is not None
    prices = contract.episodes.benchmark_prices.model_copy(
        update={"baseline_years_by_period": {"PY3": (2010, 2011)}}
    )
    episodes = contract.episodes.model_copy(update={"benchmark_prices": prices})
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(contract.model_copy(update={"episodes": episodes}), "PY3", out=tmp_path / "o")
    assert "no kept baseline episode anchored in 2010, 2011" in str(info.value)


def test_a_run_contract_refuses_a_second_set_of_pricing_terms(tmp_path: Path, population: Path) -> None:
    text = _contract(tmp_path).read_text(encoding="utf-8")
    text = text.replace(
        "episodes:\n", "episodes:\n  pricing: {performance_year: PY3, baseline_years: [2014]}\n", 1
    )
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(path, "PY3")
    assert "episodes.pricing" in str(info.value)


BPCI_TERMS = {
    # test values for the template's REQUIRED terms (the user sets CMS's figures of the model year)
    "discount: REQUIRED": "discount: 0.03",
    "quality_adjustment_of_gain: REQUIRED": "quality_adjustment_of_gain: 0.10",
    "quality_adjustment_of_loss: REQUIRED": "quality_adjustment_of_loss: 0.10",
    "quality_full_score: REQUIRED": "quality_full_score: 100",
    "stop_gain: REQUIRED": "stop_gain: 0.20",
    "stop_loss: REQUIRED": "stop_loss: 0.20",
}
BPCI_PRICES = {A: "25000", B: "23000"}
BPCI_CQS = {A: "80", B: "40"}


def _bpci_contract(tmp_path: Path) -> Path:
    path = tmp_path / "bpci.yaml"
    subprocess.run(
        [sys.executable, "-m", "apmkit", "contract", "template", "bpci_advanced", "--out", str(path)],
        check=True,
        capture_output=True,
    )
    text = path.read_text(encoding="utf-8")
    for old, new in BPCI_TERMS.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def _expected_bpci_2018() -> dict[str, Decimal]:
    """BPCI Advanced (docs/reference/methodology.md §3.2), from the template's component words: target = CMS benchmark price x (1 - 3 %) x episodes; a gain limited to
    20 % of the target and reduced by 10 % x (1 - CQS / 100); a repayment limited to 20 % of the target and reduced
    by 10 % x CQS / 100. MS-DRG 469/470 stays are one clinical episode category (P0020-IP, major joint
    replacement of the lower extremity); no spending cap."""
    performance = [s for s in STAYS if (s[3] + dt.timedelta(days=89)).year == 2018]
    result = {}
    for ccn in (A, B):
        mine = [s for s in performance if s[0] == ccn]
        target = Decimal(BPCI_PRICES[ccn]) * Decimal("0.97") * len(mine)
        actual = sum(Decimal(s[4]) for s in mine)
        share = Decimal(BPCI_CQS[ccn]) / 100
        if target > actual:
            amount = min(target - actual, Decimal("0.20") * target) * (1 - Decimal("0.10") * (1 - share))
        else:
            amount = -min(actual - target, Decimal("0.20") * target) * (1 - Decimal("0.10") * share)
        result[ccn] = amount.quantize(CENT, ROUND_HALF_UP)
    return result


def test_bpci_advanced_template_asks_for_cms_prices_by_name(population: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "cqs.csv"
    inputs.write_text(f"entity_id,quality_score\n{A},80\n{B},40\n", encoding="utf-8")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(_bpci_contract(tmp_path), "2018", inputs=inputs, out=tmp_path / "o")
    assert "field benchmark_price.P0020-IP is required" in str(info.value)


def test_bpci_advanced_template_settles_each_initiator(population: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.csv"
    inputs.write_text(
        "entity_id,quality_score,benchmark_price.P0020-IP\n"
        + "".join(f"{ccn},{BPCI_CQS[ccn]},{BPCI_PRICES[ccn]}\n" for ccn in (A, B)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        workspace.run(_bpci_contract(tmp_path), "2018", inputs=inputs, out=out)
    summary = pd.read_parquet(out / "summary.parquet").set_index("entity_id")
    expected = _expected_bpci_2018()
    for ccn, amount in expected.items():
        assert Decimal(str(summary.loc[ccn, "net_settlement"])).quantize(CENT) == amount
    assert expected[A] < 0 < expected[B]  # A above its target, B below


def test_an_entity_given_without_episodes_is_refused_by_name(population: Path, tmp_path: Path) -> None:
    # a hospital in --inputs with no episode ending in the period: refused naming the field, the others settle
    quality = tmp_path / "cqs.csv"
    quality.write_text(f"entity_id,quality_score\n{A},7\n{B},4\n149999,8\n", encoding="utf-8")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(_contract(tmp_path), "PY3", inputs=quality, out=out)
    assert sorted(s.entity_id for s in result.settlement.statements) == [A, B]
    (refused,) = result.settlement.rejected
    assert "field episodes is required" in refused["reason"]
