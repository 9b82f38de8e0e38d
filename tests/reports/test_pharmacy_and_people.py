"""Generic dispensing rate and high-cost drugs from the pharmacy mart, members counted as people across payers
(member_persons), the bounded training sample of the prediction report and the PDE brand/generic code — each
against an independent pandas computation written from docs/reference/analytics-definitions.md §3 and §5."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apmkit.engines import Engine
from apmkit.reports.framework import ReportRequest
from apmkit.reports.marts import REPORT_MARTS
from apmkit.workspace.reports import build_report

from .conftest import ATTRIBUTION, ENROLLMENT, MEMBER_MONTHS

FIXTURES = Path(__file__).parent.parent / "fixtures"

# member, dispensed, ndc, allowed, brand/generic, adjustment
FILLS = pd.DataFrame(
    [
        ("m1", date(2025, 3, 5), "00000000001", "100.00", "generic", "original"),
        ("m1", date(2025, 3, 20), "00000000002", "900.00", "brand", "original"),
        ("m1", date(2024, 6, 1), "00000000001", "100.00", "generic", "original"),  # a baseline year
        ("m2", date(2025, 8, 2), "00000000001", "100.00", "generic", "original"),  # payer B that month
        ("m3", date(2025, 5, 1), "00000000003", "50.00", None, "original"),  # no indicator
        ("m4", date(2025, 2, 10), "00000000002", "900.00", "brand", "original"),
        ("m4", date(2025, 2, 11), "00000000002", "900.00", "brand", "void"),  # void: never counted
        ("m5", date(2025, 10, 1), "00000000001", "100.00", "generic", "original"),  # not enrolled in October
        ("m6", date(2025, 1, 1), "00000000001", "100.00", "generic", "original"),  # not attributed
    ],
    columns=["member_id", "dispensing_date", "ndc", "allowed_amount", "brand_generic", "adjustment_type"],
)


def _copy_run(
    handmade_run: Path, root: Path, fills: pd.DataFrame | None, persons: pd.DataFrame | None
) -> Path:
    data, run = root / "data", root / "run"
    shutil.copytree(Path(json.loads((handmade_run / "run.json").read_text())["data"]), data)
    # without the report marts other tests built from the original data (they are built again from this copy's)
    built = {f"{name}.parquet" for name in REPORT_MARTS}
    shutil.copytree(handmade_run, run, ignore=lambda _folder, names: [n for n in names if n in built])
    record = json.loads((run / "run.json").read_text())
    record["data"] = str(data.resolve())
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    if fills is not None:
        table = pa.table(
            {
                "claim_id": [f"r{i}" for i in range(len(fills))],
                "claim_line_number": pa.array([1] * len(fills), pa.int32()),
                "member_id": fills["member_id"].tolist(),
                "dispensing_date": pa.array(fills["dispensing_date"].tolist(), pa.date32()),
                "ndc": fills["ndc"].tolist(),
                "allowed_amount": pa.array(
                    [Decimal(v) for v in fills["allowed_amount"]], pa.decimal128(18, 2)
                ),
                "brand_generic": pa.array(
                    [None if pd.isna(v) else v for v in fills["brand_generic"]], pa.string()
                ),
                "adjustment_type": fills["adjustment_type"].tolist(),
            }
        )
        pq.write_table(table, data / "pharmacy_claims.parquet")
    if persons is not None:
        pq.write_table(pa.Table.from_pandas(persons, preserve_index=False), data / "member_persons.parquet")
    return run


@pytest.fixture(scope="module")
def rx_run(handmade_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_run(handmade_run, tmp_path_factory.mktemp("rx"), FILLS, None)


def eligible_2025() -> pd.DataFrame:
    months = MEMBER_MONTHS[MEMBER_MONTHS["year"] == 2025].merge(ENROLLMENT, on=["member_id", "month"])
    return months.merge(ATTRIBUTION[ATTRIBUTION["attributed"]], on="member_id")


def scoped_fills() -> pd.DataFrame:
    fills = FILLS[FILLS["adjustment_type"] != "void"].assign(
        month=lambda f: [d.replace(day=1) for d in f["dispensing_date"]]
    )
    return fills.merge(eligible_2025(), on=["member_id", "month"])


def test_generic_dispensing_rate_and_high_cost_drugs(rx_run: Path) -> None:
    result = build_report(rx_run, ReportRequest("utilization", by="entity"))
    fills = scoped_fills()
    known = fills[fills["brand_generic"].notna()]
    peer = {
        payer: round(int((g["brand_generic"] == "generic").sum()) / len(g), 4)
        for payer, g in known.groupby("payer")
    }
    expected = {}
    for (entity, payer), group in fills.groupby(["entity_id", "payer"]):
        with_indicator = group[group["brand_generic"].notna()]
        generic = int((group["brand_generic"] == "generic").sum())
        expected[(entity, payer)] = (
            len(group),
            len(with_indicator),
            generic,
            round(generic / len(with_indicator), 4) if len(with_indicator) else None,
            peer.get(payer),
        )
    got = {
        (r["entity_id"], r["payer"]): (
            r["fills"],
            r["fills_with_indicator"],
            r["generic_fills"],
            r["generic_rate"],
            r["peer_generic_rate"],
        )
        for r in result.tables["generic_dispensing"].to_pylist()
    }
    assert got == expected
    # E1/A: m1's generic and brand fills and m3's fill without an indicator -> 1 generic of 2 known
    assert got[("E1", "A")] == (3, 2, 1, 0.5, 0.3333)
    drugs = {
        (r["entity_id"], r["ndc"]): (r["fills"], r["members"], r["spending"])
        for r in result.tables["high_cost_drugs"].to_pylist()
    }
    by_drug = fills.groupby(["entity_id", "ndc"])
    assert drugs == {
        key: (len(g), g["member_id"].nunique(), sum((Decimal(v) for v in g["allowed_amount"]), Decimal(0)))
        for key, g in by_drug
    }
    assert any("generic dispensing rate = generic fills" in note for note in result.notes)


def test_no_indicator_means_the_rate_is_unavailable(handmade_run: Path, tmp_path: Path) -> None:
    without = FILLS.assign(brand_generic=None)
    run = _copy_run(handmade_run, tmp_path, without, None)
    result = build_report(run, ReportRequest("utilization", by="entity"))
    assert "generic_dispensing" not in result.tables
    assert "high_cost_drugs" in result.tables
    assert any(note.startswith("generic dispensing rate: unavailable") for note in result.notes)
    # the handmade run has no pharmacy claims at all
    bare = build_report(handmade_run, ReportRequest("utilization", by="entity"))
    assert "generic_dispensing" not in bare.tables
    assert any("no pharmacy claims" in note for note in bare.notes)


def test_members_are_counted_as_people_across_payers(handmade_run: Path, tmp_path: Path) -> None:
    # m5 is the same person as m4 (matched by a crosswalk of a multi-payer load); m2 is its own person
    persons = pd.DataFrame(
        {
            "payer": ["A", "A", "A", "A", "A", "B"],
            "member_id": ["m1", "m3", "m4", "m5", "m6", "m2"],
            "person_id": ["p1", "p3", "p4", "p4", "p6", "p2"],
            "matched_by": ["member_id", "member_id", "member_id", "member_xref", "member_id", "member_id"],
        }
    )
    run = _copy_run(handmade_run, tmp_path, None, persons)
    result = build_report(run, ReportRequest("attribution", by="tin"))
    person_of = dict(zip(persons["member_id"], persons["person_id"], strict=True))
    months = eligible_2025().assign(person=lambda f: f["member_id"].map(person_of))
    expected = months.groupby(["tin", "payer"]).agg(members=("person", "nunique"), mm=("month", "size"))
    got = {
        (r["tin"], r["payer"]): (r["members"], r["member_months"])
        for r in result.tables["summary"].to_pylist()
    }
    assert got == {key: (int(row.members), int(row.mm)) for key, row in expected.iterrows()}
    assert got[("222222222", "A")][0] == 1  # m4 and m5: one person
    profile = build_report(run, ReportRequest("population", by="entity"))
    sexes = [
        r
        for r in profile.tables["distribution"].to_pylist()
        if r["entity_id"] == "E2" and r["dimension"] == "sex"
    ]
    # m4 (F) and m5 (M) are one person: one person in each value, one person in all
    assert {r["value"]: (r["members"], r["share"]) for r in sexes} == {"F": (1, 1.0), "M": (1, 1.0)}


def test_training_sample_is_bounded_and_stratified(duckdb_engine: Engine) -> None:
    from apmkit.reports.prediction import stratified_sample

    n = 400
    frame = pd.DataFrame(
        {
            "member_id": [f"m{i:04d}" for i in range(n)],
            "next_cost": [float((i * 37) % 1000) for i in range(n)],
            "next_admitted": [1 if i % 8 == 0 else 0 for i in range(n)],
        }
    )
    sample = duckdb_engine.to_arrow(stratified_sample(ibis.memtable(frame), 50, n)).to_pandas()
    # strata: admitted x decile of next-year cost (deciles by cost, then member id); quota ceil(size x 50 / 400)
    ordered = frame.sort_values(["next_cost", "member_id"]).reset_index(drop=True)
    ordered["decile"] = [i * 10 // n + 1 for i in range(n)]
    strata = ordered.groupby(["next_admitted", "decile"]).size()
    quotas = {key: -(-size * 50 // n) for key, size in strata.items()}
    got = (
        sample.merge(ordered[["member_id", "decile"]], on="member_id")
        .groupby(["next_admitted", "decile"])
        .size()
    )
    assert got.to_dict() == {k: v for k, v in quotas.items() if v}
    assert len(sample) == sum(quotas.values()) <= 50 + len(quotas)
    again = duckdb_engine.to_arrow(stratified_sample(ibis.memtable(frame), 50, n)).to_pandas()
    assert sorted(again["member_id"]) == sorted(sample["member_id"])


def test_pde_brand_generic_code(duckdb_engine: Engine, tmp_path: Path) -> None:
    from apmkit.ingest import ingest

    source = tmp_path / "pde"
    source.mkdir()
    shutil.copy(FIXTURES / "ccw_rif" / "synthea" / "pde.csv", source / "pde.csv")
    ingest(duckdb_engine, "ccw-rif", source, tmp_path / "out")
    loaded = pq.read_table(tmp_path / "out" / "pharmacy_claims.parquet").to_pandas()
    raw = pd.read_csv(source / "pde.csv", sep="|", dtype=str)
    codes = dict(zip(raw["PDE_ID"], raw["BRND_GNRC_CD"], strict=True))
    assert {row.claim_id: row.brand_generic for row in loaded.itertuples()} == {
        claim: {"B": "brand", "G": "generic"}[code] for claim, code in codes.items()
    }


# A test code list in the algorithm's structure (example codes, not CMS's tables).
PLANNED_CSV = """category,code
always_planned_procedure,0TY00Z0
always_planned_diagnosis,Z51.11
potentially_planned_procedure,0SR9019
acute_diagnosis,S72001A
"""

# member, admit, discharge, status, principal dx, procedure
STAYS = pd.DataFrame(
    [
        ("m1", date(2025, 3, 1), date(2025, 3, 5), "01", "I500", None),
        ("m1", date(2025, 3, 15), date(2025, 3, 18), "01", "N186", "0TY00Z0"),  # always-planned procedure
        ("m2", date(2025, 4, 1), date(2025, 4, 3), "01", "J189", None),
        ("m2", date(2025, 4, 20), date(2025, 4, 21), "01", "Z5111", None),  # always-planned diagnosis
        ("m3", date(2025, 5, 1), date(2025, 5, 4), "01", "I214", None),
        (
            "m3",
            date(2025, 5, 10),
            date(2025, 5, 12),
            "01",
            "M1611",
            "0SR9019",
        ),  # potentially planned, not acute
        ("m4", date(2025, 6, 1), date(2025, 6, 2), "01", "I500", None),
        (
            "m4",
            date(2025, 6, 10),
            date(2025, 6, 14),
            "01",
            "S72001A",
            "0SR9019",
        ),  # potentially planned, acute
        ("m5", date(2025, 7, 1), date(2025, 7, 3), "01", "J441", None),
        ("m5", date(2025, 7, 8), date(2025, 7, 9), "01", "Z5111", None),  # planned first readmission
        ("m5", date(2025, 7, 20), date(2025, 7, 25), "01", "J441", None),  # unplanned, but not the first
    ],
    columns=["member_id", "admit", "discharge", "status", "dx", "px"],
)


def expected_unplanned() -> set[tuple[str, date]]:
    """(member, index discharge) of the index stays whose first readmission within 30 days is unplanned."""
    codes = pd.read_csv(pd.io.common.StringIO(PLANNED_CSV), dtype=str)
    codes["code"] = codes["code"].str.replace(".", "", regex=False)
    listed = {c: set(g["code"]) for c, g in codes.groupby("category")}
    found = set()
    for member, stays in STAYS.sort_values("admit").groupby("member_id"):
        rows = list(stays.itertuples())
        for index in rows:
            later = [r for r in rows if 1 <= (r.admit - index.discharge).days <= 30]
            if not later:
                continue
            first = later[0]
            planned = (
                first.px in listed["always_planned_procedure"]
                or first.dx in listed["always_planned_diagnosis"]
                or (
                    first.px in listed["potentially_planned_procedure"]
                    and first.dx not in listed["acute_diagnosis"]
                )
            )
            if not planned:
                found.add((member, index.discharge))
    return found


def test_planned_readmissions_are_excluded(handmade_run: Path, tmp_path: Path) -> None:
    from apmkit.errors import InputFileError

    run = _copy_run(handmade_run, tmp_path, None, None)
    data = Path(json.loads((run / "run.json").read_text())["data"])
    claims = pa.table(
        {
            "claim_id": [f"i{i}" for i in range(len(STAYS))],
            "claim_line_number": pa.array([1] * len(STAYS), pa.int32()),
            "claim_type": ["inpatient"] * len(STAYS),
            "bill_type": ["111"] * len(STAYS),
            "member_id": STAYS["member_id"].tolist(),
            "admission_date": pa.array(STAYS["admit"].tolist(), pa.date32()),
            "discharge_date": pa.array(STAYS["discharge"].tolist(), pa.date32()),
            "claim_from_date": pa.array(STAYS["admit"].tolist(), pa.date32()),
            "claim_thru_date": pa.array(STAYS["discharge"].tolist(), pa.date32()),
            "discharge_status": STAYS["status"].tolist(),
            "dx_1": STAYS["dx"].tolist(),
            "px_1": pa.array([None if pd.isna(v) else v for v in STAYS["px"]], pa.string()),
            "allowed_amount": pa.array([Decimal("1000.00")] * len(STAYS), pa.decimal128(18, 2)),
        }
    )
    pq.write_table(claims, data / "medical_claims.parquet")
    codes = tmp_path / "planned.csv"
    codes.write_text(PLANNED_CSV, encoding="utf-8")
    result = build_report(run, ReportRequest("utilization", by="entity"), planned_readmissions=codes)
    unplanned = expected_unplanned()
    # m4's acute readmission; m5's planned stay is itself an index stay, readmitted unplanned on 20 July
    assert unplanned == {("m4", date(2025, 6, 2)), ("m5", date(2025, 7, 9))}
    entity_of = dict(zip(ATTRIBUTION["member_id"], ATTRIBUTION["entity_id"], strict=True))
    payer_of = {(r.member_id, r.month): r.payer for r in ENROLLMENT.itertuples()}
    expected: dict[tuple[str, str], int] = {}
    for member, day in unplanned:
        key = (entity_of[member], payer_of[(member, day.replace(day=1))])
        expected[key] = expected.get(key, 0) + 1
    got = {
        (r["entity_id"], r["payer"]): r["events"]
        for r in result.tables["rates"].to_pylist()
        if r["event"] == "readmission" and r["events"]
    }
    assert got == expected
    assert any("planned readmissions excluded" in note and "planned.csv" in note for note in result.notes)
    codes.write_text("category,code\nalways_planned_procedure,0TY00Z0\nsometimes,Z5111\n", encoding="utf-8")
    with pytest.raises(InputFileError) as error:
        build_report(run, ReportRequest("utilization", by="entity"), planned_readmissions=codes)
    assert "line 3" in str(error.value) and "category" in str(error.value)
