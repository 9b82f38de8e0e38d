"""Exact money.

Conventions (ARCHITECTURE.md, "Money"): canonical tables store money as ``decimal(18,2)``; engine-side
arithmetic converts to integer cents and rounds with integer half-up division, because ibis types
``decimal / int`` as float64 and DuckDB and Spark then round differently. Settlement arithmetic is done
in Python :class:`decimal.Decimal` with an explicit ``ROUND_HALF_UP`` context.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import ibis
import ibis.expr.types as ir

MONEY = ibis.dtype("decimal(18, 2)")
CENT = Decimal("0.01")


_NARROW_CENTS = 10**13
"""Amounts of at most this many dollars (in magnitude) are converted to cents without widening: 100 x the amount
stays within ``decimal(18,2)``'s 16 integer digits."""


def to_cents(amount: ir.NumericValue) -> ir.IntegerValue:
    """Convert a ``decimal(18,2)`` column to integer cents, exactly."""
    # Widen first: 100 x the largest decimal(18,2) needs 20 digits.
    wide = (amount.cast("decimal(38, 2)") * 100).cast("int64")
    dtype = amount.type()
    if not (dtype.is_decimal() and dtype.scale == 2 and (dtype.precision or 38) <= 18):
        return wide
    # The wide product is a 128-bit decimal, and casting it to an integer divides a 128-bit value by 100: ten
    # times the cost of the 64-bit path. Every amount below 10^13 dollars takes that path (``amount * 100`` is
    # a whole number of cents in decimal(18,2), exact); larger ones, and NULLs, the wide one. Same values.
    narrow = (amount * 100).cast("int64")
    return ibis.ifelse(amount.between(-_NARROW_CENTS, _NARROW_CENTS), narrow, wide)


def from_cents(cents: ir.IntegerValue) -> ir.DecimalValue:
    """Convert integer cents back to ``decimal(18,2)``."""
    # Multiply by a decimal literal: ibis types decimal / int as float64, which would lose exactness. The
    # cents are widened as ``decimal(38,0)``: the product keeps scale 2, so the cast to ``decimal(18,2)`` only
    # checks the width (overflow fails the same way). With both sides ``decimal(38,2)`` the product has scale
    # 4 and the cast divided every 128-bit value by 100: most of the cost of writing the expenditure mart.
    wide = "decimal(38, 2)"
    return (cents.cast("decimal(38, 0)") * ibis.literal(CENT, type=wide)).cast(MONEY)


def div_round_half_up(numerator: ir.IntegerValue, denominator: ir.IntegerValue | int) -> ir.IntegerValue:
    """Integer division rounded half away from zero, identical on DuckDB and Spark.

    ``(2n + d) // (2d)`` for non-negative operands; negatives are mirrored so that -0.5 rounds to -1 as
    ``ROUND_HALF_UP`` does. A zero denominator yields NULL (Spark's ANSI mode would raise).
    """
    den = ibis.literal(denominator) if isinstance(denominator, int) else denominator
    den = den.nullif(0)
    num_abs = numerator.abs()
    den_abs = den.abs()
    magnitude = (num_abs * 2 + den_abs) // (den_abs * 2)
    negative = (numerator < 0) != (den < 0)
    return ibis.ifelse(negative, -magnitude, magnitude).cast("int64")


def to_decimal(value: Any) -> Decimal:
    """Convert a number or numeric string to Decimal without passing through binary floating point."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def round_money(value: Any, places: int = 2) -> Decimal:
    """Round half-up to ``places`` decimals (cents by default)."""
    quantum = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = 38
        return to_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(int(cents)) * CENT).quantize(CENT)


def decimal_to_cents(amount: Decimal) -> int:
    """A dollar amount as whole cents (a literal for engine-side integer-cent arithmetic)."""
    return int((amount * 100).to_integral_value())
