"""Several payers in one canonical folder: ``apmkit ingest FORMAT PATH --payer P --into DIR``.

Two small payer feeds (a Medicare feed keyed by MBI and a plan keyed by its own member numbers, with an MBI
column and a crosswalk) and an HL7 ADT feed are loaded into one folder; each row keeps its payer, a reload
replaces one payer's rows only, a failed load leaves the folder as it was, and members are matched into one
person id. Expected values are written from the feeds below by hand.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.ingest import IngestReport, ingest

ADT = Path(__file__).parent.parent / "fixtures" / "hl7_adt" / "adt_batch.hl7"

MEDICARE = {
    "members.csv": "member_id,birth_date,sex\n1EG4TE5MK73,1950-01-01,F\n2EG4TE5MK74,1948-05-05,M\n"
    "3EG4TE5MK75,1944-04-04,F\n",
    "enrollment.csv": "member_id,month,payer,product,line_of_business\n"
    "1EG4TE5MK73,2025-01-01,cms,ffs,medicare_ffs\n2EG4TE5MK74,2025-01-01,cms,ffs,medicare_ffs\n"
    "3EG4TE5MK75,2025-01-01,cms,ffs,medicare_ffs\n",
    "medical_claims.csv": "claim_id,claim_line_number,claim_type,member_id,service_date,allowed_amount\n"
    "C1,1,professional,1EG4TE5MK73,2025-01-10,100.00\nC2,1,professional,2EG4TE5MK74,2025-01-11,50.00\n",
    # An MBI that changed: the old one maps to the current one.
    "member_xref.csv": "previous_id,member_id\n3EG4TE5MK70,3EG4TE5MK75\n",
}
ACME = {
    # B-100 is the Medicare member 1EG4TE5MK73 (MBI column); B-300 is matched through the crosswalk to an
    # old MBI of 3EG4TE5MK75; B-200 is nobody else.
    "members.csv": "member_id,birth_date,sex,mbi\nB-100,1950-01-01,F,1EG4TE5MK73\nB-200,1960-02-02,M,\n"
    "B-300,1944-04-04,F,\n",
    "enrollment.csv": "member_id,month,payer,product,line_of_business\n"
    "B-100,2025-02-01,,ma,medicare_advantage\nB-200,2025-02-01,,ma,medicare_advantage\n"
    "B-300,2025-02-01,,ma,medicare_advantage\n",
    # The same claim id as the Medicare feed's: claims are told apart by payer.
    "medical_claims.csv": "claim_id,claim_line_number,claim_type,member_id,service_date,allowed_amount\n"
    "C1,1,professional,B-200,2025-02-10,70.00\n",
    "member_xref.csv": "previous_id,member_id\nB-300,3EG4TE5MK70\n",
}


def write_feed(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rows(folder: Path, table: str) -> list[dict]:
    return pq.read_table(folder / f"{table}.parquet").to_pylist()


@pytest.fixture(scope="module")
def three_payers(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multi_payer")
    into = folder / "pop"
    ingest(engine, "csv", write_feed(folder / "medicare", MEDICARE), into, payer="medicare", into=True)
    ingest(engine, "csv", write_feed(folder / "acme", ACME), into, payer="acme", into=True)
    ingest(engine, "hl7-adt", ADT, into, payer="hie", into=True)
    return into


@pytest.fixture
def loaded(three_payers: Path, tmp_path: Path) -> Path:
    """A copy of the three-payer folder a test may change."""
    copy = tmp_path / "pop"
    shutil.copytree(three_payers, copy)
    return copy


def test_each_row_keeps_its_payer(loaded: Path) -> None:
    enrollment = sorted((r["payer"], r["member_id"]) for r in rows(loaded, "enrollment"))
    assert enrollment == [
        ("acme", "B-100"),
        ("acme", "B-200"),
        ("acme", "B-300"),
        ("medicare", "1EG4TE5MK73"),
        ("medicare", "2EG4TE5MK74"),
        ("medicare", "3EG4TE5MK75"),
    ]
    claims = sorted(
        (r["payer"], r["claim_id"], r["member_id"], str(r["allowed_amount"]))
        for r in rows(loaded, "medical_claims")
    )
    assert claims == [
        ("acme", "C1", "B-200", "70.00"),
        ("medicare", "C1", "1EG4TE5MK73", "100.00"),
        ("medicare", "C2", "2EG4TE5MK74", "50.00"),
    ]
    assert {r["payer"] for r in rows(loaded, "adt_events")} == {"hie"}
    assert len(rows(loaded, "members")) == 6
    assert sorted(p.name for p in (loaded / "payers").iterdir()) == ["acme", "hie", "medicare"]


def test_members_are_matched_into_one_person_across_payers(loaded: Path) -> None:
    persons = {
        (r["payer"], r["member_id"]): (r["person_id"], r["matched_by"])
        for r in rows(loaded, "member_persons")
    }
    assert persons == {
        ("medicare", "1EG4TE5MK73"): ("1EG4TE5MK73", "member_id"),
        ("medicare", "2EG4TE5MK74"): ("2EG4TE5MK74", "member_id"),
        ("medicare", "3EG4TE5MK75"): ("3EG4TE5MK75", "member_id"),
        ("acme", "B-100"): ("1EG4TE5MK73", "mbi"),
        ("acme", "B-200"): ("B-200", "member_id"),
        ("acme", "B-300"): ("3EG4TE5MK75", "member_xref"),  # B-300 -> old MBI -> current MBI
        ("hie", "1EG4TE5MK73"): ("1EG4TE5MK73", "member_id"),
        ("hie", "2EG4TE5MK74"): ("2EG4TE5MK74", "member_id"),
        ("hie", "88812"): ("88812", "member_id"),
    }


def test_reloading_a_payer_replaces_only_its_rows(engine: Engine, loaded: Path, tmp_path: Path) -> None:
    medicare_before = snapshot(loaded / "payers" / "medicare")
    changed = dict(ACME)
    changed["enrollment.csv"] = (
        "member_id,month,payer,product,line_of_business\nB-200,2025-03-01,,ma,medicare_advantage\n"
    )
    changed["medical_claims.csv"] = (
        "claim_id,claim_line_number,claim_type,member_id,service_date,allowed_amount\n"
        "C9,1,professional,B-200,2025-03-10,12.00\n"
    )
    ingest(engine, "csv", write_feed(tmp_path / "acme2", changed), loaded, payer="acme", into=True)
    assert snapshot(loaded / "payers" / "medicare") == medicare_before
    enrollment = sorted((r["payer"], r["member_id"], str(r["month"])) for r in rows(loaded, "enrollment"))
    assert [e for e in enrollment if e[0] == "acme"] == [("acme", "B-200", "2025-03-01")]
    assert len([e for e in enrollment if e[0] == "medicare"]) == 3
    claims = sorted((r["payer"], r["claim_id"]) for r in rows(loaded, "medical_claims"))
    assert claims == [("acme", "C9"), ("medicare", "C1"), ("medicare", "C2")]
    report = (loaded / "ingest_report.json").read_text()
    assert '"format": "multi-payer"' in report


def test_a_failed_load_leaves_the_folder_whole(engine: Engine, loaded: Path, tmp_path: Path) -> None:
    before = snapshot(loaded)
    broken = write_feed(tmp_path / "broken", {"enrollment.csv": "member_id,month,payer,product\n"})
    with pytest.raises(InputFileError, match="header row but no data rows"):
        ingest(engine, "csv", broken, loaded, payer="acme", into=True)
    assert snapshot(loaded) == before


def test_combined_counts_are_the_payers_counts(engine: Engine, loaded: Path) -> None:
    import json

    combined = json.loads((loaded / "ingest_report.json").read_text())
    assert combined["files"] == ["acme", "hie", "medicare"]
    assert combined["tables"]["enrollment"]["loaded"] == 6
    assert combined["tables"]["adt_events"]["read"] == 7
    assert combined["tables"]["medical_claims"]["final_action"] == 3
    assert combined["reconciles"]


def test_into_refuses_what_it_cannot_safely_replace(engine: Engine, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "medicare", MEDICARE)
    ingest(engine, "csv", feed, tmp_path / "single")  # an ordinary one-payer folder
    with pytest.raises(ConfigurationError, match="not a multi-payer folder"):
        ingest(engine, "csv", feed, tmp_path / "single", payer="acme", into=True)
    with pytest.raises(ConfigurationError, match="--into needs --payer"):
        ingest(engine, "csv", feed, tmp_path / "new", into=True)
    with pytest.raises(ConfigurationError, match=r"--payer '\.\./x'"):
        ingest(engine, "csv", feed, tmp_path / "new", payer="../x", into=True)
    assert not (tmp_path / "new").exists()


def test_the_command_loads_two_payers(tmp_path: Path) -> None:
    write_feed(tmp_path / "medicare", MEDICARE)
    write_feed(tmp_path / "acme", ACME)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "apmkit", "--quiet", "ingest", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )

    assert run("csv", "medicare", "--payer", "medicare", "--into", "pop").returncode == 0
    assert run("csv", "acme", "--payer", "acme", "--into", "pop").returncode == 0
    assert len(rows(tmp_path / "pop", "enrollment")) == 6
    both = run("csv", "acme", "--out", "x", "--into", "pop")
    assert both.returncode == 2 and "exactly one of --out DIR or --into DIR" in both.stderr


def test_a_member_id_two_payers_give_different_people_is_reported(engine: Engine, tmp_path: Path) -> None:
    into = tmp_path / "pop"
    ingest(
        engine,
        "csv",
        write_feed(tmp_path / "a", {"members.csv": "member_id,birth_date,sex\nX1,1950-01-01,F\n"}),
        into,
        payer="a",
        into=True,
    )
    same = write_feed(
        tmp_path / "b", {"members.csv": "member_id,birth_date,sex\nX1,1950-01-01,F\nX2,1951-01-01,M\n"}
    )
    ingest(engine, "csv", same, into, payer="b", into=True)
    assert not any(
        "different birth date or sex" in w for w in IngestReport.read(into / "ingest_report.json").warnings
    )
    other = write_feed(tmp_path / "c", {"members.csv": "member_id,birth_date,sex\nX1,1980-06-06,M\n"})
    ingest(engine, "csv", other, into, payer="c", into=True)
    warnings = IngestReport.read(into / "ingest_report.json").warnings
    assert any(
        w.startswith("1 member ids are loaded by more than one payer with a different birth date or sex")
        for w in warnings
    )
    kept = {r["member_id"]: (str(r["birth_date"]), r["sex"]) for r in rows(into, "members")}
    assert kept == {"X1": ("1950-01-01", "F"), "X2": ("1951-01-01", "M")}  # payer a's row: first by name
