"""CMS CCW RIF loader (the pipe-delimited files of Blue Button / BFD): ``apmkit ingest ccw-rif FOLDER``.

Each file starts with a header row whose first column is ``DML_IND``. A file's kind comes from its
columns, so any file name works: ``PDE_ID`` → Part D events, ``CLM_ID`` → claims (carrier, DME and the
five institutional types, told apart per row by ``NCH_CLM_TYPE_CD``), ``MDCR_ENTLMT_BUYIN_1_IND`` →
beneficiary (one row per beneficiary and reference year), ``EFCTV_END_DT`` → beneficiary history.

- beneficiary → ``members`` (the latest version of each ``BENE_ID``) and ``enrollment`` (one row per
  month of ``RFRNC_YR`` with Part A/B entitlement, Medicare Advantage or Part D coverage, from the
  monthly buy-in, HMO, Part D contract, dual and Medicare status columns);
- beneficiary history → ``member_xref`` (earlier ``MBI_NUM`` → ``BENE_ID``);
- claims → ``medical_claims``, one row per claim line; PDE → ``pharmacy_claims``.

``DML_IND`` rule: records are versions of a key (``BENE_ID``; ``BENE_ID`` + ``RFRNC_YR`` for enrollment;
``CLM_ID`` + line number; ``PDE_ID``; ``BENE_ID`` + ``MBI_NUM`` for history). In file-name then line order,
the last ``UPDATE`` of a key is the version loaded and every version before it is superseded (kept in
the quarantine with the reason and where the winning update is); without an update the first
``INSERT`` is loaded and a later ``INSERT`` of the same key is a duplicate. Claim families come from
``CLM_GRP_ID`` (the same across versions of one claim); ``FINAL_ACTION`` = ``F`` orders a version last.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.codes import NCH_CLAIM_TYPES
from apmkit.ingest.pipeline import Staged, union_raw
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, RawRecords, Reject, read_delimited
from apmkit.portable import trim_text

FORMAT = "ccw-rif"
PAYER = "medicare"
SUFFIXES = (".csv", ".txt", ".dat", ".rif")

INSTITUTIONAL = ("hha", "snf", "outpatient", "hospice", "inpatient")
SEX_CODES = {"0": "U", "1": "M", "2": "F"}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEPT", "OCT", "NOV", "DEC")
MONTH_NUMBERS = {
    "JAN": "01",
    "FEB": "02",
    "MAR": "03",
    "APR": "04",
    "MAY": "05",
    "JUN": "06",
    "JUL": "07",
    "AUG": "08",
    "SEP": "09",
    "OCT": "10",
    "NOV": "11",
    "DEC": "12",
}
# MDCR_ENTLMT_BUYIN_n_IND: 1/A Part A, 2/B Part B, 3/C both (A-C with state buy-in); 0 not entitled.
PART_A_BUYIN = ("1", "3", "A", "C")
PART_B_BUYIN = ("2", "3", "B", "C")
# HMO_n_IND: 1, 2, A, B, C = enrolled in a Medicare managed-care plan; 0 none; 4 = FFS demonstration.
MANAGED_CARE = ("1", "2", "A", "B", "C")
ESRD_STATUS_CODES = ("11", "21", "31")
DML_VALUES = ("INSERT", "UPDATE")

KINDS = ("beneficiary", "beneficiary_history", "claims", "pde")

# The source columns each kind maps from; the others stay in ``_record`` only. Keeping the tables narrow
# keeps the generated SQL small (RIF claim files have up to 275 columns).
_CLAIM_COLUMNS = {
    "CLM_ID",
    "CLM_GRP_ID",
    "FINAL_ACTION",
    "BENE_ID",
    "NCH_CLM_TYPE_CD",
    "CLM_FROM_DT",
    "CLM_THRU_DT",
    "NCH_WKLY_PROC_DT",
    "CLM_LINE_NUM",
    "LINE_NUM",
    "LINE_1ST_EXPNS_DT",
    "LINE_LAST_EXPNS_DT",
    "REV_CNTR_DT",
    "CLM_ADMSN_DT",
    "CLM_HOSPC_STRT_DT_ID",
    "NCH_BENE_DSCHRG_DT",
    "PRF_PHYSN_NPI",
    "RNDRNG_PHYSN_NPI",
    "PRVDR_SPCLTY",
    "ORG_NPI_NUM",
    "CARR_CLM_BLG_NPI_NUM",
    "TAX_NUM",
    "AT_PHYSN_NPI",
    "OP_PHYSN_NPI",
    "PRVDR_NUM",
    "LINE_PLACE_OF_SRVC_CD",
    "CLM_FAC_TYPE_CD",
    "CLM_SRVC_CLSFCTN_TYPE_CD",
    "CLM_FREQ_CD",
    "CLM_SRC_IP_ADMSN_CD",
    "PTNT_DSCHRG_STUS_CD",
    "REV_CNTR",
    "HCPCS_CD",
    "HCPCS_1ST_MDFR_CD",
    "HCPCS_2ND_MDFR_CD",
    "HCPCS_3RD_MDFR_CD",
    "HCPCS_4TH_MDFR_CD",
    "CLM_DRG_CD",
    "ADMTG_DGNS_CD",
    "PRNCPAL_DGNS_CD",
    "REV_CNTR_UNIT_CNT",
    "LINE_SRVC_CNT",
    "CLM_TOT_CHRG_AMT",
    "LINE_SBMTD_CHRG_AMT",
    "LINE_ALOWD_CHRG_AMT",
    "CLM_PMT_AMT",
    "LINE_NCH_PMT_AMT",
    *(f"ICD_DGNS_CD{i}" for i in range(1, 26)),
    *(f"ICD_PRCDR_CD{i}" for i in range(1, 26)),
}
_PDE_COLUMNS = {
    "PDE_ID",
    "CLM_GRP_ID",
    "FINAL_ACTION",
    "BENE_ID",
    "SRVC_DT",
    "PD_DT",
    "PROD_SRVC_ID",
    "QTY_DSPNSD_NUM",
    "DAYS_SUPLY_NUM",
    "PRSCRBR_ID",
    "SRVC_PRVDR_ID",
    "TOT_RX_CST_AMT",
    "CVRD_D_PLAN_PD_AMT",
    "BRND_GNRC_CD",
}
_BENEFICIARY_COLUMNS = {
    "BENE_ID",
    "RFRNC_YR",
    "BENE_BIRTH_DT",
    "DEATH_DT",
    "BENE_DEATH_DT",
    "BENE_SEX_IDENT_CD",
    "BENE_RACE_CD",
    "BENE_ZIP_CD",
    "STATE_CODE",
    "BENE_ENTLMT_RSN_ORIG",
    "BENE_ENTLMT_RSN_CURR",
    "BENE_ESRD_IND",
    "DUAL_MO_CNT",
    *(f"MDCR_ENTLMT_BUYIN_{n}_IND" for n in range(1, 13)),
    *(f"HMO_{n}_IND" for n in range(1, 13)),
    *(
        f"{prefix}_{mon}_{suffix}"
        for mon in MONTHS
        for prefix, suffix in (
            ("PTD_CNTRCT", "ID"),
            ("META_DUAL_ELGBL_STUS", "CD"),
            ("MDCR_STUS", "CD"),
            ("FIPS_STATE_CNTY", "CD"),
        )
    ),
}
_HISTORY_COLUMNS = {"BENE_ID", "MBI_NUM", "EFCTV_BGN_DT", "EFCTV_END_DT"}
_KEEP = {
    "beneficiary": _BENEFICIARY_COLUMNS,
    "beneficiary_history": _HISTORY_COLUMNS,
    "claims": _CLAIM_COLUMNS,
    "pde": _PDE_COLUMNS,
}


def _kind(header: Sequence[str]) -> str | None:
    names = set(header)
    if not header or header[0] != "DML_IND":
        return None
    if "PDE_ID" in names:
        return "pde"
    if "CLM_ID" in names:
        return "claims"
    if "MDCR_ENTLMT_BUYIN_1_IND" in names:
        return "beneficiary"
    if "BENE_ID" in names and "EFCTV_END_DT" in names:
        return "beneficiary_history"
    return None


def _header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return []
    return [name.strip() for name in text.rstrip("\r\n").split("|")]


def find_files(path: Path) -> dict[str, list[Path]]:
    """RIF files under ``path`` (a folder, or one file) by kind, in file-name order."""
    if not path.exists():
        raise InputFileError(path, "no such file or folder")
    candidates = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found: dict[str, list[Path]] = {}
    for candidate in candidates:
        if not candidate.name.lower().endswith(SUFFIXES):
            continue
        kind = _kind(_header(candidate))
        if kind is not None:
            found.setdefault(kind, []).append(candidate)
    if not found:
        raise InputFileError(
            path,
            "no CCW RIF files found (pipe-delimited files whose header starts with DML_IND and has "
            "PDE_ID, CLM_ID, MDCR_ENTLMT_BUYIN_1_IND or EFCTV_END_DT)",
        )
    return found


# ---- field helpers ------------------------------------------------------------------------------------
def _col(table: ibis.Table, *names: str) -> ir.StringValue:
    """The trimmed text of the first non-blank of ``names`` (NULL when blank or absent)."""
    present = [trim_text(table[name].cast("string")).nullif("") for name in names if name in table.columns]
    if not present:
        return ibis.null("string")
    return present[0] if len(present) == 1 else ibis.coalesce(*present)


def _date(text: ir.StringValue) -> ir.StringValue:
    """``27-OCT-1999`` (any letter case) as ``1999-10-27``; other text passes through for conform."""
    upper = text.upper()
    month = ibis.cases(
        *[(upper.substr(3, 3) == abbr, num) for abbr, num in MONTH_NUMBERS.items()], else_=None
    )
    shaped = upper.re_search(r"^[0-9]{2}-[A-Z]{3}[A-Z]?-[0-9]{4}$")
    # SEPT is written with four letters in some CCW extracts: the year is always the last four characters.
    iso = upper.substr(upper.length() - 4, 4).concat("-", month, "-", upper.substr(0, 2))
    return ibis.ifelse(shaped & month.notnull(), iso, text)


def _code(text: ir.StringValue, mapping: Mapping[str, str]) -> ir.StringValue:
    return ibis.cases(*[(text == code, value) for code, value in mapping.items()], else_=text)


def _two_digits(text: ir.StringValue) -> ir.StringValue:
    """Codes written without their leading zero (``1`` for ``01``) in some extracts."""
    return ibis.ifelse(text.re_search(r"^[0-9]$"), text.lpad(2, "0"), text)


def _zip5(text: ir.StringValue) -> ir.StringValue:
    """A ZIP+4 keeps its first five digits; a 3-4 digit ZIP lost its leading zeros."""
    return ibis.cases(
        (text.re_search(r"^[0-9]{9}$"), text.substr(0, 5)),
        (text.re_search(r"^[0-9]{3,4}$"), text.lpad(5, "0")),
        else_=text,
    )


def _provenance(table: ibis.Table) -> dict[str, ir.Value]:
    return {SOURCE_FILE: table[SOURCE_FILE], SOURCE_LINE: table[SOURCE_LINE], RECORD: table[RECORD]}


def _read(path: Path) -> RawRecords:
    """Read one RIF file; rows that end with a trailing ``|`` (one empty field more than the header,
    as in the BFD static samples) are read without that empty field."""
    records = read_delimited(path, delimiter="|", quoting=False)
    trailing = [
        r
        for r in records.rejects
        if r.reason == f"extra fields: expected {len(records.header)} fields, found {len(records.header) + 1}"
    ]
    if not trailing or not all(r.record.endswith("|") for r in trailing):
        return records
    data = path.read_bytes()
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=[*records.header, "_trailing"], skip_rows=1),
            parse_options=pcsv.ParseOptions(delimiter="|", quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys([*records.header, "_trailing"], pa.string()),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return records
    lines = data.decode("utf-8-sig").split("\n")
    body = [line.removesuffix("\r") for line in lines[1:]]
    if body and body[-1] == "":
        body.pop()
    if len(body) != table.num_rows or not all(line.strip() for line in body):
        return records  # blank lines would break line numbers: keep the exact reader's rejects
    if pc.any(pc.not_equal(table["_trailing"], "")).as_py():
        return records
    table = table.drop(["_trailing"])
    table = table.append_column(SOURCE_FILE, pa.array([path.name] * table.num_rows, pa.string()))
    table = table.append_column(SOURCE_LINE, pa.array(range(2, table.num_rows + 2), pa.int64()))
    table = table.append_column(RECORD, pa.array(body, pa.string()))
    return RawRecords(path, table, [], records.header)


# ---- staging ------------------------------------------------------------------------------------------
def stage(engine: Engine, path: Path) -> Staged:
    """Parse a folder of CCW RIF files into raw canonical tables for :func:`apmkit.ingest.pipeline.run`."""
    path = Path(path)
    files = find_files(path)
    staged = Staged(format=FORMAT, source=path)
    target = {
        "beneficiary": "members",
        "beneficiary_history": "member_xref",
        "claims": "medical_claims",
        "pde": "pharmacy_claims",
    }
    raw: dict[str, ibis.Table] = {}
    for kind in KINDS:
        parts = []
        for file in files.get(kind, []):
            staged.files.append(file.name)
            records = _read(file)
            staged.rejects.setdefault(target[kind], []).extend(records.rejects)
            keep = _KEEP[kind] | {"DML_IND", SOURCE_FILE, SOURCE_LINE, RECORD}
            parts.append(
                engine.from_arrow(records.table.select([c for c in records.table.column_names if c in keep]))
            )
        if parts:
            raw[kind] = engine.materialize(union_raw(parts))

    if "beneficiary" in raw:
        table = raw["beneficiary"]
        members = _apply_dml(engine, staged, table, ["BENE_ID"], "members")
        staged.add("members", _members(members))
        years = _apply_dml(engine, None, table, ["BENE_ID", "RFRNC_YR"], "enrollment")
        staged.add("enrollment", _enrollment(years))
    if "beneficiary_history" in raw:
        history = _apply_dml(
            engine, staged, raw["beneficiary_history"], ["BENE_ID", "MBI_NUM"], "member_xref"
        )
        staged.add("member_xref", _member_xref(history))
    if "claims" in raw:
        table = raw["claims"]
        lines = _apply_dml(engine, staged, table, ["CLM_ID", "CLM_LINE_NUM"], "medical_claims")
        staged.add("medical_claims", _claims(engine, lines))
    if "pde" in raw:
        events = _apply_dml(engine, staged, raw["pde"], ["PDE_ID"], "pharmacy_claims")
        staged.add("pharmacy_claims", _pde(engine, events))
    return staged


def _apply_dml(
    engine: Engine, staged: Staged | None, table: ibis.Table, keys: list[str], target: str
) -> ibis.Table:
    """Keep the loaded version of every key (module docstring); report the others when ``staged``."""
    key_exprs = [
        (ibis.coalesce(table[k].cast("string"), "") if k in table.columns else ibis.literal("")).name(
            f"_key{i}"
        )
        for i, k in enumerate(keys)
    ]
    if "CLM_LINE_NUM" in keys and "LINE_NUM" in table.columns:
        # Carrier and DME files number their lines LINE_NUM, the institutional files CLM_LINE_NUM.
        position = keys.index("CLM_LINE_NUM")
        key_exprs[position] = ibis.coalesce(_col(table, "CLM_LINE_NUM", "LINE_NUM"), "").name(
            f"_key{position}"
        )
    dml = trim_text(table.DML_IND.cast("string")).upper()
    marked = table.mutate(*key_exprs, _dml=dml)
    key_names = [f"_key{i}" for i in range(len(keys))]
    valid = marked._dml.isin(DML_VALUES).fill_null(False)
    partition = ibis.window(group_by=key_names)
    ordered = ibis.window(group_by=key_names, order_by=[SOURCE_FILE, SOURCE_LINE])
    good = marked.filter(valid)
    good = good.mutate(_position=ibis.row_number().over(ordered))
    update_position = ibis.ifelse(good._dml == "UPDATE", good._position, ibis.null("int64"))
    good = good.mutate(_winner=update_position.max().over(partition))
    good = good.mutate(_winner=ibis.coalesce(good._winner, 0))
    at_winner = good._position == good._winner
    good = good.mutate(
        _winner_file=ibis.ifelse(at_winner, good[SOURCE_FILE], ibis.null("string")).max().over(partition),
        _winner_line=ibis.ifelse(at_winner, good[SOURCE_LINE], ibis.null("int64")).max().over(partition),
    )
    good = engine.materialize(good)
    if staged is not None:
        superseded = good.filter(good._position < good._winner)
        found = engine.to_arrow(
            superseded.select(SOURCE_FILE, SOURCE_LINE, RECORD, "_winner_file", "_winner_line")
        ).to_pylist()
        unknown = engine.to_arrow(marked.filter(~valid).select(SOURCE_FILE, SOURCE_LINE, RECORD)).to_pylist()
        staged.rejects.setdefault(target, []).extend(
            [
                Reject(
                    r[SOURCE_FILE],
                    r[SOURCE_LINE],
                    "DML_IND",
                    f"superseded by the UPDATE record in {r['_winner_file']} line {r['_winner_line']}",
                    r[RECORD],
                )
                for r in found
            ]
            + [
                Reject(
                    r[SOURCE_FILE],
                    r[SOURCE_LINE],
                    "DML_IND",
                    f"DML_IND: unknown code (allowed: {', '.join(DML_VALUES)})",
                    r[RECORD],
                )
                for r in unknown
            ]
        )
    kept = good.filter(good._position >= good._winner)
    return kept.drop(*key_names, "_dml", "_position", "_winner", "_winner_file", "_winner_line")


# ---- beneficiaries ------------------------------------------------------------------------------------
def _latest(table: ibis.Table, template: str) -> ir.StringValue:
    """The latest non-blank monthly value (December back to January) of a ``..._{MON}_...`` column."""
    return ibis.coalesce(*[_col(table, template.format(mon=mon)) for mon in reversed(MONTHS)])


def _members(table: ibis.Table) -> ibis.Table:
    esrd = _col(table, "BENE_ESRD_IND")
    dual_months = _col(table, "DUAL_MO_CNT")
    return table.select(
        member_id=_col(table, "BENE_ID"),
        birth_date=_date(_col(table, "BENE_BIRTH_DT")),
        death_date=_date(_col(table, "DEATH_DT", "BENE_DEATH_DT")),
        sex=_code(_col(table, "BENE_SEX_IDENT_CD"), SEX_CODES),
        race_code=_col(table, "BENE_RACE_CD"),
        zip_code=_zip5(_col(table, "BENE_ZIP_CD")),
        state_code=_col(table, "STATE_CODE"),
        county_fips=_latest(table, "FIPS_STATE_CNTY_{mon}_CD"),
        dual_status_code=_dual(_latest(table, "META_DUAL_ELGBL_STUS_{mon}_CD")),
        orec=_col(table, "BENE_ENTLMT_RSN_ORIG"),
        crec=_col(table, "BENE_ENTLMT_RSN_CURR"),
        esrd=esrd,
        medicaid=ibis.ifelse(
            dual_months.re_search(r"^[0-9]+$"),
            ibis.ifelse(dual_months.cast("int64") > 0, "true", "false"),
            dual_months,
        ),
        **_provenance(table),
    )


def _dual(text: ir.StringValue) -> ir.StringValue:
    """Monthly dual status: ``**`` (no Medicaid data) is unknown; one-digit codes get their leading zero."""
    return ibis.ifelse(text == "**", ibis.null("string"), _two_digits(text))


def _enrollment(table: ibis.Table) -> ibis.Table:
    """One row per covered month of the beneficiary's reference year."""
    year = _col(table, "RFRNC_YR")
    months = []
    for number, mon in enumerate(MONTHS, start=1):
        buyin = _col(table, f"MDCR_ENTLMT_BUYIN_{number}_IND")
        hmo = _col(table, f"HMO_{number}_IND")
        part_d_contract = _col(table, f"PTD_CNTRCT_{mon}_ID")
        part_a = buyin.isin(PART_A_BUYIN).fill_null(False)
        part_b = buyin.isin(PART_B_BUYIN).fill_null(False)
        managed = hmo.isin(MANAGED_CARE).fill_null(False)
        part_d = part_d_contract.re_search(r"^[A-Z][0-9]{4}$").fill_null(False)
        status = _col(table, f"MDCR_STUS_{mon}_CD")
        month = table.mutate(
            member_id=_col(table, "BENE_ID"),
            month=year.concat(f"-{number:02d}-01"),
            payer=ibis.literal(PAYER),
            product=ibis.cases(
                (managed, "medicare_advantage"), (part_a | part_b, "medicare_ffs"), else_="medicare_part_d"
            ),
            line_of_business=ibis.cases(
                (managed, "medicare_advantage"), (part_a | part_b, "medicare_ffs"), else_="medicare_part_d"
            ),
            part_a=ibis.ifelse(part_a, "true", "false"),
            part_b=ibis.ifelse(part_b, "true", "false"),
            part_d=ibis.ifelse(part_d, "true", "false"),
            medicare_advantage=ibis.ifelse(managed, "true", "false"),
            dual_status_code=_dual(_col(table, f"META_DUAL_ELGBL_STUS_{mon}_CD")),
            esrd=ibis.ifelse(
                status.isnull(),
                ibis.null("string"),
                ibis.ifelse(status.isin(ESRD_STATUS_CODES), "true", "false"),
            ),
            _covered=part_a | part_b | managed | part_d,
        )
        covered = month.filter(month._covered)
        months.append(
            covered.select(
                "member_id",
                "month",
                "payer",
                "product",
                "line_of_business",
                "part_a",
                "part_b",
                "part_d",
                "medicare_advantage",
                "dual_status_code",
                "esrd",
                SOURCE_FILE,
                SOURCE_LINE,
                RECORD,
            )
        )
    return ibis.union(*months)


