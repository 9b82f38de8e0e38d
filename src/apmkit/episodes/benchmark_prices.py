"""Benchmark episode prices per episode initiator and price group, from the claims of a contract run.

The contract's ``episode_reconciliation`` component settles an initiator (CJR participant hospital, BPCI
Advanced episode initiator) from its episodes: Σ over price groups of benchmark price × episodes, less the
discount, against the actual (capped) episode payments (42 CFR 510.300, 510.305). This module measures what
claims hold, as whole-table ibis expressions, then the few aggregate rows in exact ``Decimal``:

* baseline episodes (kept, anchored in the baseline years) and performance episodes (kept, ending — or starting —
  in the settled period), each capped at the regional mean + ``high_cost_cap_sd`` standard deviations of their
  region and price group (:func:`apmkit.episodes.price.capped_episodes`);
* per initiator and price group: the hospital-specific price (mean capped baseline payment × trend; the regional
  price when the initiator had fewer than ``minimum_hospital_episodes`` baseline episodes in all groups, or none
  in the group), the regional price (mean of the region's capped baseline episodes × trend), the number of
  performance episodes and their capped payments.

The blend weights, discount, quality bands and limits stay with the component (and its glide path): this
module never computes a payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.episodes.price import capped_episodes, hospital_region
from apmkit.episodes.spec import EpisodeBenchmarkPriceSpec
from apmkit.errors import ApmkitError
from apmkit.money import from_cents, round_money
from apmkit.portable import Fetch

CENTS = Decimal(100)


@dataclass
class InitiatorEpisodes:
    """One initiator's performance episodes by price group and, for historical prices, its prices."""

    initiator: str
    region: str | None
    baseline_episodes: int
    episodes_by_group: dict[str, int] = field(default_factory=dict)
    actual_cents: int = 0
    episode_months: int = 0
    dual_months: int = 0
    hospital_price_by_group: dict[str, Decimal] = field(default_factory=dict)
    regional_price_by_group: dict[str, Decimal] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return sum(self.episodes_by_group.values())

    @property
    def actual_amount(self) -> Decimal:
        return Decimal(self.actual_cents) / CENTS


@dataclass(frozen=True)
class EpisodeBenchmarkPrices:
    """What the run settles: initiators with their episodes and prices, the price rows and the capped
    performance episodes (both written as marts, so each statement line traces to the episodes)."""

    initiators: list[InitiatorEpisodes]
    baseline_years: tuple[int, ...]
    prices: pa.Table
    performance: ir.Table


def performance_episodes(
    episodes: ir.Table, spec: EpisodeBenchmarkPriceSpec, start: date, end: date
) -> ir.Table:
    """Kept episodes the period reconciles: window ending (or anchor starting) within ``start``-``end``."""
    kept = episodes.filter(episodes.status == "kept")
    day = kept.window_end if spec.performance_episodes == "ending_in_period" else kept.anchor_start
    return kept.filter(day >= ibis.literal(start), day <= ibis.literal(end))


def benchmark_prices(
    episodes: ir.Table,
    spec: EpisodeBenchmarkPriceSpec,
    *,
    period: str,
    start: date,
    end: date,
    fetch: Fetch,
    hospital_regions: ir.Table | None = None,
) -> EpisodeBenchmarkPrices:
    """Initiators' performance episodes and benchmark prices per price group.

    Parameters
    ----------
    episodes
        :func:`apmkit.episodes.build.build_episodes` output over the run's claims (every year).
    spec
        The contract's ``episodes.benchmark_prices``.
    period, start, end
        The settled period (its name picks ``baseline_years_by_period``; its first year anchors the offsets).
    fetch
        Returns the rows of the aggregate tables (``Engine.rows``).
    hospital_regions
        ``facility_ccn, region``; None = the Census division of the CCN's state.

    Raises
    ------
    ApmkitError
        No performance episode in the period, or (historical prices) no baseline episode in the baseline years.
    """
    initiator = spec.initiator
    years = spec.baseline_years(period, start.year) if spec.prices == "historical" else ()
    perf = performance_episodes(episodes, spec, start, end)
    perf = capped_episodes(hospital_region(perf, hospital_regions), spec.high_cost_cap_sd)
    months = "episode_months" in perf.columns  # oncology episodes: the MEOS months of each episode
    perf_rows = fetch(
        perf.group_by([initiator, "region", "price_group"]).aggregate(
            episodes=perf.episode_key.count().cast("int64"),
            capped_cents=perf.capped_cents.sum().cast("int64"),
            **(
                {
                    "episode_months": perf.episode_months.sum().cast("int64"),
                    "dual_months": perf.dual_months.sum().cast("int64"),
                }
                if months
                else {}
            ),
        )
    )
    if not perf_rows:
        raise ApmkitError(
            f"period {period}: no kept episode {spec.performance_episodes.replace('_', ' ')} "
            f"({start.isoformat()} to {end.isoformat()}) in the claims"
        )
    by_initiator: dict[str, InitiatorEpisodes] = {}
    for row in perf_rows:
        key = row[initiator]
        if key is None:
            raise ApmkitError(f"episodes: a kept episode has no {initiator} on its anchor claim")
        item = by_initiator.setdefault(key, InitiatorEpisodes(key, row["region"], 0))
        item.episodes_by_group[row["price_group"]] = int(row["episodes"])
        item.actual_cents += int(row["capped_cents"])
        if months:
            item.episode_months += int(row["episode_months"])
            item.dual_months += int(row["dual_months"])
    if spec.prices == "historical":
        _historical_prices(episodes, spec, years, by_initiator, fetch, hospital_regions)
    initiators = [by_initiator[k] for k in sorted(by_initiator)]
    return EpisodeBenchmarkPrices(
        initiators=initiators,
        baseline_years=years,
        prices=_price_table(initiators, spec),
        performance=perf.select(
            "episode_key",
            "member_id",
            "episode_id",
            "price_group",
            initiator,
            "region",
            "anchor_start",
            "window_end",
            "total_amount",
            cap_amount=from_cents(perf.cap_cents),
            capped_amount=from_cents(perf.capped_cents),
            **({"episode_months": perf.episode_months, "dual_months": perf.dual_months} if months else {}),
        ),
    )


