"""ibis expressions that give the same answer on DuckDB and Spark where ibis's own do not.

Use these instead of the ibis methods they replace; each records the divergence that was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any

import ibis.expr.types as ir

Materialize = Callable[[ir.Table], ir.Table]
"""Computes a table once and returns it as a stored table (``Engine.materialize``): domain code that reads an
intermediate result several times takes one of these instead of caching by itself."""

Fetch = Callable[[ir.Table], list[dict[str, Any]]]
"""Executes a (small, aggregated) table and returns its rows: the engine's ``Engine.rows``. Domain code that
needs a few aggregate rows in Python takes one of these instead of executing queries itself."""

# Blanks around a value, as real characters: no backslash escapes, because Spark SQL drops the backslash of
# escapes it does not know. ibis compiles str.strip() to TRIM(' \t\n\r\v\f' FROM x), which on Spark also
# trims the letters v and f: "void" became "oid", "snf" became "sn".
_EDGE_BLANKS = "^[ \t\r\n]+|[ \t\r\n]+$"


def trim_text(text: ir.StringValue) -> ir.StringValue:
    """``text`` without surrounding blanks, identically on DuckDB and Spark (replaces ``str.strip()``)."""
    return text.re_replace(_EDGE_BLANKS, "")


def one_of(value: ir.Value, choices: Iterable[str]) -> ir.BooleanValue:
    """``value`` equals one of ``choices``, written as OR-ed equalities (replaces ``isin`` of a constant list).

    DuckDB plans an ``IN`` list of five or more constants as a hash MARK join, which made input
    conformance ~20x slower than plain comparisons; OR-ed equalities stay a cheap filter on both
    DuckDB and Spark.
    """
    tests = [value == choice for choice in choices]
    return reduce(lambda left, right: left | right, tests)
