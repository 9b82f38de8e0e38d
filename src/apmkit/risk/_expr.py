"""Small expression helpers shared by the risk modules."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


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
