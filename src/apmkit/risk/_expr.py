"""Small expression helpers shared by the risk modules."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

import ibis
import ibis.expr.types as ir


def one_of(value: ir.Value, choices: Iterable[str]) -> ir.BooleanValue:
    """``value`` equals one of ``choices``, written as OR-ed equalities.

    DuckDB plans an ``IN`` list of five or more constants as a hash MARK join, which made input
    conformance ~20x slower than plain comparisons; OR-ed equalities stay a cheap filter on both
    DuckDB and Spark.
    """
    tests = [value == choice for choice in choices]
    return reduce(lambda left, right: left | right, tests)


def trimmed(value: ir.StringValue) -> ir.StringValue:
    """``value`` without leading and trailing whitespace, the same on DuckDB and Spark.

    ibis's ``strip()`` passes the characters to remove as a string literal with ``\\f``, which Spark
    SQL reads as the letter ``f``: on Spark, ``"fbd".strip()`` returned ``"bd"``.
    """
    # Most values carry no edge whitespace; the cheap prefix/suffix tests spare them the regex.
    edge = reduce(
        lambda a, b: a | b, [value.startswith(c) | value.endswith(c) for c in (" ", "\t", "\r", "\n")]
    )
    return ibis.ifelse(edge, value.re_replace(r"^\s+|\s+$", ""), value)
