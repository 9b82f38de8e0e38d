"""apmkit.risk._expr.trimmed against an independent trim."""

from __future__ import annotations

import re

import pyarrow as pa

from apmkit.risk._expr import trimmed

# Leading/trailing whitespace of each kind the regex removes, characters that sort just above or below the
# space (which the guard of ``trimmed`` compares against), a multi-byte first character, empty and NULL.
VALUES = [
    "  M1 ",
    "M1",
    "\tM1",
    "M1\r\n",
    "\fM1\f",
    "!M1",
    " !M1",
    "\x01M1",
    "\x0bM1\x0b",
    "ÉM1 ",
    " É",
    "é",
    "",
    "   ",
    None,
]


def _expected(value: str | None) -> str | None:
    # RE2's \s (DuckDB's regex engine) is [\t\n\f\r ]: vertical tab and other control characters stay.
    return None if value is None else re.sub(r"^[\t\n\f\r ]+|[\t\n\f\r ]+$", "", value)


def test_trimmed_matches_an_independent_trim(engine):
    table = engine.from_arrow(pa.table({"i": list(range(len(VALUES))), "s": pa.array(VALUES, pa.string())}))
    got = engine.to_arrow(table.select("i", out=trimmed(table.s)).order_by("i")).column("out").to_pylist()
    assert got == [_expected(v) for v in VALUES]