def _member_xref(table: ibis.Table) -> ibis.Table:
    return table.select(
        previous_id=_col(table, "MBI_NUM"),
        member_id=_col(table, "BENE_ID"),
        effective_date=_date(_col(table, "EFCTV_BGN_DT")),
        obsolete_date=_date(_col(table, "EFCTV_END_DT")),
        **_provenance(table),
    )


# ---- claims -------------------------------------------------------------------------------------------
def _claims(engine: Engine, table: ibis.Table) -> ibis.Table:
    claim_type = _code(_col(table, "NCH_CLM_TYPE_CD"), NCH_CLAIM_TYPES)
    institutional = claim_type.isin(INSTITUTIONAL)
    line_number = _col(table, "CLM_LINE_NUM", "LINE_NUM")
    first_line = (
        ibis.row_number().over(
            group_by=_col(table, "CLM_ID"),
            order_by=[line_number.lpad(10, "0"), table[SOURCE_FILE], table[SOURCE_LINE]],
        )
        == 0
    )
    zero = ibis.literal("0.00")

    def header_money(name: str) -> ir.StringValue:
        # Institutional payment and charges are claim-level: carried on the first line, 0 on the others.
        return ibis.ifelse(first_line, _col(table, name), zero)

    principal = _col(table, "PRNCPAL_DGNS_CD")
    first_dx = _col(table, "ICD_DGNS_CD1")
    # CCW repeats the principal diagnosis as ICD_DGNS_CD1 on most claims; it is not listed twice.
    repeats = (first_dx == principal).fill_null(False) | principal.isnull()
    diagnoses: dict[str, ir.Value] = {"dx_1": ibis.coalesce(principal, first_dx)}
    for slot in range(2, 26):
        diagnoses[f"dx_{slot}"] = ibis.ifelse(
            repeats, _col(table, f"ICD_DGNS_CD{slot}"), _col(table, f"ICD_DGNS_CD{slot - 1}")
        )
    drg = _col(table, "CLM_DRG_CD")
    status = _col(table, "PTNT_DSCHRG_STUS_CD")
    columns: dict[str, ir.Value] = {
        "claim_id": _col(table, "CLM_ID"),
        "claim_line_number": line_number,
        "claim_type": claim_type,
        "member_id": _col(table, "BENE_ID"),
        "payer": ibis.literal(PAYER),
        "line_of_business": ibis.literal("medicare_ffs"),
        "claim_from_date": _date(_col(table, "CLM_FROM_DT")),
        "claim_thru_date": _date(_col(table, "CLM_THRU_DT")),
        "service_date": _date(
            ibis.coalesce(_col(table, "LINE_1ST_EXPNS_DT", "REV_CNTR_DT"), _col(table, "CLM_FROM_DT"))
        ),
        "service_end_date": _date(_col(table, "LINE_LAST_EXPNS_DT")),
        "admission_date": _date(_col(table, "CLM_ADMSN_DT", "CLM_HOSPC_STRT_DT_ID")),
        "discharge_date": _date(_col(table, "NCH_BENE_DSCHRG_DT")),
        "rendering_npi": _col(table, "PRF_PHYSN_NPI", "RNDRNG_PHYSN_NPI"),
        "rendering_specialty": _two_digits(_col(table, "PRVDR_SPCLTY")),
        "billing_npi": ibis.ifelse(
            institutional, _col(table, "ORG_NPI_NUM"), _col(table, "CARR_CLM_BLG_NPI_NUM")
        ),
        "billing_tin": _col(table, "TAX_NUM"),
        "attending_npi": _col(table, "AT_PHYSN_NPI"),
        "operating_npi": _col(table, "OP_PHYSN_NPI"),
        "facility_ccn": _col(table, "PRVDR_NUM"),
        "place_of_service": _col(table, "LINE_PLACE_OF_SRVC_CD"),
        "bill_type": _col(table, "CLM_FAC_TYPE_CD").concat(
            _col(table, "CLM_SRVC_CLSFCTN_TYPE_CD"), _col(table, "CLM_FREQ_CD")
        ),
        "admit_source": _col(table, "CLM_SRC_IP_ADMSN_CD"),
        "discharge_status": _two_digits(status),
        "revenue_code": _col(table, "REV_CNTR"),
        "hcpcs_code": _col(table, "HCPCS_CD"),
        "hcpcs_modifier_1": _col(table, "HCPCS_1ST_MDFR_CD"),
        "hcpcs_modifier_2": _col(table, "HCPCS_2ND_MDFR_CD"),
        "hcpcs_modifier_3": _col(table, "HCPCS_3RD_MDFR_CD"),
        "hcpcs_modifier_4": _col(table, "HCPCS_4TH_MDFR_CD"),
        # A 4-character DRG with a leading zero is the 3-digit MS-DRG; other 4-character codes stay as sent.
        "ms_drg": ibis.ifelse((drg.length() == 4) & drg.startswith("0"), drg.substr(1, 3), drg),
        "admitting_dx": _col(table, "ADMTG_DGNS_CD"),
        **diagnoses,
        **{f"px_{i}": _col(table, f"ICD_PRCDR_CD{i}") for i in range(1, 26)},
        "units": ibis.ifelse(institutional, _col(table, "REV_CNTR_UNIT_CNT"), _col(table, "LINE_SRVC_CNT")),
        "charge_amount": ibis.ifelse(
            institutional, header_money("CLM_TOT_CHRG_AMT"), _col(table, "LINE_SBMTD_CHRG_AMT")
        ),
        "allowed_amount": ibis.ifelse(institutional, ibis.null("string"), _col(table, "LINE_ALOWD_CHRG_AMT")),
        "paid_amount": ibis.ifelse(
            institutional, header_money("CLM_PMT_AMT"), _col(table, "LINE_NCH_PMT_AMT")
        ),
        "processed_date": _date(_col(table, "NCH_WKLY_PROC_DT")),
        "_group": ibis.coalesce(_col(table, "CLM_GRP_ID"), _col(table, "CLM_ID")),
        "_final": _col(table, "FINAL_ACTION"),
    }
    claims = table.select(**columns, **_provenance(table))
    return _families(engine, claims)


