"""Exact arithmetic over scenario arrays.

Money that is summed over members stays in integer cents (``int64``). Contract terms are applied to those totals
with the settlement engine's own arithmetic — :class:`decimal.Decimal` at 50 digits, rounded half-up only where
the engine rounds — element by element over numpy ``object`` arrays, so a scenario whose inputs equal a run's
inputs settles to exactly the run's cents. A scenario array holds one entity's value in every scenario.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

PRECISION = 50
"""Digits of the Decimal context the terms are applied in (the settlement engine's precision)."""

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")

Objects = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@contextmanager
def exact() -> Iterator[None]:
    """The settlement engine's Decimal context (50 digits)."""
    with localcontext() as context:
        context.prec = PRECISION
        yield


def full(size: int, value: Decimal | int | None) -> Objects:
    """An object array of ``size`` copies of ``value``."""
    array = np.empty(size, dtype=object)
    array[:] = [value] * size
    return array


def decimals(values: npt.ArrayLike) -> Objects:
    """Integers (or Decimals) as an object array of Decimals."""
    flat = np.asarray(values)
    array = np.empty(flat.shape[0], dtype=object)
    array[:] = [Decimal(int(v)) if not isinstance(v, Decimal) else v for v in flat.tolist()]
    return array


def cents_to_dollars(cents: npt.ArrayLike) -> Objects:
    """Integer cents as exact Decimal dollars."""
    array = np.empty(np.asarray(cents).shape[0], dtype=object)
    array[:] = [Decimal(int(v)).scaleb(-2) for v in np.asarray(cents).tolist()]
    return array


def round_half_up(values: Objects, places: int = 2) -> Objects:
    """Each value rounded half away from zero to ``places`` decimals (:func:`apmkit.money.round_money`)."""
    quantum = Decimal(1).scaleb(-places)
    out = np.empty(values.shape[0], dtype=object)
    with localcontext() as context:
        context.prec = 38
        out[:] = [Decimal(v).quantize(quantum, rounding=ROUND_HALF_UP) for v in values.tolist()]
    return out


def to_cents(values: Objects) -> Ints:
    """Amounts already at cents (or coarser) as integer cents; a finer amount is an error, never truncated."""
    cents = [int(v * 100) for v in values.tolist()]
    if any(Decimal(c) != v * 100 for c, v in zip(cents, values.tolist(), strict=True)):
        raise ValueError("an amount is not a whole number of cents")
    return np.asarray(cents, dtype=np.int64)


def minimum(a: Any, b: Any) -> Objects:
    """Element-wise lower of two Decimal arrays (or an array and a scalar)."""
    return np.where(a <= b, a, b)


def maximum(a: Any, b: Any) -> Objects:
    """Element-wise higher of two Decimal arrays (or an array and a scalar)."""
    return np.where(a >= b, a, b)


def div_round_half_up(numerator: Ints, denominator: int) -> Ints:
    """``numerator / denominator`` rounded half away from zero, in integers (``denominator`` > 0)."""
    magnitude = (np.abs(numerator) * 2 + denominator) // (2 * denominator)
    return np.where(numerator < 0, -magnitude, magnitude).astype(np.int64)


__all__ = [
    "CENT",
    "ONE",
    "PRECISION",
    "ZERO",
    "Bools",
    "Ints",
    "Objects",
    "cents_to_dollars",
    "decimals",
    "div_round_half_up",
    "exact",
    "full",
    "maximum",
    "minimum",
    "pick",
    "round_half_up",
    "to_cents",
]


def pick(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``numpy.where`` over Decimal (object) arrays and scalars."""
    return np.where(condition, if_true, if_false)
