"""Ingest output is replaced whole or not at all, and hostile inputs end in one line (issues 13 and 15).

Each test here failed before the fix it guards: a failing ingest left a mix of old and new tables, a header-only
or empty file replaced a table with an empty one, parser errors were tracebacks, and messages echoed values.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from apmkit.engines import Engine, staged_output
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.ingest import ingest
from apmkit.ingest.fhir_common import text

CCLF_FIXTURES = Path(__file__).parent.parent / "fixtures" / "cclf"
MEMBERS = "member_id,birth_date,sex,dual_status_code,orec,esrd\nM1,1950-01-02,M,00,0,false\n"
CLAIMS = (
    "claim_id,claim_line_number,claim_type,member_id,service_date,allowed_amount\n"
    "C1,1,professional,M1,2025-03-04,10.00\n"
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apmkit", "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def previous(engine: Engine, tmp_path: Path) -> Path:
    """An OUT folder from an earlier, successful ingest of members and claims."""
    source = tmp_path / "first"
    write(source, "members.csv", MEMBERS)
    write(source, "medical_claims.csv", CLAIMS)
    out = tmp_path / "out"
    ingest(engine, "csv", source, out)
    return out


def test_failing_ingest_leaves_the_previous_output_byte_identical(engine, tmp_path, previous):
    before = snapshot(previous)
    source = tmp_path / "second"
    write(source, "members.csv", MEMBERS)  # would load fine ...
    write(source, "providers.csv", "npi,tin,name\n")  # ... but this file is header-only
    with pytest.raises(InputFileError, match=r"providers\.csv: file has a header row but no data rows"):
        ingest(engine, "csv", source, previous)
    assert snapshot(previous) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no staging left behind


def test_a_new_ingest_never_keeps_an_earlier_runs_tables(engine, tmp_path, previous):
    assert (previous / "medical_claims.parquet").exists()
    source = tmp_path / "second"
    write(source, "members.csv", MEMBERS)
    report = ingest(engine, "csv", source, previous)
    assert list(report.tables) == ["members"]
    assert sorted(p.name for p in previous.iterdir() if not p.name.startswith(".")) == [
        "ingest_report.json",
        "members.parquet",
        "quarantine.parquet",
    ]


def test_error_inside_the_staging_block_keeps_the_old_folder(tmp_path):
    out = tmp_path / "out"
    with staged_output(out) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), staged_output(out) as staging:
        (staging / "a.txt").write_text("second")
        (staging / "b.txt").write_text("second")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == [".apmkit-output", "a.txt"]
    assert (out / "a.txt").read_text() == "first"


def test_a_folder_apmkit_did_not_write_is_never_replaced(engine, tmp_path):
    out = tmp_path / "mine"
    write(out, "notes.txt", "my own file")
    source = write(tmp_path / "in", "members.csv", MEMBERS).parent
    with pytest.raises(ConfigurationError, match="holds files apmkit did not write"):
        ingest(engine, "csv", source, out)
    assert (out / "notes.txt").read_text() == "my own file"


def test_bad_db_is_rejected_before_anything_is_written(tmp_path, previous):
    before = snapshot(previous)
    source = write(tmp_path / "in", "members.csv", MEMBERS).parent
    not_a_db = write(tmp_path, "report.duckdb", "not a database")
    for db in (tmp_path / "x.parquet", not_a_db, tmp_path / "missing-folder" / "a.duckdb"):
        result = run_cli("ingest", "csv", str(source), "--out", str(previous), "--db", str(db), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and "--db" in result.stderr
        assert snapshot(previous) == before


def test_outputs_are_owner_only(engine, tmp_path, previous):
    assert stat.S_IMODE(previous.stat().st_mode) == 0o700
    for path in previous.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_db_is_loaded_and_owner_only(engine, tmp_path):
    source = write(tmp_path / "in", "members.csv", MEMBERS).parent
    db = tmp_path / "apmkit.duckdb"
    ingest(engine, "csv", source, tmp_path / "out", database=db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with Engine.duckdb(db) as con:
        assert con.count(con.backend.table("members")) == 1


# ---- empty files ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"  \n\n \r\n"])
def test_empty_cclf_file_is_an_error_naming_it(engine, tmp_path, content):
    source = tmp_path / "cclf"
    shutil.copytree(CCLF_FIXTURES, source, ignore=shutil.ignore_patterns("*.md"))
    write(source, "small_ZC5.txt", content)
    with pytest.raises(InputFileError, match=r"small_ZC5.txt: file is empty \(no records\)"):
        ingest(engine, "cclf", source, tmp_path / "out")


def test_zero_byte_fhir_file_is_an_error_naming_it(engine, tmp_path):
    write(tmp_path / "fhir", "Patient.ndjson", b"")
    with pytest.raises(InputFileError, match=r"Patient.ndjson: file is empty"):
        ingest(engine, "fhir", tmp_path / "fhir", tmp_path / "out")


def test_failed_cclf0_check_exits_non_zero(tmp_path):
    # The BCDA sample's CCLF0 declares files that were not delivered: a failed record-count check.
    result = run_cli("ingest", "cclf", str(CCLF_FIXTURES), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "failed check(s)" in result.stdout + result.stderr


# ---- parser limits and messages ----------------------------------------------------------------------------
def test_overlong_csv_field_on_the_exact_parser_is_one_line(engine, tmp_path):
    # The blank line sends the file to the exact (line-tracking) parser, whose field limit is 131,072.
    long_value = "9" * 200_000
    write(tmp_path / "in", "members.csv", MEMBERS + "\n" + f"M2,1950-01-02,F,00,0,{long_value}\n")
    with pytest.raises(InputFileError) as caught:
        ingest(engine, "csv", tmp_path / "in", tmp_path / "out")
    message = str(caught.value)
    assert "members.csv, line 4: a field is longer than 131,072 characters" in message
    assert "999" not in message


def test_headerless_csv_error_carries_no_value(engine, tmp_path):
    write(tmp_path / "in", "medical_claims.csv", "C1,1,professional,M1,2025-03-04,2025-03-04\n")
    with pytest.raises(InputFileError) as caught:
        ingest(engine, "csv", tmp_path / "in", tmp_path / "out")
    assert "2025-03-04" not in str(caught.value)
    assert "duplicate column name in header (columns 5 and 6)" in str(caught.value)


def test_deeply_nested_json_is_quarantined_not_a_traceback(engine, tmp_path):
    deep = "[" * 5000 + "]" * 5000
    patient = json.dumps(
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-02-03"}
    )
    write(
        tmp_path / "fhir",
        "Patient.ndjson",
        patient + "\n" + '{"resourceType": "Patient", "x": ' + deep + "}\n",
    )
    report = ingest(engine, "fhir", tmp_path / "fhir", tmp_path / "out")
    assert report.tables["members"].loaded == 1
    assert [(q["source_line"], q["reason"]) for q in report.quarantine] == [
        (2, "invalid JSON: nested too deeply (column 1)")
    ]


def test_huge_exponent_is_not_written_out():
    started = time.perf_counter()
    assert text(Decimal("1e300000000")) == "1E+300000000"
    assert text(Decimal("-1e-300000000")) == "-1E-300000000"
    assert time.perf_counter() - started < 1  # writing 300 million digits took 12.7 s (not a timing test)
    assert text(Decimal("129.17")) == "129.17" and text(Decimal("1E+2")) == "100"


def test_huge_fhir_amount_is_quarantined(engine, tmp_path):
    eob = {
        "resourceType": "ExplanationOfBenefit",
        "id": "carrier-1",
        "identifier": [{"system": "https://bluebutton.cms.gov/resources/variables/clm_id", "value": "1"}],
        "type": {
            "coding": [
                {"system": "https://bluebutton.cms.gov/resources/codesystem/eob-type", "code": "CARRIER"}
            ]
        },
        "patient": {"reference": "Patient/p1"},
        "billablePeriod": {"start": "2024-03-01", "end": "2024-03-01"},
        "item": [{"sequence": 1, "quantity": {"value": 1}}],
    }
    raw = json.dumps(eob)[:-1] + ', "payment": {"amount": {"value": 1e300000000}}}'
    write(tmp_path / "fhir", "ExplanationOfBenefit.ndjson", raw + "\n")
    report = ingest(engine, "fhir", tmp_path / "fhir", tmp_path / "out")
    reasons = [q["reason"] for q in report.quarantine]
    assert len(reasons) == 1 and "paid_amount: not a number with at most 2 decimals" in reasons[0]


@pytest.mark.parametrize("bad_date", ["0000-01-01", "9999-12-31", "1799-12-31", "2200-01-01"])
def test_dates_out_of_range_are_quarantined(engine, tmp_path, bad_date):
    write(
        tmp_path / "in",
        "members.csv",
        "member_id,birth_date,sex\nM1,1950-01-02,M\n"
        + f"M2,{bad_date},F\nM3,2199-12-31,F\nM4,1800-01-01,M\n",
    )
    report = ingest(engine, "csv", tmp_path / "in", tmp_path / "out")
    assert report.tables["members"].loaded == 3
    assert [(q["source_line"], q["field"], q["reason"]) for q in report.quarantine] == [
        (3, "birth_date", "birth_date: date outside 1800-01-01 to 2199-12-31")
    ]


# ---- engine memory settings ----------------------------------------------------------------------------------
def _setting(engine: Engine, name: str) -> str:
    return engine.backend.con.execute(
        "SELECT value FROM duckdb_settings() WHERE name = ?", [name]
    ).fetchone()[0]


def test_memory_limit_applies_during_a_block_and_is_restored(tmp_path):
    with Engine.duckdb(temp_directory=tmp_path / "spill") as engine:
        before = (_setting(engine, "memory_limit"), _setting(engine, "preserve_insertion_order"))
        with engine.settings(memory_limit="512MB", preserve_insertion_order=False):
            assert _setting(engine, "memory_limit") in ("488.2 MiB", "512.0 MB")
            assert _setting(engine, "preserve_insertion_order") == "false"
        assert (_setting(engine, "memory_limit"), _setting(engine, "preserve_insertion_order")) == before
        spill = Path(_setting(engine, "temp_directory"))
        assert spill.parent == tmp_path / "spill"
    assert not spill.exists()  # the engine's own spill folder goes with it


@pytest.mark.parametrize("limit", ["lots", "10MB", "-1GB"])
def test_bad_memory_limit_is_a_configuration_error(limit):
    with pytest.raises(ConfigurationError, match="memory limit"):
        Engine.duckdb(memory_limit=limit)


def test_an_engine_nobody_sized_is_capped_below_duckdbs_default(monkeypatch):
    # DuckDB's own default (80 % of RAM) took a 1M-member run past 12 GB; the engine's default is the smaller of
    # 6 GB and half the machine's memory, and a limit somebody chose (argument or APMKIT_MEMORY_LIMIT) wins.
    monkeypatch.delenv("APMKIT_MEMORY_LIMIT", raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected_bytes = min(6 * 1000**3, physical // 2)
    with Engine.duckdb() as engine:
        assert engine.memory_limit is None  # nobody chose: ingest still applies its own 4GB default
        shown = engine.backend.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # DuckDB shows the limit in binary units cut to a tenth ("5.5 GiB" for 6 GB): compare within that step
        number, unit = shown.split()
        scale = {"MiB": 2**20, "GiB": 2**30, "MB": 1000**2, "GB": 1000**3}[unit]
        assert 0 <= expected_bytes - float(number) * scale < 0.1 * scale
    monkeypatch.setenv("APMKIT_MEMORY_LIMIT", "512MB")
    with Engine.duckdb() as engine:
        assert engine.memory_limit == "512MB"
        assert _setting(engine, "memory_limit") in ("488.2 MiB", "512.0 MB")


def test_a_staged_table_is_a_private_parquet_file_removed_with_the_engine(tmp_path):
    # Engine.stage keeps large intermediates (the open-gaps records) compressed on disk, not as temp tables.
    rows = pa.table({"member_id": ["M1", "M2", "M3"], "cents": [100, -250, 0]})
    with Engine.duckdb(temp_directory=tmp_path / "spill") as engine:
        source = engine.from_arrow(rows)
        staged = engine.stage(source.filter(source.cents != 0))
        assert sorted(engine.rows(staged), key=lambda r: r["member_id"]) == [
            {"member_id": "M1", "cents": 100},
            {"member_id": "M2", "cents": -250},
        ]
        [file] = (tmp_path / "spill").rglob("*.parquet")
        assert file.parent == Path(_setting(engine, "temp_directory"))  # the engine's own folder
        assert stat.S_IMODE(file.parent.stat().st_mode) & 0o077 == 0  # patient rows: not readable by others
    assert not list((tmp_path / "spill").rglob("*.parquet"))
