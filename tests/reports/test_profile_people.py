"""The population report's people counts from the ``cells_profile_people`` aggregate, against pandas counts of
distinct people written from the hand-made run's frames (conftest.py): by NPI and by entity, a provider's scope, a
payer view, and one person with two member ids (m4 and m5, crosswalked by ``member_persons``) whose two profile
rows must count once. The HCCs are a hand-made ``member_hccs`` mart, so the conditions are known here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apmkit.reports.cells import PROFILE_PEOPLE
from apmkit.reports.framework import ReportRequest, Scope
from apmkit.workspace.reports import build_report

from .conftest import ATTRIBUTION, ENROLLMENT, MEMBER_MONTHS, N2
from .test_pharmacy_and_people import _copy_run

SEX = {"m1": "F", "m2": "M", "m3": "F", "m4": "F", "m5": "M"}
RACE = {"m1": "1", "m2": "2", "m3": "1", "m4": "1", "m5": "2"}
PERSON = {"m1": "p1", "m2": "p2", "m3": "p3", "m4": "p4", "m5": "p4", "m6": "p6"}
HCCS = {  # the HCCs of 2025 (payment year 2026); m1 also has one in 2024, which 2025 never reads
    "m1": "HCC37;HCC226",
    "m2": "HCC37",
    "m3": "",
    "m4": "HCC226;HCC37;HCC18;HCC85",
    "m5": "HCC37",
}


@pytest.fixture(scope="module")
def people_run(handmade_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    persons = pd.DataFrame(
        {
            "payer": ["A", "A", "A", "A", "A", "B"],
            "member_id": ["m1", "m3", "m4", "m5", "m6", "m2"],
            "person_id": [PERSON[m] for m in ["m1", "m3", "m4", "m5", "m6", "m2"]],
            "matched_by": ["member_id", "member_id", "member_id", "member_xref", "member_id", "member_id"],
        }
    )
    run = _copy_run(handmade_run, tmp_path_factory.mktemp("people"), None, persons)
    rows = [{"member_id": m, "year": 2025, "payment_year": 2026, "hccs": h} for m, h in HCCS.items()]
    rows.append({"member_id": "m1", "year": 2024, "payment_year": 2025, "hccs": "HCC18"})
    schema = pa.schema(
        [
            ("member_id", pa.string()),
            ("year", pa.int32()),
            ("payment_year", pa.int32()),
            ("hccs", pa.string()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), run / "member_hccs.parquet")
    return run


def profile_rows(payer: str | None) -> pd.DataFrame:
    """One row per attributed member eligible in 2025 (per member and payer for a payer view), with its person,
    sex and HCC list."""
    months = MEMBER_MONTHS.merge(ENROLLMENT, on=["member_id", "month"])
    months = months[months.year == 2025]
    if payer is not None:
        months = months[months.payer == payer]
    panel = ATTRIBUTION[ATTRIBUTION["attributed"]].drop(columns=["attributed", "step"])
    members = months[["member_id"]].drop_duplicates().merge(panel, on="member_id")
    return members.assign(
        person=members.member_id.map(PERSON),
        sex=members.member_id.map(SEX),
        race=members.member_id.map(RACE),
        hcc=members.member_id.map(lambda m: [h for h in HCCS[m].split(";") if h]),
    )


def expected_counts(rows: pd.DataFrame, key: str) -> dict[str, dict[tuple[str, str], int]]:
    conditions = rows.assign(value=[("4+" if len(h) >= 4 else str(len(h))) for h in rows.hcc])
    exploded = rows.explode("hcc").dropna(subset=["hcc"])
    return {
        "sex": rows.groupby([key, "sex"]).person.nunique().to_dict(),
        "race": rows.groupby([key, "race"]).person.nunique().to_dict(),
        "hcc": exploded.groupby([key, "hcc"]).person.nunique().to_dict(),
        "conditions": conditions.groupby([key, "value"]).person.nunique().to_dict(),
        "members": {(g, ""): n for g, n in rows.groupby(key).person.nunique().items()},
    }


def test_the_aggregate_counts_people_once(people_run: Path) -> None:
    build_report(people_run, ReportRequest("population", by="npi"))  # builds the aggregate on first use
    table = pd.read_parquet(people_run / f"{PROFILE_PEOPLE}.parquet")
    assert table[table.person_id.notna()].person_id.unique().tolist() == ["p4"]  # the one person of two rows
    for view, payer in (("*", None), ("A", "A")):
        rows = table[(table.year == 2025) & (table.payer_view == view)]
        for key in ("npi", "entity_id"):
            for dimension, expected in expected_counts(profile_rows(payer), key).items():
                mine = rows[rows.dimension == dimension]
                got = mine.groupby([key, "value"]).apply(
                    lambda g: int(g.members.sum()) + g.person_id.nunique(), include_groups=False
                )
                assert got.to_dict() == expected, (view, key, dimension)


@pytest.mark.parametrize(
    "request_",
    [
        ReportRequest("population", by="npi"),
        ReportRequest("population", by="entity", payer="A"),
        ReportRequest(
            "population", by="entity", scope=Scope(entity_ids=frozenset({"E2"}), npis=frozenset({N2}))
        ),
    ],
    ids=["npi", "entity-payer-A", "entity-scoped"],
)
def test_population_tables_count_people(people_run: Path, request_: ReportRequest) -> None:
    key = {"npi": "npi", "entity": "entity_id"}[request_.by]
    rows = profile_rows(request_.payer)
    if request_.scope is not None:
        rows = rows[rows.entity_id.isin(request_.scope.entity_ids) | rows.npi.isin(request_.scope.npis)]
    expected = expected_counts(rows, key)
    result = build_report(people_run, request_)
    distribution = result.tables["distribution"].to_pylist()
    sexes = {(r[key], r["value"]): r["members"] for r in distribution if r["dimension"] == "sex"}
    assert sexes == expected["sex"]
    shares = {(r[key], r["value"]): r["share"] for r in distribution if r["dimension"] == "sex"}
    totals = expected["members"]
    assert shares == {(g, v): round(n / totals[(g, "")], 4) for (g, v), n in expected["sex"].items()}
    counts = {(r[key], r["conditions"]): r["members"] for r in result.tables["condition_counts"].to_pylist()}
    assert counts == expected["conditions"]
    top = result.tables["top_conditions"].to_pylist()
    assert {(r[key], r["hcc"]): r["members"] for r in top} == expected["hcc"]  # fewer than 10 per group
    for group in {r[key] for r in top}:
        ranked = sorted((-n, h) for (g, h), n in expected["hcc"].items() if g == group)
        assert [r["hcc"] for r in sorted(top, key=lambda r: r["rank"]) if r[key] == group] == [
            h for _, h in ranked
        ]
    equity = {
        (r[key], r["value"]): r["members"]
        for r in result.tables["equity"].to_pylist()
        if r["stratum"] == "race"
    }
    assert equity == expected["race"]  # p4 (m4 race 1, m5 race 2) in both
    assert not any("scored at report time" in note for note in result.notes)
