"""Summaries of scenario distributions (integer cents in, exact Decimal dollars and probabilities out).

* ``expected`` — the mean, half-up to cents;
* ``pNN`` — the linear-interpolated percentile (numpy's default, Hyndman-Fan type 7) of the cents, to cents;
* ``prob_owe`` — share of scenarios in which the entity pays the payer at settlement (balance due < 0);
* ``cvar95`` — expected shortfall: the mean of the worst 5 % of scenarios (the ⌈0.05 n⌉ lowest), to cents;
* ``prob_clear_msr`` — share of scenarios whose savings rate reaches the minimum savings rate.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from apmkit.simulation.exact import Ints

CENT = Decimal("0.01")


def cents_mean(values: Ints) -> Decimal:
    """Exact mean of integer cents, as dollars half-up to cents."""
    total = int(values.sum(dtype=np.int64)) if values.size else 0
    return (Decimal(total) / Decimal(max(values.size, 1)) / 100).quantize(CENT, ROUND_HALF_UP)


def percentile(values: Ints, q: float) -> Decimal:
    """The type-7 percentile of integer cents (q in [0, 100]), as dollars half-up to cents."""
    ordered = np.sort(values)
    position = (ordered.size - 1) * Decimal(str(q)) / 100
    low = int(position)
    high = min(low + 1, ordered.size - 1)
    fraction = position - low
    value = Decimal(int(ordered[low])) + (Decimal(int(ordered[high])) - Decimal(int(ordered[low]))) * fraction
    return (value / 100).quantize(CENT, ROUND_HALF_UP)


def cvar(values: Ints, level: float = 0.95) -> Decimal:
    """Expected shortfall at ``level``: mean of the worst ``⌈(1 − level) n⌉`` outcomes (dollars, to cents)."""
    tail = max(1, math.ceil(round((1 - level) * values.size, 9)))
    worst = np.sort(values)[:tail]
    return cents_mean(worst)


def share(flags: Any) -> float:
    """Share of true values (a probability)."""
    array = np.asarray(flags, dtype=bool)
    return float(array.mean()) if array.size else float("nan")


def histogram(values: Ints, bins: int = 40) -> list[dict[str, Any]]:
    """Equal-width bins of the cents (dollars at the edges): ``bin_start, bin_end, scenarios, share``."""
    if not values.size:
        return []
    low, high = int(values.min()), int(values.max())
    if low == high:
        return [
            {
                "bin_start": Decimal(low).scaleb(-2),
                "bin_end": Decimal(high).scaleb(-2),
                "scenarios": int(values.size),
                "share": 1.0,
            }
        ]
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return [
        {
            "bin_start": (Decimal(float(edges[i])) / 100).quantize(CENT, ROUND_HALF_UP),
            "bin_end": (Decimal(float(edges[i + 1])) / 100).quantize(CENT, ROUND_HALF_UP),
            "scenarios": int(counts[i]),
            "share": float(counts[i] / values.size),
        }
        for i in range(len(counts))
    ]


__all__ = ["cents_mean", "cvar", "histogram", "percentile", "share"]
