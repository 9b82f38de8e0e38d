"""The report aggregates (apmkit.reports.cells) against independent pandas sums of the hand-made run's frames
(conftest.py), and the reports that read them against pandas computations with a provider's scope (any of
entity, TIN or NPI), a payer filter and small-cell suppression."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from apmkit.engines import Engine
from apmkit.reports.cells import (
    CELL_MARTS,
    EVENT_CELLS,
    MONTH_CELLS,
    PERSON_CELLS,
    PROFESSIONAL_CELLS,
    SPENDING_CELLS,
)
from apmkit.reports.framework import ReportRequest, Scope
from apmkit.workspace.reports import build_report, open_inputs

from .conftest import ATTRIBUTION, CLAIMS, ENROLLMENT, EXPENDITURE, MEMBER_MONTHS, N2, RISK, UTILIZATION

CELL = ["entity_id", "tin", "npi", "payer", "year", "month"]
# a provider holding entity E2 and NPI N2 (a TIN-1 clinician): any of them reaches the row
SCOPE = Scope(entity_ids=frozenset({"E2"}), npis=frozenset({N2}))
REACHED = {"m3", "m4", "m5"}


@pytest.fixture(scope="module")
def built(handmade_run: Path) -> Path:
    with Engine.duckdb() as engine:
        inputs = open_inputs(engine, handmade_run, CELL_MARTS)
        assert all(
            inputs.has(name) for name in CELL_MARTS if not name.startswith(("cells_pharmacy", "cells_drug"))
        )
    return handmade_run


def months() -> pd.DataFrame:
    """Eligible member-months (every year) of the attributed members with payer, panel columns and score."""
    rows = MEMBER_MONTHS.merge(ENROLLMENT, on=["member_id", "month"])
    panel = ATTRIBUTION[ATTRIBUTION["attributed"]].drop(columns=["attributed", "step"])
    return rows.merge(panel, on="member_id").merge(RISK, on="member_id")


def mart(run: Path, name: str, keys: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(run / f"{name}.parquet")
    frame["month"] = pd.to_datetime(frame["month"]).dt.date if "month" in frame else None
    return frame.sort_values(keys).reset_index(drop=True)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


def test_month_and_person_cells(built: Path) -> None:
    eligible = months()
    expected = eligible.groupby(CELL, as_index=False).agg(
        member_months=("member_id", "size"), risk_sum=("score", "sum")
    )
    got = mart(built, MONTH_CELLS, CELL)
    assert got[CELL].to_dict("records") == _sorted(expected, CELL)[CELL].to_dict("records")
    assert list(got.member_months) == list(_sorted(expected, CELL).member_months)
    assert list(got.risk_sum) == pytest.approx(list(_sorted(expected, CELL).risk_sum))
    people = eligible[["entity_id", "tin", "npi", "payer", "year", "member_id"]].drop_duplicates()
    keys = ["entity_id", "tin", "npi", "payer", "year", "person_id"]
    got_people = pd.read_parquet(built / f"{PERSON_CELLS}.parquet")
    assert _sorted(got_people[keys], keys).to_dict("records") == _sorted(
        people.rename(columns={"member_id": "person_id"}), keys
    ).to_dict("records")


def test_spending_event_and_professional_cells(built: Path) -> None:
    eligible = months()
    keys = [*CELL, "service_category"]
    spend = EXPENDITURE.drop(columns=["year"]).merge(eligible, on=["member_id", "month"])
    expected = _sorted(spend.groupby(keys, as_index=False)["cents"].sum(), keys)
    assert mart(built, SPENDING_CELLS, keys)[[*keys, "cents"]].to_dict("records") == expected.to_dict(
        "records"
    )

    keys = [*CELL, "event"]
    events = UTILIZATION[["member_id", "month", "event", "quantity"]].merge(
        eligible, on=["member_id", "month"]
    )
    expected = _sorted(events.groupby(keys, as_index=False)["quantity"].sum(), keys)
    got = mart(built, EVENT_CELLS, keys)[[*keys, "quantity"]]
    assert got.to_dict("records") == expected.to_dict("records")

    keys = [*CELL, "specialty", "site"]
    sites = {"11": "office", "22": "outpatient hospital", "24": "ambulatory surgical center"}
    claims = CLAIMS.assign(
        month=[d.replace(day=1) for d in CLAIMS["service_date"]],
        specialty=CLAIMS["rendering_specialty"],
        site=[sites[p] for p in CLAIMS["place_of_service"]],
        cents=[round(a * 100) for a in CLAIMS["allowed_amount"]],
    ).merge(eligible, on=["member_id", "month"])
    expected = _sorted(
        claims.groupby(keys, as_index=False).agg(lines=("claim_id", "size"), cents=("cents", "sum")), keys
    )
    got = mart(built, PROFESSIONAL_CELLS, keys)[[*keys, "lines", "cents"]]
    assert got.to_dict("records") == expected.to_dict("records")


def _pmpm(cents: int, member_months: int) -> Decimal:
    return (Decimal(cents) / member_months / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _scoped(payer: str) -> pd.DataFrame:
    eligible = months()
    return eligible[(eligible.year == 2025) & eligible.member_id.isin(REACHED) & (eligible.payer == payer)]


def test_performance_and_utilization_with_scope_payer_and_suppression(built: Path) -> None:
    """By NPI, scope E2 or N2, payer A, cells below 2 suppressed: each figure from the scoped rows only."""
    request = ReportRequest("performance", by="npi", scope=SCOPE, payer="A", suppress_below=2)
    mine = _scoped("A")
    spend = EXPENDITURE.drop(columns=["year"]).merge(mine, on=["member_id", "month"])
    result = build_report(built, request)
    cost = {r["npi"]: r for r in result.tables["cost"].to_pylist()}
    assert set(cost) == set(mine.npi)
    for npi, group in mine.groupby("npi"):
        members = group.member_id.nunique()
        assert cost[npi]["members"] == (None if members == 1 else members)
        cents = int(spend[spend.npi == npi].cents.sum())
        small = members == 1
        assert cost[npi]["member_months"] == (None if small else len(group))
        assert cost[npi]["pmpm"] == (None if small else _pmpm(cents, len(group)))
    trend = result.tables["trend"].to_pylist()
    assert {(r["npi"], r["month"]): r["member_months"] for r in trend} == {
        (npi, month): len(rows)
        for (npi, month), rows in months()[
            months().member_id.isin(REACHED) & (months().payer == "A")
        ].groupby(["npi", "month"])
    }

    rates = build_report(
        built, ReportRequest("utilization", by="npi", scope=SCOPE, payer="A", suppress_below=2)
    )
    events = UTILIZATION[["member_id", "month", "event", "quantity"]].merge(mine, on=["member_id", "month"])
    for row in rates.tables["rates"].to_pylist():
        count = int(events[(events.npi == row["npi"]) & (events.event == row["event"])].quantity.sum())
        assert row["events"] == (None if count == 1 else count), row
        assert row["member_months"] == len(mine[mine.npi == row["npi"]])


def test_variation_cards_and_opportunity_with_scope_and_payer(built: Path) -> None:
    mine = _scoped("A")
    spend = EXPENDITURE.drop(columns=["year"]).merge(mine, on=["member_id", "month"])
    events = UTILIZATION[["member_id", "month", "event", "quantity"]].merge(mine, on=["member_id", "month"])
    variation = build_report(built, ReportRequest("variation", by="npi", scope=SCOPE, payer="A"))
    for row in variation.tables["observed_expected"].to_pylist():
        group = mine[mine.npi == row["npi"]]
        assert row["member_months"] == len(group)
        if row["measure"] == "cost":
            assert row["observed"] == pytest.approx(spend[spend.npi == row["npi"]].cents.sum() / 100)
        else:
            kind = events[(events.npi == row["npi"]) & (events.event == row["measure"])]
            assert row["observed"] == kind.quantity.sum()
    cards = build_report(built, ReportRequest("report_cards", scope=SCOPE, payer="A"))
    got = {r["npi"]: (r["members"], r["member_months"]) for r in cards.tables["cards"].to_pylist()}
    assert got == {npi: (g.member_id.nunique(), len(g)) for npi, g in mine.groupby("npi")}
    opportunity = build_report(built, ReportRequest("cost_opportunity", by="npi", scope=SCOPE, payer="A"))
    for row in opportunity.tables["opportunity"].to_pylist():
        group = mine[mine.npi == row["npi"]]
        cents = int(
            spend[(spend.npi == row["npi"]) & (spend.service_category == row["service_category"])].cents.sum()
        )
        assert (row["member_months"], row["pmpm"]) == (len(group), _pmpm(cents, len(group)))
    assert {r["service_category"] for r in opportunity.tables["opportunity"].to_pylist()} == set(
        spend.service_category
    )


def test_population_profile_and_equity_with_scope_and_payer(built: Path) -> None:
    """The profile (``cells_profile``) and equity (``cells_equity``) aggregates: scope E2 or N2 on payer A, and
    payer B alone (m2's last six months: its payer view, not its latest payer over both)."""
    strata = {"m1": ("1", "non-dual"), "m2": ("2", "dual"), "m3": ("1", "non-dual")}
    strata |= {"m4": ("1", "non-dual"), "m5": ("2", "dual")}
    for request, mine, key in (
        (ReportRequest("population", by="npi", scope=SCOPE, payer="A"), _scoped("A"), "npi"),
        (ReportRequest("population", by="entity", payer="B"), months()[months().payer == "B"], "entity_id"),
    ):
        mine = mine[mine.year == 2025].assign(
            race=lambda f: [strata[m][0] for m in f.member_id],
            dual=lambda f: [strata[m][1] for m in f.member_id],
        )
        result = build_report(built, request)
        payers = {
            (r[key], r["value"]): r["members"]
            for r in result.tables["distribution"].to_pylist()
            if r["dimension"] == "payer"
        }
        assert payers == {(g, request.payer): rows.member_id.nunique() for g, rows in mine.groupby(key)}
        spend = EXPENDITURE.drop(columns=["year"]).merge(mine, on=["member_id", "month"])
        admissions = UTILIZATION[UTILIZATION.event == "admission"][["member_id", "month", "quantity"]]
        admissions = admissions.merge(mine, on=["member_id", "month"])
        expected = {}
        for stratum in ("race", "dual"):
            for (group, value), rows in mine.groupby([key, stratum]):
                cents = int(spend[(spend[key] == group) & (spend[stratum] == value)].cents.sum())
                count = int(
                    admissions[(admissions[key] == group) & (admissions[stratum] == value)].quantity.sum()
                )
                expected[(group, stratum, value)] = (
                    rows.member_id.nunique(),
                    len(rows),
                    _pmpm(cents, len(rows)),
                    count,
                )
        got = {
            (r[key], r["stratum"], r["value"]): (r["members"], r["member_months"], r["pmpm"], r["admissions"])
            for r in result.tables["equity"].to_pylist()
        }
        assert got == expected


def test_card_percentiles_count_the_peers_below_with_ties(built: Path) -> None:
    """Percentile = share of the run's NPIs (same payer) with a lower value; ties are not below (several NPIs
    share 0 imaging), a scoped provider's NPIs are ranked among every NPI."""
    everyone = build_report(built, ReportRequest("report_cards", payer="A")).tables["cards"].to_pylist()
    mine = build_report(built, ReportRequest("report_cards", scope=SCOPE, payer="A")).tables["percentiles"]
    rows = mine.to_pylist()
    assert {r["npi"] for r in rows} == {N2, "1000000003"}
    for row in rows:
        peers = [float(card[row["measure"]]) for card in everyone if card[row["measure"]] is not None]
        below = sum(1 for value in peers if value < row["value"])
        assert row["percentile"] == round(below * 100 / len(peers), 1), row
    assert any(r["measure"] == "imaging_per_1000" and r["percentile"] == 0.0 for r in rows)


def test_pharmacy_aggregates_give_the_figures_of_the_fills(built: Path) -> None:
    """High-cost drugs (``cells_drugs``), the generic dispensing rate and Part D (``cells_pharmacy``) against the
    same tables computed from the pharmacy fills joined to the scoped member-months (the path without them), on
    the hand-made run with pharmacy claims added: m2's fills straddle its payer change, one fill is voided."""
    from dataclasses import replace
    from datetime import date

    import ibis

    from apmkit.reports.marts import PHARMACY_MONTHS, pharmacy_months
    from apmkit.reports.performance import category_table
    from apmkit.reports.utilization import drug_table, generic_table

    rx = pd.DataFrame(
        [
            ("m1", date(2025, 3, 5), "A1", "brand", 120.00, "original"),
            ("m1", date(2025, 4, 5), "A1", "brand", 120.00, "original"),
            ("m1", date(2025, 4, 9), "G1", "generic", 4.10, "original"),
            ("m2", date(2025, 6, 1), "A1", "brand", 120.00, "original"),
            ("m2", date(2025, 8, 1), "G1", "generic", 4.10, "original"),
            ("m3", date(2025, 5, 2), "B2", None, 900.55, "original"),
            ("m3", date(2025, 5, 3), "B2", None, 900.55, "void"),
            ("m4", date(2025, 2, 2), "A1", "brand", 130.00, "original"),
            ("m5", date(2025, 6, 6), "G1", "generic", 3.90, "original"),
            ("m6", date(2025, 6, 6), "A1", "brand", 999.00, "original"),
        ],
        columns=["member_id", "dispensing_date", "ndc", "brand_generic", "allowed_amount", "adjustment_type"],
    )
    claims = ibis.memtable(rx).mutate(allowed_amount=lambda t: t.allowed_amount.cast("decimal(18, 2)"))
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    with Engine.duckdb() as engine:
        opened = open_inputs(engine, built, ("member_month_panel", "expenditure", *CELL_MARTS))
        base = {n: t for n, t in opened.tables.items() if not n.startswith(("cells_pharmacy", "cells_drug"))}
        slow = replace(opened, tables={**base, "pharmacy_claims": claims}, memo={})
        fast = replace(
            opened,
            tables={
                **base,
                "pharmacy_claims": claims,
                PHARMACY_MONTHS: pharmacy_months(claims, "allowed_amount"),
            },
            memo={},
        )
        for request in (
            ReportRequest("utilization", by="tin", scope=SCOPE, payer="A"),
            ReportRequest("utilization", by="entity"),
        ):
            for table in (drug_table, generic_table):
                got = sorted(engine.to_arrow(table(fast, request, 2025, start, end)).to_pylist(), key=str)
                want = sorted(engine.to_arrow(table(slow, request, 2025, start, end)).to_pylist(), key=str)
                assert got == want, table
                assert got, table
            got_cat = sorted(engine.to_arrow(category_table(fast, request, 2025)[0]).to_pylist(), key=str)
            assert got_cat == sorted(
                engine.to_arrow(category_table(slow, request, 2025)[0]).to_pylist(), key=str
            )
            assert any(r["service_category"] == "part_d" for r in got_cat)


def test_people_by_month_count_a_person_of_two_cells_once(handmade_run: Path, tmp_path: Path) -> None:
    """m1 enrolled with payers A and B in March 2025 is in two cells of that month: the attribution trend (people
    per group and month, from ``cells_months`` and ``cells_shared_people``) counts m1 once, as the distinct
    count of the member-months does; the payer filter keeps one cell."""
    import json
    import shutil
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(handmade_run, run, ignore=shutil.ignore_patterns("cells_*", "member_month_panel*"))
    source = Path(json.loads((handmade_run / "run.json").read_text())["data"])
    shutil.copytree(source, data)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "data": str(data)}))
    enrollment = pq.read_table(data / "enrollment.parquet")
    extra = pa.Table.from_pylist(
        [{**enrollment.slice(0, 1).to_pylist()[0], "month": date(2025, 3, 1), "payer": "B"}],
        schema=enrollment.schema,
    )
    pq.write_table(pa.concat_tables([enrollment, extra]), data / "enrollment.parquet")
    extended = pd.concat(
        [ENROLLMENT, pd.DataFrame([{"member_id": "m1", "month": date(2025, 3, 1), "payer": "B"}])]
    )
    eligible = MEMBER_MONTHS.merge(extended, on=["member_id", "month"])
    eligible = eligible.merge(ATTRIBUTION[ATTRIBUTION["attributed"]], on="member_id")
    for payer in (None, "A"):
        chosen = eligible if payer is None else eligible[eligible.payer == payer]
        result = build_report(run, ReportRequest("attribution", by="entity", payer=payer))
        got = {(r["entity_id"], r["month"]): r["members"] for r in result.tables["trend"].to_pylist()}
        expected = chosen.groupby(["entity_id", "month"]).member_id.nunique().to_dict()
        assert got == expected
        assert got[("E1", date(2025, 3, 1))] == 3
        summary = {(r["entity_id"], r["payer"]): r for r in result.tables["summary"].to_pylist()}
        in_year = chosen[chosen.year == 2025]
        assert {k: (v["members"], v["member_months"]) for k, v in summary.items()} == {
            k: (g.member_id.nunique(), len(g)) for k, g in in_year.groupby(["entity_id", "payer"])
        }