def _historical_prices(
    episodes: ir.Table,
    spec: EpisodeBenchmarkPriceSpec,
    years: tuple[int, ...],
    by_initiator: dict[str, InitiatorEpisodes],
    fetch: Fetch,
    hospital_regions: ir.Table | None,
) -> None:
    initiator = spec.initiator
    base = episodes.filter(
        episodes.status == "kept", episodes.anchor_start.year().cast("int32").isin(list(years))
    )
    base = capped_episodes(hospital_region(base, hospital_regions), spec.high_cost_cap_sd)
    own = fetch(
        base.group_by([initiator, "price_group"]).aggregate(
            episodes=base.episode_key.count().cast("int64"),
            capped_cents=base.capped_cents.sum().cast("int64"),
        )
    )
    regional = fetch(
        base.group_by(["region", "price_group"]).aggregate(
            episodes=base.episode_key.count().cast("int64"),
            capped_cents=base.capped_cents.sum().cast("int64"),
        )
    )
    if not own:
        shown = ", ".join(str(y) for y in years)
        raise ApmkitError(
            f"episodes.benchmark_prices: no kept baseline episode anchored in {shown}: the claims do not cover the "
            "baseline years (give the prices per entity with prices: input, or data for those years)"
        )
    trend = spec.annual_trend
    own_mean: dict[tuple[str, str], Decimal] = {}
    counts: dict[str, int] = {}
    for row in own:
        own_mean[(row[initiator], row["price_group"])] = (
            Decimal(row["capped_cents"]) / CENTS / row["episodes"]
        )
        counts[row[initiator]] = counts.get(row[initiator], 0) + int(row["episodes"])
    region_mean = {
        (row["region"], row["price_group"]): Decimal(row["capped_cents"]) / CENTS / row["episodes"]
        for row in regional
    }
    for item in by_initiator.values():
        item.baseline_episodes = counts.get(item.initiator, 0)
        few = item.baseline_episodes < spec.minimum_hospital_episodes
        if few:
            item.notes.append(
                f"{item.baseline_episodes} baseline episodes < {spec.minimum_hospital_episodes}: "
                "hospital-specific price = regional price"
            )
        for group in item.episodes_by_group:
            mean = region_mean.get((item.region, group))
            if mean is None:
                continue  # no regional baseline: the component asks for regional_price.<group> by name
            regional_price = mean * trend
            item.regional_price_by_group[group] = regional_price
            hospital = own_mean.get((item.initiator, group))
            if few or hospital is None:
                if hospital is None and not few:
                    item.notes.append(
                        f"group {group}: no own baseline episode: hospital-specific = regional price"
                    )
                item.hospital_price_by_group[group] = regional_price
            else:
                item.hospital_price_by_group[group] = hospital * trend


def _price_table(initiators: list[InitiatorEpisodes], spec: EpisodeBenchmarkPriceSpec) -> pa.Table:
    money = pa.decimal128(18, 2)
    rows = []
    for item in initiators:
        for group, count in sorted(item.episodes_by_group.items()):
            hospital = item.hospital_price_by_group.get(group)
            regional = item.regional_price_by_group.get(group)
            rows.append(
                {
                    "entity_id": item.initiator,
                    "region": item.region,
                    "price_group": group,
                    "baseline_episodes_entity": item.baseline_episodes,
                    "hospital_price": None if hospital is None else round_money(hospital),
                    "regional_price": None if regional is None else round_money(regional),
                    "annual_trend": str(spec.annual_trend),
                    "performance_episodes": count,
                }
            )
    schema = pa.schema(
        [
            ("entity_id", pa.string()),
            ("region", pa.string()),
            ("price_group", pa.string()),
            ("baseline_episodes_entity", pa.int64()),
            ("hospital_price", money),
            ("regional_price", money),
            ("annual_trend", pa.string()),
            ("performance_episodes", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
