"""Raw file readers: text lines and delimited records as Arrow string tables with line numbers.

Readers never guess types: every field comes back as a string, with ``source_file`` and ``source_line``
(1-based physical line), so that conformance (:mod:`apmkit.ingest.conform`) can say exactly which line
and field of which file broke which rule. Lines that cannot even be split into records (wrong encoding,
wrong number of fields) come back as :class:`Reject` entries instead of being dropped.

Clean files take a fast path through pyarrow's CSV reader, block by block (lines are split and numbered by
Arrow compute, never as Python strings): :func:`stream_delimited` and :func:`stream_lines` write the records
to a Parquet file as they go, so memory stays bounded whatever the file's size. A file with blank lines,
quoted line breaks, ragged rows or bad bytes takes an exact path through the :mod:`csv` module that tracks
line numbers (in memory).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

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
    try:
        return RawRecords(path, _concat(list(_fast_lines(path, skip_blank)), LINE_SCHEMA))
    except _NotFast:
        return _read_lines_exact(path, path.read_bytes(), skip_blank)


def stream_lines(path: Path, target: Path, *, skip_blank: bool = True) -> StreamedRecords:
    """:func:`read_lines` written to the Parquet file ``target`` block by block (bounded memory)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    rows = _write_stream(target, LINE_SCHEMA, _fast_lines(path, skip_blank))
    if rows is not None:
        return StreamedRecords(path, target, [], rows, [])
    records = _read_lines_exact(path, path.read_bytes(), skip_blank)
    pq.write_table(records.table, target)
    return StreamedRecords(path, target, [], records.table.num_rows, records.rejects)


def _read_lines_exact(path: Path, data: bytes, skip_blank: bool) -> RawRecords:
    lines, rejects = _decode(path, data)
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


@dataclass
class StreamedRecords:
    """Records of one file written to the Parquet file ``parquet`` (same columns as :class:`RawRecords`)."""

    path: Path
    parquet: Path
    header: list[str]
    rows: int
    rejects: list[Reject] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Records read: parsed rows plus rows rejected while parsing (blank lines are not records)."""
        return self.rows + len(self.rejects)


BLOCK_BYTES = 32 << 20
"""Bytes read at a time by the fast paths (each block ends at a line break)."""
LINE_SCHEMA = pa.schema([(SOURCE_FILE, pa.string()), (SOURCE_LINE, pa.int64()), (RECORD, pa.string())])
BOM = b"\xef\xbb\xbf"


class _NotFast(Exception):
    """The fast path cannot keep line numbers exact for this file: take the exact path."""


def _blocks(handle: Any) -> Iterator[bytes]:
    """The rest of an open binary file in blocks of about :data:`BLOCK_BYTES` that end at a line break."""
    pending = b""
    while chunk := handle.read(BLOCK_BYTES):
        data = pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        yield data[: cut + 1]
        pending = data[cut + 1 :]
    if pending:
        yield pending


def _block_lines(block: bytes) -> pa.Array:
    """The lines of a block as Arrow strings, without their line ends (a final ``\\r`` is removed)."""
    try:
        text = pa.array([block], pa.binary()).cast(pa.string())  # the cast checks the UTF-8 encoding
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise _NotFast from None
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    if block.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if b"\r" in block:
        lines = pc.replace_substring_regex(lines, r"\r$", "")
    return lines


def _provenance(
    table: pa.Table, path: Path, numbers: pa.Array, lines: pa.Array, keep_source_file: bool = True
) -> pa.Table:
    names = (
        pa.repeat(pa.scalar(path.name, pa.string()), len(numbers))
        if keep_source_file
        else pa.nulls(len(numbers), pa.string())
    )
    table = table.append_column(SOURCE_FILE, names)
    table = table.append_column(SOURCE_LINE, numbers)
    return table.append_column(RECORD, lines)


def _fast_lines(path: Path, skip_blank: bool) -> Iterator[pa.Table]:
    """Tables of ``source_file, source_line, _record`` block by block; raises :class:`_NotFast` on bad bytes."""
    first_line = 1
    with open(path, "rb") as handle:
        for index, block in enumerate(_blocks(handle)):
            if index == 0 and block.startswith(BOM):
                block = block[len(BOM) :]
            lines = _block_lines(block)
            numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
            first_line += len(lines)
            if skip_blank:
                keep = pc.not_equal(pc.utf8_trim_whitespace(lines), "")
                lines, numbers = lines.filter(keep), numbers.filter(keep)
            name = pa.repeat(pa.scalar(path.name, pa.string()), len(numbers))
            yield pa.Table.from_arrays([name, numbers, lines], schema=LINE_SCHEMA)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _write_stream(target: Path, schema: pa.Schema, tables: Iterator[pa.Table]) -> int | None:
    """Write the tables to ``target``; the rows written, or None (nothing left behind) when not fast."""
    rows = 0
    try:
        with pq.ParquetWriter(target, schema) as writer:
            for table in tables:
                writer.write_table(table)
                rows += table.num_rows
    except _NotFast:
        target.unlink(missing_ok=True)
        return None
    return rows


def read_delimited(
    path: Path,
    *,
    delimiter: str = ",",
    quoting: bool = True,
    required_columns: Sequence[str] = (),
    normalize_header: bool = False,
    keep_record: bool = True,
    keep_source_file: bool = True,
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
    keep_record
        False: ``_record`` is left empty (NULL) on the fast path, for callers that never show a parsed
        row's text (records rejected while parsing keep theirs).
    keep_source_file
        False: ``source_file`` is left NULL on the fast path, for callers that know the file they read and
        drop the column (a copy of the name per row cost 0.3 s on 8M rows).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        header, tables = _fast_delimited(path, delimiter, quoting, keep_record, keep_source_file)
        result = RawRecords(path, _concat(list(tables), _delimited_schema(header)), [], header)
    except _NotFast:
        result = _read_delimited_exact(path, _nonempty_bytes(path), delimiter, quoting)
    _finish_header(result, normalize_header, required_columns)
    return result


def stream_delimited(
    path: Path,
    target: Path,
    *,
    delimiter: str = ",",
    quoting: bool = True,
    required_columns: Sequence[str] = (),
) -> StreamedRecords:
    """:func:`read_delimited` written to the Parquet file ``target`` block by block (bounded memory on
    the fast path; a file that needs the exact path is read whole)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    rows: int | None = None
    try:
        header, tables = _fast_delimited(path, delimiter, quoting)
        rows = _write_stream(target, _delimited_schema(header), tables)
    except _NotFast:
        pass
    if rows is not None:
        result = StreamedRecords(path, target, header, rows)
    else:
        records = _read_delimited_exact(path, _nonempty_bytes(path), delimiter, quoting)
        pq.write_table(records.table, target)
        result = StreamedRecords(path, target, records.header, records.table.num_rows, records.rejects)
    _finish_header(result, False, required_columns)
    return result


