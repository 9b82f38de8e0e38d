"""The block-by-block fast readers give exactly what the line-by-line exact readers give.

Blocks are made tiny (``BLOCK_BYTES``) so that every file below spans many blocks and every edge case
(a blank line, a quoted line break, a bad byte, a ``\\r\\n``) falls on or near a block boundary.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from apmkit.ingest import readers
from apmkit.ingest.readers import (
    RECORD,
    SOURCE_FILE,
    SOURCE_LINE,
    read_delimited,
    read_lines,
    stream_delimited,
    stream_lines,
)


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(readers, "BLOCK_BYTES", 16)


def _exact_delimited(path):
    return readers._read_delimited_exact(path, path.read_bytes(), ",", True)


def _same(streamed, exact):
    table = pq.read_table(streamed.parquet)
    assert table.to_pylist() == exact.table.to_pylist()
    assert streamed.rejects == exact.rejects
    assert streamed.header == exact.header


CLEAN = "member_id,dx\r\n" + "".join(f"M{i:04d},E11{i % 10}\r\n" for i in range(1, 40))


@pytest.mark.parametrize(
    "text",
    [
        CLEAN,
        CLEAN.replace("\r\n", "\n"),
        CLEAN.rstrip("\r\n"),  # no final line break
        CLEAN.replace("M0020,E110", "M0020,E110\n"),  # a blank line inside the file
        CLEAN.replace("M0030,E110", '"M00\n30",E110'),  # a quoted line break late in the file
        CLEAN.replace("M0025,E115", "M0025,E115,extra"),  # a ragged row
        "member_id,dx\n",  # a header and no records
    ],
    ids=["crlf", "lf", "no-final-break", "blank-line", "quoted-break", "ragged", "header-only"],
)
def test_stream_delimited_matches_the_exact_reader(tmp_path, text):
    path = tmp_path / "diagnoses.csv"
    path.write_bytes(text.encode())
    exact = _exact_delimited(path)
    _same(stream_delimited(path, tmp_path / "out.parquet"), exact)
    in_memory = read_delimited(path)
    assert in_memory.table.to_pylist() == exact.table.to_pylist()
    assert in_memory.rejects == exact.rejects
    # Without the record text, every other column is the same.
    bare = read_delimited(path, keep_record=False)
    assert bare.table.drop_columns([RECORD]).to_pylist() == exact.table.drop_columns([RECORD]).to_pylist()
    assert bare.rejects == exact.rejects
    # Without the file name either (the exact path still fills it): the parsed columns and lines are the same.
    lean = read_delimited(path, keep_record=False, keep_source_file=False)
    drop = [RECORD, SOURCE_FILE]
    assert lean.table.drop_columns(drop).to_pylist() == exact.table.drop_columns(drop).to_pylist()
    assert lean.rejects == exact.rejects


def test_bad_bytes_without_record_text_take_the_exact_path(tmp_path):
    # keep_record=False does not decode the blocks: the parse's UTF-8 check of every field must catch them.
    path = tmp_path / "diagnoses.csv"
    path.write_bytes(CLEAN.encode().replace(b"M0033", b"M\xff033"))
    lean = read_delimited(path, keep_record=False, keep_source_file=False)
    assert [(r.source_line, r.reason[:24]) for r in lean.rejects] == [(34, "invalid UTF-8 encoding (")]
    assert lean.table.column(SOURCE_LINE).to_pylist() == [n for n in range(2, 41) if n != 34]


def test_bad_bytes_in_a_late_block_are_rejected_with_their_line(tmp_path):
    path = tmp_path / "diagnoses.csv"
    path.write_bytes(CLEAN.encode().replace(b"M0033", b"M\xff033"))
    streamed = stream_delimited(path, tmp_path / "out.parquet")
    assert [(r.source_line, r.reason[:24]) for r in streamed.rejects] == [(34, "invalid UTF-8 encoding (")]
    lines = pq.read_table(streamed.parquet).column(SOURCE_LINE).to_pylist()
    assert lines == [n for n in range(2, 41) if n != 34]


def test_stream_lines_matches_the_exact_reader(tmp_path):
    body = "".join(f"{i:05d}RECORD{'x' * (i % 7)}\r\n" + ("   \n" if i % 9 == 0 else "") for i in range(60))
    path = tmp_path / "ZC8"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    exact = readers._read_lines_exact(path, path.read_bytes(), True)
    streamed = stream_lines(path, tmp_path / "out.parquet")
    assert pq.read_table(streamed.parquet).to_pylist() == exact.table.to_pylist()
    assert read_lines(path).table.to_pylist() == exact.table.to_pylist()
    # The byte-order mark is not part of the first record; blank lines keep their numbers.
    first = exact.table.slice(0, 1).to_pylist()[0]
    assert (first[SOURCE_LINE], first[RECORD]) == (1, "00000RECORD")
    assert streamed.rows == 60
