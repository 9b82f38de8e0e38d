"""Negotiation analytics on a :class:`~apmkit.simulation.contract.Simulator`: sensitivity (tornado), contracts
compared (expected value against CVaR), break-even and initiative ROI, and monthly cash flow.

Every comparison runs on one simulator, so the alternatives see the same random numbers (common random numbers):
a difference between two rows is the terms' or the assumption's, not sampling noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from apmkit.contracts import Contract
from apmkit.errors import ConfigurationError
from apmkit.simulation.contract import EntityOutcome, Simulator
from apmkit.simulation.exact import Ints
from apmkit.simulation.model import Assumptions
from apmkit.simulation.stats import cents_mean, cvar, percentile, share

ALL = "(all)"
"""The entity id of rows that sum every entity's scenario outcomes."""

ASSUMPTION_NAMES = tuple(f.name for f in dataclasses.fields(Assumptions) if f.name != "resample")


@dataclass(frozen=True)
class Variation:
    """A term (``term``: ``component_id.dotted.path``) or an assumption (``assumption``: its name) with a low and a
    high value."""

    kind: str
    target: str
    low: str
    high: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}"

    @classmethod
    def parse(cls, text: str) -> Variation:
        """``term:shared_savings.terms.max_sharing_rate=0.4,0.6`` or ``assumption:trend=-0.03,0.03``."""
        kind, _, rest = text.partition(":")
        target, _, values = rest.partition("=")
        low, _, high = values.partition(",")
        if kind not in ("term", "assumption") or not target or not low or not high:
            raise ConfigurationError(
                f"--vary {text!r}: write term:COMPONENT.FIELD=LOW,HIGH or assumption:NAME=LOW,HIGH"
            )
        if kind == "assumption" and target not in ASSUMPTION_NAMES:
            raise ConfigurationError(
                f"--vary {text!r}: unknown assumption (known: {', '.join(ASSUMPTION_NAMES)})"
            )
        return cls(kind, target, low.strip(), high.strip())


def edit_term(contract: Contract, path: str, value: Any) -> Contract:
    """The contract with one term of one component set: ``component_id.field[.field...]`` (the component is
    validated again; the rest of the contract is unchanged)."""
    from pydantic import ValidationError

    component_id, _, dotted = path.partition(".")
    ids = [c.id for c in contract.components]
    if component_id not in ids or not dotted:
        raise ConfigurationError(
            f"term {path!r}: name a component ({', '.join(ids)}) and a field, e.g. "
            "shared_savings.terms.max_sharing_rate"
        )
    index = ids.index(component_id)
    component = contract.components[index]
    data = component.model_dump(mode="python", exclude_none=True)
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigurationError(
                f"term {path!r}: {part!r} is not a section of component {component_id!r}"
            )
        node = node[part]
    node[parts[-1]] = value
    try:
        edited = type(component).model_validate(data)
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        raise ConfigurationError(f"term {path!r} = {value}: {problem['msg']}") from None
    components = list(contract.components)
    components[index] = edited
    return contract.model_copy(update={"components": components})


def with_assumption(assumptions: Assumptions, name: str, value: str) -> Assumptions:
    """The assumptions with one value replaced (checked)."""
    if name not in ASSUMPTION_NAMES:
        raise ConfigurationError(f"unknown assumption {name!r} (known: {', '.join(ASSUMPTION_NAMES)})")
    current = getattr(assumptions, name)
    try:
        parsed: Any = Decimal(value) if isinstance(current, Decimal) else float(value)
    except (ValueError, ArithmeticError):
        raise ConfigurationError(f"assumption {name}: {value!r} is not a number") from None
    changed = dataclasses.replace(assumptions, **{name: parsed})
    changed.check()
    return changed


