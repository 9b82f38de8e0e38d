"""CMS Claim and Claim Line Feed (CCLF) loader: ``apmkit ingest cclf FOLDER``.

The CCLF files are fixed-width text files whose layouts are published in the CMS ACO-OS *CCLF
Information Packet* (IP v38.0, Appendix B; package data ``layouts/cclf_layouts.csv``). Every field is cut
out of the record with ibis ``substr`` over the whole file at once; nothing loops over records in Python.

What each file becomes (docs/formats-cms.md has the full mapping):

- CCLF1 (Part A header) + CCLF2 (revenue centre lines) + CCLF3 (procedures) + CCLF4 (diagnoses) +
  CCLFA (admission date) → institutional ``medical_claims`` lines, typed by ``CLM_TYPE_CD``;
- CCLF5 → ``professional`` lines, CCLF6 → ``dme`` lines, CCLF7 → ``pharmacy_claims``;
- CCLF8 → ``members``; CCLF9 → ``member_xref``, and every table's ``member_id`` is re-keyed to the
  current MBI (IP §3.1);
- CCLFB is checked (record width, link to a Part B line) but has no canonical column to land in;
- CCLF0 is compared with what was read (record counts and lengths): one ``Check`` per file.

Adjustments follow the IP's debit/credit rules (§4.4, §5.1–5.2): claims are grouped by the natural key
of their file and their payment, and within a group the k-th cancellation (``CLM_ADJSMT_TYPE_CD`` 1, in
effective-date order) cancels the k-th original or adjustment claim. A cancelled claim and its cancellation form one
family whose final action is the void; every other claim is its own final action. Part D claims are
final-action claims already: within a natural-key group the latest one is the final action.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import ibis
import ibis.expr.types as ir

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.codes import INSTITUTIONAL_CLAIM_TYPES
from apmkit.ingest.pipeline import Staged, union_raw
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject, read_lines, stream_lines
from apmkit.ingest.report import Check
from apmkit.portable import trim_text

FORMAT = "cclf"
PAYER = "medicare"
LINE_OF_BUSINESS = "medicare_ffs"

PROFESSIONAL_CLAIM_TYPES = {"71": "professional", "72": "professional"}
DME_CLAIM_TYPES = {"81": "dme", "82": "dme"}
ADJUSTMENT_TYPES = {"0": "original", "1": "void", "2": "adjustment"}
# BENE_SEX_CD (IP v38 Table 21 element 7).
SEX_CODES = {"0": "U", "1": "M", "2": "F"}
# BENE_MDCR_STUS_CD with ESRD (IP v38 Table 21 element 10): 11 aged, 21 disabled, 31 ESRD only.
ESRD_STATUS_CODES = ("11", "21", "31")
# Inpatient and SNF claims whose patient status is "still a patient" have no discharge yet.
STILL_PATIENT = "30"

# Fields a record must contain, at least, to be read at all (identifiers and claim type).
KEY_FIELDS = {
    "CCLF1": "CLM_TYPE_CD",
    "CCLF2": "CLM_TYPE_CD",
    "CCLF3": "CLM_TYPE_CD",
    "CCLF4": "CLM_TYPE_CD",
    "CCLF5": "CLM_TYPE_CD",
    "CCLF6": "CLM_TYPE_CD",
    "CCLF7": "CLM_TYPE_CD",
    "CCLF8": "BENE_MBI_ID",
    "CCLF9": "PRVS_NUM",
    "CCLFA": "CLM_TYPE_CD",
    "CCLFB": "CLM_TYPE_CD",
}
# The canonical table a malformed record of each file would have fed (for the quarantine).
TARGET_TABLE = {
    "CCLF1": "medical_claims",
    "CCLF2": "medical_claims",
    "CCLF3": "medical_claims",
    "CCLF4": "medical_claims",
    "CCLF5": "medical_claims",
    "CCLF6": "medical_claims",
    "CCLF7": "pharmacy_claims",
    "CCLF8": "members",
    "CCLF9": "member_xref",
    "CCLFA": "medical_claims",
    "CCLFB": "medical_claims",
}

_CMS_NAME = re.compile(r"\.ZC([0-9AB])[YR]\d{2}\.", re.IGNORECASE)
_SIMPLE_NAME = re.compile(r"^(?:.*[_.-])?(?:ZC|CCLF)([0-9AB])(?:\.(?:txt|dat))?$", re.IGNORECASE)
_DELIVERY_TIME = re.compile(r"\.T\d+$", re.IGNORECASE)


# ---- layouts ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One field of a CCLF record: 1-based inclusive positions and the IP's picture."""

    name: str
    start: int
    end: int
    format: str

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def is_date(self) -> bool:
        return self.format == "YYYY-MM-DD"

    @property
    def is_digits(self) -> bool:
        return self.format.startswith("9(")

    @property
    def decimals(self) -> int | None:
        """Digits after the explicit decimal point of a signed amount picture (``-9(13).99`` → 2)."""
        if self.format.startswith("-9(") and "." in self.format:
            return len(self.format.rsplit(".", 1)[1])
        return None


@dataclass(frozen=True)
class Layout:
    """The record layout of one CCLF file (``CCLF1`` ... ``CCLFB``)."""

    file: str
    fields: tuple[Field, ...]

    @property
    def record_length(self) -> int:
        return max(f.end for f in self.fields)

    @property
    def minimum_length(self) -> int:
        """Shortest record that still holds the identifying fields."""
        return self[KEY_FIELDS[self.file]].end

    def __getitem__(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.file} has no field {name}")


