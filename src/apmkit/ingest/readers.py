"""Raw file readers: text lines and delimited records as Arrow string tables with line numbers.

Readers never guess types: every field comes back as a string, with ``source_file`` and ``source_line``
(1-based physical line), so that conformance (:mod:`apmkit.ingest.conform`) can say exactly which line
and field of which file broke which rule. Lines that cannot even be split into records (wrong encoding,
wrong number of fields) come back as :class:`Reject` entries instead of being dropped.

Clean files take a fast path through pyarrow's CSV reader; a file with blank lines, quoted line breaks,
ragged rows or bad bytes takes an exact path through the :mod:`csv` module that tracks line numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from apmkit.errors import InputFileError

SOURCE_FILE = "source_file"
SOURCE_LINE = "source_line"
RECORD = "_record"


@dataclass(frozen=True)
class Reject:
    """A record rejected before it could be parsed into fields."""

    source_file: str
    source_line: int
    field: str | None
    reason: str
    record: str


@dataclass
class RawRecords:
    """Records of one file: string columns plus ``source_file``, ``source_line`` and ``_record``."""

    path: Path
    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Records read: parsed rows plus rows rejected while parsing (blank lines are not records)."""
        return self.table.num_rows + len(self.rejects)


def _decode(path: Path, data: bytes) -> tuple[list[str], list[Reject]]:
    """Split bytes into lines, decoding UTF-8 strictly; undecodable lines become rejects."""
    try:
        text = data.decode("utf-8")
        lines = text.split("\n")
        rejects: list[Reject] = []
    except UnicodeDecodeError:
        lines, rejects = [], []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                lines.append("")  # keep numbering; the line is reported below and never parsed
                rejects.append(
                    Reject(
                        path.name,
                        number,
                        None,
                        f"invalid UTF-8 encoding (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                        raw.decode("latin-1"),
                    )
                )
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines, rejects


def read_lines(path: Path, *, skip_blank: bool = True) -> RawRecords:
    """Read a text file (e.g. fixed-width) into ``source_file, source_line, _record``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    lines, rejects = _decode(path, path.read_bytes())
    bad = {r.source_line for r in rejects}
    numbers: list[int] = []
    records: list[str] = []
    for number, line in enumerate(lines, start=1):
        if number in bad or (skip_blank and not line.strip()):
            continue
        numbers.append(number)
        records.append(line)
    table = pa.table(
        {
            SOURCE_FILE: pa.array([path.name] * len(records), pa.string()),
            SOURCE_LINE: pa.array(numbers, pa.int64()),
            RECORD: pa.array(records, pa.string()),
        }
    )
    return RawRecords(path, table, rejects)


def read_delimited(
    path: Path,
    *,
    delimiter: str = ",",
    quoting: bool = True,
    required_columns: Sequence[str] = (),
    normalize_header: bool = False,
) -> RawRecords:
    """Read a delimited file with a header row into string columns.

    Parameters
    ----------
    path
        The file.
    delimiter
        Field separator (``,`` for CSV, ``|`` for CCW RIF).
    quoting
        Whether ``"`` quotes fields (RIF files are unquoted).
    required_columns
        Header names that must be present; a missing one is an :class:`InputFileError` for the file.
    normalize_header
        Lower-case and strip header names (for formats whose column names are case-insensitive).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    data = path.read_bytes()
    if not data.strip():
        raise InputFileError(path, "file is empty (no header row)")
    fast = _read_delimited_fast(path, data, delimiter, quoting)
    result = fast if fast is not None else _read_delimited_exact(path, data, delimiter, quoting)
    if normalize_header:
        result.header = [name.strip().lower() for name in result.header]
        names = [*result.header, SOURCE_FILE, SOURCE_LINE, RECORD]
        result.table = result.table.rename_columns(names)
    missing = [c for c in required_columns if c not in result.header]
    if missing:
        raise InputFileError(path, f"missing required column(s): {', '.join(missing)}", line=1)
    return result


RESERVED_SUFFIX = "__input"


