"""The reports on the marts of a real run (synthetic population, three years): what the run records for them,
gaps in care against the gaps engine of `apmkit quality gaps` with its DEQM export, the settlement effect of the
cost opportunity against the contract's shared-savings terms computed by hand, episode figures and the
prediction report's worklists against pandas."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

from apmkit.engines import Engine
from apmkit.reports.framework import ReportRequest, Scope
from apmkit.synth import generate
from apmkit.workspace import Workspace
from apmkit.workspace.reports import build_report, export_report
from apmkit.workspace.run import MART_TABLES

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports-run")
    generate(500, root / "data", years=3, seed=5)
    contract = root / "contract.yaml"
    demo = Path(str(files("apmkit.demo_data") / "contract.yaml")).read_text(encoding="utf-8")
    contract.write_text(demo + "episodes:\n  build: {overlap: precedence}\n", encoding="utf-8")
    with Workspace(root / "data") as workspace:
        workspace.run(contract, "2025", out=root / "out")
    return root / "out"


def test_the_run_records_what_the_reports_need(run_dir: Path) -> None:
    info = json.loads((run_dir / "run.json").read_text())
    assert info["contract_id"] == "demo_shared_savings" and info["period"] == "2025"
    assert (info["start"], info["end"], info["base_years"]) == ("2025-01-01", "2025-12-31", [2024])
    assert Path(info["data"]).is_absolute() and Path(info["data"]).is_dir()
    assert "utilization" in MART_TABLES and (run_dir / "utilization.parquet").exists()
    events = pd.read_parquet(run_dir / "utilization.parquet")
    assert set(events["event"]) <= {
        "admission",
        "index_stay",
        "readmission",
        "ed_visit",
        "ed_to_admission",
        "observation",
        "snf_days",
        "imaging",
    }


def test_gaps_report_agrees_with_the_gaps_engine_and_exports_deqm(run_dir: Path, tmp_path: Path) -> None:
    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.workspace.quality import open_gaps, quality_inputs

    result = build_report(run_dir, ReportRequest("gaps", by="entity"))
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    attributed = attribution[attribution["attributed"] & attribution["entity_id"].notna()]
    data = Path(json.loads((run_dir / "run.json").read_text())["data"])
    from datetime import date

    with Engine.duckdb() as engine, quality_inputs(engine, None, data) as inputs:
        rows = [
            {"member_id": m, "entity_id": e}
            for m, e in zip(attributed.member_id, attributed.entity_id, strict=True)
        ]
        engine_gaps = engine.to_arrow(
            open_gaps(
                engine, inputs, list(ECQM_DEFINITIONS), date(2025, 1, 1), date(2025, 12, 31), attribution=rows
            )
        ).to_pandas()
    engine_gaps = engine_gaps[engine_gaps["entity_id"].notna()]
    expected = engine_gaps.groupby(["entity_id", "measure"])["patient_id"].nunique().to_dict()
    got = {(r["entity_id"], r["measure"]): r["open_gaps"] for r in result.tables["summary"].to_pylist()}
    assert got == expected and got
    # equity: open gaps per 100 attributed members by dual status, from the gap list and the members table
    people = pd.read_parquet(data / "members.parquet")[["member_id", "dual_status_code"]]
    people["dual"] = people["dual_status_code"].isin(["01", "02", "03", "04", "05", "06", "08", "09", "10"])
    panel = attributed[["member_id", "entity_id"]].merge(people, on="member_id", how="left")
    listed = result.tables["gaps"].to_pandas()
    for row in result.tables["equity"].to_pylist():
        if row["stratum"] != "dual":
            continue
        mine = panel[(panel.entity_id == row["entity_id"]) & (panel.dual == (row["value"] == "dual"))]
        open_gaps = int(listed[listed.patient_id.isin(mine.member_id)].shape[0])
        assert (row["members"], row["open_gaps"]) == (len(mine), open_gaps)
        assert row["gaps_per_100_members"] == round(open_gaps * 100 / len(mine), 2)
    bundle = json.loads(export_report(result, tmp_path / "gaps.fhir.json").read_text())
    assert bundle["resourceType"] == "Parameters"
    issues = [
        entry["resource"]
        for parameter in bundle["parameter"]
        for entry in parameter["resource"]["entry"]
        if entry["resource"]["resourceType"] == "DetectedIssue"
    ]
    assert len(issues) == result.tables["gaps"].num_rows
    first = bundle["parameter"][0]["resource"]
    assert first["type"] == "document" and first["entry"][0]["resource"]["resourceType"] == "Composition"
    assert issues[0]["code"]["coding"][0]["code"] == "CAREGAP"
    assert issues[0]["modifierExtension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "open-gap"


def test_settlement_effect_follows_the_contracts_terms(run_dir: Path) -> None:
    result = build_report(run_dir, ReportRequest("cost_opportunity", by="entity"))
    summary = pd.read_parquet(run_dir / "summary.parquet").set_index("entity_id")
    effect = result.tables["settlement_effect"].to_pylist()
    assert effect
    for row in effect:
        # the demo contract: one-sided, MSR 2 %, 50 % of first-dollar savings, capped at 10 % of the benchmark
        benchmark = Decimal(str(summary.loc[row["entity_id"], "benchmark"])).quantize(CENT)
        expenditure = Decimal(row["expenditure"]) - Decimal(row["opportunity"])
        savings = benchmark - expenditure
        earned = (
            min(savings * Decimal("0.5"), benchmark * Decimal("0.10"))
            if savings >= benchmark * Decimal("0.02")
            else Decimal(0)
        )
        assert Decimal(row["net_settlement_at_peer_median"]) == earned.quantize(CENT, ROUND_HALF_UP)
        assert Decimal(row["net_settlement"]) == Decimal(
            str(summary.loc[row["entity_id"], "net_settlement"])
        ).quantize(CENT)


def test_episode_figures(run_dir: Path) -> None:
    result = build_report(run_dir, ReportRequest("episodes", by="entity"))
    episodes = pd.read_parquet(run_dir / "episodes.parquet")
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    kept = episodes[episodes["status"] == "kept"].merge(
        attribution[attribution["attributed"] & attribution["entity_id"].notna()][["member_id", "entity_id"]],
        on="member_id",
    )
    for row in result.tables["summary"].to_pylist():
        mine = kept[(kept.entity_id == row["entity_id"]) & (kept.episode_id == row["episode_id"])]
        assert row["episodes"] == len(mine)
        total = sum(Decimal(str(v)) for v in mine["total_amount"])
        assert row["mean_total"] == (total / len(mine)).quantize(CENT, ROUND_HALF_UP)


def test_prediction_worklists_and_validation(run_dir: Path) -> None:
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    tin = attribution["tin"].dropna().value_counts().index[0]
    result = build_report(run_dir, ReportRequest("prediction", scope=Scope(tins=frozenset({tin}))))
    metrics = {(r["model"], r["metric"]): r["value"] for r in result.tables["validation"].to_pylist()}
    assert {("cost", "R2"), ("admission", "AUC"), ("admission", "Brier")} <= set(metrics)
    calibration = result.tables["calibration"].to_pandas()
    assert sorted(calibration.groupby("model")["decile"].count().tolist()) == [10, 10]
    high = result.tables["high_risk"].to_pandas()
    rising = result.tables["rising_risk"].to_pandas()
    assert set(high["tin"]) <= {tin} and set(rising["tin"]) <= {tin}
    if len(high) and len(rising):
        assert high["predicted_cost"].min() > rising["predicted_cost"].max()
    assert (rising["predicted_cost"] >= 1.5 * rising["cost_this_year"] - 0.01).all()
    # this year's spending: the member's 2025 allowed amounts of non-void medical and pharmacy claims
    data = Path(json.loads((run_dir / "run.json").read_text())["data"])
    medical = pd.read_parquet(data / "medical_claims.parquet")
    medical = medical[medical["adjustment_type"].fillna("original") != "void"]
    day = pd.to_datetime(medical["service_date"].fillna(medical["claim_from_date"]))
    spend = medical[day.dt.year == 2025].groupby("member_id")["allowed_amount"].sum()
    rx = pd.read_parquet(data / "pharmacy_claims.parquet")
    rx = rx[
        (rx["adjustment_type"].fillna("original") != "void")
        & (pd.to_datetime(rx["dispensing_date"]).dt.year == 2025)
    ]
    spend = spend.add(rx.groupby("member_id")["allowed_amount"].sum(), fill_value=0)
    for row in pd.concat([high, rising]).itertuples():
        assert row.cost_this_year == pytest.approx(float(spend.get(row.member_id, 0)), abs=0.02)


def test_episodes_of_a_scoped_provider(run_dir: Path) -> None:
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    tin = attribution["tin"].dropna().value_counts().index[-1]
    result = build_report(run_dir, ReportRequest("episodes", by="tin", scope=Scope(tins=frozenset({tin}))))
    mine = set(attribution[attribution["tin"] == tin]["member_id"])
    episodes = pd.read_parquet(run_dir / "episodes.parquet")
    kept = episodes[(episodes["status"] == "kept") & episodes["member_id"].isin(mine)]
    assert {r["tin"] for r in result.tables["summary"].to_pylist()} <= {tin}
    assert sum(r["episodes"] for r in result.tables["by_hospital"].to_pylist()) == len(kept)
    assert sum(r["episodes"] for r in result.tables["by_clinician"].to_pylist()) == len(kept)


# ---- the report marts (issue 16: reports read pre-aggregated marts) ----------------------------------------


@pytest.fixture(scope="module")
def marts_built(run_dir: Path) -> Path:
    """The run folder once a report has asked for every report mart (they are built on first use and kept)."""
    from apmkit.reports.marts import REPORT_MARTS
    from apmkit.workspace.reports import open_inputs

    with Engine.duckdb() as engine:
        open_inputs(engine, run_dir, REPORT_MARTS)
    return run_dir


def test_open_gaps_mart_equals_the_gaps_engine(marts_built: Path) -> None:
    run_dir = marts_built
    from datetime import date

    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.workspace.quality import open_gaps, quality_inputs

    mart = pd.read_parquet(run_dir / "open_gaps.parquet")
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    attributed = set(attribution[attribution["attributed"] & attribution["entity_id"].notna()].member_id)
    data = Path(json.loads((run_dir / "run.json").read_text())["data"])
    with Engine.duckdb() as engine, quality_inputs(engine, None, data) as inputs:
        engine_gaps = engine.to_arrow(
            open_gaps(engine, inputs, list(ECQM_DEFINITIONS), date(2025, 1, 1), date(2025, 12, 31))
        ).to_pandas()
    engine_gaps = engine_gaps[engine_gaps.patient_id.isin(attributed)]
    columns = ["patient_id", "measure", "gap", "last_value", "last_date", "closes_with", "npi", "tin"]

    def rows(frame: pd.DataFrame) -> set[tuple[object, ...]]:
        return {
            tuple(None if pd.isna(v) else str(v) for v in row)
            for row in frame[columns].itertuples(index=False)
        }

    assert len(mart) == len(engine_gaps) > 0
    assert rows(mart) == rows(engine_gaps)
    assert set(mart.patient_id) <= attributed


def test_member_hccs_mart_equals_the_risk_engine(marts_built: Path) -> None:
    run_dir = marts_built
    from apmkit.risk.claims import diagnoses_from_claims, persons_from_members
    from apmkit.risk.scoring import score

    mart = pd.read_parquet(run_dir / "member_hccs.parquet")
    assert set(mart.year) == {2024, 2025} and set(mart.payment_year) == {2025, 2026}
    data = Path(json.loads((run_dir / "run.json").read_text())["data"])
    attribution = pd.read_parquet(run_dir / "attribution.parquet")
    attributed = set(attribution[attribution["attributed"] & attribution["entity_id"].notna()].member_id)
    for year in (2024, 2025):
        with Engine.duckdb() as engine:
            tables = engine.canonical(data)
            persons = persons_from_members(
                tables["members"], tables["enrollment"], payment_year=year + 1, covers_data_year=True
            )
            diagnoses = diagnoses_from_claims(tables["medical_claims"], payment_year=year + 1)
            scored = engine.to_arrow(
                score(persons, diagnoses, model="V28", payment_year=year + 1).scores.select(
                    "member_id", "hccs"
                )
            ).to_pandas()
        expected = {
            m: (h or "") for m, h in zip(scored.member_id, scored.hccs, strict=True) if m in attributed
        }
        mine = mart[mart.year == year]
        got = {m: (h or "") for m, h in zip(mine.member_id, mine.hccs, strict=True)}
        assert got == expected and any(got.values())


def test_member_year_features_mart_from_the_claims(marts_built: Path) -> None:
    run_dir = marts_built
    features = pd.read_parquet(run_dir / "member_year_features.parquet").set_index(["member_id", "year"])
    data = Path(json.loads((run_dir / "run.json").read_text())["data"])
    enrollment = pd.read_parquet(data / "enrollment.parquet")
    months = (
        enrollment.assign(year=pd.to_datetime(enrollment["month"]).dt.year)
        .groupby(["member_id", "year"])["month"]
        .nunique()
    )
    assert set(features.index) == set(months.index)
    assert (features.loc[months.index, "enrolled_months"] == months.astype(float)).all()
    medical = pd.read_parquet(data / "medical_claims.parquet")
    medical = medical[medical["adjustment_type"].fillna("original") != "void"]
    medical = medical.assign(
        year=pd.to_datetime(medical["service_date"].fillna(medical["claim_from_date"])).dt.year
    )
    inpatient = (
        medical[medical["claim_type"] == "inpatient"].groupby(["member_id", "year"])["allowed_amount"].sum()
    )
    admissions = (
        medical[(medical["claim_type"] == "inpatient") & medical["bill_type"].fillna("").str.startswith("11")]
        .groupby(["member_id", "year"])["claim_id"]
        .nunique()
    )
    known = inpatient.index.intersection(features.index)
    assert len(known) > 0
    assert features.loc[known, "cost_inpatient"].to_numpy() == pytest.approx(
        inpatient.loc[known].astype(float).to_numpy(), abs=0.01
    )
    known = admissions.index.intersection(features.index)
    assert (features.loc[known, "admissions"] == admissions.loc[known].astype(float)).all()


def test_a_report_builds_its_mart_once_and_equals_the_report_time_computation(
    run_dir: Path, tmp_path: Path
) -> None:
    """A run writes no report marts (it pays nothing for reports nobody asks for); the first report that needs
    one builds it into the run folder, later reports read it, and the figures equal the report computed without
    the mart (the fallback that evaluates at report time)."""
    import shutil

    from apmkit.reports.framework import lookup
    from apmkit.workspace.reports import open_inputs

    fresh = tmp_path / "fresh-run"
    shutil.copytree(run_dir, fresh)
    for name in ("open_gaps", "member_hccs", "member_year_features"):
        (fresh / f"{name}.parquet").unlink(missing_ok=True)
    for name, tables, mart in (
        ("gaps", ("summary", "gaps", "equity"), "open_gaps"),
        ("population", ("top_conditions", "condition_counts", "distribution"), "member_hccs"),
        ("prediction", ("validation", "calibration", "high_risk", "rising_risk"), "member_year_features"),
    ):
        assert not (fresh / f"{mart}.parquet").exists()
        first = build_report(fresh, ReportRequest(name, by="tin"))
        assert (fresh / f"{mart}.parquet").exists(), name
        assert not any("at report time" in n for n in first.notes), name
        assert not list(fresh.glob(".*.partial")), name
        _, function, needs = lookup(name)
        with Engine.duckdb() as engine:
            inputs = open_inputs(engine, fresh, needs)
            del inputs.tables[mart]
            output = function(inputs, ReportRequest(name, by="tin"))
            slow = {t: engine.to_arrow(output.tables[t]).to_pylist() for t in tables}
        assert any("at report time" in n for n in output.notes), name
        for table in tables:
            assert first.tables[table].to_pylist() == slow[table], (name, table)


def test_the_claims_marts_give_the_figures_of_the_claims(marts_built: Path) -> None:
    """The professional, pharmacy, episode and member-month marts (built on first use) give each report the
    figures the same report computes from the claims and the run's marts without them."""
    from apmkit.reports.framework import lookup
    from apmkit.reports.marts import (
        EPISODE_CLINICIANS,
        EPISODE_COMPONENTS,
        MONTHS_PANEL,
        PHARMACY_MONTHS,
        PROFESSIONAL_MONTHS,
    )
    from apmkit.workspace.reports import open_inputs

    for name, tables, marts in (
        ("episodes", ("components", "by_clinician"), (EPISODE_COMPONENTS, EPISODE_CLINICIANS)),
        ("variation", ("site_of_service", "observed_expected"), (PROFESSIONAL_MONTHS, MONTHS_PANEL)),
        (
            "utilization",
            ("rates", "high_cost_drugs", "generic_dispensing"),
            (PHARMACY_MONTHS, MONTHS_PANEL),
        ),
        (
            "performance",
            ("by_category", "professional_by_specialty", "cost"),
            (PROFESSIONAL_MONTHS, MONTHS_PANEL),
        ),
    ):
        _, function, needs = lookup(name)
        with Engine.duckdb() as engine:
            inputs = open_inputs(engine, marts_built, needs)
            assert all(inputs.has(m) for m in marts), name
            fast = {
                t: engine.to_arrow(v).to_pylist()
                for t, v in function(inputs, ReportRequest(name, by="tin")).tables.items()
                if t in tables
            }
            for mart in marts:
                del inputs.tables[mart]
            slow = {
                t: engine.to_arrow(v).to_pylist()
                for t, v in function(inputs, ReportRequest(name, by="tin")).tables.items()
                if t in tables
            }
        assert set(fast) == set(tables), name
        assert fast == slow, name
        assert all(fast[t] for t in tables), name


def test_two_first_uses_at_once_build_the_marts_once_and_agree(run_dir: Path, tmp_path: Path) -> None:
    """Two users opening a report of a fresh run together (the dashboard) both get it: the marts are built one
    after the other, never written over each other (before, both wrote the same partial file and one failed)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from apmkit.reports.marts import REPORT_MARTS

    fresh = tmp_path / "fresh-run"
    shutil.copytree(run_dir, fresh)
    for name in REPORT_MARTS:
        (fresh / f"{name}.parquet").unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda _: build_report(fresh, ReportRequest("attribution", by="tin")), range(2))
        )
    first, second = results
    assert first.tables.keys() == second.tables.keys()
    for table in first.tables:
        assert first.tables[table].to_pylist() == second.tables[table].to_pylist(), table
    assert not list(fresh.glob(".*.partial"))