@cache
def layouts() -> dict[str, Layout]:
    """The CCLF1-CCLFB layouts of the CCLF IP v38 (package data, see layouts/SOURCES.md)."""
    text = resources.files("apmkit.ingest.layouts").joinpath("cclf_layouts.csv").read_text()
    grouped: dict[str, list[Field]] = {}
    for row in csv.DictReader(text.splitlines()):
        grouped.setdefault(row["file"], []).append(
            Field(row["name"], int(row["start"]), int(row["end"]), row["format"])
        )
    return {name: Layout(name, tuple(fields)) for name, fields in grouped.items()}


def format_record(file: str, values: Mapping[str, object]) -> str:
    """Write one fixed-width record of ``file`` (e.g. ``"CCLF5"``) exactly per the layout.

    Used to build test and benchmark files. Text is left-justified and blank-padded, ``9(n)`` digits are
    zero-padded on the left, signed amounts are written as the picture says (a sign position, ``-`` or
    blank, then zero-padded digits, the decimal point and the decimals), dates as ``YYYY-MM-DD``.
    Fields not given are blank.

    Raises
    ------
    ValueError
        A value does not fit its field or is not a number where one is needed.
    """
    layout = layouts()[file]
    unknown = set(values) - {f.name for f in layout.fields}
    if unknown:
        raise ValueError(f"{file} has no field(s) {', '.join(sorted(unknown))}")
    out = [" "] * layout.record_length
    for field in layout.fields:
        value = values.get(field.name)
        if value is None or value == "":
            continue
        text = _format_value(field, value)
        if len(text) != field.length:
            raise ValueError(f"{file} {field.name}: {value!r} does not fit {field.format}")
        out[field.start - 1 : field.end] = list(text)
    return "".join(out)


def _format_value(field: Field, value: object) -> str:
    if field.is_date:
        return value.isoformat() if isinstance(value, date) else str(value)
    decimals = field.decimals
    if decimals is not None:
        amount = Decimal(str(value))
        quantum = Decimal(1).scaleb(-decimals)
        if amount != amount.quantize(quantum):
            raise ValueError(f"{field.name}: {value!r} has more than {decimals} decimals")
        digits = f"{abs(amount):.{decimals}f}".rjust(field.length - 1, "0")
        return ("-" if amount < 0 else " ") + digits
    if field.is_digits:
        text = str(value)
        if not text.isdigit():
            raise ValueError(f"{field.name}: {value!r} is not digits")
        return text.rjust(field.length, "0")
    return str(value).ljust(field.length)


# ---- finding files ------------------------------------------------------------------------------------
def cclf_file_number(name: str) -> str | None:
    """``CCLF1`` ... ``CCLFB`` or ``CCLF0`` from a file name, or None when it is not a CCLF name.

    Recognizes the CMS names (``P.A1234.ACO.ZC1Y24.D240101.T1234567``, ``ZCR`` for run-out) and the
    simple names ``ZC1``, ``small_ZC8.txt``, ``cclf1``, ``cclfb.txt``.
    """
    match = _CMS_NAME.search(name) or _SIMPLE_NAME.match(name)
    return f"CCLF{match.group(1).upper()}" if match else None


def _delivery(name: str) -> str:
    """Files of one delivery share their name apart from the file number (and creation time)."""
    match = _CMS_NAME.search(name) or _SIMPLE_NAME.match(name)
    assert match is not None
    masked = name[: match.start(1)] + "#" + name[match.end(1) :]
    return _DELIVERY_TIME.sub("", masked).lower()


def find_files(path: Path) -> dict[str, list[Path]]:
    """CCLF files under ``path`` (a folder, or one file) by file number."""
    if not path.exists():
        raise InputFileError(path, "no such file or folder")
    candidates = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found: dict[str, list[Path]] = {}
    for candidate in candidates:
        number = cclf_file_number(candidate.name)
        if number is not None:
            found.setdefault(number, []).append(candidate)
    if not found:
        raise InputFileError(
            path,
            "no CCLF files found (expected CMS names like P.A1234.ACO.ZC1Y24.D240101.T1234567, "
            "or ZC1 ... ZCB, cclf1 ... cclfb)",
        )
    return found


# ---- reading records ----------------------------------------------------------------------------------
@dataclass
class _FileRecords:
    table: ibis.Table  # one row per accepted record, padded to the layout's width
    rejects: list[Reject]
    read: int
    max_length: int


