"""Interim projections: completion factors from the data's own paid-lag triangle (chain ladder, with the
``chainladder`` package), the year-end settlement projected from a mid-year run with a confidence band.

* **Triangle** — spending by incurred (service) month and payment lag in months, incremental, from the claims
  processed by the as-of date; chain-ladder development factors are volume-weighted averages of the link ratios
  (``chainladder.Development`` with its defaults), and the cumulative development factor (CDF) of an incurred month
  ``a`` months old completes it: completed = paid × CDF(a); completion factor = 1 / CDF(a).
* **Year-end** — per entity: completed spending to date, plus the months left in the period at the entity's
  completed spending per member month (each remaining month a month drawn from the months to date) × the
  last month's member months; the unpaid (IBNR) part varies by Mack's standard error. The benchmark is the run's
  benchmark per member month × the projected member months; the contract's terms are applied to every scenario
  (:mod:`apmkit.simulation.terms`), giving the expected year-end settlement and its 5th-95th percentile band.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from apmkit.contracts import Contract
from apmkit.errors import ConfigurationError
from apmkit.simulation.exact import Ints
from apmkit.simulation.stats import cents_mean, percentile, share
from apmkit.simulation.terms import FixedInputs, ScenarioInputs, settle_scenarios


@dataclass(frozen=True)
class Development:
    """Chain-ladder factors by development age (1 = the origin period itself)."""

    ages: tuple[int, ...]
    ldf: tuple[float, ...]
    """Age-to-age factor from each age to the next (the last is 1: no later data)."""
    cdf: tuple[float, ...]
    """Age-to-ultimate factor at each age."""
    ibnr_cv: float = 0.0
    """Mack standard error of the unpaid amount / the unpaid amount, over the youngest origins (0 when unknown)."""

    def cdf_at(self, age: int) -> float:
        """The CDF of an origin ``age`` periods old (1 beyond the oldest age the triangle shows)."""
        if age < 1:
            raise ValueError("age must be at least 1")
        lookup = dict(zip(self.ages, self.cdf, strict=True))
        return lookup.get(age, 1.0)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"age": a, "ldf": f, "cdf": c, "completion_factor": 1.0 / c}
            for a, f, c in zip(self.ages, self.ldf, self.cdf, strict=True)
        ]


def _period_start(value: date, grain: str) -> pd.Timestamp:
    return pd.Timestamp(value.year, 1 if grain == "Y" else value.month, 1)


def chain_ladder(rows: Sequence[tuple[date, int, float]], *, grain: str = "M") -> Development:
    """Development factors of an incremental triangle ``(origin period start, lag, amount)`` (lag 0 = the origin
    period), monthly (``M``) or yearly (``Y``), with ``chainladder``'s volume-weighted development."""
    import chainladder as cl

    if not rows:
        raise ConfigurationError("completion factors: no paid claims to build the paid-lag triangle from")
    if grain not in ("M", "Y"):
        raise ValueError("grain must be M or Y")
    step = 12 if grain == "Y" else 1
    frame = pd.DataFrame(rows, columns=["origin", "lag", "amount"])
    frame["origin"] = [_period_start(d, grain) for d in frame["origin"]]
    frame["valuation"] = [
        (o + pd.DateOffset(months=int(lag) * step + step)) - pd.Timedelta(days=1)
        for o, lag in zip(frame["origin"], frame["lag"], strict=True)
    ]
    frame = frame.groupby(["origin", "valuation"], as_index=False)["amount"].sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        triangle = cl.Triangle(  # type: ignore[abstract]
            frame, origin="origin", development="valuation", columns="amount", cumulative=False
        ).incr_to_cum()
        development = cl.Development().fit(triangle)
        ldf = development.ldf_.to_frame(origin_as_datetime=False).iloc[0]
        cdf = development.cdf_.to_frame(origin_as_datetime=False).iloc[0]
        ibnr_cv = 0.0
        try:
            mack = cl.MackChainladder().fit(development.transform(triangle))
            summary = mack.summary_.to_frame(origin_as_datetime=False)
            unpaid = float(summary["IBNR"].fillna(0).sum())
            error = float(np.asarray(mack.total_mack_std_err_, dtype=float).ravel()[0])
            ibnr_cv = error / unpaid if unpaid > 0 and math.isfinite(error) else 0.0
        except (ValueError, ZeroDivisionError, IndexError, KeyError, TypeError):
            ibnr_cv = (
                0.0  # Mack needs enough origins; the band then has no completion part (stated in the output)
            )
    ages = [int(str(label).split("-")[0]) // step for label in ldf.index]
    factors = [float(v) for v in ldf.to_numpy()]
    to_ultimate = [float(v) for v in cdf.to_numpy()]
    # the last age of the triangle has no later data: factor 1
    last = max(ages) + 1 if ages else 1
    return Development(
        ages=(*ages, last),
        ldf=(*factors, 1.0),
        cdf=(*to_ultimate, 1.0),
        ibnr_cv=ibnr_cv,
    )


def months_between(start: date, end: date) -> int:
    """Whole months from ``start``'s month to ``end``'s month."""
    return (end.year - start.year) * 12 + end.month - start.month


@dataclass(frozen=True)
class EntityToDate:
    """An entity's months to date: paid cents and member months by incurred month (period months ≤ as-of)."""

    fixed: FixedInputs
    months: tuple[date, ...]
    paid_cents: tuple[int, ...]
    member_months: tuple[int, ...]
    population: int
    benchmark_pmpm: Decimal
    recalculated_pmpm: Decimal | None = None
    """The MSSP guardrail's recalculated benchmark per member month (None: none)."""


def project_entity(
    contract: Contract,
    entity: EntityToDate,
    development: Development,
    *,
    as_of: date,
    period_end: date,
    scenarios: int,
    seed: int,
) -> dict[str, Any]:
    """The year-end projection of one entity (see the module text): expected, 5th and 95th percentile."""
    if not entity.months or sum(entity.member_months) == 0:
        raise ConfigurationError(f"entity {entity.fixed.entity_id}: no member months to date")
    rng = np.random.default_rng(seed)
    paid = np.asarray(entity.paid_cents, dtype=np.float64)
    cdf = np.asarray([development.cdf_at(months_between(m, as_of) + 1) for m in entity.months])
    completed = paid * cdf
    months = np.asarray(entity.member_months, dtype=np.float64)
    remaining = months_between(as_of, period_end)
    last_members = int(entity.member_months[-1])
    unpaid = float((completed - paid).sum())
    noise = rng.normal(0.0, development.ibnr_cv, scenarios) if development.ibnr_cv else np.zeros(scenarios)
    to_date = float(paid.sum()) + unpaid * (1.0 + noise)
    pmpm = np.divide(completed, months, out=np.zeros_like(completed), where=months > 0)
    if remaining:
        picks = rng.integers(0, len(pmpm), size=(scenarios, remaining))
        rest = (pmpm[picks] * last_members).sum(axis=1)
    else:
        rest = np.zeros(scenarios)
    projected = np.maximum(np.rint(to_date + rest), 0).astype(np.int64)
    member_months = int(months.sum()) + remaining * last_members
    benchmark = entity.benchmark_pmpm * member_months
    size = scenarios
    bench = np.empty(size, dtype=object)
    bench[:] = [benchmark] * size
    spend = np.empty(size, dtype=object)
    spend[:] = [Decimal(int(v)).scaleb(-2) for v in projected.tolist()]
    inputs = ScenarioInputs(
        fixed=entity.fixed,
        benchmark=bench,
        expenditure=spend,
        population=np.full(size, entity.population, np.int64),
        member_months=np.full(size, member_months, np.int64),
        quality_score=None
        if entity.fixed.quality_score is None
        else np.asarray([entity.fixed.quality_score] * size, dtype=object),
        quality_standard_met=None
        if entity.fixed.quality_standard_met is None
        else np.full(size, bool(entity.fixed.quality_standard_met)),
        recalculated_benchmark=None
        if entity.recalculated_pmpm is None
        else np.asarray([entity.recalculated_pmpm * member_months] * size, dtype=object),
    )
    settled = settle_scenarios(contract, inputs)
    return {
        "entity_id": entity.fixed.entity_id,
        "as_of": as_of,
        "paid_to_date": Decimal(int(paid.sum())).scaleb(-2),
        "completed_to_date": _dollars(float(completed.sum())),
        "member_months_to_date": int(months.sum()),
        "remaining_months": remaining,
        "projected_member_months": member_months,
        "projected_benchmark": benchmark.quantize(Decimal("0.01")),
        "projected_expenditure": cents_mean(projected),
        "projected_expenditure_p05": percentile(projected, 5),
        "projected_expenditure_p95": percentile(projected, 95),
        "projected_net": cents_mean(settled.net),
        "projected_net_p05": percentile(settled.net, 5),
        "projected_net_p95": percentile(settled.net, 95),
        "prob_clear_msr": None if settled.cleared_msr is None else share(settled.cleared_msr),
    }


def _dollars(cents: float) -> Decimal:
    return (Decimal(repr(cents)) / 100).quantize(Decimal("0.01"))


def month_ends(start: date, as_of: date) -> list[date]:
    """The last day of every month from ``start``'s month through ``as_of``'s month (``as_of`` itself last)."""
    out: list[date] = []
    year, month = start.year, start.month
    while (year, month) < (as_of.year, as_of.month):
        following = date(year + month // 12, month % 12 + 1, 1)
        out.append(date.fromordinal(following.toordinal() - 1))
        year, month = following.year, following.month
    out.append(as_of)
    return out


def cents_total(values: Ints) -> int:
    return int(values.sum())


__all__ = [
    "Development",
    "EntityToDate",
    "chain_ladder",
    "month_ends",
    "months_between",
    "project_entity",
]
