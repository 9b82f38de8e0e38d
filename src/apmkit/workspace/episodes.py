"""The episode stage of a contract run: episode initiators settled from their episodes.

A contract with an ``episode_reconciliation`` component and ``episodes.benchmark_prices`` settles each episode
initiator (the anchor hospital for CJR and hospital-initiated BPCI Advanced episodes) as an entity: claims give
its performance episodes by price group, their actual (capped) payments and, with historical prices, the
hospital-specific and regional prices per price group (:mod:`apmkit.episodes.benchmark_prices`); what claims
cannot hold (the composite quality score, the payer's benchmark prices) comes from ``--inputs`` and the
settlement names it when it is missing. The rows behind every figure are the ``episode_prices`` and
``episode_performance`` marts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine
from apmkit.episodes.benchmark_prices import benchmark_prices
from apmkit.errors import ConfigurationError
from apmkit.settlement.inputs import EntityInputs


@dataclass
class EpisodeStage:
    """Entities to settle, the marts behind them and what the statement should say about them."""

    entities: list[EntityInputs]
    marts: dict[str, ir.Table] = field(default_factory=dict)
    arrow: dict[str, pa.Table] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)


def settles_episodes(contract: Contract) -> bool:
    """The contract settles episode initiators from the run's episodes."""
    return any(c.type == "episode_reconciliation" for c in contract.components) and (
        contract.episodes is not None and contract.episodes.benchmark_prices is not None
    )


def check_episode_contract(contract: Contract) -> None:
    """A run contract prices episodes for its component with ``benchmark_prices``, never with ``pricing``
    (the CJR target-price spec of ``apmkit episodes price``, whose discount and limits would be a second set of
    terms beside the component's)."""
    if contract.episodes is None:
        return
    has_component = any(c.type == "episode_reconciliation" for c in contract.components)
    if has_component and contract.episodes.pricing is not None:
        raise ConfigurationError(
            "episodes.pricing: in a contract run the episode_reconciliation component holds the discount, weights "
            "and limits; give episodes.benchmark_prices (how prices are built from claims) instead"
        )


def episode_entities(
    engine: Engine,
    contract: Contract,
    period: str,
    episodes: ir.Table,
    given: Mapping[str, EntityInputs],
    *,
    source: str,
    hospital_regions: ir.Table | None = None,
) -> EpisodeStage:
    """Each episode initiator of ``period`` as :class:`EntityInputs`, merged with the values given for it.

    Measured values (episodes by price group, actual capped episode payments, historical prices) replace given
    ones; a given price fills a group the claims have no price for; given values fill everything else
    (``quality_score``, ``benchmark_price.<group>``). An entity given in ``--inputs`` without episodes in the
    period is still settled from what was given (and refused, naming the field, when that is not enough).
    """
    assert contract.episodes is not None and contract.episodes.benchmark_prices is not None
    spec = contract.episodes.benchmark_prices
    window = contract.period(period)
    result = benchmark_prices(
        episodes,
        spec,
        period=period,
        start=window.start,
        end=window.end,
        fetch=engine.rows,
        hospital_regions=hospital_regions,
    )
    entities: list[EntityInputs] = []
    for item in result.initiators:
        base = given.get(item.initiator)
        values: dict[str, Any] = base.model_dump() if base is not None else {"entity_id": item.initiator}
        values.update(
            episodes=item.episodes,
            episodes_by_group=dict(item.episodes_by_group),
            episode_payments=item.actual_amount,
        )
        for name, measured in (
            ("hospital_price_by_group", item.hospital_price_by_group),
            ("regional_price_by_group", item.regional_price_by_group),
        ):
            values[name] = {**(values.get(name) or {}), **measured}
        values["source"] = (
            f"{source}: {item.episodes} episodes of {spec.initiator} {item.initiator} "
            "(episode_performance.parquet, prices: episode_prices.parquet)"
            + (f"; {base.source}" if base is not None and base.source else "")
        )
        detail: dict[str, str] = {
            **values.get("detail", {}),
            "episode_payments_source": "Σ capped_amount of episode_performance.parquet "
            f"where {spec.initiator} = {item.initiator}",
            "region": str(item.region),
        }
        if spec.prices == "historical":
            detail.update(
                baseline_years=", ".join(str(y) for y in result.baseline_years),
                baseline_episodes=str(item.baseline_episodes),
                annual_trend=str(spec.annual_trend),
            )
        if item.notes:
            detail["price_notes"] = "; ".join(item.notes)
        values["detail"] = detail
        entities.append(EntityInputs.model_validate(values))
    initiators = {e.entity_id for e in entities}
    entities.extend(e for key, e in sorted(given.items()) if key not in initiators)
    stage = EpisodeStage(entities=entities)
    stage.marts["episode_performance"] = result.performance
    stage.arrow["episode_prices"] = result.prices
    stage.counts.update(
        episode_initiators=len(result.initiators),
        episodes_reconciled=sum(i.episodes for i in result.initiators),
    )
    how = (
        f"historical prices from baseline years {', '.join(str(y) for y in result.baseline_years)} "
        f"(capped at the regional mean + {spec.high_cost_cap_sd} SD, x trend {spec.annual_trend})"
        if spec.prices == "historical"
        else "the payer's benchmark prices per price group (--inputs benchmark_price.<group>)"
    )
    stage.assumptions.append(
        f"episodes: entities are episode initiators ({spec.initiator}); episodes "
        f"{spec.performance_episodes.replace('_', ' ').replace(' period', ' the period')}; {how}"
    )
    return stage