def _read_file(engine: Engine, path: Path, layout: Layout, staged: Staged) -> _FileRecords:
    # The lines are streamed to Parquet (bounded memory); widths are checked by the engine over the file.
    target = staged.scratch() / f"{len(list(staged.scratch().iterdir()))}-{layout.file}.parquet"
    raw = stream_lines(path, target)
    records = engine.read_parquet(raw.parquet)
    length = records[RECORD].length()
    too_long = length > layout.record_length
    too_short = length < layout.minimum_length
    stats = engine.to_arrow(
        records.aggregate(
            max_length=length.max(),
            bad=(too_long | too_short).cast("int64").sum(),
            short=((length < layout.record_length) & ~too_short).cast("int64").sum(),
        )
    ).to_pylist()[0]
    rejects = list(raw.rejects)
    if stats["bad"]:
        long_reason = (
            f"wrong record width: longer than the {layout.file} layout ({layout.record_length} characters)"
        )
        short_reason = (
            f"truncated record: shorter than the {layout.minimum_length} characters that hold the "
            f"{layout.file} identifying fields"
        )
        bad = engine.to_arrow(
            records.filter(too_long | too_short).select(SOURCE_LINE, RECORD, _long=too_long)
        ).to_pylist()
        rejects.extend(
            Reject(
                path.name, row[SOURCE_LINE], None, long_reason if row["_long"] else short_reason, row[RECORD]
            )
            for row in bad
        )
    short = stats["short"] or 0
    if short:
        # Fields are only ever appended to the CCLF layouts, and trailing blanks are often trimmed:
        # a shorter record is read with its missing trailing fields blank.
        staged.warnings.append(
            f"{path.name}: {short} record(s) shorter than the {layout.file} layout "
            f"({layout.record_length} characters) were read with the missing trailing fields blank"
        )
    table = records.filter(~(too_long | too_short)) if stats["bad"] else records
    table = table.mutate(_padded=table[RECORD].rpad(layout.record_length, " "))
    rejects.sort(key=lambda r: r.source_line)
    return _FileRecords(table, rejects, raw.read, stats["max_length"] or 0)


def _field(table: ibis.Table, layout: Layout, name: str) -> ir.StringValue:
    """The trimmed text of one field (NULL when blank)."""
    field = layout[name]
    return trim_text(table._padded.substr(field.start - 1, field.length)).nullif("")


def _amount(text: ir.StringValue) -> ir.StringValue:
    """A signed explicit-decimal amount (``-0000000000030.18``) as plain decimal text."""
    # A blank sign position leaves "0000000000030.18", which parses as it is; conform checks the rest.
    return text.replace(" ", "")


def _quantity(text: ir.StringValue) -> ir.StringValue:
    """A ``-9(18).9999`` quantity as text with at most three decimals when the fourth is zero."""
    cleaned = text.replace(" ", "")
    return ibis.ifelse(cleaned.re_search(r"\.[0-9]{3}0$"), cleaned.substr(0, cleaned.length() - 1), cleaned)


def _code(text: ir.StringValue, mapping: Mapping[str, str]) -> ir.StringValue:
    """Map source codes to canonical values; unknown codes pass through so conform rejects them."""
    return ibis.cases(*[(text == code, value) for code, value in mapping.items()], else_=text)


def _provenance(table: ibis.Table) -> dict[str, ir.Value]:
    return {SOURCE_FILE: table[SOURCE_FILE], SOURCE_LINE: table[SOURCE_LINE], RECORD: table[RECORD]}


# ---- staging ------------------------------------------------------------------------------------------
def _require_records(file: Path) -> None:
    """A delivered CCLF file with no records (0 bytes or only blanks) is an error, never an empty table."""
    with open(file, "rb") as handle:
        while chunk := handle.read(1 << 20):
            if chunk.strip():
                return
    raise InputFileError(file, "file is empty (no records): a delivered CCLF file must hold its records")


def stage(engine: Engine, path: Path) -> Staged:
    """Parse a folder of CCLF files into raw canonical tables for :func:`apmkit.ingest.pipeline.run`."""
    path = Path(path)
    files = find_files(path)
    staged = Staged(format=FORMAT, source=path)
    all_layouts = layouts()
    parsed: dict[str, ibis.Table] = {}
    read_counts: dict[Path, tuple[int, int]] = {}
    for number, paths in sorted(files.items()):
        staged.files.extend(p.name for p in paths)
        for file in paths:
            _require_records(file)
        if number == "CCLF0":
            continue
        parts = []
        for file in paths:
            records = _read_file(engine, file, all_layouts[number], staged)
            read_counts[file] = (records.read, records.max_length)
            if records.rejects:
                staged.rejects.setdefault(TARGET_TABLE[number], []).extend(records.rejects)
            parts.append(records.table)
        parsed[number] = engine.materialize(union_raw(parts)) if len(parts) > 1 else parts[0]

    staged.checks.extend(_summary_checks(files, read_counts))
    xref = _member_xref(parsed.get("CCLF9"), all_layouts) if "CCLF9" in parsed else None
    if xref is not None:
        staged.add("member_xref", xref)
        current_ids = engine.materialize(_current_ids(xref))
    else:
        current_ids = None

    def rekey(table: ibis.Table) -> ibis.Table:
        return _rekey(table, current_ids) if current_ids is not None else table

    if "CCLF8" in parsed:
        staged.add("members", rekey(_members(parsed["CCLF8"], all_layouts["CCLF8"])))
    if "CCLF1" in parsed or "CCLF2" in parsed:
        _stage_institutional(engine, staged, parsed, rekey)
    for number, claim_types in (("CCLF5", PROFESSIONAL_CLAIM_TYPES), ("CCLF6", DME_CLAIM_TYPES)):
        if number in parsed:
            lines = rekey(_part_b_lines(parsed[number], all_layouts[number], claim_types))
            staged.add(
                "medical_claims", _with_families(engine, staged, lines, ["_cntl_num", "member_id"], number)
            )
    if "CCLFB" in parsed:
        _check_orphans(
            engine,
            staged,
            parsed["CCLFB"],
            all_layouts["CCLFB"],
            [parsed[n] for n in ("CCLF5", "CCLF6") if n in parsed],
            [all_layouts[n] for n in ("CCLF5", "CCLF6") if n in parsed],
            with_line=True,
            what="no CCLF5 or CCLF6 line with this CUR_CLM_UNIQ_ID and CLM_LINE_NUM",
        )
    if "CCLF7" in parsed:
        staged.add(
            "pharmacy_claims", _part_d(engine, rekey(_part_d_raw(parsed["CCLF7"], all_layouts["CCLF7"])))
        )
    return staged


