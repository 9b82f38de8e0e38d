"""General (commercial / Medicaid) PMPM benchmarks per entity, with virtual panels.

Per-member work runs on the engine: member-years come from :mod:`apmkit.spending` (eligible months, cost
basis, truncation, run-out under a contract's ``definitions:``, the same measurement as the actual spending),
joined to the entities and summed per entity and year; the per-entity build-up is exact Decimal arithmetic on those totals, one statement line per
step. Build-up per entity (``GeneralBenchmarkSpec``):

1. own PMPM per base year, trended to the performance year: ``pmpm_y x (1 + trend)^(PY - y)``;
2. weighted across base years (weights renormalized over the years the entity has member-months);
3. blended with the peer/regional PMPM: ``(1 - rw) x own + rw x peer``;
4. credibility: ``Z = min(1, sqrt(mm / full))``, ``Z x blended + (1 - Z) x peer``;
5. efficiency: x ``(1 + efficiency_adjustment)`` when the utilization index (own / peer) exceeds the
   threshold;
6. risk: x ``PY risk / base risk`` (member-month-weighted means).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.benchmark.mssp import lines_to_arrow
from apmkit.benchmark.mssp_steps import ONE, ZERO, Line
from apmkit.benchmark.spec import GeneralBenchmarkSpec
from apmkit.money import round_money
from apmkit.portable import Fetch

CENTS = Decimal(100)
ALL = "all"


def entity_year_totals(member_years: ir.Table, risk_scores: ir.Table | None) -> ir.Table:
    """``entity_id, panel_key, year, member_months, cost_cents, risk_months, risk_weighted``."""
    t = member_years
    if risk_scores is not None:
        scores = risk_scores.select(
            "member_id", year=risk_scores.year.cast("int32"), score=risk_scores.score.cast("decimal(18, 6)")
        )
        t = t.left_join(scores, ["member_id", "year"]).drop("member_id_right", "year_right")
        scored_months = ibis.ifelse(t.score.isnull(), 0, t.member_months)
        risk_weighted = (t.score.fill_null(0) * t.member_months).cast("decimal(38, 6)")
    else:
        scored_months = ibis.literal(0)
        risk_weighted = ibis.literal(0).cast("decimal(38, 6)")
    t = t.mutate(scored_months=scored_months, risk_weighted=risk_weighted)
    return t.group_by(["entity_id", "panel_key", "year"]).aggregate(
        member_months=t.member_months.sum().cast("int64"),
        cost_cents=t.adjusted_cents.sum().cast("int64"),
        risk_months=t.scored_months.sum().cast("int64"),
        risk_weighted=t.risk_weighted.sum(),
    )


def virtual_panels(
    last_year_months: Mapping[str, int], panel_keys: Mapping[str, str], minimum: int
) -> dict[str, str]:
    """Pool entities below ``minimum`` member-months into virtual panels that reach it.

    Small entities are taken in order of (panel key, entity id) and added to the current panel until it
    reaches ``minimum``; a remainder that does not reach it joins the last panel formed. Entities at or
    above the minimum stay on their own.

    Returns
    -------
    dict
        entity id -> benchmark entity (its own id, or ``panel-N``).
    """
    mapping = {entity: entity for entity, months in last_year_months.items() if months >= minimum}
    small = sorted(
        (e for e, m in last_year_months.items() if m < minimum), key=lambda e: (panel_keys.get(e, ""), e)
    )
    panels: list[list[str]] = []
    current: list[str] = []
    current_months = 0
    for entity in small:
        current.append(entity)
        current_months += last_year_months[entity]
        if current_months >= minimum:
            panels.append(current)
            current, current_months = [], 0
    if current:
        if panels:
            panels[-1].extend(current)
        else:
            panels.append(current)
    for number, members in enumerate(panels, start=1):
        for entity in members:
            mapping[entity] = f"panel-{number}"
    return mapping


@dataclass(frozen=True)
class EntityBenchmark:
    """One entity's (or virtual panel's) benchmark: its PMPM, member-months and key factors."""

    entity_id: str
    members_of: tuple[str, ...]
    base_member_months: int
    historical_pmpm: Decimal
    peer_pmpm: Decimal
    utilization_index: Decimal
    credibility: Decimal
    risk_ratio: Decimal
    benchmark_pmpm: Decimal


@dataclass(frozen=True)
class GeneralBenchmarkResult:
    """Benchmarks per entity plus the statement lines (``entity`` column = entity or panel id)."""

    entities: tuple[EntityBenchmark, ...]
    lines: tuple[Line, ...]
    panel_of: dict[str, str] = field(default_factory=dict)

    def lines_arrow(self) -> pa.Table:
        return lines_to_arrow(self.lines)

    def entities_arrow(self) -> pa.Table:
        money = pa.decimal128(18, 2)
        factor = pa.decimal128(28, 8)
        q = Decimal("0.00000001")
        rows = [
            {
                "entity_id": e.entity_id,
                "member_entities": ",".join(e.members_of),
                "base_member_months": e.base_member_months,
                "historical_pmpm": round_money(e.historical_pmpm),
                "peer_pmpm": round_money(e.peer_pmpm),
                "utilization_index": e.utilization_index.quantize(q),
                "credibility": e.credibility.quantize(q),
                "risk_ratio": e.risk_ratio.quantize(q),
                "benchmark_pmpm": round_money(e.benchmark_pmpm),
            }
            for e in self.entities
        ]
        schema = pa.schema(
            [
                ("entity_id", pa.string()),
                ("member_entities", pa.string()),
                ("base_member_months", pa.int64()),
                ("historical_pmpm", money),
                ("peer_pmpm", money),
                ("utilization_index", factor),
                ("credibility", factor),
                ("risk_ratio", factor),
                ("benchmark_pmpm", money),
            ]
        )
        return pa.Table.from_pylist(rows, schema=schema)


def _sqrt(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 28
        return value.sqrt()


def build_benchmarks(
    totals: list[dict[str, object]], spec: GeneralBenchmarkSpec, *, completion_factor: Decimal = ONE
) -> GeneralBenchmarkResult:
    """The per-entity build-up from entity-year totals (rows of :func:`entity_year_totals`).

    ``completion_factor`` completes each base year's spending (the contract's definitions apply the same
    factor to the performance year's actual spending).
    """
    base_years, py = spec.years
    last_base = base_years[-1]
    panel_keys = {str(r["entity_id"]): str(r["panel_key"] or "") for r in totals}
    mapping = {e: e for e in panel_keys}
    if spec.virtual_panel_min_member_months is not None:
        last_months = {e: 0 for e in panel_keys}
        for r in totals:
            if r["year"] == last_base:
                last_months[str(r["entity_id"])] += int(r["member_months"])  # type: ignore[call-overload]
        mapping = virtual_panels(last_months, panel_keys, spec.virtual_panel_min_member_months)

    # Sum entity-years into benchmark entities (virtual panels pool their members' experience).
    sums: dict[str, dict[int, dict[str, Decimal]]] = {}
    peer: dict[int, dict[str, Decimal]] = {}
    for r in totals:
        target = mapping[str(r["entity_id"])]
        year = int(r["year"])  # type: ignore[call-overload]
        for bucket in (sums.setdefault(target, {}).setdefault(year, {}), peer.setdefault(year, {})):
            for key in ("member_months", "cost_cents", "risk_months", "risk_weighted"):
                bucket[key] = bucket.get(key, ZERO) + Decimal(str(r[key]))

    def pmpm(bucket: dict[str, Decimal] | None) -> Decimal | None:
        if not bucket or not bucket.get("member_months"):
            return None
        return bucket["cost_cents"] / CENTS / bucket["member_months"] * completion_factor

    def mean_risk(buckets: list[dict[str, Decimal]]) -> Decimal | None:
        months = sum((b.get("risk_months", ZERO) for b in buckets), ZERO)
        return sum((b.get("risk_weighted", ZERO) for b in buckets), ZERO) / months if months else None

    weights = dict(zip(base_years, spec.weights, strict=True))
    trend = {y: (ONE + spec.annual_trend) ** (py - y) for y in base_years}
    peer_pmpm_by_year = {
        y: (spec.regional_pmpm or {}).get(y) or pmpm(peer.get(y)) or ZERO for y in base_years
    }
    lines: list[Line] = []
    entities: list[EntityBenchmark] = []
    for entity in sorted(sums):
        years = sums[entity]
        present = [y for y in base_years if pmpm(years.get(y)) is not None]
        if not present:
            continue
        total_weight = sum((weights[y] for y in present), ZERO)
        own = ZERO
        peer_value = ZERO
        for y in present:
            w = weights[y] / total_weight
            own_y = pmpm(years.get(y)) or ZERO
            own += w * own_y * trend[y]
            peer_value += w * peer_pmpm_by_year[y] * trend[y]
            lines += [
                Line(
                    "pmpm",
                    "Own PMPM (truncated"
                    + (f", completed x {completion_factor})" if completion_factor != ONE else ")"),
                    round_money(own_y),
                    "usd_pmpm",
                    entity,
                    y,
                ),
                Line("trend_factor", f"Trend to {py}", trend[y], "factor", entity, y),
                Line("weight", "Base-year weight", w, "weight", entity, y),
            ]
        lines.append(
            Line("historical_pmpm", "Weighted, trended historical PMPM", round_money(own), "usd_pmpm", entity)
        )
        lines.append(
            Line(
                "peer_pmpm",
                "Peer/regional PMPM, same weights and trend",
                round_money(peer_value),
                "usd_pmpm",
                entity,
            )
        )
        index = own / peer_value if peer_value else ONE
        lines.append(Line("utilization_index", "Utilization index (own / peer)", index, "factor", entity))
        blended = (ONE - spec.regional_weight) * own + spec.regional_weight * peer_value
        lines.append(
            Line(
                "blended_pmpm",
                f"Blend: {spec.regional_weight} peer weight",
                round_money(blended),
                "usd_pmpm",
                entity,
            )
        )
        months = int(sum((years[y]["member_months"] for y in present), ZERO))
        credibility = ONE
        if spec.full_credibility_member_months is not None:
            credibility = min(ONE, _sqrt(Decimal(months) / Decimal(spec.full_credibility_member_months)))
        credible = credibility * blended + (ONE - credibility) * peer_value
        lines.append(
            Line("credibility", f"Credibility factor ({months} member-months)", credibility, "factor", entity)
        )
        lines.append(
            Line(
                "credibility_blended_pmpm",
                "Credibility-weighted PMPM",
                round_money(credible),
                "usd_pmpm",
                entity,
            )
        )
        adjusted = credible
        if spec.efficiency_threshold is not None and index > spec.efficiency_threshold:
            adjusted = credible * (ONE + spec.efficiency_adjustment)
            lines.append(
                Line(
                    "efficiency_adjustment",
                    f"Efficiency adjustment {spec.efficiency_adjustment}",
                    round_money(adjusted),
                    "usd_pmpm",
                    entity,
                )
            )
        ratio = ONE
        if spec.risk_adjust:
            base_risk = mean_risk([years[y] for y in present])
            py_risk = mean_risk([years[py]]) if py in years else None
            if base_risk and py_risk:
                ratio = py_risk / base_risk
            lines.append(Line("risk_ratio", "Risk score ratio (PY / base)", ratio, "factor", entity))
        final = adjusted * ratio
        lines.append(Line("benchmark_pmpm", "Benchmark PMPM", round_money(final), "usd_pmpm", entity, py))
        entities.append(
            EntityBenchmark(
                entity_id=entity,
                members_of=tuple(sorted(e for e, target in mapping.items() if target == entity)),
                base_member_months=months,
                historical_pmpm=own,
                peer_pmpm=peer_value,
                utilization_index=index,
                credibility=credibility,
                risk_ratio=ratio,
                benchmark_pmpm=final,
            )
        )
    return GeneralBenchmarkResult(entities=tuple(entities), lines=tuple(lines), panel_of=mapping)


def member_years_for_entities(member_years: ir.Table, links: ir.Table, years: list[int]) -> ir.Table:
    """Spending member-years (:func:`apmkit.spending.member_years`) of attributed members, in the shape
    :func:`entity_year_totals` takes: each member's years count for the entity it is attributed to.

    ``links`` is ``member_id, entity_id`` [, ``year``, ``panel_key``, ``attributed``]: with ``year`` a member's
    year counts for that year's entity; rows not attributed (``attributed`` false or ``entity_id`` NULL) count for
    no entity, so they never enter the peer PMPM.
    """
    kept = member_years.filter(member_years.year.isin(years))
    if "attributed" in links.columns:
        links = links.filter(links.attributed)
    links = links.filter(links.entity_id.notnull())
    keys = ["member_id", "year"] if "year" in links.columns else ["member_id"]
    assigned = links.select(
        member_id=links.member_id.cast("string"),
        **({"year": links.year.cast("int32")} if "year" in keys else {}),
        entity_id=links.entity_id.cast("string"),
        panel_key=(
            links.panel_key.cast("string") if "panel_key" in links.columns else ibis.literal("")
        ).fill_null(""),
    ).distinct()
    joined = kept.inner_join(assigned, keys)
    return joined.select(
        "member_id",
        "entity_id",
        "year",
        "member_months",
        "cost_cents",
        "panel_key",
        adjusted_cents=joined.truncated_cents,
    )


def general_benchmark(
    member_years: ir.Table,
    spec: GeneralBenchmarkSpec,
    *,
    fetch: Fetch,
    links: ir.Table | None = None,
    risk_scores: ir.Table | None = None,
    completion_factor: Decimal = ONE,
) -> GeneralBenchmarkResult:
    """Benchmarks per attributed entity (or one entity ``all`` without ``links``) from spending member-years.

    Parameters
    ----------
    member_years
        :attr:`apmkit.spending.Spending.member_years` of the base years and the performance year, measured under
        the contract's ``definitions:`` (cost basis, eligible months, truncation, run-out): the same measurement
        as the actual spending, which is why the benchmark has no spending rules of its own.
    spec
        General benchmark parameters.
    links
        ``member_id, entity_id`` [, ``year``, ``panel_key``, ``attributed``]: who each member's costs count for.
    risk_scores
        ``member_id, year, score``; used when ``spec.risk_adjust``.
    completion_factor
        The definitions' completion factor (applied to each base year).
    fetch
        Returns the rows of the entity-year totals (``Engine.rows``).
    """
    base_years, performance_year = spec.years
    years = [*base_years, performance_year]
    if links is None:
        links = member_years.select("member_id", entity_id=ibis.literal(ALL)).distinct()
    totals = entity_year_totals(
        member_years_for_entities(member_years, links, years), risk_scores if spec.risk_adjust else None
    )
    return build_benchmarks(fetch(totals), spec, completion_factor=completion_factor)
