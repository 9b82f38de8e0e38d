"""CCW RIF loader on the BFD sample files: exact counts and values read off the files themselves.

Fixtures (tests/fixtures/ccw_rif/SOURCES.md): ``synthea/`` is BFD's Synthea-generated RIF set (11 yearly
beneficiary files: INSERT in 2011, UPDATE after), ``static/`` a few of BFD's one-record samples.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest import ingest
from apmkit.ingest.ccw_rif import stage

RIF = Path(__file__).parent.parent / "fixtures" / "ccw_rif"


def read(out: Path, table: str) -> list[dict[str, object]]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


def quarantine(out: Path) -> list[dict[str, object]]:
    return pq.read_table(out / "quarantine.parquet").to_pylist()


def folder_of(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        shutil.copy(RIF / "static" / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory, duckdb_engine: Engine) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("synthea") / "out"
    report = ingest(duckdb_engine, "ccw-rif", RIF / "synthea", out)
    return out, report


def test_synthea_counts_reconcile(synthea: tuple[Path, object]) -> None:
    out, report = synthea
    counts = {name: (c.read, c.loaded, c.quarantined) for name, c in report.tables.items()}  # type: ignore[attr-defined]
    # 11 yearly beneficiary files x 3 beneficiaries; each BENE_ID's 2021 UPDATE supersedes 10 versions.
    assert counts["members"] == (33, 3, 30)
    # carrier 221 + dme 1 + hha 15 + hospice 8 + inpatient 16 + outpatient 19 + snf 67 data rows.
    assert counts["medical_claims"] == (347, 347, 0)
    assert counts["pharmacy_claims"] == (18, 18, 0)
    assert counts["member_xref"] == (3, 3, 0)
    assert report.reconciles  # type: ignore[attr-defined]
    claims = read(out, "medical_claims")
    by_type: dict[str, set[str]] = {}
    for row in claims:
        by_type.setdefault(str(row["claim_type"]), set()).add(str(row["claim_id"]))
    assert {k: len(v) for k, v in by_type.items()} == {
        "professional": 37,
        "dme": 1,
        "hha": 14,
        "hospice": 1,
        "inpatient": 16,
        "outpatient": 19,
        "snf": 1,
    }
    superseded = [q for q in quarantine(out) if q["table"] == "members"]
    assert {q["reason"] for q in superseded} == {
        f"superseded by the UPDATE record in beneficiary_2021.csv line {n}" for n in (2, 3, 4)
    }
    assert {q["source_file"] for q in superseded} == {f"beneficiary_{y}.csv" for y in range(2011, 2021)}


def test_synthea_carrier_line_values(synthea: tuple[Path, object]) -> None:
    out, _ = synthea
    # carrier.csv line 2: CLM_ID -100000486, LINE_NUM 1, 30-May-2015, LINE_NCH_PMT_AMT 109.44 ...
    [line] = [
        r
        for r in read(out, "medical_claims")
        if r["claim_id"] == "-100000486" and r["claim_line_number"] == 1
    ]
    assert line["claim_type"] == "professional"
    assert line["member_id"] == "-1000006"
    assert (line["claim_from_date"], line["service_date"]) == (date(2015, 5, 30), date(2015, 5, 30))
    assert (line["paid_amount"], line["allowed_amount"], line["charge_amount"]) == (
        Decimal("109.44"),
        Decimal("136.80"),
        Decimal("136.80"),
    )
    assert line["units"] == Decimal("9.000")
    assert (line["rendering_npi"], line["billing_tin"], line["rendering_specialty"]) == (
        "9999310391",
        "999145882",
        "01",
    )
    assert (line["place_of_service"], line["dx_1"], line["dx_2"], line["dx_3"]) == (
        "11",
        "O039",
        "E034",
        None,
    )
    assert (line["original_claim_id"], line["adjustment_type"], line["claim_version"]) == (
        "-100000486",
        "original",
        1,
    )
    assert line["processed_date"] == date(2015, 6, 4)
    assert (line["source_file"], line["source_line"]) == ("carrier.csv", 2)


def test_synthea_inpatient_claim_values(synthea: tuple[Path, object]) -> None:
    out, _ = synthea
    [line] = [r for r in read(out, "medical_claims") if r["claim_id"] == "-100001674"]
    assert line["claim_type"] == "inpatient"
    assert (line["admission_date"], line["discharge_date"]) == (date(2017, 3, 19), date(2017, 3, 20))
    assert (line["ms_drg"], line["bill_type"], line["discharge_status"], line["admit_source"]) == (
        "375",
        "111",
        "01",
        "4",
    )
    # PRNCPAL_DGNS_CD C188 differs from ICD_DGNS_CD1 I4891, so ICD_DGNS_CD1.. follow the principal.
    assert [line[f"dx_{i}"] for i in range(1, 8)] == ["C188", "I4891", "K635", "E669", "C188", "K621", "D649"]
    assert (line["revenue_code"], line["hcpcs_code"], line["attending_npi"], line["facility_ccn"]) == (
        "0001",
        "99221",
        "9999994996",
        "220135",
    )
    assert (line["paid_amount"], line["charge_amount"]) == (Decimal("33248.67"), Decimal("33248.67"))


def test_synthea_pde_members_and_enrollment(synthea: tuple[Path, object]) -> None:
    out, _ = synthea
    [fill] = [r for r in read(out, "pharmacy_claims") if r["claim_id"] == "-100000806"]
    assert (fill["member_id"], fill["dispensing_date"], fill["ndc"]) == (
        "-1000014",
        date(2015, 3, 1),
        "50090443201",
    )
    assert (fill["quantity"], fill["days_supply"], fill["prescriber_npi"], fill["pharmacy_npi"]) == (
        Decimal("90.000"),
        90,
        "9999928309",
        "PCP257488",
    )
    assert (fill["allowed_amount"], fill["paid_amount"]) == (Decimal("35.74"), Decimal("0.00"))

    members = {r["member_id"]: r for r in read(out, "members")}
    assert sorted(members) == ["-1000006", "-1000014", "-1000018"]
    member = members["-1000006"]  # beneficiary_2021.csv line 2
    assert (member["birth_date"], member["sex"], member["zip_code"], member["state_code"]) == (
        date(1942, 1, 17),
        "F",
        "01730",
        "22",
    )
    assert (member["orec"], member["esrd"], member["medicaid"]) == ("0", False, False)
    assert (member["source_file"], member["source_line"]) == ("beneficiary_2021.csv", 2)

    months = [r for r in read(out, "enrollment") if r["member_id"] == "-1000006" and r["month"].year == 2020]
    # beneficiary_2020.csv: buy-in C (Parts A and B) all year, no HMO months, Part D contract Z0001, dual 3.
    assert len(months) == 12
    assert {
        (
            r["part_a"],
            r["part_b"],
            r["part_d"],
            r["medicare_advantage"],
            r["product"],
            r["dual_status_code"],
            r["esrd"],
        )
        for r in months
    } == {(True, True, True, False, "medicare_ffs", "03", False)}


def test_static_beneficiary_update_and_monthly_indicators(engine: Engine, tmp_path: Path) -> None:
    folder = folder_of(tmp_path, "sample-a-beneficiaries.txt", "sample-u-beneficiaries.txt")
    out = tmp_path / "out"
    report = ingest(engine, "ccw-rif", folder, out)
    assert read(out, "members") == []
    entries = {
        (q["source_file"], q["field"]): q["reason"] for q in quarantine(out) if q["table"] == "members"
    }
    # The UPDATE (sample-u, RFRNC_YR 2019) supersedes the INSERT of BENE_ID 567834, but its monthly dual
    # status codes are "AA", which is no CMS dual status code: it is quarantined, not loaded.
    assert entries == {
        (
            "sample-a-beneficiaries.txt",
            "DML_IND",
        ): "superseded by the UPDATE record in sample-u-beneficiaries.txt line 2",
        ("sample-u-beneficiaries.txt", "dual_status_code"): (
            "dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)"
        ),
    }
    months = sorted((r for r in read(out, "enrollment") if r["month"].year == 2018), key=lambda r: r["month"])
    # sample-a: HMO_1..10_IND = 1, HMO_11..12 = 0; PTD_CNTRCT S4607 Jan-Nov, 0 in Dec; buy-in C.
    assert [r["product"] for r in months] == ["medicare_advantage"] * 10 + ["medicare_ffs"] * 2
    assert [r["part_d"] for r in months] == [True] * 11 + [False]
    assert all(r["part_a"] and r["part_b"] and r["dual_status_code"] is None for r in months)
    # The 2019 months (sample-u) are quarantined for their "AA" dual status; the years stay separate.
    assert report.tables["enrollment"].quarantined == 12


def test_pde_history_and_four_character_drg(engine: Engine, tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        "sample-a-pde.txt",
        "sample-a-beneficiaryhistory.txt",
        "sample-a-inpatient-with-four-character-drg-code.txt",
    )
    out = tmp_path / "out"
    report = ingest(engine, "ccw-rif", folder, out)
    [fill] = read(out, "pharmacy_claims")
    # sample-a-pde.txt (rows end with a trailing "|"): PDE_ID 89, 12-MAY-2015, QTY 60, 30 days, 550.00 / 126.99.
    assert (fill["claim_id"], fill["dispensing_date"], fill["quantity"], fill["days_supply"]) == (
        "89",
        date(2015, 5, 12),
        Decimal("60.000"),
        30,
    )
    assert (fill["allowed_amount"], fill["paid_amount"], fill["processed_date"]) == (
        Decimal("550.00"),
        Decimal("126.99"),
        date(2015, 5, 27),
    )
    xref = sorted(read(out, "member_xref"), key=lambda r: r["source_line"])
    assert [(r["previous_id"], r["effective_date"], r["obsolete_date"]) for r in xref] == [
        ("3456689", date(1990, 3, 17), date(1995, 3, 17)),
        ("3456789", date(1990, 3, 17), date(1995, 3, 17)),
        ("9AB2WW3GR44", date(1987, 11, 15), date(1990, 3, 16)),
        ("543217066", date(1987, 1, 16), date(1987, 11, 14)),
    ]
    # Line 4 repeats line 3 exactly: the same (BENE_ID, MBI_NUM) inserted twice is a duplicate.
    reasons = {(q["source_file"], q["source_line"]): q["reason"] for q in quarantine(out)}
    assert reasons[("sample-a-beneficiaryhistory.txt", 4)] == (
        "duplicate key (previous_id): first loaded from sample-a-beneficiaryhistory.txt line 3"
    )
    assert report.reconciles


def test_four_character_drg_dates_and_multi_line_claims_are_parsed(engine: Engine, tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        "sample-a-inpatient-with-four-character-drg-code.txt",
        "sample-a-bcarrier-multiple-lines.txt",
    )
    staged = stage(engine, folder)
    [raw] = staged.tables["medical_claims"]
    rows = engine.to_arrow(
        raw.select(
            "claim_id",
            "claim_line_number",
            "claim_type",
            "ms_drg",
            "claim_from_date",
            "claim_thru_date",
            "processed_date",
            "paid_amount",
        ).order_by(["claim_id", "claim_line_number"])
    ).to_pylist()
    inpatient = [r for r in rows if r["claim_id"] == "333333222222"]
    assert inpatient == [
        {
            "claim_id": "333333222222",
            "claim_line_number": "1",
            "claim_type": "inpatient",
            "ms_drg": "6955",
            "claim_from_date": "2016-01-15",
            "claim_thru_date": "2016-01-27",
            "processed_date": "2016-02-26",
            "paid_amount": "7699.48",
        }
    ]
    # sample-a-bcarrier-multiple-lines.txt: claim 9991831999 with lines 1-7, LINE_NCH_PMT_AMT 37.5 each.
    carrier = [r for r in rows if r["claim_id"] == "9991831999"]
    assert [(r["claim_line_number"], r["claim_type"], r["paid_amount"]) for r in carrier] == [
        (str(n), "professional", "37.5") for n in range(1, 8)
    ]
    assert {r["claim_from_date"] for r in carrier} == {"1999-10-27"}


def test_static_carrier_samples_are_quarantined_with_reasons(engine: Engine, tmp_path: Path) -> None:
    folder = folder_of(tmp_path, "sample-a-bcarrier.txt", "sample-u-bcarrier.txt")
    out = tmp_path / "out"
    report = ingest(engine, "ccw-rif", folder, out)
    entries = {(q["source_file"], q["source_line"]): q["reason"] for q in quarantine(out)}
    # sample-a-bcarrier.txt line 2 (CLM_ID 9991831999, LINE_NUM 6): PRF_PHYSN_NPI is 1923124, 7 digits.
    # sample-u-bcarrier.txt line 2 has 101 fields under a 100-column header (no trailing "|"), so the
    # UPDATE cannot even be split into fields, and the INSERT stays the only version.
    assert entries == {
        ("sample-a-bcarrier.txt", 2): "rendering_npi: does not match the pattern ^[0-9]{10}$",
        ("sample-u-bcarrier.txt", 2): "extra fields: expected 100 fields, found 101",
    }
    counts = report.tables["medical_claims"]
    assert (counts.read, counts.loaded, counts.quarantined) == (2, 0, 2)


def test_missing_reference_year_quarantines_the_months(engine: Engine, tmp_path: Path) -> None:
    folder = folder_of(tmp_path, "sample-a-beneficiaries-without-reference-year.txt")
    out = tmp_path / "out"
    report = ingest(engine, "ccw-rif", folder, out)
    months = [q for q in quarantine(out) if q["table"] == "enrollment"]
    assert len(months) == 12
    assert {q["reason"] for q in months} == {"month: required field is empty"}
    assert report.tables["members"].loaded == 1


def test_malformed_claim_rows(engine: Engine, tmp_path: Path) -> None:
    header, first = (RIF / "synthea" / "carrier.csv").read_text(encoding="utf-8-sig").splitlines()[:2]
    names = header.split("|")

    def variant(**changes: str) -> str:
        values = first.split("|")
        for name, value in changes.items():
            values[names.index(name)] = value
        return "|".join(values)

    rows = [
        first,  # line 2 loads
        variant(LINE_NUM="2", CLM_FROM_DT="31-FOO-2015"),  # line 3: bad date
        variant(LINE_NUM="3", NCH_CLM_TYPE_CD="99"),  # line 4: unknown claim type
        variant(LINE_NUM="4", LINE_SRVC_CNT="-1"),  # line 5: negative units
        first,  # line 6: duplicate INSERT of line 2
        "|".join(first.split("|")[:40]),  # line 7: truncated
        variant(LINE_NUM="5", DML_IND="DELETE"),  # line 8: unknown DML_IND
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    body = (
        "\n".join([header, *rows]).encode()
        + b"\n"
        + variant(LINE_NUM="6", CARR_NUM="6102\xe9").encode("latin-1")
        + b"\n"
    )
    (folder / "carrier.csv").write_bytes(body)
    out = tmp_path / "out"
    report = ingest(engine, "ccw-rif", folder, out)
    reasons = {q["source_line"]: q["reason"] for q in quarantine(out)}
    assert reasons == {
        3: "claim_from_date: not a valid date (YYYY-MM-DD)",
        4: reasons[4],
        5: "units: negative value not allowed",
        6: "duplicate key (claim_id, claim_line_number): first loaded from carrier.csv line 2",
        7: "truncated line: expected 100 fields, found 40",
        8: "DML_IND: unknown code (allowed: INSERT, UPDATE)",
        9: reasons[9],
    }
    assert reasons[4].startswith("claim_type: unknown code (allowed: inpatient")
    assert reasons[9].startswith("invalid UTF-8 encoding (byte 0xe9")
    counts = report.tables["medical_claims"]
    assert (counts.read, counts.loaded, counts.quarantined) == (8, 1, 7)


def test_folder_without_rif_files_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="no CCW RIF files found"):
        ingest(engine, "ccw-rif", tmp_path, tmp_path / "out")