# ---- CCLF0 --------------------------------------------------------------------------------------------
def _summary_checks(files: dict[str, list[Path]], read: dict[Path, tuple[int, int]]) -> list[Check]:
    """Compare each CCLF0's declared record counts and lengths with the records read."""
    checks: list[Check] = []
    for summary in files.get("CCLF0", []):
        delivery = _delivery(summary.name)
        declared, problems = _read_summary(summary)
        if problems:
            checks.append(Check(f"{summary.name}: records", False, "; ".join(problems)))
        for number, (count, length) in sorted(declared.items()):
            delivered = [
                p for p in files.get(number, []) if _delivery(p.name) == delivery or len(files["CCLF0"]) == 1
            ]
            name = f"{summary.name}: {number}"
            if not delivered:
                checks.append(Check(name, count == 0, f"{count} record(s) declared, file not delivered"))
                continue
            got = sum(read[p][0] for p in delivered)
            longest = max(read[p][1] for p in delivered)
            problems = []
            if got != count:
                problems.append(f"{got} record(s) read, {count} declared")
            if length is not None and longest != length:
                problems.append(f"longest record {longest} characters, record length {length} declared")
            detail = (
                "; ".join(problems) if problems else f"{got} record(s) of {length} characters as declared"
            )
            checks.append(Check(name, not problems, detail))
    return checks


def _read_summary(path: Path) -> tuple[dict[str, tuple[int, int | None]], list[str]]:
    """The CCLF0 detail records: file number → (record count, record length) (IP v38 Table 26),
    and the problems of records that could not be read (reported as a failed check)."""
    declared: dict[str, tuple[int, int | None]] = {}
    raw = read_lines(path)
    problems = [f"line {r.source_line}: {r.reason}" for r in raw.rejects]
    for line, record in zip(raw.table[SOURCE_LINE].to_pylist(), raw.table[RECORD].to_pylist(), strict=True):
        parts = [p.strip() for p in record.split("|")]
        number = parts[0].upper()
        if not re.fullmatch(r"CCLF[1-9AB]", number):
            continue  # the header record and blank filler
        if len(parts) < 3 or not parts[2].isdigit():
            problems.append(f"line {line}: Total Records Count is not a whole number")
            continue
        length = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
        declared[number] = (int(parts[2]), length)
    return declared, problems


# ---- members and MBI cross-reference ------------------------------------------------------------------
def _members(table: ibis.Table, layout: Layout) -> ibis.Table:
    def f(name: str) -> ir.StringValue:
        return _field(table, layout, name)

    state, county = f("BENE_FIPS_STATE_CD"), f("BENE_FIPS_CNTY_CD")
    status = f("BENE_MDCR_STUS_CD")
    orec = f("BENE_ORGNL_ENTLMT_RSN_CD")
    return table.select(
        member_id=f("BENE_MBI_ID"),
        birth_date=f("BENE_DOB"),
        death_date=f("BENE_DEATH_DT"),
        sex=_code(f("BENE_SEX_CD"), SEX_CODES),
        race_code=f("BENE_RACE_CD"),
        zip_code=f("BENE_ZIP_CD"),
        state_code=f("GEO_USPS_STATE_CD"),
        county_fips=state.concat(county),
        dual_status_code=f("BENE_DUAL_STUS_CD"),
        # 4 = unknown (IP v38 Table 21 element 18): no reason is recorded.
        orec=ibis.ifelse(orec == "4", ibis.null("string"), orec),
        esrd=ibis.ifelse(
            status.isnull(), ibis.null("string"), ibis.ifelse(status.isin(ESRD_STATUS_CODES), "true", "false")
        ),
        **_provenance(table),
    )


def _member_xref(table: ibis.Table | None, all_layouts: dict[str, Layout]) -> ibis.Table:
    assert table is not None
    layout = all_layouts["CCLF9"]
    return table.select(
        previous_id=_field(table, layout, "PRVS_NUM"),
        member_id=_field(table, layout, "CRNT_NUM"),
        effective_date=_field(table, layout, "PRVS_ID_EFCTV_DT"),
        obsolete_date=_field(table, layout, "PRVS_ID_OBSLT_DT"),
        **_provenance(table),
    )


def _current_ids(xref: ibis.Table) -> ibis.Table:
    """previous id → current id; an id listed with two current ids keeps the smallest, deterministically."""
    usable = xref.filter(xref.previous_id.notnull() & xref.member_id.notnull())
    return usable.group_by(_previous=usable.previous_id).agg(_current=usable.member_id.min())


