"""The canonical csv/parquet loader and the shared pipeline: exact counts, values and every failure mode."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from apmkit.errors import InputFileError
from apmkit.ingest import ingest

MEMBERS_HEADER = "member_id,birth_date,sex,dual_status_code,orec,esrd\n"
CLAIMS_HEADER = (
    "claim_id,claim_line_number,claim_type,member_id,service_date,hcpcs_code,units,allowed_amount,"
    "adjustment_type,original_claim_id,processed_date,dx_1\n"
)


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def quarantine_by_line(out: Path) -> dict[tuple[str, int], dict]:
    rows = pq.read_table(out / "quarantine.parquet").to_pylist()
    return {(r["source_file"], r["source_line"]): r for r in rows}


def test_valid_files_load_with_exact_values(engine, tmp_path):
    src = tmp_path / "in"
    write(src, "members.csv", MEMBERS_HEADER + "M1,1950-01-02,M,00,0,false\nM2,1941-06-30,F,02,1,Y\n")
    write(
        src,
        "medical_claims.csv",
        CLAIMS_HEADER
        + "C1,1,professional,M1,2025-03-04,99214,1,129.17,original,,2025-03-20,E119\n"
        + "C1,2,professional,M1,2025-03-04,36415,1.5,3.00,original,,2025-03-20,E119\n",
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    assert report.tables["members"].read == 2 and report.tables["members"].loaded == 2
    assert report.tables["medical_claims"].final_action == 2
    assert report.reconciles and report.totals.quarantined == 0
    members = engine.canonical(tmp_path / "out").members
    rows = engine.to_arrow(members.order_by("member_id")).to_pylist()
    assert rows[1]["birth_date"].isoformat() == "1941-06-30"
    assert rows[1]["esrd"] is True and rows[0]["esrd"] is False
    assert rows[0]["source_file"] == "members.csv" and rows[0]["source_line"] == 2
    claims = engine.to_arrow(engine.canonical(tmp_path / "out").medical_claims.order_by("claim_line_number"))
    assert claims.column("allowed_amount").to_pylist() == [Decimal("129.17"), Decimal("3.00")]
    assert claims.column("units").to_pylist() == [Decimal("1.000"), Decimal("1.500")]
    saved = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert saved["tables"]["members"] == {
        "read": 2,
        "loaded": 2,
        "quarantined": 0,
        "final_action": None,
        "superseded": None,
    }


def test_every_bad_row_is_quarantined_with_file_line_field_and_reason(engine, tmp_path):
    src = tmp_path / "in"
    write(
        src,
        "members.csv",
        MEMBERS_HEADER
        + "M1,1950-01-02,M,00,0,0\n"  # line 2 ok
        + "M2,1950-02-30,F,02,1,0\n"  # line 3 impossible date
        + "M3,1950-01-02,X,02,1,0\n"  # line 4 unknown code
        + "M4,1950-01-02\n"  # line 5 truncated line
        + "\n"  # line 6 blank: not a record
        + "M1,1951-01-02,F,00,0,0\n"  # line 7 duplicate key
        + ",1950-01-02,F,00,0,0\n",  # line 8 missing required id
    )
    write(
        src,
        "medical_claims.csv",
        CLAIMS_HEADER
        + "C1,1,professional,M1,2025-03-04,99214,-1,10.00,original,,,\n"  # line 2 negative units
        + "C2,1,ambulance,M1,2025-03-04,A0428,1,10.00,original,,,\n"  # line 3 unknown claim type
        + "C3,1,professional,M1,03/04/2025,99213,1,10.00,original,,,\n",  # line 4 wrong date format
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    members = report.tables["members"]
    assert (members.read, members.loaded, members.quarantined) == (6, 1, 5)
    claims = report.tables["medical_claims"]
    assert (claims.read, claims.loaded, claims.quarantined) == (3, 0, 3)
    assert report.reconciles
    q = quarantine_by_line(tmp_path / "out")
    assert q[("members.csv", 3)]["field"] == "birth_date"
    assert "not a valid date" in q[("members.csv", 3)]["reason"]
    assert q[("members.csv", 4)]["field"] == "sex" and "unknown code" in q[("members.csv", 4)]["reason"]
    assert "truncated line: expected 6 fields, found 2" in q[("members.csv", 5)]["reason"]
    assert (
        "duplicate key (member_id): first loaded from members.csv line 2" in q[("members.csv", 7)]["reason"]
    )
    assert q[("members.csv", 8)]["field"] == "member_id"
    assert q[("medical_claims.csv", 2)]["reason"] == "units: negative value not allowed"
    assert q[("medical_claims.csv", 3)]["field"] == "claim_type"
    assert "service_date: not a valid date (YYYY-MM-DD)" in q[("medical_claims.csv", 4)]["reason"]
    # The raw record is kept, so nothing is lost; the report lists every rejected row.
    assert q[("members.csv", 3)]["record"] == "M2,1950-02-30,F,02,1,0"
    assert len(report.quarantine) == 8


def test_wrong_encoding_line_is_quarantined_and_the_rest_loads(engine, tmp_path):
    src = tmp_path / "in"
    write(
        src, "members.csv", MEMBERS_HEADER.encode() + b"M1,1950-01-02,M,00,0,0\nM\xe92,1950-01-02,F,00,0,0\n"
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    assert (report.tables["members"].loaded, report.tables["members"].quarantined) == (1, 1)
    entry = report.quarantine[0]
    assert (entry["source_file"], entry["source_line"]) == ("members.csv", 3)
    assert entry["reason"] == "invalid UTF-8 encoding (byte 0xe9 at column 2)"


def test_quoted_fields_with_line_breaks_keep_true_line_numbers(engine, tmp_path):
    src = tmp_path / "in"
    write(src, "providers.csv", 'npi,name\n1234567893,"Smith,\nJane"\n12345,Bad NPI\n')
    report = ingest(engine, "csv", src, tmp_path / "out")
    assert report.tables["providers"].loaded == 1
    assert report.quarantine[0]["source_line"] == 4
    assert report.quarantine[0]["field"] == "npi"


def test_adjustments_and_voids_resolve_to_final_action_keeping_history(engine, tmp_path):
    src = tmp_path / "in"
    write(
        src,
        "medical_claims.csv",
        CLAIMS_HEADER
        + "A1,1,professional,M1,2025-01-05,99213,1,91.00,original,,2025-01-20,\n"
        + "A2,1,professional,M1,2025-01-05,99214,1,129.00,adjustment,A1,2025-02-20,\n"
        + "A3,1,professional,M1,2025-01-05,99215,1,183.00,adjustment,A2,2025-03-20,\n"  # adjusts the adjustment
        + "B1,1,inpatient,M2,2025-02-01,,1,9000.00,original,,2025-02-15,\n"
        + "B2,1,inpatient,M2,2025-02-01,,1,-9000.00,void,B1,2025-03-01,\n"
        + "C1,1,outpatient,M3,2025-04-01,,1,50.00,original,,2025-04-10,\n",
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    counts = report.tables["medical_claims"]
    assert (counts.loaded, counts.final_action, counts.superseded) == (6, 2, 4)
    tables = engine.canonical(tmp_path / "out")
    final = engine.to_arrow(tables.medical_claims.order_by("claim_id")).to_pylist()
    assert [(r["claim_id"], r["allowed_amount"]) for r in final] == [
        ("A3", Decimal("183.00")),
        ("C1", Decimal("50.00")),
    ]
    history = engine.to_arrow(tables.medical_claims_history.order_by("claim_id")).to_pylist()
    assert {r["claim_id"]: r["claim_family_id"] for r in history} == {
        "A1": "A1",
        "A2": "A1",
        "A3": "A1",
        "B1": "B1",
        "B2": "B1",
        "C1": "C1",
    }
    assert [r["claim_id"] for r in history if r["is_final_action"]] == ["A3", "C1"]


def test_structural_errors_are_clear_messages(engine, tmp_path):
    src = tmp_path / "in"
    write(src, "members.csv", "birth_date,sex\n1950-01-01,M\n")
    with pytest.raises(
        InputFileError, match=r"members.csv, line 1: missing required column\(s\) for members: member_id"
    ):
        ingest(engine, "csv", src, tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no canonical csv files found"):
        ingest(engine, "csv", tmp_path / "empty", tmp_path / "out")
    write(tmp_path / "x", "members.csv", "")
    with pytest.raises(InputFileError, match="file is empty"):
        ingest(engine, "csv", tmp_path / "x", tmp_path / "out")


def test_parquet_round_trip_and_database_load(engine, tmp_path):
    src = tmp_path / "in"
    write(src, "members.csv", MEMBERS_HEADER + "M1,1950-01-02,M,00,0,0\nM2,1941-06-30,F,02,1,1\n")
    ingest(engine, "csv", src, tmp_path / "first")
    if engine.name != "duckdb":
        pytest.skip("the Parquet re-ingest reads single files (DuckDB output)")
    report = ingest(
        engine, "parquet", tmp_path / "first", tmp_path / "second", database=tmp_path / "db.duckdb"
    )
    assert report.tables["members"].loaded == 2 and report.tables["members"].quarantined == 0
    import duckdb

    with duckdb.connect(str(tmp_path / "db.duckdb")) as con:
        assert con.execute("select count(*) from members where esrd").fetchall() == [(1,)]
