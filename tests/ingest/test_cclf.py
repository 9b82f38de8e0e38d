"""CCLF loader: layouts, the IP's worked examples, the public BCDA samples and every failure mode.

Expected values come from the CCLF Information Packet v38 (IP): the positions of Appendix B, the
related-claims example of §5.1.3 (Tables 2-3) and the expenditure example of §5.3.2 (Tables 4-7), and
from the public BCDA sample files themselves (tests/fixtures/cclf/SOURCES.md).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest import ingest
from apmkit.ingest.cclf import cclf_file_number, format_record, layouts

CCLF_FIXTURES = Path(__file__).parent.parent / "fixtures" / "cclf"

OLD_MBI = "5F27TE6KM28"  # IP v38 Table 3: the MBI on the earlier related claims
MBI = "6U50TE7GG18"  # IP v38 §5.1.1 and §5.3.2: the most recent MBI


def write(folder: Path, name: str, file: str, rows: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(format_record(file, row) + "\n" for row in rows))
    return path


def read(out: Path, table: str) -> list[dict[str, object]]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


def part_a_header(
    claim: str, paid: str, adjustment: str, effective: str, **extra: object
) -> dict[str, object]:
    """A CCLF1 record of IP v38 Table 4 (CCN 654321, 07/01/12-07/08/12)."""
    row: dict[str, object] = {
        "CUR_CLM_UNIQ_ID": claim,
        "PRVDR_OSCAR_NUM": "654321",
        "BENE_MBI_ID": MBI,
        "CLM_TYPE_CD": "60",
        "CLM_FROM_DT": "2012-07-01",
        "CLM_THRU_DT": "2012-07-08",
        "CLM_PMT_AMT": paid,
        "CLM_ADJSMT_TYPE_CD": adjustment,
        "CLM_EFCTV_DT": effective,
        "CLM_BLG_PRVDR_OSCAR_NUM": "654321",
    }
    row.update(extra)
    return row


def part_b_line(claim: str, line: str, paid: str, adjustment: str, effective: str) -> dict[str, object]:
    """A CCLF5 record of IP v38 Table 6 (control number 7)."""
    return {
        "CUR_CLM_UNIQ_ID": claim,
        "CLM_LINE_NUM": line,
        "BENE_MBI_ID": MBI,
        "CLM_TYPE_CD": "71",
        "CLM_FROM_DT": "2012-08-01",
        "CLM_THRU_DT": "2012-08-01",
        "CLM_LINE_FROM_DT": "2012-08-01",
        "CLM_LINE_THRU_DT": "2012-08-01",
        "CLM_LINE_HCPCS_CD": "99213",
        "CLM_LINE_CVRD_PD_AMT": paid,
        "CLM_ADJSMT_TYPE_CD": adjustment,
        "CLM_EFCTV_DT": effective,
        "CLM_CNTL_NUM": "7",
        "CLM_LINE_SRVC_UNIT_QTY": "1",
    }


# IP v38 §5.3.2 Table 4 (Part A) and Table 6 (Part B), dates as YYYY-MM-DD.
TABLE_4 = [
    part_a_header("1", "200", "0", "2012-07-20"),
    part_a_header("2", "0", "2", "2012-09-20"),
    part_a_header("3", "200", "1", "2012-08-07"),
    part_a_header("4", "210", "2", "2012-09-20"),
    part_a_header("5", "0", "2", "2012-08-07"),
    part_a_header("6", "0", "1", "2012-10-07"),
    part_a_header("7", "50", "0", "2012-09-20", CLM_FROM_DT="2012-08-20", CLM_THRU_DT="2012-08-29"),
]
TABLE_6 = [
    part_b_line("1", "3", "0", "1", "2012-09-02"),
    part_b_line("1", "1", "380", "1", "2012-09-02"),
    part_b_line("1", "2", "227", "1", "2012-09-02"),
    part_b_line("2", "1", "380", "0", "2012-09-02"),
    part_b_line("2", "2", "227", "0", "2012-09-02"),
    part_b_line("2", "3", "100", "0", "2012-09-02"),
    part_b_line("3", "3", "0", "0", "2012-08-15"),
    part_b_line("3", "1", "380", "0", "2012-08-15"),
    part_b_line("3", "2", "227", "0", "2012-08-15"),
]


# ---- layouts and the record writer -------------------------------------------------------------------
def test_layouts_match_the_information_packet() -> None:
    # Record lengths: the last end position of IP v38 Tables 14-24.
    lengths = {name: layout.record_length for name, layout in layouts().items()}
    assert lengths == {
        "CCLF1": 437,
        "CCLF2": 199,
        "CCLF3": 114,
        "CCLF4": 112,
        "CCLF5": 388,
        "CCLF6": 247,
        "CCLF7": 195,
        "CCLF8": 549,
        "CCLF9": 55,
        "CCLFA": 324,
        "CCLFB": 128,
    }
    field = layouts()["CCLF1"]["CLM_PMT_AMT"]
    assert (field.start, field.end, field.format, field.decimals) == (82, 98, "-9(13).99", 2)
    assert layouts()["CCLF5"]["CLM_CNTL_NUM"].start == 172  # Table 18 element 26


def test_format_record_places_fields_at_the_ip_positions() -> None:
    record = format_record("CCLF1", TABLE_4[2] | {"PRNCPL_DGNS_CD": "I214"})
    assert len(record) == 437
    assert record[0:13] == "0000000000003"  # CUR_CLM_UNIQ_ID 1-13, 9(13)
    assert record[19:30] == MBI  # BENE_MBI_ID 20-30
    assert record[41:43] == "60"  # CLM_TYPE_CD 42-43
    assert record[43:53] == "2012-07-01"  # CLM_FROM_DT 44-53
    assert record[65:72] == "I214   "  # PRNCPL_DGNS_CD 66-72, X(07)
    assert record[81:98] == " 0000000000200.00"  # CLM_PMT_AMT 82-98, -9(13).99: sign position first
    assert record[148:150] == "1 "  # CLM_ADJSMT_TYPE_CD 149-150
    assert record[292:312] == "654321" + " " * 14  # CLM_BLG_PRVDR_OSCAR_NUM 293-312
    assert format_record("CCLF2", {"CLM_LINE_CVRD_PD_AMT": "-30.18"})[147:164] == "-0000000000030.18"
    with pytest.raises(ValueError, match="CLM_TYPE_CD"):
        format_record("CCLF1", {"CLM_TYPE_CD": "600"})
    with pytest.raises(ValueError, match="more than 2 decimals"):
        format_record("CCLF1", {"CLM_PMT_AMT": "1.005"})
    with pytest.raises(ValueError, match="no field"):
        format_record("CCLF1", {"NOT_A_FIELD": "x"})


@settings(max_examples=50, deadline=None)
@given(
    cents=st.integers(min_value=-(10**13) + 1, max_value=10**13 - 1),
    claim=st.integers(min_value=0, max_value=10**13 - 1),
)
def test_written_amounts_round_trip_exactly(cents: int, claim: int) -> None:
    amount = Decimal(cents).scaleb(-2)
    record = format_record("CCLF1", {"CUR_CLM_UNIQ_ID": str(claim), "CLM_PMT_AMT": amount})
    assert Decimal(record[81:98].replace(" ", "")) == amount
    assert int(record[0:13]) == claim


def test_file_names_are_recognized() -> None:
    assert cclf_file_number("P.A1234.ACO.ZC1Y24.D240101.T1234567") == "CCLF1"
    assert cclf_file_number("P.D0001.ACO.ZCBR23.D240301.T0100000") == "CCLFB"
    assert cclf_file_number("small_ZC8.txt") == "CCLF8"
    assert cclf_file_number("ZC0") == "CCLF0"
    assert cclf_file_number("cclfa.txt") == "CCLFA"
    assert cclf_file_number("members.csv") is None


# ---- the IP's worked examples -------------------------------------------------------------------------
def test_ip_expenditure_example_final_actions_and_totals(engine: Engine, tmp_path: Path) -> None:
    """IP v38 §5.3.2: Part A total $260 (final actions #4, #7 and one of #2/#5), Part B $707, A+B $967."""
    folder = tmp_path / "in"
    write(folder, "P.A9999.ACO.ZC1Y12.D121101.T0100001", "CCLF1", TABLE_4)
    write(folder, "P.A9999.ACO.ZC5Y12.D121101.T0100005", "CCLF5", TABLE_6)
    out = tmp_path / "out"
    report = ingest(engine, "cclf", folder, out)

    final = read(out, "medical_claims")
    part_a = {r["claim_id"]: r for r in final if r["claim_type"] == "inpatient"}
    assert sorted(part_a) == ["0000000000002", "0000000000004", "0000000000007"]
    assert sum(r["paid_amount"] for r in part_a.values()) == Decimal("260.00")
    part_b = [r for r in final if r["claim_type"] == "professional"]
    assert {r["claim_id"] for r in part_b} == {"0000000000002"}
    assert sum(r["paid_amount"] for r in part_b) == Decimal("707.00")
    assert sum(r["paid_amount"] for r in final) == Decimal("967.00")

    history = {(r["claim_id"], r["claim_line_number"]): r for r in read(out, "medical_claims_history")}
    # Claim #3 cancels claim #1 (IP: "Claim #3 ... cancels Claim #1"); #6 cancels #5.
    assert history[("0000000000003", 0)]["original_claim_id"] == "0000000000001"
    assert history[("0000000000003", 0)]["adjustment_type"] == "void"
    assert history[("0000000000006", 0)]["original_claim_id"] == "0000000000005"
    assert not history[("0000000000001", 0)]["is_final_action"]
    # Part B claim #1 (the cancellation, paid 380/227/0) cancels claim #3, the original with the same lines.
    assert history[("0000000000001", 1)]["original_claim_id"] == "0000000000003"
    assert report.tables["medical_claims"].read == 16
    assert report.tables["medical_claims"].final_action == 6
    assert report.reconciles


def test_ip_related_claims_example_with_mbi_crosswalk(engine: Engine, tmp_path: Path) -> None:
    """IP v38 §5.1.3 Tables 2-3: rows 2 and 4 cancel rows 1 and 3; row 5 (3333333333333) is the final action.

    Rows 1-3 carry the earlier MBI; CCLF9 maps it to the most recent MBI, which makes all five one
    natural-key group (IP §5.1.1).
    """
    rows = [
        ("2222222222222", OLD_MBI, "2012-07-30", "0"),
        ("3589734591235", OLD_MBI, "2012-08-01", "1"),
        ("1313274894021", OLD_MBI, "2012-08-01", "2"),
        ("1111111111111", MBI, "2012-08-07", "1"),
        ("3333333333333", MBI, "2012-08-07", "2"),
    ]
    folder = tmp_path / "in"
    write(
        folder,
        "ZC1",
        "CCLF1",
        [
            part_a_header(c, "100", code, eff, BENE_MBI_ID=mbi, CLM_THRU_DT="2012-07-04")
            for c, mbi, eff, code in rows
        ],
    )
    write(
        folder,
        "ZC9",
        "CCLF9",
        [{"HICN_MBI_XREF_IND": "M", "CRNT_NUM": MBI, "PRVS_NUM": OLD_MBI, "PRVS_ID_EFCTV_DT": "2019-05-01"}],
    )
    out = tmp_path / "out"
    ingest(engine, "cclf", folder, out)
    final = read(out, "medical_claims")
    assert [(r["claim_id"], r["member_id"], r["adjustment_type"]) for r in final] == [
        ("3333333333333", MBI, "adjustment")
    ]
    history = {r["claim_id"]: r for r in read(out, "medical_claims_history")}
    assert {r["member_id"] for r in history.values()} == {MBI}
    assert history["3589734591235"]["original_claim_id"] == "2222222222222"
    assert history["1111111111111"]["original_claim_id"] == "1313274894021"
    assert read(out, "member_xref")[0] | {"source_format": None} == {
        "previous_id": OLD_MBI,
        "member_id": MBI,
        "effective_date": __import__("datetime").date(2019, 5, 1),
        "obsolete_date": None,
        "source_format": None,
        "source_file": "ZC9",
        "source_line": 1,
    }


@settings(max_examples=8, deadline=None)
@given(
    claims=st.lists(
        st.tuples(st.sampled_from(["0", "2"]), st.sampled_from(["0", "100", "210.5"]), st.integers(1, 20)),
        min_size=1,
        max_size=6,
    ),
    cancelled=st.lists(st.integers(0, 5), max_size=4, unique=True),
)
def test_final_actions_sum_to_the_signed_total(
    duckdb_engine: Engine, tmp_path_factory: pytest.TempPathFactory, claims: list, cancelled: list[int]
) -> None:
    """IP §5.3.1: the signed sum (cancellations negative) equals the sum over final-action claims.

    Every cancellation copies the payment of one claim of the natural key and comes on or after it.
    """
    headers = [
        part_a_header(str(n), amount, code, f"2012-08-{day:02d}")
        for n, (code, amount, day) in enumerate(claims, start=1)
    ]
    for offset, index in enumerate(i for i in cancelled if i < len(claims)):
        _, amount, day = claims[index]
        headers.append(part_a_header(str(100 + offset), amount, "1", f"2012-08-{day + offset % 3:02d}"))
    signed = sum(Decimal(h["CLM_PMT_AMT"]) * (-1 if h["CLM_ADJSMT_TYPE_CD"] == "1" else 1) for h in headers)

    from apmkit.ingest.cclf import stage
    from apmkit.ingest.final_action import resolve_final_action
    from apmkit.ingest.pipeline import union_raw
    from apmkit.schemas import MEDICAL_CLAIMS, MEDICAL_CLAIMS_HISTORY

    folder = tmp_path_factory.mktemp("signed")
    write(folder, "ZC1", "CCLF1", headers)
    staged = stage(duckdb_engine, folder)
    raw = duckdb_engine.materialize(union_raw(staged.tables["medical_claims"]))
    final = resolve_final_action(raw, MEDICAL_CLAIMS_HISTORY, MEDICAL_CLAIMS).final
    total = duckdb_engine.execute(final.paid_amount.sum())
    assert Decimal(total or 0) == signed
    assert staged.warnings == []


# ---- field mapping of every claim file ------------------------------------------------------------------
def test_institutional_claim_maps_header_lines_codes_and_admission(engine: Engine, tmp_path: Path) -> None:
    claim = "1000000000001"
    header = part_a_header(
        claim,
        "15234.56",
        "0",
        "2024-03-15",
        BENE_MBI_ID="1EG4TE5MK73",
        CLM_FROM_DT="2024-03-01",
        CLM_THRU_DT="2024-03-05",
        CLM_BILL_FAC_TYPE_CD="1",
        CLM_BILL_CLSFCTN_CD="1",
        CLM_BILL_FREQ_CD="1",
        PRNCPL_DGNS_CD="I214",
        ADMTG_DGNS_CD="R079",
        BENE_PTNT_STUS_CD="01",
        DGNS_DRG_CD="0280",
        FAC_PRVDR_NPI_NUM="1234567893",
        ATNDG_PRVDR_NPI_NUM="1497758544",
        CLM_ADMSN_SRC_CD="1",
        CLM_MDCR_INSTNL_TOT_CHRG_AMT="45000.00",
    )
    lines = [
        {
            "CUR_CLM_UNIQ_ID": claim,
            "CLM_LINE_NUM": n,
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "60",
            "CLM_LINE_PROD_REV_CTR_CD": rev,
            "CLM_LINE_HCPCS_CD": hcpcs,
            "CLM_LINE_SRVC_UNIT_QTY": units,
            "CLM_LINE_CVRD_PD_AMT": "0",
        }
        for n, rev, hcpcs, units in (("2", "0450", "99285", "1"), ("1", "0120", "", "4"))
    ]
    diagnoses = [
        {
            "CUR_CLM_UNIQ_ID": claim,
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "60",
            "CLM_PROD_TYPE_CD": t,
            "CLM_VAL_SQNC_NUM": seq,
            "CLM_DGNS_CD": code,
        }
        for t, seq, code in (("D", "3", "N179"), ("D", "1", "I214"), ("D", "2", "E1122"))
    ]
    procedures = [
        {
            "CUR_CLM_UNIQ_ID": claim,
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "60",
            "CLM_VAL_SQNC_NUM": "1",
            "CLM_PRCDR_CD": "02703ZZ",
            "CLM_PRCDR_PRFRM_DT": "2024-03-02",
        }
    ]
    folder = tmp_path / "in"
    write(folder, "ZC1", "CCLF1", [header])
    write(folder, "ZC2", "CCLF2", lines)
    write(folder, "ZC3", "CCLF3", procedures)
    write(folder, "ZC4", "CCLF4", diagnoses)
    write(
        folder,
        "ZCA",
        "CCLFA",
        [
            {
                "CUR_CLM_UNIQ_ID": claim,
                "BENE_MBI_ID": "1EG4TE5MK73",
                "CLM_TYPE_CD": "60",
                "CLM_ACTV_CARE_FROM_DT": "2024-02-29",
            }
        ],
    )
    out = tmp_path / "out"
    report = ingest(engine, "cclf", folder, out)
    rows = sorted(read(out, "medical_claims"), key=lambda r: r["claim_line_number"])
    assert [r["claim_line_number"] for r in rows] == [1, 2]
    first, second = rows
    assert first["claim_type"] == "inpatient"
    assert first["member_id"] == "1EG4TE5MK73"
    assert first["bill_type"] == "111"
    assert first["ms_drg"] == "280"
    assert first["admission_date"] == __import__("datetime").date(2024, 2, 29)
    assert first["discharge_date"] == __import__("datetime").date(2024, 3, 5)
    assert (first["dx_1"], first["dx_2"], first["dx_3"], first["dx_4"]) == ("I214", "E1122", "N179", None)
    assert first["admitting_dx"] == "R079"
    assert first["px_1"] == "02703ZZ"
    assert (first["revenue_code"], first["units"]) == ("0120", Decimal("4.000"))
    assert (second["revenue_code"], second["hcpcs_code"]) == ("0450", "99285")
    # Claim-level payment and charges sit on the first line (IP §5.3.1 sums the header's CLM_PMT_AMT).
    assert (first["paid_amount"], second["paid_amount"]) == (Decimal("15234.56"), Decimal("0.00"))
    assert first["charge_amount"] == Decimal("45000.00")
    assert (first["billing_npi"], first["attending_npi"], first["facility_ccn"]) == (
        "1234567893",
        "1497758544",
        "654321",
    )
    assert first["service_date"] == __import__("datetime").date(2024, 3, 1)
    assert (first["payer"], first["line_of_business"], first["source_format"]) == (
        "medicare",
        "medicare_ffs",
        "cclf",
    )
    assert (first["source_file"], first["source_line"]) == ("ZC2", 2)
    assert report.totals.quarantined == 0


def test_claim_type_codes_and_a_matching_cclf0(engine: Engine, tmp_path: Path) -> None:
    """CLM_TYPE_CD per IP v38 Table 14 element 5; a header without CCLF2 lines becomes line 0."""
    codes = {"10": "hha", "20": "snf", "30": "snf", "40": "outpatient", "50": "hospice", "61": "inpatient"}
    folder = tmp_path / "in"
    write(
        folder,
        "ZC1",
        "CCLF1",
        [part_a_header(code, "1", "0", "2024-01-01", CLM_TYPE_CD=code) for code in codes],
    )
    (folder / "ZC0").write_text(
        "File Number  |File Description    |Total Records Count |Record Length\n"
        "CCLF1  |Part A Claims Header File                  |          6|  437\n"
        "CCLF5  |Part B Physicians File                     |          0|  388\n"
        "CCLF6  |Part B DME File                            |        six|  247\n"
    )
    report = ingest(engine, "cclf", folder, tmp_path / "out")
    rows = read(tmp_path / "out", "medical_claims")
    assert {r["claim_id"][-2:]: (r["claim_type"], r["claim_line_number"]) for r in rows} == {
        code: (claim_type, 0) for code, claim_type in codes.items()
    }
    assert [(c.name, c.passed, c.detail) for c in report.checks] == [
        ("ZC0: records", False, "line 4: Total Records Count is not a whole number"),
        ("ZC0: CCLF1", True, "6 record(s) of 437 characters as declared"),
        ("ZC0: CCLF5", True, "0 record(s) declared, file not delivered"),
    ]


def test_dme_and_part_d_files(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(
        folder,
        "ZC6",
        "CCLF6",
        [
            {
                "CUR_CLM_UNIQ_ID": "6000000000001",
                "CLM_LINE_NUM": "1",
                "BENE_MBI_ID": MBI,
                "CLM_TYPE_CD": "82",
                "CLM_FROM_DT": "2024-01-10",
                "CLM_THRU_DT": "2024-01-10",
                "CLM_LINE_HCPCS_CD": "E0601",
                "CLM_POS_CD": "12",
                "CLM_LINE_CVRD_PD_AMT": "55.10",
                "CLM_LINE_ALOWD_CHRG_AMT": "70.25",
                "PAYTO_PRVDR_NPI_NUM": "1234567893",
                "CLM_ADJSMT_TYPE_CD": "0",
                "CLM_EFCTV_DT": "2024-01-20",
                "CLM_CNTL_NUM": "D1",
            }
        ],
    )
    pde = {
        "BENE_MBI_ID": MBI,
        "CLM_TYPE_CD": "01",
        "CLM_LINE_FROM_DT": "2024-02-01",
        "PRVDR_SRVC_ID_QLFYR_CD": "01",
        "CLM_SRVC_PRVDR_GNRC_ID_NUM": "1093817304",
        "CLM_DSPNSNG_STUS_CD": "",
        "CLM_LINE_RX_SRVC_RFRNC_NUM": "123456",
        "CLM_LINE_RX_FILL_NUM": "1",
        "CLM_LINE_DAYS_SUPLY_QTY": "30",
        "PRVDR_PRSBNG_ID_QLFYR_CD": "01",
        "CLM_PRSBNG_PRVDR_GNRC_ID_NUM": "1497758544",
    }
    write(
        folder,
        "ZC7",
        "CCLF7",
        [
            pde
            | {
                "CUR_CLM_UNIQ_ID": "7000000000001",
                "CLM_LINE_NDC_CD": "00093721410",
                "CLM_LINE_SRVC_UNIT_QTY": "30",
                "CLM_ADJSMT_TYPE_CD": "0",
                "CLM_EFCTV_DT": "2024-02-03",
            },
            # A later version of the same event (same natural key, IP §5.1.2) replaces it.
            pde
            | {
                "CUR_CLM_UNIQ_ID": "7000000000002",
                "CLM_LINE_NDC_CD": "00093721410",
                "CLM_LINE_SRVC_UNIT_QTY": "60.5",
                "CLM_ADJSMT_TYPE_CD": "2",
                "CLM_EFCTV_DT": "2024-03-01",
            },
        ],
    )
    out = tmp_path / "out"
    report = ingest(engine, "cclf", folder, out)
    [dme] = read(out, "medical_claims")
    assert (dme["claim_type"], dme["hcpcs_code"], dme["place_of_service"]) == ("dme", "E0601", "12")
    assert (dme["paid_amount"], dme["allowed_amount"], dme["billing_npi"]) == (
        Decimal("55.10"),
        Decimal("70.25"),
        "1234567893",
    )
    [fill] = read(out, "pharmacy_claims")
    assert (fill["claim_id"], fill["ndc"], fill["quantity"], fill["days_supply"]) == (
        "7000000000002",
        "00093721410",
        Decimal("60.500"),
        30,
    )
    assert (fill["original_claim_id"], fill["claim_version"], fill["adjustment_type"]) == (
        "7000000000001",
        2,
        "adjustment",
    )
    assert (fill["prescriber_npi"], fill["pharmacy_npi"]) == ("1497758544", "1093817304")
    assert report.tables["pharmacy_claims"].superseded == 1


# ---- the public BCDA samples ----------------------------------------------------------------------------
def test_bcda_samples_counts_checks_and_values(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = ingest(engine, "cclf", CCLF_FIXTURES, out)
    members = report.tables["members"]
    # small_ZC8.txt: 2,490 records whose positions 33-37 (BENE_DOB) hold "xxxxx": no valid birth date.
    assert (members.read, members.loaded, members.quarantined) == (2490, 0, 2490)
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert {(q["field"], q["reason"]) for q in quarantine} == {
        ("birth_date", "birth_date: not a valid date (YYYY-MM-DD)")
    }
    assert quarantine[0]["source_file"] == "small_ZC8.txt"
    assert quarantine[0]["record"] == "1S00A00AA001000079035         xxxxxxx"
    xref = sorted(read(out, "member_xref"), key=lambda r: r["source_line"])
    assert [
        (r["previous_id"], r["member_id"], str(r["effective_date"]), str(r["obsolete_date"])) for r in xref
    ] == [
        ("203031401A", "203031401M", "1959-12-31", "2016-12-31"),
        ("203031402B", "20303140244", "1959-12-31", "2016-12-31"),
    ]
    checks = {c.name.split(": ")[1]: c for c in report.checks}
    # small_ZC0.txt declares 2,490 CCLF8 records of 549 characters; the sample's records are 37 long.
    assert not checks["CCLF8"].passed
    assert checks["CCLF8"].detail == "longest record 37 characters, record length 549 declared"
    assert checks["CCLF9"].detail == "longest record 53 characters, record length 55 declared"
    assert checks["CCLF1"].detail == "6 record(s) declared, file not delivered"
    assert len(checks) == 11
    assert report.reconciles


# ---- failure modes -------------------------------------------------------------------------------------
def test_malformed_records_are_quarantined_with_file_line_and_reason(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = format_record("CCLF5", part_b_line("5000000000001", "1", "10", "0", "2024-01-05"))
    records = [
        good,  # line 1: loads
        good + "X",  # line 2: wrong width
        good[:40],  # line 3: truncated inside the identifying fields
        format_record(
            "CCLF5",
            part_b_line("5000000000002", "1", "10", "0", "2024-01-05") | {"CLM_FROM_DT": "2024-13-45"},
        ),
        format_record(
            "CCLF5", part_b_line("5000000000003", "1", "10", "0", "2024-01-05") | {"CLM_TYPE_CD": "99"}
        ),
        format_record(
            "CCLF5",
            part_b_line("5000000000004", "1", "10", "0", "2024-01-05") | {"CLM_LINE_SRVC_UNIT_QTY": "-2"},
        ),
        good,  # line 7: duplicate key of line 1
    ]
    data = "\n".join(records).encode() + b"\n" + good.replace("99213", "9921\xe9").encode("latin-1") + b"\n"
    folder.mkdir()
    (folder / "ZC5").write_bytes(data)
    out = tmp_path / "out"
    report = ingest(engine, "cclf", folder, out)
    quarantine = {q["source_line"]: q for q in pq.read_table(out / "quarantine.parquet").to_pylist()}
    assert sorted(quarantine) == [2, 3, 4, 5, 6, 7, 8]
    assert quarantine[2]["reason"] == "wrong record width: longer than the CCLF5 layout (388 characters)"
    assert quarantine[3]["reason"].startswith("truncated record: shorter than the 47 characters")
    assert quarantine[4]["reason"] == "claim_from_date: not a valid date (YYYY-MM-DD)"
    assert quarantine[5]["field"] == "claim_type"
    assert quarantine[5]["reason"].startswith("claim_type: unknown code (allowed: inpatient")
    assert quarantine[6]["reason"] == "units: negative value not allowed"
    assert (
        quarantine[7]["reason"] == "duplicate key (claim_id, claim_line_number): first loaded from ZC5 line 1"
    )
    assert quarantine[8]["reason"] == "invalid UTF-8 encoding (byte 0xe9 at column 102)"
    assert all(q["source_file"] == "ZC5" for q in quarantine.values())
    counts = report.tables["medical_claims"]
    assert (counts.read, counts.loaded, counts.quarantined) == (8, 1, 7)


def test_lines_without_a_header_are_quarantined(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(folder, "ZC1", "CCLF1", [part_a_header("1", "10", "0", "2024-01-01")])
    write(
        folder,
        "ZC2",
        "CCLF2",
        [
            {"CUR_CLM_UNIQ_ID": c, "CLM_LINE_NUM": "1", "BENE_MBI_ID": MBI, "CLM_TYPE_CD": "60"}
            for c in ("1", "2")
        ],
    )
    out = tmp_path / "out"
    report = ingest(engine, "cclf", folder, out)
    [orphan] = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert (orphan["source_file"], orphan["source_line"], orphan["field"]) == ("ZC2", 2, "CUR_CLM_UNIQ_ID")
    assert orphan["reason"] == "CCLF2 record links to nothing: no CCLF1 header with this CUR_CLM_UNIQ_ID"
    assert [r["claim_id"] for r in read(out, "medical_claims")] == ["0000000000001"]
    assert report.reconciles


def test_folder_without_cclf_files_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputFileError, match="no CCLF files found"):
        ingest(engine, "cclf", tmp_path, tmp_path / "out")
    with pytest.raises(InputFileError, match="no such file or folder"):
        ingest(engine, "cclf", tmp_path / "missing", tmp_path / "out")


# ---- engine parity -------------------------------------------------------------------------------------
@pytest.mark.spark
def test_spark_matches_duckdb_on_the_ip_example(
    spark_engine: Engine, duckdb_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write(folder, "ZC1", "CCLF1", TABLE_4)
    write(folder, "ZC5", "CCLF5", TABLE_6)
    totals = []
    for name, engine in (("duckdb", duckdb_engine), ("spark", spark_engine)):
        out = tmp_path / name
        ingest(engine, "cclf", folder, out)
        claims = engine.read_parquet(out / "medical_claims.parquet")
        result = engine.to_arrow(
            claims.group_by("claim_type")
            .agg(paid=claims.paid_amount.sum(), lines=claims.count())
            .order_by("claim_type")
        ).to_pylist()
        totals.append(result)
        shutil.rmtree(out)
    assert (
        totals[0]
        == totals[1]
        == [
            {"claim_type": "inpatient", "paid": Decimal("260.00"), "lines": 3},
            {"claim_type": "professional", "paid": Decimal("707.00"), "lines": 3},
        ]
    )
