"""Small expression helpers shared by the risk modules."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

import ibis.expr.types as ir


def one_of(value: ir.Value, choices: Iterable[str]) -> ir.BooleanValue:
    """``value`` equals one of ``choices``, written as OR-ed equalities.

    DuckDB plans an ``IN`` list of five or more constants as a hash MARK join, which made input
    conformance ~20x slower than plain comparisons; OR-ed equalities stay a cheap filter on both
    DuckDB and Spark.
    """
    tests = [value == choice for choice in choices]
    return reduce(lambda left, right: left | right, tests)