def _rekey(table: ibis.Table, current_ids: ibis.Table) -> ibis.Table:
    """Replace previous MBIs with the current MBI (IP §3.1, §5.1.1)."""
    joined = table.left_join(current_ids, table.member_id == current_ids._previous)
    return joined.mutate(member_id=ibis.coalesce(joined._current, joined.member_id)).drop(
        "_previous", "_current"
    )


# ---- Part A -------------------------------------------------------------------------------------------
def _stage_institutional(
    engine: Engine, staged: Staged, parsed: dict[str, ibis.Table], rekey: Callable[[ibis.Table], ibis.Table]
) -> None:
    all_layouts = layouts()
    header_file = [parsed["CCLF1"]] if "CCLF1" in parsed else []
    header_layout = [all_layouts["CCLF1"]] if "CCLF1" in parsed else []
    for number in ("CCLF2", "CCLF3", "CCLF4", "CCLFA"):
        if number in parsed:
            _check_orphans(
                engine,
                staged,
                parsed[number],
                all_layouts[number],
                header_file,
                header_layout,
                with_line=False,
                what="no CCLF1 header with this CUR_CLM_UNIQ_ID",
            )
    if "CCLF1" not in parsed:
        return
    headers = rekey(_part_a_headers(parsed["CCLF1"], all_layouts["CCLF1"]))
    headers = _with_families(
        engine, staged, headers, ["_oscar", "claim_from_date", "claim_thru_date", "member_id"], "CCLF1"
    )
    if "CCLF4" in parsed:
        headers = _attach_diagnoses(headers, parsed["CCLF4"], all_layouts["CCLF4"])
    if "CCLF3" in parsed:
        headers = _attach_procedures(headers, parsed["CCLF3"], all_layouts["CCLF3"])
    if "CCLFA" in parsed:
        layout = all_layouts["CCLFA"]
        demo = parsed["CCLFA"]
        admissions = demo.group_by(_claim=_field(demo, layout, "CUR_CLM_UNIQ_ID")).agg(
            _admission=_field(demo, layout, "CLM_ACTV_CARE_FROM_DT").max()
        )
        headers = headers.left_join(admissions, headers.claim_id == admissions._claim).drop("_claim")
        headers = headers.mutate(admission_date=headers._admission).drop("_admission")
    lines = _part_a_lines(parsed["CCLF2"], all_layouts["CCLF2"]) if "CCLF2" in parsed else None
    staged.add("medical_claims", _institutional_lines(headers, lines))


def _part_a_headers(table: ibis.Table, layout: Layout) -> ibis.Table:
    def f(name: str) -> ir.StringValue:
        return _field(table, layout, name)

    claim_type = _code(f("CLM_TYPE_CD"), INSTITUTIONAL_CLAIM_TYPES)
    drg = f("DGNS_DRG_CD")
    status = f("BENE_PTNT_STUS_CD")
    stays = f("CLM_TYPE_CD").isin(["20", "30", "60", "61"])
    return table.select(
        claim_id=f("CUR_CLM_UNIQ_ID"),
        claim_type=claim_type,
        member_id=f("BENE_MBI_ID"),
        claim_from_date=f("CLM_FROM_DT"),
        claim_thru_date=f("CLM_THRU_DT"),
        discharge_date=ibis.ifelse(
            stays & (status != STILL_PATIENT).fill_null(True), f("CLM_THRU_DT"), ibis.null("string")
        ),
        billing_npi=f("FAC_PRVDR_NPI_NUM"),
        attending_npi=f("ATNDG_PRVDR_NPI_NUM"),
        operating_npi=f("OPRTG_PRVDR_NPI_NUM"),
        facility_ccn=f("PRVDR_OSCAR_NUM"),
        bill_type=f("CLM_BILL_FAC_TYPE_CD").concat(f("CLM_BILL_CLSFCTN_CD"), f("CLM_BILL_FREQ_CD")),
        admit_source=f("CLM_ADMSN_SRC_CD"),
        discharge_status=status,
        # DGNS_DRG_CD is 4 characters; MS-DRGs are 3 digits with a leading zero in the first position.
        ms_drg=ibis.ifelse((drg.length() == 4) & drg.startswith("0"), drg.substr(1, 3), drg),
        admitting_dx=f("ADMTG_DGNS_CD"),
        dx_1=f("PRNCPL_DGNS_CD"),
        paid_amount=_amount(f("CLM_PMT_AMT")),
        charge_amount=_amount(f("CLM_MDCR_INSTNL_TOT_CHRG_AMT")),
        adjustment_code=f("CLM_ADJSMT_TYPE_CD"),
        processed_date=f("CLM_EFCTV_DT"),
        _oscar=f("CLM_BLG_PRVDR_OSCAR_NUM"),
        _header_file=table[SOURCE_FILE],
        _header_line=table[SOURCE_LINE],
        _header_record=table[RECORD],
    )


def _part_a_lines(table: ibis.Table, layout: Layout) -> ibis.Table:
    def f(name: str) -> ir.StringValue:
        return _field(table, layout, name)

    return table.select(
        _line_claim=f("CUR_CLM_UNIQ_ID"),
        claim_line_number=f("CLM_LINE_NUM"),
        _line_from=f("CLM_LINE_FROM_DT"),
        service_end_date=f("CLM_LINE_THRU_DT"),
        revenue_code=f("CLM_LINE_PROD_REV_CTR_CD"),
        hcpcs_code=f("CLM_LINE_HCPCS_CD"),
        hcpcs_modifier_1=f("HCPCS_1_MDFR_CD"),
        hcpcs_modifier_2=f("HCPCS_2_MDFR_CD"),
        hcpcs_modifier_3=f("HCPCS_3_MDFR_CD"),
        hcpcs_modifier_4=f("HCPCS_4_MDFR_CD"),
        units=_quantity(f("CLM_LINE_SRVC_UNIT_QTY")),
        **_provenance(table),
    )