def default_variations(
    contract: Contract, assumptions: Assumptions, quality: Decimal | None
) -> list[Variation]:
    """The tornado's default rows: the assumptions the issue names and each shared-savings component's main terms."""
    rows = [
        Variation("assumption", "trend", str(assumptions.trend - 0.03), str(assumptions.trend + 0.03)),
        Variation(
            "assumption",
            "utilization",
            str(assumptions.utilization - 0.03),
            str(assumptions.utilization + 0.03),
        ),
        Variation(
            "assumption",
            "coding_intensity",
            str(assumptions.coding_intensity - 0.02),
            str(assumptions.coding_intensity + 0.02),
        ),
        Variation("assumption", "panel_scale", "0.5", "1.5"),
        Variation("assumption", "churn", "0", str(min(1.0, assumptions.churn + 0.2))),
    ]
    mean = (
        assumptions.quality_mean
        if assumptions.quality_mean is not None
        else (None if quality is None else float(quality))
    )
    if mean is not None:
        rows.append(
            Variation("assumption", "quality_mean", str(max(0.0, mean - 0.1)), str(min(1.0, mean + 0.1)))
        )
    if not assumptions.resample:
        rows = [v for v in rows if v.target not in ("panel_scale", "churn")]
    for comp in contract.components:
        if comp.type != "shared_savings":
            continue
        terms = comp.terms
        rate = terms.max_sharing_rate
        rows.append(
            Variation(
                "term",
                f"{comp.id}.terms.max_sharing_rate",
                str(max(Decimal(0), rate - Decimal("0.1"))),
                str(min(Decimal(1), rate + Decimal("0.1"))),
            )
        )
        msr = terms.minimum_savings_rate
        if msr.kind == "fixed" and msr.rate is not None:
            rows.append(
                Variation(
                    "term",
                    f"{comp.id}.terms.minimum_savings_rate.rate",
                    str(max(Decimal(0), msr.rate - Decimal("0.01"))),
                    str(msr.rate + Decimal("0.01")),
                )
            )
        cap = terms.savings_cap.pct_of_benchmark
        if cap is not None:
            rows.append(
                Variation(
                    "term",
                    f"{comp.id}.terms.savings_cap.pct_of_benchmark",
                    str(max(Decimal("0.01"), cap - Decimal("0.05"))),
                    str(min(Decimal(1), cap + Decimal("0.05"))),
                )
            )
        loss = terms.loss_rate
        if loss is not None and loss.method == "fixed" and loss.rate is not None:
            rows.append(
                Variation(
                    "term",
                    f"{comp.id}.terms.loss_rate.rate",
                    str(max(loss.floor, loss.rate - Decimal("0.1"))),
                    str(min(loss.ceiling, loss.rate + Decimal("0.1"))),
                )
            )
    return rows


def _apply(
    contract: Contract, assumptions: Assumptions, variation: Variation, value: str
) -> tuple[Contract, Assumptions]:
    if variation.kind == "term":
        return edit_term(contract, variation.target, value), assumptions
    return contract, with_assumption(assumptions, variation.target, value)


def totals_by_entity(outcomes: Sequence[EntityOutcome], what: str = "net") -> dict[str, Ints]:
    """Per entity and summed over entities (``(all)``): the scenario arrays of the net or the margin (cents)."""
    series = {o.entity_id: (o.settlement.net if what == "net" else o.margin) for o in outcomes}
    if len(series) > 1:
        series[ALL] = np.sum(np.stack(list(series.values())), axis=0)
    return series


def distribution(values: Ints) -> dict[str, Any]:
    """Expected value, percentiles and expected shortfall of one scenario array (dollars)."""
    return {
        "expected_net": cents_mean(values),
        "p05_net": percentile(values, 5),
        "p95_net": percentile(values, 95),
        "cvar95": cvar(values, 0.95),
        "prob_negative": share(values < 0),
    }


