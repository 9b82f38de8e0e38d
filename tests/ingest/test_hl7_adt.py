"""HL7 v2 ADT loader (``apmkit ingest hl7-adt``): field positions, framing, settings, quarantine, counts.

Expected values are read off the hand-written messages in ``tests/fixtures/hl7_adt`` by their HL7 v2.5.1
positions (SOURCES.md lists them), not taken from the loader's output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest import ingest
from apmkit.ingest.hl7_adt import split_messages

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hl7_adt"
BATCH = FIXTURES / "adt_batch.hl7"

# One row per loaded message of adt_batch.hl7 (message 7, ADT^A05, is not a loaded event).
EXPECTED = {
    "MSG0001": dict(
        member_id="1EG4TE5MK73",  # PID-3 repetition 2, type MC, wins over the MR of repetition 1
        event_type="A01",
        event_time=datetime(2025, 3, 2, 10, 12),  # EVN-2
        admit_time=datetime(2025, 3, 2, 9, 30),  # PV1-44
        discharge_time=None,
        patient_class="I",
        setting="inpatient",
        hospital_service="MED",
        facility_id="GENHOSP",  # PV1-3.4
        attending_npi="1234567893",  # PV1-7 with XCN-13 = NPI
        discharge_disposition=None,
        visit_number="V1001",
        source_line=1,
    ),
    "MSG0002": dict(
        member_id="1EG4TE5MK73",
        event_type="A02",
        event_time=datetime(2025, 3, 3, 14, 0),  # no EVN-2: MSH-7, the -0500 offset dropped
        admit_time=datetime(2025, 3, 2, 9, 30),
        discharge_time=None,
        patient_class="I",
        setting="inpatient",
        hospital_service="MED",
        facility_id="GENHOSP",
        attending_npi="1234567893",
        discharge_disposition=None,
        visit_number="V1001",
        source_line=2,
    ),
    "MSG0003": dict(
        member_id="1EG4TE5MK73",
        event_type="A03",
        event_time=datetime(2025, 3, 6, 12, 0),
        admit_time=datetime(2025, 3, 2, 9, 30),
        discharge_time=datetime(2025, 3, 6, 11, 30),  # PV1-45
        patient_class="I",
        setting="inpatient",
        hospital_service="MED",
        facility_id="GENHOSP",
        attending_npi="1234567893",
        discharge_disposition="03",  # PV1-36
        visit_number="V1001",
        source_line=3,
    ),
    "MSG0004": dict(
        member_id="88812",  # the only repetition, type MB
        event_type="A04",
        event_time=datetime(2025, 3, 4, 21, 59),
        admit_time=datetime(2025, 3, 4, 21, 45),
        discharge_time=None,
        patient_class="E",
        setting="emergency",
        hospital_service=None,
        facility_id="CITYHOSP",  # PV1-3 has no facility component: MSH-4
        attending_npi=None,  # a local doctor number, no NPI identifier
        discharge_disposition=None,
        visit_number="V2001",
        source_line=4,
    ),
    "MSG0005": dict(
        member_id="1EG4TE5MK73",
        event_type="A08",
        event_time=datetime(2025, 3, 7, 8, 55),
        admit_time=datetime(2025, 3, 6, 15, 0),
        discharge_time=None,
        patient_class="I",
        setting="snf",  # hospital service SNF
        hospital_service="SNF",
        facility_id="SUNNYSNF",
        attending_npi=None,
        discharge_disposition=None,
        visit_number="S3001",
        source_line=5,
    ),
    "MSG0006": dict(
        member_id="2EG4TE5MK74",
        event_type="A04",
        event_time=datetime(2025, 3, 8, 6, 58),
        admit_time=datetime(2025, 3, 8, 6, 30),
        discharge_time=None,
        patient_class="O",
        setting="observation",  # patient type (PV1-18) OBS
        hospital_service=None,
        facility_id="GENHOSP",
        attending_npi=None,
        discharge_disposition=None,
        visit_number="V1002",
        source_line=6,
    ),
    "MSG0008": dict(
        member_id="2EG4TE5MK74",
        event_type="A04",
        event_time=datetime(2025, 3, 10, 10, 0),
        admit_time=datetime(2025, 3, 10, 9, 45),
        discharge_time=None,
        patient_class="O",
        setting="outpatient",
        hospital_service=None,
        facility_id="GENHOSP",
        attending_npi=None,
        discharge_disposition=None,
        visit_number="V1003",
        source_line=8,
    ),
}


def _messages(path: Path) -> list[str]:
    """The messages of a newline-separated batch file, segments joined by CR (envelopes dropped)."""
    messages: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("MSH"):
            messages.append([line])
        elif messages and not line.startswith(("BTS", "FTS")):
            messages[-1].append(line)
    return ["\r".join(m) for m in messages]


def _rows(out: Path) -> dict[str, dict]:
    return {row["event_id"]: row for row in pq.read_table(out / "adt_events.parquet").to_pylist()}


def _check_expected(rows: dict[str, dict], file_name: str) -> None:
    assert set(rows) == set(EXPECTED)
    for event_id, expected in EXPECTED.items():
        row = rows[event_id]
        for column, value in expected.items():
            assert row[column] == value, (event_id, column)
        assert row["source_file"] == file_name and row["source_format"] == "hl7-adt"


def test_batch_file_loads_every_field_from_its_position(engine: Engine, tmp_path: Path) -> None:
    report = ingest(engine, "hl7-adt", BATCH, tmp_path / "out")
    _check_expected(_rows(tmp_path / "out"), "adt_batch.hl7")
    counts = report.tables["adt_events"]
    assert (counts.read, counts.loaded, counts.quarantined) == (7, 7, 0)
    assert any("1 messages not loaded" in w and "ADT^A05 1" in w for w in report.warnings)
    assert any("attending doctors given without an NPI identifier" in w for w in report.warnings)


def test_mllp_framed_and_cr_separated_files_load_the_same(engine: Engine, tmp_path: Path) -> None:
    messages = _messages(BATCH)
    mllp = b"".join(b"\x0b" + m.encode() + b"\r\x1c\r" for m in messages)
    (tmp_path / "mllp").mkdir()
    (tmp_path / "mllp" / "feed.mllp").write_bytes(mllp)
    ingest(engine, "hl7-adt", tmp_path / "mllp", tmp_path / "out_mllp")
    _check_expected(_rows(tmp_path / "out_mllp"), "feed.mllp")

    (tmp_path / "cr").mkdir()
    (tmp_path / "cr" / "feed.hl7").write_bytes("\r".join(messages).encode() + b"\r")
    ingest(engine, "hl7-adt", tmp_path / "cr" / "feed.hl7", tmp_path / "out_cr")
    _check_expected(_rows(tmp_path / "out_cr"), "feed.hl7")


def test_payer_option_stamps_every_event(engine: Engine, tmp_path: Path) -> None:
    ingest(engine, "hl7-adt", BATCH, tmp_path / "out", payer="acme")
    assert {row["payer"] for row in _rows(tmp_path / "out").values()} == {"acme"}


MSH = "MSH|^~\\&|ADTAPP|GENHOSP|APMKIT|ACO|20250302101500||ADT^{event}^ADT_A01|{ctrl}|P|2.5.1"
PID = "PID|1||9SECRET9XX1^^^CMS^MC||SECRETNAME^JANE"
PV1 = "PV1|1|I|4W^401^1^GENHOSP||||{npi}|||MED|||||||||V9|||||||||||||||||||||||||{admit}|{discharge}"


def _message(
    ctrl: str,
    event: str = "A01",
    *,
    pid: bool = True,
    npi: str = "",
    admit: str = "20250302093000",
    discharge: str = "",
) -> bytes:
    segments = [MSH.format(event=event, ctrl=ctrl), "EVN||20250302101200"]
    if pid:
        segments.append(PID)
    segments.append(PV1.format(npi=npi, admit=admit, discharge=discharge))
    return "\r".join(segments).encode()


@pytest.fixture(scope="module")
def bad_load(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bad_adt")
    messages = [
        b"PID|1||9SECRET9XX1^^^CMS^MC",  # 1 a segment before any MSH
        _message("B2", pid=False),  # 2 no PID segment
        _message("B3", "A03", discharge="2025-03-06"),  # 3 PV1-45 not an HL7 date/time
        _message("B4", admit="20250230120000"),  # 4 PV1-44 30 February
        _message(""),  # 5 MSH-10 empty: event_id required
        _message("B6", npi="12345^DOC^A^^^^^^NPI^L^^^NPI"),  # 6 attending NPI not 10 digits
        _message("B7"),  # 7 loads
        _message("B7"),  # 8 the same control id again (a resend): duplicate key
        _message("B9").replace(b"SECRETNAME", b"SECR\xe9TNAME"),  # 9 invalid UTF-8 (no MSH-18)
        _message("B10").replace(b"ADT^A01^ADT_A01", b"ORU^R01^ORU_R01"),  # 10 not ADT: not loaded
        _message("B11", "A03", discharge="20250306113000+0100"),  # 11 loads
    ]
    (folder / "in").mkdir()
    (folder / "in" / "bad.hl7").write_bytes(b"\r".join(messages) + b"\r")
    (folder / "in" / "cut.mllp").write_bytes(b"\x0b" + _message("C1") + b"\x1c\r\x0b" + _message("C2"))
    out = folder / "out"
    report = ingest(engine, "hl7-adt", folder / "in", out)
    return report, out


def test_bad_messages_are_quarantined_with_file_message_and_field(bad_load) -> None:
    report, out = bad_load
    entries = {(e["source_file"], e["source_line"]): e for e in report.quarantine}
    fields = {key: entry["field"] for key, entry in entries.items()}
    assert fields == {
        ("bad.hl7", 1): None,
        ("bad.hl7", 2): "member_id",
        ("bad.hl7", 3): "discharge_time",
        ("bad.hl7", 4): "admit_time",
        ("bad.hl7", 5): "event_id",
        ("bad.hl7", 6): "attending_npi",
        ("bad.hl7", 8): "event_id",
        ("bad.hl7", 9): None,
        ("cut.mllp", 2): None,
    }
    reasons = {key: entry["reason"] for key, entry in entries.items()}
    assert reasons[("bad.hl7", 1)] == "segments before the first MSH segment"
    assert reasons[("bad.hl7", 2)] == "PID segment missing"
    assert reasons[("bad.hl7", 3)] == "discharge_time: not an HL7 date/time (YYYYMMDD[HHMM[SS]])"
    assert reasons[("bad.hl7", 4)] == "admit_time: not a valid date/time"
    assert reasons[("bad.hl7", 5)] == "event_id: required field is empty"
    assert reasons[("bad.hl7", 6)] == "attending_npi: does not match the pattern ^[0-9]{10}$"
    assert reasons[("bad.hl7", 8)].startswith(
        "duplicate key (event_id, facility_id): first loaded from bad.hl7 line 7"
    )
    assert reasons[("bad.hl7", 9)].startswith("invalid UTF-8 encoding")
    assert reasons[("cut.mllp", 2)] == "MLLP frame not closed (no end block 0x1C)"
    # Values are member data: never in a reason or the report, only in quarantine.parquet's raw record.
    text = json.dumps(report.to_dict())
    for value in ("SECRET", "9SECRET9XX1", "2025-03-06", "20250230"):
        assert value not in text
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert all(row["record"] for row in quarantine)  # nothing lost
    records = {(row["source_file"], row["source_line"]): row["record"] for row in quarantine}
    assert "SECR\u00e9TNAME" in records[("bad.hl7", 9)]  # the undecodable byte kept (as Latin-1)


def test_bad_load_counts_reconcile(bad_load) -> None:
    report, out = bad_load
    counts = report.tables["adt_events"]
    # bad.hl7 holds 11 pieces, one an ORU message (not an ADT event): 10 read, B7 and B11 loaded, 8
    # quarantined; cut.mllp holds 2 pieces: C1 loaded, the unclosed frame quarantined.
    assert (counts.read, counts.loaded, counts.quarantined) == (12, 3, 9)
    assert len(report.quarantine) == 9 and report.reconciles
    rows = {
        (r["source_file"], r["source_line"]): r for r in pq.read_table(out / "adt_events.parquet").to_pylist()
    }
    assert set(rows) == {("bad.hl7", 7), ("bad.hl7", 11), ("cut.mllp", 1)}
    assert rows[("bad.hl7", 11)]["discharge_time"] == datetime(2025, 3, 6, 11, 30)
    assert any("ORU^R01 1" in w for w in report.warnings)


def test_split_messages_keeps_the_message_numbering() -> None:
    data = b"\n\nMSH|^~\\&|A\nEVN||2025\n\nMSH|^~\\&|B\r\nPID|1\r\n"
    assert split_messages(data) == [(b"MSH|^~\\&|A\rEVN||2025", None), (b"MSH|^~\\&|B\rPID|1", None)]
    framed = b"junk\x0bMSH|^~\\&|A\r\x1c\r"
    assert [problem for _, problem in split_messages(framed)] == [
        "data outside an MLLP frame (before the start block 0x0B)",
        None,
    ]


def test_empty_file_is_an_error_naming_it(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "empty.hl7").write_bytes(b"\r\n")
    with pytest.raises(InputFileError, match=r"empty\.hl7: file is empty"):
        ingest(engine, "hl7-adt", tmp_path / "empty.hl7", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_loads_an_adt_feed(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apmkit", "--quiet", "ingest", "hl7-adt", str(BATCH), "--out", "out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert report["format"] == "hl7-adt" and report["tables"]["adt_events"]["loaded"] == 7


@pytest.mark.spark
def test_spark_loads_the_same_events(spark_engine: Engine, tmp_path: Path) -> None:
    ingest(spark_engine, "hl7-adt", BATCH, tmp_path / "out")
    rows = {
        row["event_id"]: row
        for row in spark_engine.to_arrow(
            spark_engine.read_parquet(tmp_path / "out" / "adt_events.parquet")
        ).to_pylist()
    }
    _check_expected(rows, "adt_batch.hl7")