def _institutional_lines(headers: ibis.Table, lines: ibis.Table | None) -> ibis.Table:
    """One row per revenue centre line with the header repeated; claim-level money on the first line.

    The Part A payment and total charge are claim-level amounts (IP §5.3.1 sums ``CLM_PMT_AMT`` from the
    header): they are carried on the claim's first line and the other lines carry 0, so that a sum over
    lines is the claim's amount. A header without revenue centre lines becomes one line numbered 0.
    """
    if lines is None:
        joined = headers.mutate(
            claim_line_number=ibis.literal("0"),
            _line_from=ibis.null("string"),
            **{
                SOURCE_FILE: headers._header_file,
                SOURCE_LINE: headers._header_line,
                RECORD: headers._header_record,
            },
        )
    else:
        joined = headers.left_join(lines, headers.claim_id == lines._line_claim)
        joined = joined.mutate(
            claim_line_number=ibis.coalesce(joined.claim_line_number, ibis.literal("0")),
            **{
                SOURCE_FILE: ibis.coalesce(joined[SOURCE_FILE], joined._header_file),
                SOURCE_LINE: ibis.coalesce(joined[SOURCE_LINE], joined._header_line),
                RECORD: ibis.coalesce(joined[RECORD], joined._header_record),
            },
        )
    order = ibis.window(
        group_by=joined.claim_id, order_by=[joined.claim_line_number.lpad(10, "0"), joined[SOURCE_LINE]]
    )
    first = ibis.row_number().over(order) == 0
    zero = ibis.literal("0.00")
    joined = joined.mutate(
        service_date=ibis.coalesce(joined._line_from, joined.claim_from_date),
        paid_amount=ibis.ifelse(first, joined.paid_amount, zero),
        charge_amount=ibis.ifelse(first, joined.charge_amount, zero),
        payer=ibis.literal(PAYER),
        line_of_business=ibis.literal(LINE_OF_BUSINESS),
    )
    drop = [c for c in joined.columns if c.startswith("_") and c != RECORD]
    return joined.drop(*drop)


def _attach_diagnoses(headers: ibis.Table, table: ibis.Table, layout: Layout) -> ibis.Table:
    """dx_2..dx_25: CCLF4 codes other than the principal, in CLM_VAL_SQNC_NUM order."""
    codes = table.select(
        _claim=_field(table, layout, "CUR_CLM_UNIQ_ID"),
        _sequence=_field(table, layout, "CLM_VAL_SQNC_NUM").lpad(2, "0"),
        _code=_field(table, layout, "CLM_DGNS_CD"),
        _line=table[SOURCE_LINE],
    )
    principal = headers.select(_p_claim=headers.claim_id, _principal=headers.dx_1)
    codes = codes.left_join(principal, codes._claim == principal._p_claim)
    codes = codes.filter(codes._code.notnull() & (codes._code != ibis.coalesce(codes._principal, "")))
    return _pivot(headers, codes, "dx", first=2, last=25)


def _attach_procedures(headers: ibis.Table, table: ibis.Table, layout: Layout) -> ibis.Table:
    """px_1..px_25: CCLF3 procedure codes in CLM_VAL_SQNC_NUM order."""
    codes = table.select(
        _claim=_field(table, layout, "CUR_CLM_UNIQ_ID"),
        _sequence=_field(table, layout, "CLM_VAL_SQNC_NUM").lpad(2, "0"),
        _code=_field(table, layout, "CLM_PRCDR_CD"),
        _line=table[SOURCE_LINE],
    )
    return _pivot(headers, codes.filter(codes._code.notnull()), "px", first=1, last=25)


def _pivot(headers: ibis.Table, codes: ibis.Table, prefix: str, *, first: int, last: int) -> ibis.Table:
    ranked = codes.mutate(
        _rank=ibis.row_number().over(group_by=codes._claim, order_by=[codes._sequence, codes._line])
    )
    slots = range(first, last + 1)
    wide = ranked.group_by(_pivot_claim=ranked._claim).agg(
        **{f"{prefix}_{slot}": ranked._code.max(where=ranked._rank == slot - first) for slot in slots}
    )
    headers = headers.drop(*[f"{prefix}_{slot}" for slot in slots if f"{prefix}_{slot}" in headers.columns])
    return headers.left_join(wide, headers.claim_id == wide._pivot_claim).drop("_pivot_claim")