def _families(engine: Engine, claims: ibis.Table) -> ibis.Table:
    """``original_claim_id`` = the group's first claim; ``claim_version`` orders the group's versions."""
    versions = claims.group_by("_group", "claim_id").agg(
        _processed=claims.processed_date.max(), _final_flag=(claims._final == "F").any()
    )
    order = [versions._final_flag.cast("int8"), ibis.coalesce(versions._processed, ""), versions.claim_id]
    window = ibis.window(group_by=versions._group, order_by=order)
    first = ibis.window(
        group_by=versions._group, order_by=[ibis.coalesce(versions._processed, ""), versions.claim_id]
    )
    versions = versions.mutate(
        _version=(ibis.row_number().over(window) + 1).cast("string"),
        _original=versions.claim_id.first().over(first),
    ).rename(_version_claim="claim_id")
    # Materialized: Spark mis-resolves a join of a table with an aggregate of itself.
    versions = engine.materialize(versions)
    joined = claims.left_join(versions.drop("_group"), claims.claim_id == versions._version_claim)
    joined = joined.mutate(
        original_claim_id=joined._original,
        claim_version=joined._version,
        adjustment_type=ibis.ifelse(joined._original == joined.claim_id, "original", "adjustment"),
    )
    return joined.drop(
        "_group", "_final", "_version_claim", "_processed", "_final_flag", "_version", "_original"
    )


