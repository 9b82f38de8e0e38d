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
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine
from apmkit.episodes.benchmark_prices import benchmark_prices
from apmkit.episodes.spec import EpisodeBuildSpec, TriggerCode
from apmkit.errors import ConfigurationError, InputFileError
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


def prepare_episode_contract(contract: Contract, folder: Path | None = None) -> Contract:
    """:func:`check_episode_contract`, then the oncology episode list made concrete: ``trigger_codes`` read from
    its CSV (``system, code``; a relative path is read from ``folder``, the contract file's folder, else the
    current one) and ``include_pharmacy`` taken from ``definitions.include_pharmacy``.

    Raises
    ------
    ConfigurationError
        ``trigger_codes`` is still ``REQUIRED`` (CMS's initiating cancer therapy list is not shipped), or lists
        Part D codes while ``definitions.include_pharmacy`` is false.
    InputFileError
        The CSV is missing, lacks a column, or a row has an unknown ``system`` or an empty ``code`` (row named).
    """
    check_episode_contract(contract)
    episodes = contract.episodes
    if episodes is None or episodes.build.oncology is None:
        return contract
    pharmacy = contract.definitions.include_pharmacy
    onc = episodes.build.oncology
    if "include_pharmacy" in onc.model_fields_set and onc.include_pharmacy != pharmacy:
        raise ConfigurationError(
            f"episodes.build.oncology.include_pharmacy {str(onc.include_pharmacy).lower()} differs from "
            f"definitions.include_pharmacy {str(pharmacy).lower()}: episode spending follows the definitions "
            "(leave it out of the episodes section)"
        )
    build = resolve_oncology_build(episodes.build, folder, include_pharmacy=pharmacy)
    return contract.model_copy(update={"episodes": episodes.model_copy(update={"build": build})})


def resolve_oncology_build(
    spec: EpisodeBuildSpec, folder: Path | None, *, include_pharmacy: bool | None = None
) -> EpisodeBuildSpec:
    """``spec`` with its oncology trigger list read (a CSV path relative to ``folder``) and, when given,
    ``include_pharmacy`` set; unchanged for other episodes. Errors as :func:`prepare_episode_contract`."""
    onc = spec.oncology
    if onc is None:
        return spec
    pharmacy = onc.include_pharmacy if include_pharmacy is None else include_pharmacy
    codes = onc.trigger_codes
    if codes == "REQUIRED":
        raise ConfigurationError(
            "episodes.build.oncology.trigger_codes is REQUIRED: give CMS's initiating cancer therapy list of the "
            "performance period (Part B HCPCS and Part D NDC codes) inline as [{system: hcpcs, code: ...}] or as a "
            "CSV path with columns system, code"
        )
    if isinstance(codes, str):
        codes = _read_trigger_codes(Path(codes) if folder is None else folder / codes)
    if any(code.system == "ndc" for code in codes) and not pharmacy:
        # Part D triggers are read from pharmacy_claims: with pharmacy counted, a missing table stops the run
        raise ConfigurationError(
            "episodes.build.oncology.trigger_codes lists Part D (ndc) codes but definitions.include_pharmacy is "
            "false: set it to true (Part D fills are then episode spending and pharmacy_claims is required)"
        )
    return spec.model_copy(
        update={"oncology": onc.model_copy(update={"trigger_codes": codes, "include_pharmacy": pharmacy})}
    )


def _read_trigger_codes(path: Path) -> tuple[TriggerCode, ...]:
    from apmkit.documents import read_csv_rows

    _, rows = read_csv_rows(path, required=("system", "code"))
    codes = []
    for line, row in enumerate(rows, start=2):
        lowered = {str(k).lower(): v for k, v in row.items() if k is not None}
        system = (lowered.get("system") or "").strip().lower()
        code = (lowered.get("code") or "").strip()
        if system not in ("hcpcs", "ndc"):
            raise InputFileError(path, "system must be hcpcs or ndc", line=line, field="system")
        if not code:
            raise InputFileError(path, "empty code", line=line, field="code")
        codes.append(TriggerCode.model_validate({"system": system, "code": code}))
    if not codes:
        raise InputFileError(path, "no trigger code")
    return tuple(codes)


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
    oncology = contract.episodes.build.oncology is not None
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
        if oncology:  # the MEOS months: Σ episode_months (and dual_months) of the practice's episodes
            values.update(member_months=item.episode_months, dual_member_months=item.dual_months)
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
        }
        if not oncology:
            detail["region"] = str(item.region)
        else:
            detail["episode_months_source"] = (
                "Σ episode_months (dual_months) of episode_performance.parquet "
                f"where {spec.initiator} = {item.initiator}"
            )
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
    if oncology:
        onc = contract.episodes.build.oncology
        assert onc is not None
        stage.assumptions.append(
            f"oncology episodes: {onc.episode_months}-month episodes from {len(onc.triggers)} trigger codes with a "
            f"cancer diagnosis in the {onc.diagnosis_days_before} days before; cancer type = plurality of "
            "cancer-diagnosed claim lines; practice = billing TIN with the most E&M visits (ties: earliest visit, "
            f"then lowest TIN); spending = medical{' and Part D' if onc.include_pharmacy else ''} claims in the "
            "window; MEOS months = episode months starting before death"
        )
    stage.assumptions.append(
        f"episodes: entities are episode initiators ({spec.initiator}); episodes "
        f"{spec.performance_episodes.replace('_', ' ').replace(' period', ' the period')}; {how}"
    )
    return stage