# ---- Part B -------------------------------------------------------------------------------------------
def _part_b_lines(table: ibis.Table, layout: Layout, claim_types: Mapping[str, str]) -> ibis.Table:
    def f(name: str) -> ir.StringValue:
        return _field(table, layout, name)

    names = {field.name for field in layout.fields}
    professional = "RNDRG_PRVDR_NPI_NUM" in names
    columns: dict[str, ir.Value] = {
        "claim_id": f("CUR_CLM_UNIQ_ID"),
        "claim_line_number": f("CLM_LINE_NUM"),
        "claim_type": _code(f("CLM_TYPE_CD"), claim_types),
        "member_id": f("BENE_MBI_ID"),
        "payer": ibis.literal(PAYER),
        "line_of_business": ibis.literal(LINE_OF_BUSINESS),
        "claim_from_date": f("CLM_FROM_DT"),
        "claim_thru_date": f("CLM_THRU_DT"),
        "service_date": ibis.coalesce(f("CLM_LINE_FROM_DT"), f("CLM_FROM_DT")),
        "service_end_date": f("CLM_LINE_THRU_DT"),
        "place_of_service": f("CLM_POS_CD"),
        "hcpcs_code": f("CLM_LINE_HCPCS_CD"),
        "paid_amount": _amount(f("CLM_LINE_CVRD_PD_AMT")),
        "adjustment_code": f("CLM_ADJSMT_TYPE_CD"),
        "processed_date": f("CLM_EFCTV_DT"),
        "_cntl_num": f("CLM_CNTL_NUM"),
    }
    if professional:
        columns |= {
            "rendering_npi": f("RNDRG_PRVDR_NPI_NUM"),
            "rendering_specialty": f("CLM_PRVDR_SPCLTY_CD"),
            "billing_tin": f("CLM_RNDRG_PRVDR_TAX_NUM"),
            "allowed_amount": _amount(f("CLM_LINE_ALOWD_CHRG_AMT")),
            "units": _quantity(f("CLM_LINE_SRVC_UNIT_QTY")),
            **{f"hcpcs_modifier_{i}": f(f"HCPCS_{i}_MDFR_CD") for i in range(1, 5)},
            **{f"dx_{i}": f(f"CLM_DGNS_{i}_CD") for i in range(1, 13)},
        }
    else:
        columns |= {
            "billing_npi": f("PAYTO_PRVDR_NPI_NUM"),
            "allowed_amount": _amount(f("CLM_LINE_ALOWD_CHRG_AMT")),
        }
    return table.select(**columns, **_provenance(table))


# ---- Part D -------------------------------------------------------------------------------------------
_PART_D_KEY = ["_from", "_srvc_qlfyr", "_srvc_id", "_dspnsng", "_rx_ref", "_fill"]


def _part_d_raw(table: ibis.Table, layout: Layout) -> ibis.Table:
    def f(name: str) -> ir.StringValue:
        return _field(table, layout, name)

    return table.select(
        claim_id=f("CUR_CLM_UNIQ_ID"),
        claim_line_number=ibis.literal("1"),
        member_id=f("BENE_MBI_ID"),
        payer=ibis.literal(PAYER),
        line_of_business=ibis.literal("medicare_part_d"),
        dispensing_date=f("CLM_LINE_FROM_DT"),
        ndc=f("CLM_LINE_NDC_CD"),
        quantity=_quantity(f("CLM_LINE_SRVC_UNIT_QTY")),
        days_supply=f("CLM_LINE_DAYS_SUPLY_QTY"),
        prescriber_npi=f("CLM_PRSBNG_PRVDR_GNRC_ID_NUM"),
        pharmacy_npi=f("CLM_SRVC_PRVDR_GNRC_ID_NUM"),
        adjustment_code=f("CLM_ADJSMT_TYPE_CD"),
        processed_date=f("CLM_EFCTV_DT"),
        _idr_load=f("CLM_IDR_LD_DT"),
        _from=f("CLM_LINE_FROM_DT"),
        _srvc_qlfyr=f("PRVDR_SRVC_ID_QLFYR_CD"),
        _srvc_id=f("CLM_SRVC_PRVDR_GNRC_ID_NUM"),
        _dspnsng=f("CLM_DSPNSNG_STUS_CD"),
        _rx_ref=f("CLM_LINE_RX_SRVC_RFRNC_NUM"),
        _fill=f("CLM_LINE_RX_FILL_NUM"),
        **_provenance(table),
    )


def _part_d(engine: Engine, claims: ibis.Table) -> ibis.Table:
    """Part D events are final-action claims: the latest of a natural-key group supersedes the others."""
    keys = [ibis.coalesce(claims[k], "") for k in _PART_D_KEY]
    order = [
        claims.processed_date,
        claims._idr_load,
        claims.claim_id,
        claims[SOURCE_FILE],
        claims[SOURCE_LINE],
    ]
    window = ibis.window(group_by=keys, order_by=order)
    ranked = claims.mutate(
        original_claim_id=claims.claim_id.first().over(window),
        claim_version=(ibis.row_number().over(window) + 1).cast("string"),
        adjustment_type=_code(claims.adjustment_code, ADJUSTMENT_TYPES),
    )
    return ranked.drop("adjustment_code", "_idr_load", *_PART_D_KEY)