def _brand_generic(code: ir.StringValue) -> ir.StringValue:
    """PDE ``BRND_GNRC_CD`` (B = brand, G = generic) as ``brand`` / ``generic``; another code passes through
    (conform quarantines it: ``brand_generic`` allows only the two), blank stays null."""
    upper = code.upper()
    return ibis.cases((upper == "B", "brand"), (upper == "G", "generic"), else_=code)


def _pde(engine: Engine, table: ibis.Table) -> ibis.Table:
    claims = table.select(
        claim_id=_col(table, "PDE_ID"),
        claim_line_number=ibis.literal("1"),
        member_id=_col(table, "BENE_ID"),
        payer=ibis.literal(PAYER),
        line_of_business=ibis.literal("medicare_part_d"),
        dispensing_date=_date(_col(table, "SRVC_DT")),
        ndc=_col(table, "PROD_SRVC_ID"),
        quantity=_col(table, "QTY_DSPNSD_NUM"),
        days_supply=_col(table, "DAYS_SUPLY_NUM"),
        prescriber_npi=_col(table, "PRSCRBR_ID"),
        pharmacy_npi=_col(table, "SRVC_PRVDR_ID"),
        allowed_amount=_col(table, "TOT_RX_CST_AMT"),
        paid_amount=_col(table, "CVRD_D_PLAN_PD_AMT"),
        # PDE brand/generic code: B brand, G generic (other or blank values left for conform to quarantine/null)
        brand_generic=_brand_generic(_col(table, "BRND_GNRC_CD")),
        processed_date=_date(_col(table, "PD_DT")),
        _group=ibis.coalesce(_col(table, "CLM_GRP_ID"), _col(table, "PDE_ID")),
        _final=_col(table, "FINAL_ACTION"),
        **_provenance(table),
    )
    return _families(engine, claims)
