"""The performance reports against independent pandas computations written from
docs/reference/analytics-definitions.md on the hand-made run of conftest.py, including small-cell suppression
and a provider's Scope (a provider never sees another TIN's rows)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from apmkit.errors import ApmkitError
from apmkit.reports.framework import ReportRequest, Scope, catalog
from apmkit.workspace.reports import build_report, export_report

from .conftest import (
    ATTRIBUTION,
    CLAIMS,
    ENROLLMENT,
    EXPENDITURE,
    MEMBER_MONTHS,
    N1,
    N2,
    N3,
    RISK,
    T1,
    T2,
    UTILIZATION,
)

YEAR = 2025


def eligible() -> pd.DataFrame:
    """Eligible member-months of attributed members in 2025 with payer, panel columns and risk score."""
    months = MEMBER_MONTHS[MEMBER_MONTHS["year"] == YEAR].merge(ENROLLMENT, on=["member_id", "month"])
    panel = ATTRIBUTION[ATTRIBUTION["attributed"]]
    return months.merge(panel, on="member_id").merge(RISK, on="member_id")


def cents_pmpm(cents: int, months: int) -> Decimal:
    return (Decimal(cents) / months / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def spend_in(months: pd.DataFrame) -> pd.DataFrame:
    return EXPENDITURE.merge(months, on=["member_id", "month"])


def rows(result, table: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return result.tables[table].to_pylist()


def test_catalog_names_every_report() -> None:
    names = [info.name for info in catalog()]
    assert names == [
        "admissions",
        "attribution",
        "gaps",
        "performance",
        "utilization",
        "population",
        "variation",
        "report_cards",
        "cost_opportunity",
        "episodes",
        "prediction",
    ]


def test_attribution_counts_members_and_member_months(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("attribution", by="tin"))
    expected = (
        eligible().groupby(["tin", "payer"]).agg(members=("member_id", "nunique"), mm=("month", "size"))
    )
    got = {(r["tin"], r["payer"]): (r["members"], r["member_months"]) for r in rows(result, "summary")}
    assert got == {k: (v.members, v.mm) for k, v in expected.iterrows()}
    assert got[(T1, "A")] == (3, 30) and got[(T2, "A")] == (2, 21)


def test_performance_cost_against_benchmark_and_peers(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("performance", by="entity"))
    months = eligible()
    spend = spend_in(months)
    for row in rows(result, "cost"):
        mine = months[(months.entity_id == row["entity_id"]) & (months.payer == row["payer"])]
        cents = int(
            spend[(spend.entity_id == row["entity_id"]) & (spend.payer == row["payer"])]["cents"].sum()
        )
        assert row["member_months"] == len(mine)
        assert row["spending"] == Decimal(cents) / 100
        assert row["pmpm"] == cents_pmpm(cents, len(mine))
        risk = (mine["score"]).sum() / len(mine)
        assert row["risk_score"] == pytest.approx(risk, abs=0.0005)
        peers = months[months.payer == row["payer"]]
        peer_cents = int(spend[spend.payer == row["payer"]]["cents"].sum())
        assert row["peer_pmpm"] == cents_pmpm(peer_cents, len(peers))
        peer_risk = peers["score"].sum() / len(peers)
        assert row["risk_adjusted_pmpm"] == pytest.approx(
            float(cents_pmpm(cents, len(mine))) * peer_risk / risk, abs=0.02
        )
        bench = {"E1": Decimal("900.00"), "E2": Decimal("800.00")}[row["entity_id"]]
        assert row["benchmark_pmpm"] == bench
        assert row["variance_pmpm"] == bench - cents_pmpm(cents, len(mine))
    # E1 on payer A: m1 12 + m2 6 + m3 12 months; 1,230,000 + 15,000 + 80,000 + 9,999 cents
    e1 = next(r for r in rows(result, "cost") if (r["entity_id"], r["payer"]) == ("E1", "A"))
    assert (e1["member_months"], e1["pmpm"]) == (30, Decimal("445.00"))


def test_performance_categories_ytd_and_trend(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("performance", by="tin"))
    months = eligible()
    spend = spend_in(months)
    for row in rows(result, "by_category"):
        mm = len(months[months.tin == row["tin"]])
        cents = int(
            spend[(spend.tin == row["tin"]) & (spend.service_category == row["service_category"])][
                "cents"
            ].sum()
        )
        assert row["pmpm"] == cents_pmpm(cents, mm)
        peer = int(spend[spend.service_category == row["service_category"]]["cents"].sum())
        assert row["peer_pmpm"] == cents_pmpm(peer, len(months))
    claims = CLAIMS.assign(month=[d.replace(day=1) for d in CLAIMS["service_date"]])
    claims = claims.merge(months, on=["member_id", "month"])
    for row in rows(result, "professional_by_specialty"):
        mine = claims[(claims.tin == row["tin"]) & (claims.rendering_specialty == row["specialty"])]
        cents = round(mine["allowed_amount"].sum() * 100)
        assert row["pmpm"] == cents_pmpm(cents, len(months[months.tin == row["tin"]]))
    assert {(r["tin"], r["specialty"]) for r in rows(result, "professional_by_specialty")} == {
        (T1, "08"),
        (T1, "11"),
    }
    # the data run through November 2025 (the last month with spending): 11 months elapsed
    for row in rows(result, "ytd"):
        upto = months[
            (months.tin == row["tin"])
            & (months.payer == row["payer"])
            & (months.month <= pd.Timestamp(2025, 11, 1).date())
        ]
        cents = int(spend_in(upto)["cents"].sum())
        assert row["months_elapsed"] == 11
        assert row["ytd_member_months"] == len(upto)
        assert row["projected_spending"] == (Decimal(cents * 12) / 11 / 100).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    baseline = [r for r in rows(result, "trend") if r["year"] == 2024]
    # 2024: m1 (12 months) and m4 (July-December) are the attributed members enrolled
    assert {
        (r["tin"], r["month"].month): r["member_months"] for r in baseline if r["month"].month in (5, 9)
    } == {
        (T1, 5): 1,
        (T1, 9): 1,
        (T2, 9): 1,
    }
    may = next(r for r in baseline if r["tin"] == T1 and r["month"].month == 5)
    assert may["pmpm"] == Decimal("10000.00")


def per_1000(events: float, mm: int) -> float:
    return round(events / (mm / 12) * 1000, 2)


def test_utilization_rates_per_1000_risk_adjusted_and_peers(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("utilization", by="entity"))
    months = eligible()
    events = UTILIZATION.merge(months, on=["member_id", "month"])
    got = {(r["entity_id"], r["payer"], r["event"]): r for r in rows(result, "rates")}
    for (entity, payer), mine in months.groupby(["entity_id", "payer"]):
        peers = months[months.payer == payer]
        risk = mine["score"].sum() / len(mine)
        peer_risk = peers["score"].sum() / len(peers)
        for event in ("admission", "ed_visit", "snf_days", "imaging", "readmission"):
            count = int(
                events[(events.entity_id == entity) & (events.payer == payer) & (events.event == event)][
                    "quantity"
                ].sum()
            )
            peer = int(events[(events.payer == payer) & (events.event == event)]["quantity"].sum())
            row = got[(entity, payer, event)]
            assert row["events"] == count
            assert row["per_1000"] == per_1000(count, len(mine))
            assert row["peer_per_1000"] == per_1000(peer, len(peers))
            assert row["risk_adjusted_per_1000"] == pytest.approx(
                count / (len(mine) / 12) * 1000 * peer_risk / risk, abs=0.02
            )
    # m5's imaging in October falls outside its eligible months; m6 (not attributed) counts nowhere
    assert got[("E2", "A", "imaging")]["events"] == 0
    assert got[("E2", "A", "admission")]["per_1000"] == per_1000(2, 21)
    assert got[("E2", "A", "readmission")]["index_stays"] == 2
    assert got[("E2", "A", "readmission")]["readmission_rate"] == 0.5
    frequent = rows(result, "frequent_ed_users")
    assert [(r["member_id"], r["ed_visits"]) for r in frequent] == [("m5", 4)]


def test_variation_observed_expected_and_funnel_limits(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("variation", by="entity"))
    months = eligible()
    events = UTILIZATION.merge(months, on=["member_id", "month"])
    peer_admissions = int(events[events.event == "admission"]["quantity"].sum())
    peer_risk_months = months["score"].sum()
    for row in rows(result, "observed_expected"):
        if row["measure"] != "admission":
            continue
        mine = months[months.entity_id == row["entity_id"]]
        expected = peer_admissions / peer_risk_months * mine["score"].sum()
        observed = int(
            events[(events.entity_id == row["entity_id"]) & (events.event == "admission")]["quantity"].sum()
        )
        assert row["observed"] == observed
        assert row["expected"] == pytest.approx(expected, abs=0.005)
        assert row["oe"] == pytest.approx(observed / expected, abs=0.0005)
        assert row["upper_998"] == pytest.approx(1 + 3.09 / expected**0.5, abs=0.0005)
        assert row["lower_95"] == pytest.approx(1 - 1.96 / expected**0.5, abs=0.0005)
        assert row["flag"] == ""  # small panels are not flagged by chance


def test_cost_opportunity_to_the_peer_median(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("cost_opportunity", by="tin"))
    months = eligible()
    spend = spend_in(months)
    categories = sorted(spend["service_category"].unique())
    mm = months.groupby("tin").size()
    per_group = {
        (tin, c): int(spend[(spend.tin == tin) & (spend.service_category == c)]["cents"].sum())
        for tin in mm.index
        for c in categories
    }
    for row in rows(result, "opportunity"):
        c, tin = row["service_category"], row["tin"]
        median = statistics.median(per_group[(t, c)] / mm[t] for t in mm.index)
        own = int((Decimal(per_group[(tin, c)]) / mm[tin]).quantize(Decimal(1), ROUND_HALF_UP))
        gap = own - int(Decimal(median).quantize(Decimal(1), ROUND_HALF_UP))
        assert row["opportunity"] == Decimal(max(gap, 0) * int(mm[tin])) / 100
    # without the run's contract and inputs in run.json the settlement effect says why it is missing
    assert any("settlement effect: not computed" in note for note in result.notes)


def test_report_cards_percentiles_and_blinded_peers(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("report_cards"))
    months = eligible()
    spend = spend_in(months)
    pmpm = {
        npi: float(cents_pmpm(int(spend[spend.npi == npi]["cents"].sum()), len(g)))
        for npi, g in months.groupby("npi")
    }
    for row in rows(result, "percentiles"):
        if row["measure"] == "pmpm":
            below = sum(1 for v in pmpm.values() if v < pmpm[row["npi"]])
            assert row["percentile"] == round(below * 100 / len(pmpm), 1)
    peers = {r["measure"]: r for r in rows(result, "peers")}
    assert peers["pmpm"]["median"] == pytest.approx(statistics.median(pmpm.values()))
    assert set(peers["pmpm"]) == {"measure", "npis", "p25", "median", "p75"}  # no NPI is named


def test_small_cells_are_suppressed_and_zero_is_not(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("attribution", by="npi", suppress_below=2))
    got = {(r["npi"], r["payer"]): r for r in rows(result, "summary")}
    assert got[(N1, "A")]["members"] == 2 and got[(N1, "A")]["member_months"] == 18
    for small in ((N2, "A"), (N1, "B")):  # one member each: the count and what derives from it are blank
        assert got[small]["members"] is None
        assert got[small]["member_months"] is None and got[small]["person_years"] is None
    assert any("small cells suppressed" in note for note in result.notes)
    rates = build_report(handmade_run, ReportRequest("utilization", by="entity", suppress_below=2))
    by = {(r["entity_id"], r["payer"], r["event"]): r for r in rows(rates, "rates")}
    assert by[("E1", "A", "admission")]["events"] is None and by[("E1", "A", "admission")]["per_1000"] is None
    assert by[("E1", "A", "ed_visit")]["events"] == 3
    assert by[("E2", "A", "imaging")]["events"] == 0 and by[("E2", "A", "imaging")]["per_1000"] == 0.0


SCOPED_REPORTS = (
    "attribution",
    "performance",
    "utilization",
    "variation",
    "report_cards",
    "cost_opportunity",
    "population",
)


@pytest.mark.parametrize("name", SCOPED_REPORTS)
def test_a_provider_never_sees_another_tins_rows(handmade_run: Path, name: str) -> None:
    scope = Scope(tins=frozenset({T1}))
    result = build_report(handmade_run, ReportRequest(name, by="npi", scope=scope))
    foreign = {T2, N3, "E2", "m4", "m5", "m6"}
    for table_name, table in result.tables.items():
        for row in table.to_pylist():
            assert not foreign & {str(v) for v in row.values()}, (table_name, row)
    assert any("restricted to the members attributed to TINs" in note for note in result.notes)


def test_scoped_figures_equal_the_unscoped_figures_of_that_tin(handmade_run: Path) -> None:
    scope = Scope(tins=frozenset({T1}))
    for name, table, keys in (
        ("utilization", "rates", ("tin", "payer", "event")),
        ("performance", "cost", ("tin", "payer")),
    ):
        everyone = build_report(handmade_run, ReportRequest(name, by="tin"))
        mine = build_report(handmade_run, ReportRequest(name, by="tin", scope=scope))
        whole = {tuple(r[k] for k in keys): r for r in rows(everyone, table) if r["tin"] == T1}
        assert {tuple(r[k] for k in keys): r for r in rows(mine, table)} == whole


def test_population_profile_counts(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("population", by="entity"))
    got = {(r["entity_id"], r["dimension"], r["value"]): r["members"] for r in rows(result, "distribution")}
    # ages on 2025-12-31: m1 75, m2 84, m3 67 (born 1958-12-31), m4 95, m5 65
    assert got[("E1", "age_band", "75-79")] == 1 and got[("E1", "age_band", "80-84")] == 1
    assert got[("E1", "age_band", "65-69")] == 1 and got[("E2", "age_band", "85+")] == 1
    assert got[("E1", "dual", "dual")] == 1 and got[("E2", "dual", "dual")] == 1
    assert got[("E1", "payer", "B")] == 1  # m2's latest month is payer B
    assert any("top conditions: not computed" in n or "conditions:" in n for n in result.notes)
    equity = {(r["entity_id"], r["stratum"], r["value"]): r for r in rows(result, "equity")}
    months = eligible()
    e1_dual = months[(months.entity_id == "E1") & (months.member_id == "m2")]
    assert equity[("E1", "dual", "dual")]["pmpm"] == cents_pmpm(
        int(spend_in(e1_dual)["cents"].sum()), len(e1_dual)
    )


def test_exports_by_suffix(handmade_run: Path, tmp_path: Path) -> None:
    result = build_report(handmade_run, ReportRequest("utilization", by="tin"))
    written = export_report(result, tmp_path / "u.csv")
    assert written.is_dir() and (written / "rates.csv").exists()
    assert export_report(result, tmp_path / "u.xlsx").stat().st_size > 0
    pdf = export_report(result, tmp_path / "u.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    document = json.loads(export_report(result, tmp_path / "u.json").read_text())
    assert document["charts"]["rates"]["data"]["values"][0].keys() >= {"tin", "event", "per_1000"}
    with pytest.raises(ApmkitError, match="no FHIR standard"):
        export_report(result, tmp_path / "u.fhir.json")


def test_unknown_report_and_missing_run_record(handmade_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ApmkitError, match="unknown report"):
        build_report(handmade_run, ReportRequest("nope"))
    with pytest.raises(ApmkitError, match=r"run\.json"):
        build_report(tmp_path, ReportRequest("attribution"))


def test_cli_lists_reports_and_writes_one(handmade_run: Path, tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "apmkit", "report", "--list"], capture_output=True, text=True, check=True
    )
    assert "performance\t" in listed.stdout and "prediction\t" in listed.stdout
    out = tmp_path / "a.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "apmkit",
            "--quiet",
            "report",
            "attribution",
            "--run",
            str(handmade_run),
            "--by",
            "tin",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["tables"]["summary"]
    bad = subprocess.run(
        [sys.executable, "-m", "apmkit", "report", "attribution", "--run", str(tmp_path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_baseline_year_is_a_period_too(handmade_run: Path) -> None:
    result = build_report(handmade_run, ReportRequest("attribution", by="tin", period="2024"))
    got = {(r["tin"], r["payer"]): (r["members"], r["member_months"]) for r in rows(result, "summary")}
    assert got == {(T1, "A"): (1, 12), (T2, "A"): (1, 6)}  # m1 all of 2024, m4 from July
    with pytest.raises(ApmkitError, match="--period"):
        build_report(handmade_run, ReportRequest("attribution", period="last year"))