# ---- adjustment families ------------------------------------------------------------------------------
def _with_families(
    engine: Engine, staged: Staged, claims: ibis.Table, natural_key: list[str], what: str
) -> ibis.Table:
    """Set ``adjustment_type``, ``original_claim_id`` and ``claim_version`` from the debit/credit rule.

    Within a natural-key group, a cancellation (code 1) is "identical to the original claim" (IP §5.2.1):
    cancellations and the other claims (codes 0 and 2) with the same payment are each ordered by
    effective date, then claim id, and the k-th cancellation cancels the k-th other claim (the order of
    IP v38 Table 3, where row 2 cancels row 1 and row 4 cancels row 3). The pair is one family (the
    cancelled claim's id) whose later version is the void. Unmatched claims stand alone; a cancellation
    that matches nothing (its claim came in an earlier delivery) is a void of its own and counted in a
    warning.
    """
    columns = ["claim_id", "adjustment_code", "processed_date", "paid_amount", *natural_key]
    versions = claims.select(*columns)
    # Part B lines repeat the claim fields: a claim id is one version, its payment the sum of its lines.
    cents = (versions.paid_amount.try_cast("decimal(18, 2)").cast("decimal(38, 2)") * 100).cast("int64")
    versions = versions.group_by("claim_id").agg(
        adjustment_code=versions.adjustment_code.max(),
        processed_date=versions.processed_date.max(),
        _payment=cents.sum().cast("string"),
        **{k: versions[k].max() for k in natural_key},
    )
    natural_key = [*natural_key, "_payment"]
    keyed = engine.materialize(
        versions.mutate(**{f"_k{i}": ibis.coalesce(versions[k], "") for i, k in enumerate(natural_key)})
    )
    key_names = [f"_k{i}" for i in range(len(natural_key))]
    is_cancel = keyed.adjustment_code == "1"
    order = [ibis.coalesce(keyed.processed_date, ""), keyed.claim_id]
    # Both sides are materialized and renamed: Spark mis-resolves a join of two filters of one table.
    cancels = keyed.filter(is_cancel)
    cancels = engine.materialize(
        cancels.select(
            *key_names,
            _k=ibis.row_number().over(group_by=key_names, order_by=order),
            _cancel_id=cancels.claim_id,
        )
    )
    others = keyed.filter(~is_cancel | keyed.adjustment_code.isnull())
    others = engine.materialize(
        others.select(
            **{f"_o{name}": others[name] for name in key_names},
            _ok=ibis.row_number().over(group_by=key_names, order_by=order),
            _cancelled_id=others.claim_id,
        )
    )
    predicates = [cancels[name] == others[f"_o{name}"] for name in key_names] + [cancels._k == others._ok]
    pairs = cancels.join(others, predicates).select("_cancel_id", "_cancelled_id")
    pairs = engine.materialize(pairs)
    unmatched = engine.count(cancels) - engine.count(pairs)
    if unmatched:
        staged.warnings.append(
            f"{what}: {unmatched} cancellation claim(s) match no claim with the same natural key and payment; "
            "each stands alone as a void"
        )
    links = keyed.select("claim_id").distinct()
    links = links.left_join(pairs, links.claim_id == pairs._cancel_id).drop("_cancel_id")
    links = links.select(
        _family_claim=links.claim_id,
        _original=ibis.coalesce(links._cancelled_id, links.claim_id),
        _version=ibis.ifelse(links._cancelled_id.notnull(), "2", "1"),
    )
    joined = claims.left_join(links, claims.claim_id == links._family_claim)
    joined = joined.mutate(
        original_claim_id=joined._original,
        claim_version=joined._version,
        adjustment_type=_code(joined.adjustment_code, ADJUSTMENT_TYPES),
    )
    return joined.drop(
        "_family_claim", "_original", "_version", "adjustment_code", *natural_key_private(natural_key[:-1])
    )


def natural_key_private(natural_key: list[str]) -> list[str]:
    """The helper columns of a natural key that are not canonical columns."""
    return [k for k in natural_key if k.startswith("_")]


# ---- records that link to nothing ---------------------------------------------------------------------
def _check_orphans(
    engine: Engine,
    staged: Staged,
    table: ibis.Table,
    layout: Layout,
    parents: list[ibis.Table],
    parent_layouts: list[Layout],
    *,
    with_line: bool,
    what: str,
) -> None:
    """Quarantine records whose claim (or claim line) is in none of the parent files."""
    keys = [_field(table, layout, "CUR_CLM_UNIQ_ID")]
    if with_line:
        keys.append(_field(table, layout, "CLM_LINE_NUM"))
    children = table.select(_c0=keys[0], _c1=keys[1] if with_line else ibis.literal(""), **_provenance(table))
    known_parts = []
    for parent, parent_layout in zip(parents, parent_layouts, strict=True):
        known_parts.append(
            parent.select(
                _p0=_field(parent, parent_layout, "CUR_CLM_UNIQ_ID"),
                _p1=_field(parent, parent_layout, "CLM_LINE_NUM") if with_line else ibis.literal(""),
            )
        )
    if known_parts:
        known = ibis.union(*known_parts).distinct() if len(known_parts) > 1 else known_parts[0].distinct()
        orphans = children.anti_join(
            known,
            [children._c0 == known._p0, ibis.coalesce(children._c1, "") == ibis.coalesce(known._p1, "")],
        )
    else:
        orphans = children
    found = engine.to_arrow(orphans.select(SOURCE_FILE, SOURCE_LINE, RECORD))
    if not found.num_rows:
        return
    staged.rejects.setdefault(TARGET_TABLE[layout.file], []).extend(
        Reject(file, line, "CUR_CLM_UNIQ_ID", f"{layout.file} record links to nothing: {what}", record)
        for file, line, record in zip(
            found[SOURCE_FILE].to_pylist(),
            found[SOURCE_LINE].to_pylist(),
            found[RECORD].to_pylist(),
            strict=True,
        )
    )