def _header_names(header: list[str], path: Path) -> list[str]:
    # A re-exported canonical table carries its own provenance columns; the reader's take precedence.
    reserved = {SOURCE_FILE, SOURCE_LINE, RECORD}
    names = [name.strip() + (RESERVED_SUFFIX if name.strip() in reserved else "") for name in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            # The name is not echoed: in a file without a header row it is a data value.
            raise InputFileError(
                path, f"duplicate column name in header (columns {seen[name]} and {position})", line=1
            )
        seen[name] = position
    return names


def _read_delimited_fast(path: Path, data: bytes, delimiter: str, quoting: bool) -> RawRecords | None:
    """pyarrow path for clean files; returns None whenever line numbers could not be exact."""
    if b"\n\n" in data or b"\r\n\r\n" in data or data.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    invalid = 0

    def on_invalid(_row: object) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    first_line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
    header = _header_names(next(csv.reader([first_line], delimiter=delimiter)), path)
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter, quote_char='"' if quoting else False, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    physical_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if invalid or table.num_rows != physical_lines - 1:
        return None
    lines = [line.removesuffix("\r") for line in data.decode("utf-8").split("\n")[1:physical_lines]]
    n = table.num_rows
    table = table.append_column(SOURCE_FILE, pa.array([path.name] * n, pa.string()))
    table = table.append_column(SOURCE_LINE, pa.array(range(2, n + 2), pa.int64()))
    table = table.append_column(RECORD, pa.array(lines, pa.string()))
    return RawRecords(path, table, [], header)


def _read_delimited_exact(path: Path, data: bytes, delimiter: str, quoting: bool) -> RawRecords:
    lines, rejects = _decode(path, data)
    bad = {r.source_line for r in rejects}
    header: list[str] | None = None
    columns: list[list[str]] = []
    numbers: list[int] = []
    records: list[str] = []
    # Rebuild the text without undecodable lines (kept as blanks so line numbers stay true).
    text = "\n".join("" if i in bad else line for i, line in enumerate(lines, start=1))
    reader = csv.reader(
        io.StringIO(text),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        strict=False,
    )
    start = 1
    for row in _rows(reader, path):
        line_number = start
        start = reader.line_num + 1
        if line_number in bad:
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        raw = "\n".join(lines[line_number - 1 : reader.line_num])
        if header is None:
            header = _header_names(row, path)
            columns = [[] for _ in header]
            continue
        if len(row) != len(header):
            what = "truncated line" if len(row) < len(header) else "extra fields"
            rejects.append(
                Reject(
                    path.name,
                    line_number,
                    None,
                    f"{what}: expected {len(header)} fields, found {len(row)}",
                    raw,
                )
            )
            continue
        for column, value in zip(columns, row, strict=True):
            column.append(value)
        numbers.append(line_number)
        records.append(raw)
    if header is None:
        raise InputFileError(path, "file has no header row")
    arrays = {name: pa.array(values, pa.string()) for name, values in zip(header, columns, strict=True)}
    arrays[SOURCE_FILE] = pa.array([path.name] * len(numbers), pa.string())
    arrays[SOURCE_LINE] = pa.array(numbers, pa.int64())
    arrays[RECORD] = pa.array(records, pa.string())
    rejects.sort(key=lambda r: r.source_line)
    return RawRecords(path, pa.table(arrays), rejects, header)


def _rows(reader: Any, path: Path) -> Iterator[list[str]]:
    """The rows of a ``csv.reader``; a malformed file is one line naming it and the line, never a value."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                reason = f"a field is longer than {csv.field_size_limit():,} characters"
            else:
                reason = "malformed delimited text"
            raise InputFileError(path, reason, line=line) from None
        yield row


def rejects_to_arrow(rejects: Sequence[Reject], table: str) -> pa.Table:
    """Pre-parse rejects in the quarantine table layout."""
    from apmkit.schemas import QUARANTINE

    return pa.Table.from_pylist(
        [
            {
                "table": table,
                "source_file": r.source_file,
                "source_line": r.source_line,
                "field": r.field,
                "reason": r.reason,
                "record": r.record,
            }
            for r in rejects
        ],
        schema=QUARANTINE.arrow_schema(),
    )