def tornado(
    simulator: Simulator,
    contract: Contract,
    assumptions: Assumptions,
    variations: Sequence[Variation],
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """For each variation: the expected net and CVaR 95 % at its low and high value, everything else at base.

    Rows per entity (and ``(all)``), ordered by swing (|high − low| of the expected net), largest first.
    """
    base = totals_by_entity(simulator.run(contract, assumptions))
    rows: list[dict[str, Any]] = []
    for variation in variations:
        if progress is not None:
            progress(variation.label)
        results = {}
        for side, value in (("low", variation.low), ("high", variation.high)):
            varied_contract, varied = _apply(contract, assumptions, variation, value)
            results[side] = totals_by_entity(simulator.run(varied_contract, varied))
        for entity_id, base_values in base.items():
            low, high = results["low"][entity_id], results["high"][entity_id]
            low_net, high_net = cents_mean(low), cents_mean(high)
            rows.append(
                {
                    "entity_id": entity_id,
                    "parameter": variation.label,
                    "low_value": variation.low,
                    "high_value": variation.high,
                    "base_expected_net": cents_mean(base_values),
                    "expected_net_low": low_net,
                    "expected_net_high": high_net,
                    "swing": abs(high_net - low_net),
                    "cvar95_low": cvar(low),
                    "cvar95_high": cvar(high),
                }
            )
    rows.sort(key=lambda r: (r["entity_id"], -r["swing"]))
    return rows


def parse_named(text: str, base: Assumptions) -> tuple[str, Assumptions]:
    """``NAME:ASSUMPTION=VALUE[,ASSUMPTION=VALUE...]`` (e.g. ``recession:trend=0.05,churn=0.2``): a named set of
    assumptions on top of ``base``."""
    name, _, settings = text.partition(":")
    if not name.strip() or not settings.strip():
        raise ConfigurationError(f"--named {text!r}: write NAME:ASSUMPTION=VALUE[,ASSUMPTION=VALUE...]")
    chosen = base
    for part in settings.split(","):
        key, _, value = part.partition("=")
        if not value.strip():
            raise ConfigurationError(f"--named {text!r}: {part!r} is not ASSUMPTION=VALUE")
        chosen = with_assumption(chosen, key.strip(), value.strip())
    return name.strip(), chosen


def named_scenarios(
    simulator: Simulator, contract: Contract, named: Sequence[tuple[str, Assumptions]]
) -> list[dict[str, Any]]:
    """Named assumption sets side by side: the distribution of the net per set and entity (same random numbers)."""
    rows: list[dict[str, Any]] = []
    for name, assumptions in named:
        for entity_id, values in totals_by_entity(simulator.run(contract, assumptions)).items():
            rows.append({"scenario": name, "entity_id": entity_id, **distribution(values)})
    return rows


def compare(
    simulator: Simulator, contracts: Sequence[tuple[str, Contract]], assumptions: Assumptions
) -> list[dict[str, Any]]:
    """Contracts on one population (one simulator): per contract and entity the distribution of the net."""
    rows: list[dict[str, Any]] = []
    for name, contract in contracts:
        for entity_id, values in totals_by_entity(simulator.run(contract, assumptions)).items():
            rows.append({"contract": name, "entity_id": entity_id, **distribution(values)})
    return rows


def frontier(rows: list[dict[str, Any]], *, risk_weights: int = 11) -> list[dict[str, Any]]:
    """Marks each row ``on_frontier`` (no other contract has an expected net and a CVaR 95 % at least as high, one
    of them higher) and returns, per entity and risk weight ``w`` in [0, 1], the contract that maximizes
    ``(1 − w) × expected net + w × CVaR 95 %`` (w = 0: risk-neutral; w = 1: only the worst 5 % count)."""
    appetite: list[dict[str, Any]] = []
    for entity_id in dict.fromkeys(r["entity_id"] for r in rows):
        mine = [r for r in rows if r["entity_id"] == entity_id]
        for row in mine:
            row["on_frontier"] = not any(
                o is not row
                and o["expected_net"] >= row["expected_net"]
                and o["cvar95"] >= row["cvar95"]
                and (o["expected_net"] > row["expected_net"] or o["cvar95"] > row["cvar95"])
                for o in mine
            )
        for step in range(risk_weights):
            weight = Decimal(step) / Decimal(risk_weights - 1)
            scored = [((1 - weight) * r["expected_net"] + weight * r["cvar95"], r["contract"]) for r in mine]
            best_score = max(score for score, _ in scored)
            appetite.append(
                {
                    "entity_id": entity_id,
                    "risk_weight": float(weight),
                    "best_contract": ", ".join(n for score, n in scored if score == best_score),
                    "score": best_score.quantize(Decimal("0.01")),
                }
            )
    return appetite


def break_even(
    simulator: Simulator,
    contract: Contract,
    assumptions: Assumptions,
    *,
    low: float = -0.5,
    high: float = 0.5,
    tolerance: float = 1e-4,
) -> list[dict[str, Any]]:
    """Per entity: the smallest spending reduction at which the expected margin (net settlement − care-management
    cost) is at least 0, found by bisection on ``cost_reduction`` in [low, high] (the expected margin does not fall
    as spending falls). None when even ``high`` leaves a loss, or ``low`` already breaks even."""

    def margins(reduction: float) -> dict[str, Decimal]:
        varied = dataclasses.replace(assumptions, cost_reduction=reduction)
        return {o.entity_id: cents_mean(o.margin) for o in simulator.run(contract, varied)}

    at_low, at_high = margins(low), margins(high)
    rows: list[dict[str, Any]] = []
    for entity_id in at_low:
        if at_low[entity_id] >= 0 or at_high[entity_id] < 0:
            rows.append(
                {
                    "entity_id": entity_id,
                    "break_even_reduction": None,
                    "note": f"expected margin is already ≥ 0 at a reduction of {low}"
                    if at_low[entity_id] >= 0
                    else f"expected margin stays below 0 up to a reduction of {high}",
                }
            )
            continue
        lo, hi = low, high
        while hi - lo > tolerance:
            middle = (lo + hi) / 2
            if margins(middle)[entity_id] >= 0:
                hi = middle
            else:
                lo = middle
        rows.append({"entity_id": entity_id, "break_even_reduction": round(hi, 6), "note": ""})
    return rows


@dataclass(frozen=True)
class Initiative:
    """A named initiative: spending reduction it achieves and what it costs per member per month."""

    name: str
    spending_reduction: float
    cost_pmpm: Decimal

    @classmethod
    def parse(cls, text: str) -> Initiative:
        """``NAME:REDUCTION:COST_PMPM``, e.g. ``avoidable admissions -10%:0.012:3.50``."""
        name, _, rest = text.rpartition(":")
        name, _, reduction = name.rpartition(":")
        try:
            parsed = cls(name.strip(), float(reduction), Decimal(rest))
        except (ValueError, ArithmeticError):
            parsed = None
        if (
            parsed is None
            or not parsed.name
            or not -1 < parsed.spending_reduction < 1
            or parsed.cost_pmpm < 0
        ):
            raise ConfigurationError(
                f"--initiative {text!r}: write NAME:SPENDING_REDUCTION:COST_PMPM (e.g. admissions:0.012:3.50)"
            )
        return parsed


def initiative_roi(
    simulator: Simulator, contract: Contract, assumptions: Assumptions, initiatives: Sequence[Initiative]
) -> list[dict[str, Any]]:
    """Per initiative and entity: expected net settlement without and with it, its cost, the expected gain net of
    cost and the ROI (gain net of cost / cost). The initiative's spending reduction is added to the assumptions'."""
    base = {o.entity_id: o for o in simulator.run(contract, assumptions)}
    rows: list[dict[str, Any]] = []
    for initiative in initiatives:
        varied = dataclasses.replace(
            assumptions,
            cost_reduction=1 - (1 - assumptions.cost_reduction) * (1 - initiative.spending_reduction),
            care_management_pmpm=assumptions.care_management_pmpm + initiative.cost_pmpm,
        )
        for outcome in simulator.run(contract, varied):
            before = base[outcome.entity_id]
            net_before, net_after = cents_mean(before.settlement.net), cents_mean(outcome.settlement.net)
            cost = cents_mean(outcome.cost - before.cost)
            gain = net_after - net_before - cost
            rows.append(
                {
                    "initiative": initiative.name,
                    "entity_id": outcome.entity_id,
                    "spending_reduction": initiative.spending_reduction,
                    "cost_pmpm": initiative.cost_pmpm,
                    "expected_net_without": net_before,
                    "expected_net_with": net_after,
                    "expected_cost": cost,
                    "expected_gain_after_cost": gain,
                    "roi": None if cost == 0 else float(gain / cost),
                    "prob_gain": share(
                        (outcome.settlement.net - before.settlement.net) - (outcome.cost - before.cost) > 0
                    ),
                }
            )
    return rows


_INSTALMENTS = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def _month(start: date, offset: int) -> date:
    index = start.month - 1 + offset
    return date(start.year + index // 12, index % 12 + 1, 1)


def _spread(values: Ints, count: int) -> list[Ints]:
    """``values`` in ``count`` instalments of whole cents (the last takes the remainder), per scenario."""
    each = values // count
    parts = [each.copy() for _ in range(count)]
    parts[-1] = values - each * (count - 1)
    return parts


def cash_flow(
    contract: Contract,
    period_start: date,
    outcomes: Sequence[EntityOutcome],
    *,
    settlement_lag_months: int,
    ffs: Mapping[str, Mapping[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """Monthly receipts (+) and payments (−) of each entity under the contract, expected and 5th/95th percentile.

    Paid during the period: capitation, care-management fees and monthly services payments monthly (a withhold
    taken from them monthly too), population-based payments quarterly in advance, infrastructure payments and
    prepaid incentives in the first month, interim payments on their schedule; the balance at
    settlement (net − paid: a payment, or a recoupment when negative) ``settlement_lag_months`` after the period's
    last month; the provider's care-management cost monthly.

    ``ffs`` (entity → month offset from ``period_start`` → cents) is the entity's fee-for-service receipts: a row
    ``fee-for-service receipts`` per month with the amount in ``ffs_receipts`` (its ``expected``/``p05``/``p95``
    empty: it is the data's, not a scenario's), and on each ``cumulative cash position`` row the receipts up to
    that month in ``ffs_receipts`` (the position's ``expected``/``p05``/``p95`` stay the contract's flows alone).
    Every other row's ``ffs_receipts`` is empty; without ``ffs`` the column is empty throughout.
    """
    if settlement_lag_months < 0:
        raise ConfigurationError("--settlement-lag-months: must be ≥ 0")
    rows: list[dict[str, Any]] = []
    types = {comp.id: comp for comp in contract.components}
    for outcome in outcomes:
        flows: dict[tuple[int, str], Ints] = {}

        def add(month: int, item: str, values: Ints, flows: dict[tuple[int, str], Ints] = flows) -> None:
            key = (month, item)
            flows[key] = flows.get(key, np.zeros_like(values)) + values

        for component_id, result in outcome.settlement.components.items():
            paid = result.paid
            if not paid.any():
                continue
            comp = types[component_id]
            if comp.type in ("capitation", "care_management_fee", "withhold", "episode_services_payment"):
                schedule = [(m, 12) for m in range(12)]
            elif comp.type == "population_based_payment":
                schedule = [(m, 4) for m in (0, 3, 6, 9)]
            elif comp.type == "interim_payments":
                count = _INSTALMENTS[getattr(comp, "schedule", "quarterly")]
                schedule = [(m * (12 // count), count) for m in range(count)]
            else:
                schedule = [(0, 1)]
            parts = _spread(paid, len(schedule))
            for (month, _), part in zip(schedule, parts, strict=True):
                add(month, f"{component_id} ({comp.type}) paid during the period", part)
        add(
            11 + settlement_lag_months,
            "balance at settlement (+ payment, − recoupment)",
            outcome.settlement.balance,
        )
        if outcome.cost.any():
            for month, part in enumerate(_spread(-outcome.cost, 12)):
                add(month, "care-management cost (provider)", part)
        cumulative: dict[int, Ints] = {}
        for (month, _item), values in flows.items():
            cumulative[month] = cumulative.get(month, np.zeros_like(values)) + values
        receipts = dict((ffs or {}).get(outcome.entity_id, {}))
        first, last = min([0, *receipts]), max([*cumulative, *receipts])
        running = np.zeros(outcome.totals.size, np.int64)
        position: dict[int, Ints] = {}
        for month in range(first, last + 1):
            running = running + cumulative.get(month, np.zeros_like(running))
            position[month] = running
        for (month, item), values in sorted(flows.items()):
            rows.append(_flow_row(outcome.entity_id, _month(period_start, month), item, values))
        for month in sorted(receipts):
            rows.append(
                {
                    "entity_id": outcome.entity_id,
                    "month": _month(period_start, month),
                    "item": FFS_ITEM,
                    "expected": None,
                    "p05": None,
                    "p95": None,
                    "ffs_receipts": _cents(receipts[month]),
                }
            )
        received = 0
        for month, values in position.items():
            received += receipts.get(month, 0)
            row = _flow_row(
                outcome.entity_id, _month(period_start, month), "cumulative cash position", values
            )
            row["ffs_receipts"] = _cents(received) if ffs is not None else None
            rows.append(row)
    return rows


FFS_ITEM = "fee-for-service receipts"


def _cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _flow_row(entity_id: str, month: date, item: str, values: Ints) -> dict[str, Any]:
    return {
        "entity_id": entity_id,
        "month": month,
        "item": item,
        "expected": cents_mean(values),
        "p05": percentile(values, 5),
        "p95": percentile(values, 95),
        "ffs_receipts": None,
    }


__all__ = [
    "ALL",
    "ASSUMPTION_NAMES",
    "FFS_ITEM",
    "Initiative",
    "Variation",
    "break_even",
    "cash_flow",
    "compare",
    "default_variations",
    "distribution",
    "edit_term",
    "frontier",
    "initiative_roi",
    "named_scenarios",
    "parse_named",
    "tornado",
    "totals_by_entity",
    "with_assumption",
]