def _nonempty_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.strip():
        raise InputFileError(path, "file is empty (no header row)")
    return data


def _finish_header(
    result: RawRecords | StreamedRecords, normalize_header: bool, required_columns: Sequence[str]
) -> None:
    if normalize_header:
        assert isinstance(result, RawRecords)
        result.header = [name.strip().lower() for name in result.header]
        names = [*result.header, SOURCE_FILE, SOURCE_LINE, RECORD]
        result.table = result.table.rename_columns(names)
    missing = [c for c in required_columns if c not in result.header]
    if missing:
        raise InputFileError(result.path, f"missing required column(s): {', '.join(missing)}", line=1)


def _delimited_schema(header: list[str]) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in header] + list(LINE_SCHEMA))


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


def _fast_delimited(
    path: Path, delimiter: str, quoting: bool, keep_record: bool = True, keep_source_file: bool = True
) -> tuple[list[str], Iterator[pa.Table]]:
    """pyarrow path for clean files: the header, then the records block by block.

    Raises :class:`_NotFast` (at once, or from the iterator) whenever line numbers could not be exact:
    a byte-order mark, a blank line, bad UTF-8, a quoted line break, a ragged row.
    """
    with open(path, "rb") as handle:
        first = handle.readline()
    if first.startswith(BOM) or not first.strip():
        raise _NotFast
    try:
        first_line = first.rstrip(b"\n").rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise _NotFast from None
    header = _header_names(next(csv.reader([first_line], delimiter=delimiter)), path)
    tables = _delimited_tables(path, len(first), header, delimiter, quoting, keep_record, keep_source_file)
    return header, tables


def _delimited_tables(
    path: Path,
    skip: int,
    header: list[str],
    delimiter: str,
    quoting: bool,
    keep_record: bool = True,
    keep_source_file: bool = True,
) -> Iterator[pa.Table]:
    line = 2
    with open(path, "rb") as handle:
        handle.seek(skip)
        for block in _blocks(handle):
            if block.startswith((b"\n", b"\r\n")) or b"\n\n" in block or b"\r\n\r\n" in block:
                raise _NotFast
            if keep_record:
                lines = _block_lines(block)
                count = len(lines)
            else:
                # No decoding here: every byte outside a field is ASCII, and the parse converts every
                # field to a string column with a UTF-8 check (bad bytes raise _NotFast there).
                count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
                lines = pa.nulls(count, pa.string())
            table = _parse_block(block, header, delimiter, quoting)
            if table.num_rows != count:
                raise _NotFast  # a quoted line break, or a line pyarrow skipped
            numbers = pa.array(np.arange(line, line + count, dtype=np.int64))
            line += count
            yield _provenance(table, path, numbers, lines, keep_source_file)


def _parse_block(block: bytes, header: list[str], delimiter: str, quoting: bool) -> pa.Table:
    invalid = 0

    def on_invalid(_row: object) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    try:
        table = pcsv.read_csv(
            io.BytesIO(block),
            read_options=pcsv.ReadOptions(column_names=header),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter, quote_char='"' if quoting else False, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                check_utf8=True,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        raise _NotFast from None
    if invalid:
        raise _NotFast
    return table


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
