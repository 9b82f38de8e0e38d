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
    # Most values carry no edge whitespace; two comparisons spare them the regex (every whitespace
    # character sorts at or before the space; the few control characters that also do are left unchanged
    # by the regex). ``value < "!"`` holds exactly when the first character sorts at or before the space
    # (strings compare bytewise on DuckDB and Spark) and, unlike ``left(1)``, cuts no substring.
    edge = (value < "!") | (value.right(1) <= " ")
    return ibis.ifelse(edge, value.re_replace(r"^\s+|\s+$", ""), value)
