"""Episode target prices and reconciliation (CJR rules, 42 CFR 510.300-510.305; docs/episodes.md).

Engine side: high-cost capping of episode payments at the regional mean + k SD (per region and price
group), then sums and counts per hospital and per region. Python side (exact Decimal, a few rows per
hospital): the hospital/regional blend, trend, discount less the quality reduction, case-mix factor,
and the reconciliation (NPRA with stop-gain / stop-loss): :func:`reconcile_episode_amounts` is the only
implementation; the settlement component ``episode_reconciliation`` calls it too.

Regions are US Census divisions from the hospital CCN's state (Shadow Bundles tables 31-32) unless a
``hospital_regions`` table (``facility_ccn, region``) is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.episodes.definitions import ccn_state, state_census_division
from apmkit.episodes.spec import QualityTier, TargetPriceSpec
from apmkit.money import from_cents, round_money, to_cents
from apmkit.portable import Fetch

ZERO = Decimal(0)
ONE = Decimal(1)
CENTS = Decimal(100)


def quality_tier(score: Decimal | None, tiers: tuple[QualityTier, ...]) -> QualityTier | None:
    """The highest tier whose lower bound the score reaches; None when there is no score."""
    if score is None:
        return None
    chosen = None
    for tier in sorted(tiers, key=lambda t: (t.min_score, t.min_exclusive)):
        if score > tier.min_score or (score == tier.min_score and not tier.min_exclusive):
            chosen = tier
    return chosen


def blended_target(
    hospital_mean: Decimal | None,
    regional_mean: Decimal,
    hospital_baseline_episodes: int,
    spec: TargetPriceSpec,
    *,
    discount: Decimal,
    quality_score: Decimal | None = None,
    case_mix: Decimal = ONE,
) -> tuple[Decimal, dict[str, Decimal]]:
    """Target price of one hospital and price group, unrounded, with its components.

    ``(w x hospital + (1 - w) x regional) x trend x (1 - (discount - quality reduction)) x case mix``,
    with ``w = hospital_weight`` unless the hospital had fewer than ``minimum_hospital_episodes``
    baseline episodes (then 0: 100% regional).
    """
    weight = spec.hospital_weight
    if hospital_mean is None or hospital_baseline_episodes < spec.minimum_hospital_episodes:
        weight = ZERO
        hospital_mean = hospital_mean or ZERO
    blended = weight * hospital_mean + (ONE - weight) * regional_mean
    trended = blended * spec.annual_trend
    tier = quality_tier(quality_score, spec.quality_tiers)
    reduction = tier.discount_reduction if tier else ZERO
    effective = max(ZERO, discount - reduction)
    price = trended * (ONE - effective) * case_mix
    return price, {
        "hospital_weight": weight,
        "blended": blended,
        "trended": trended,
        "effective_discount": effective,
        "case_mix": case_mix,
        "target_price": price,
    }


@dataclass(frozen=True)
class EpisodeOutcome:
    """The reconciliation of a total episode target against actual payments, exact until ``amount``.

    ``amount`` is positive when the payer pays the entity, negative when the entity repays, rounded half-up
    to the money places; every other figure is exact.
    """

    target_amount: Decimal
    repayment_target_amount: Decimal
    actual_amount: Decimal
    npra: Decimal
    """Target − actual (gains), or repayment target − actual when the entity owes."""
    side: str
    """``gain``, ``loss`` or ``none``."""
    limit: Decimal | None
    """The stop-gain (gains) or stop-loss (losses) amount; None when uncapped."""
    limited: bool
    quality_blocked: bool
    quality_reduction: Decimal
    """Share of the limited gain withheld, or of the limited repayment forgiven, for quality."""
    amount: Decimal


def reconcile_episode_amounts(
    target_amount: Decimal,
    actual_amount: Decimal,
    *,
    stop_gain: Decimal | None,
    stop_loss: Decimal | None,
    downside: bool,
    repayment_target_amount: Decimal | None = None,
    eligible_for_payment: bool = True,
    gain_quality_reduction: Decimal = ZERO,
    loss_quality_reduction: Decimal = ZERO,
    places: int = 2,
) -> EpisodeOutcome:
    """The one episode reconciliation of apmkit (CJR 42 CFR 510.305; BPCI Advanced, OCM, EOM in the contract
    component ``episode_reconciliation``, which calls this).

    1. NPRA = total target amount − actual (capped) episode payments.
    2. A positive NPRA is limited to ``stop_gain`` × target amount, then reduced by ``gain_quality_reduction``
       (share withheld for quality); nothing is paid when the quality result is not eligible for a payment.
    3. Otherwise, with downside risk, the entity repays ``actual − repayment target`` (the repayment target is
       built with the repayment discount; default: the target) limited to ``stop_loss`` × repayment target,
       then reduced by ``loss_quality_reduction`` (share forgiven for quality).
    4. The result is rounded half-up to ``places`` once, at the end.
    """
    npra = target_amount - actual_amount
    repay_target = target_amount if repayment_target_amount is None else repayment_target_amount
    if npra > 0:
        limit = None if stop_gain is None else stop_gain * target_amount
        gain = npra if limit is None else min(npra, limit)
        gain *= ONE - gain_quality_reduction
        blocked = not eligible_for_payment
        return EpisodeOutcome(
            target_amount=target_amount,
            repayment_target_amount=repay_target,
            actual_amount=actual_amount,
            npra=npra,
            side="gain",
            limit=limit,
            limited=limit is not None and npra > limit and not blocked,
            quality_blocked=blocked,
            quality_reduction=gain_quality_reduction,
            amount=ZERO if blocked else round_money(gain, places),
        )
    if not downside:
        return EpisodeOutcome(
            target_amount, repay_target, actual_amount, npra, "none", None, False, False, ZERO, ZERO
        )
    if stop_loss is None:
        raise ValueError("stop_loss is required when the entity carries downside risk")
    repay_npra = repay_target - actual_amount
    limit = stop_loss * repay_target
    owed = min(max(-repay_npra, ZERO), limit) * (ONE - loss_quality_reduction)
    return EpisodeOutcome(
        target_amount=target_amount,
        repayment_target_amount=repay_target,
        actual_amount=actual_amount,
        npra=repay_npra,
        side="loss" if repay_npra < 0 else "none",
        limit=limit,
        limited=repay_npra < -limit,
        quality_blocked=False,
        quality_reduction=loss_quality_reduction,
        amount=-round_money(owed, places) if owed else ZERO,
    )


@dataclass(frozen=True)
class Reconciliation:
    """A hospital's reconciliation: positive = CMS pays the hospital, negative = the hospital repays.
    Money fields are rounded to cents for the hospital reconciliation table."""

    target_amount: Decimal
    repayment_target_amount: Decimal
    actual_amount: Decimal
    npra: Decimal
    limit: Decimal
    amount: Decimal
    limited: bool
    quality_blocked: bool


def reconcile(
    target_amount: Decimal,
    repayment_target_amount: Decimal,
    actual_amount: Decimal,
    spec: TargetPriceSpec,
    tier: QualityTier | None,
) -> Reconciliation:
    """Net payment reconciliation amount with stop-gain / stop-loss (42 CFR 510.305), through
    :func:`reconcile_episode_amounts`.

    NPRA = Σ target x episodes - Σ actual (capped) payments. A positive NPRA is paid up to
    ``stop_gain`` x target amount (nothing when the quality tier is not eligible for a reconciliation
    payment); when actual exceeds the repayment target (built with the repayment discount), the
    hospital repays up to ``stop_loss`` x that target.
    """
    outcome = reconcile_episode_amounts(
        target_amount,
        actual_amount,
        stop_gain=spec.stop_gain,
        stop_loss=spec.stop_loss,
        downside=True,
        repayment_target_amount=repayment_target_amount,
        eligible_for_payment=tier is None or tier.eligible_for_reconciliation_payment,
    )
    return Reconciliation(
        round_money(outcome.target_amount),
        round_money(outcome.repayment_target_amount),
        round_money(outcome.actual_amount),
        round_money(outcome.npra),
        round_money(outcome.limit if outcome.limit is not None else ZERO),
        outcome.amount,
        outcome.limited,
        outcome.quality_blocked,
    )


def hospital_region(episodes: ir.Table, hospital_regions: ir.Table | None) -> ir.Table:
    """Add ``region`` to episodes: from ``hospital_regions`` or the CCN's state's Census division."""
    if hospital_regions is not None:
        regions = hospital_regions.select("facility_ccn", region=hospital_regions.region.cast("string"))
        return episodes.left_join(regions, "facility_ccn").drop("facility_ccn_right")
    divisions = state_census_division()
    mapping = {prefix: divisions.get(state) for prefix, state in ccn_state().items() if divisions.get(state)}
    prefix = episodes.facility_ccn.substr(0, 2)
    region = ibis.cases(*[(prefix == p, d) for p, d in sorted(mapping.items())], else_=ibis.null("string"))
    return episodes.mutate(region=region)


def capped_episodes(episodes: ir.Table, cap_sd: Decimal | None) -> ir.Table:
    """Episode payments capped at the regional mean + ``cap_sd`` SD of their region and price group.

    Adds ``total_cents``, ``cap_cents`` (NULL when no cap) and ``capped_cents``.
    """
    t = episodes.mutate(total_cents=to_cents(episodes.total_amount))
    if cap_sd is None:
        return t.mutate(cap_cents=ibis.null("int64"), capped_cents=t.total_cents)
    stats = t.group_by(["region", "price_group"]).aggregate(
        mean_cents=t.total_cents.cast("float64").mean(), sd_cents=t.total_cents.cast("float64").std()
    )
    joined = t.left_join(stats, ["region", "price_group"]).drop("region_right", "price_group_right")
    # The cap is a dollar threshold: rounded to the cent once, so both engines compare the same integer.
    cap = (joined.mean_cents + float(cap_sd) * joined.sd_cents.fill_null(0)).round(0).cast("int64")
    return joined.mutate(cap_cents=cap, capped_cents=ibis.least(joined.total_cents, cap)).drop(
        "mean_cents", "sd_cents"
    )


def _year(column: ir.DateValue) -> ir.IntegerValue:
    return column.year().cast("int32")


@dataclass(frozen=True)
class PricingResult:
    """Target prices per hospital and price group, episode-level amounts and hospital reconciliation."""

    target_prices: pa.Table
    hospital_reconciliation: pa.Table
    episodes: ir.Table


def price_episodes(
    baseline: ir.Table,
    performance: ir.Table,
    spec: TargetPriceSpec,
    *,
    fetch: Fetch,
    quality: ir.Table | None = None,
    hospital_regions: ir.Table | None = None,
    episode_risk: ir.Table | None = None,
) -> PricingResult:
    """Set target prices from baseline episodes and reconcile performance-period episodes.

    Parameters
    ----------
    baseline, performance
        Episode tables from :func:`apmkit.episodes.build.build_episodes` (only ``kept`` rows count;
        baseline rows outside ``spec.baseline_years`` by anchor start are ignored).
    spec
        Target price and reconciliation parameters.
    fetch
        Returns the rows of the per-hospital and per-region aggregates (``Engine.rows``).
    quality
        ``facility_ccn, quality_score`` (composite quality score); None = no quality reduction.
    hospital_regions
        ``facility_ccn, region``; None = Census division from the CCN.
    episode_risk
        ``episode_key, risk_score`` of performance episodes, for ``case_mix_adjust``.
    """
    base = baseline.filter(
        baseline.status == "kept", _year(baseline.anchor_start).isin(list(spec.baseline_years))
    )
    base = capped_episodes(hospital_region(base, hospital_regions), spec.high_cost_cap_sd)
    hosp = base.group_by(["facility_ccn", "region", "price_group"]).aggregate(
        episodes=base.episode_key.count().cast("int64"), capped_cents=base.capped_cents.sum().cast("int64")
    )
    region = base.group_by(["region", "price_group"]).aggregate(
        episodes=base.episode_key.count().cast("int64"), capped_cents=base.capped_cents.sum().cast("int64")
    )
    perf = performance.filter(performance.status == "kept")
    perf = capped_episodes(hospital_region(perf, hospital_regions), spec.high_cost_cap_sd)
    if episode_risk is not None and spec.case_mix_adjust:
        risk = episode_risk.select("episode_key", risk_score=episode_risk.risk_score.cast("decimal(18, 6)"))
        perf = perf.left_join(risk, "episode_key").drop("episode_key_right")
    else:
        perf = perf.mutate(risk_score=ibis.null("decimal(18, 6)"))
    perf_hosp = perf.group_by(["facility_ccn", "region", "price_group"]).aggregate(
        episodes=perf.episode_key.count().cast("int64"),
        capped_cents=perf.capped_cents.sum().cast("int64"),
        risk_sum=perf.risk_score.sum(),
        risk_n=perf.risk_score.count().cast("int64"),
    )

    hospital_rows = fetch(hosp)
    region_rows = {(r["region"], r["price_group"]): r for r in fetch(region)}
    perf_rows = fetch(perf_hosp)
    quality_scores: dict[str, Decimal] = {}
    if quality is not None:
        for r in fetch(quality.select("facility_ccn", "quality_score")):
            if r["quality_score"] is not None:
                quality_scores[r["facility_ccn"]] = Decimal(str(r["quality_score"]))

    baseline_by_hospital: dict[str, int] = {}
    hospital_mean: dict[tuple[str, str], Decimal] = {}
    for r in hospital_rows:
        baseline_by_hospital[r["facility_ccn"]] = (
            baseline_by_hospital.get(r["facility_ccn"], 0) + r["episodes"]
        )
        hospital_mean[(r["facility_ccn"], r["price_group"])] = (
            Decimal(r["capped_cents"]) / CENTS / r["episodes"]
        )
    region_risk: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for r in perf_rows:
        key = (r["region"], r["price_group"])
        total, n = region_risk.get(key, (ZERO, 0))
        region_risk[key] = (total + Decimal(str(r["risk_sum"] or 0)), n + int(r["risk_n"]))

    repayment_discount = spec.repayment_discount if spec.repayment_discount is not None else spec.discount
    price_rows = []
    per_hospital: dict[str, dict[str, Decimal]] = {}
    hospitals_groups = {(r["facility_ccn"], r["region"], r["price_group"]) for r in hospital_rows} | {
        (r["facility_ccn"], r["region"], r["price_group"]) for r in perf_rows
    }
    perf_by_key = {(r["facility_ccn"], r["price_group"]): r for r in perf_rows}
    for ccn, reg, group in sorted(hospitals_groups, key=lambda k: tuple(str(x) for x in k)):
        regional = region_rows.get((reg, group))
        if regional is None:
            continue  # no regional baseline for this group: no target price can be set
        regional_mean = Decimal(regional["capped_cents"]) / CENTS / regional["episodes"]
        case_mix = ONE
        perf_row = perf_by_key.get((ccn, group))
        if spec.case_mix_adjust and perf_row and perf_row["risk_n"]:
            region_total, region_n = region_risk[(reg, group)]
            hospital_risk = Decimal(str(perf_row["risk_sum"])) / perf_row["risk_n"]
            regional_risk_mean = region_total / region_n if region_n else ZERO
            case_mix = hospital_risk / regional_risk_mean if regional_risk_mean else ONE
        score = quality_scores.get(ccn)
        common = {
            "hospital_mean": hospital_mean.get((ccn, group)),
            "regional_mean": regional_mean,
            "hospital_baseline_episodes": baseline_by_hospital.get(ccn, 0),
            "spec": spec,
            "quality_score": score,
            "case_mix": case_mix,
        }
        price, parts = blended_target(**common, discount=spec.discount)
        repay_price, _ = blended_target(**common, discount=repayment_discount)
        episodes = int(perf_row["episodes"]) if perf_row else 0
        actual = Decimal(perf_row["capped_cents"]) / CENTS if perf_row else ZERO
        if episodes:
            sums = per_hospital.setdefault(
                ccn, {"target": ZERO, "repay": ZERO, "actual": ZERO, "episodes": ZERO}
            )
            sums["target"] += price * episodes
            sums["repay"] += repay_price * episodes
            sums["actual"] += actual
            sums["episodes"] += episodes
        tier = quality_tier(score, spec.quality_tiers)
        price_rows.append(
            {
                "performance_year": spec.performance_year,
                "facility_ccn": ccn,
                "region": reg,
                "price_group": group,
                "baseline_episodes_hospital": baseline_by_hospital.get(ccn, 0),
                "hospital_mean": None
                if common["hospital_mean"] is None
                else round_money(common["hospital_mean"]),
                "regional_mean": round_money(regional_mean),
                "hospital_weight": parts["hospital_weight"].quantize(Decimal("0.000001")),
                "blended": round_money(parts["blended"]),
                "quality_tier": tier.name if tier else None,
                "effective_discount": parts["effective_discount"],
                "case_mix": case_mix.quantize(Decimal("0.000001")),
                "target_price": round_money(price),
                "repayment_target_price": round_money(repay_price),
                "performance_episodes": episodes,
                "actual_capped_amount": round_money(actual),
            }
        )
    recon_rows = []
    for ccn, sums in sorted(per_hospital.items()):
        tier = quality_tier(quality_scores.get(ccn), spec.quality_tiers)
        result = reconcile(sums["target"], sums["repay"], sums["actual"], spec, tier)
        recon_rows.append(
            {
                "performance_year": spec.performance_year,
                "facility_ccn": ccn,
                "episodes": int(sums["episodes"]),
                "quality_tier": tier.name if tier else None,
                "target_amount": result.target_amount,
                "repayment_target_amount": result.repayment_target_amount,
                "actual_amount": result.actual_amount,
                "npra": result.npra,
                "limit_amount": result.limit,
                "limited": result.limited,
                "quality_blocked": result.quality_blocked,
                "reconciliation_amount": result.amount,
            }
        )
    money = pa.decimal128(18, 2)
    factor = pa.decimal128(18, 6)
    price_schema = pa.schema(
        [
            ("performance_year", pa.string()),
            ("facility_ccn", pa.string()),
            ("region", pa.string()),
            ("price_group", pa.string()),
            ("baseline_episodes_hospital", pa.int64()),
            ("hospital_mean", money),
            ("regional_mean", money),
            ("hospital_weight", factor),
            ("blended", money),
            ("quality_tier", pa.string()),
            ("effective_discount", factor),
            ("case_mix", factor),
            ("target_price", money),
            ("repayment_target_price", money),
            ("performance_episodes", pa.int64()),
            ("actual_capped_amount", money),
        ]
    )
    recon_schema = pa.schema(
        [
            ("performance_year", pa.string()),
            ("facility_ccn", pa.string()),
            ("episodes", pa.int64()),
            ("quality_tier", pa.string()),
            ("target_amount", money),
            ("repayment_target_amount", money),
            ("actual_amount", money),
            ("npra", money),
            ("limit_amount", money),
            ("limited", pa.bool_()),
            ("quality_blocked", pa.bool_()),
            ("reconciliation_amount", money),
        ]
    )
    for row in price_rows:
        row["effective_discount"] = row["effective_discount"].quantize(Decimal("0.000001"))
    episode_out = perf.select(
        "episode_key",
        "member_id",
        "episode_id",
        "price_group",
        "facility_ccn",
        "region",
        "anchor_start",
        "total_amount",
        capped_amount=from_cents(perf.capped_cents),
    )
    return PricingResult(
        target_prices=pa.Table.from_pylist(price_rows, schema=price_schema),
        hospital_reconciliation=pa.Table.from_pylist(recon_rows, schema=recon_schema),
        episodes=episode_out,
    )


def episode_amounts(episodes: ir.Table, target_prices: ir.Table) -> ir.Table:
    """Per-episode target and variance for statements: adds ``target_price`` and ``variance``.

    Parameters
    ----------
    episodes
        ``PricingResult.episodes`` (capped performance episodes).
    target_prices
        ``PricingResult.target_prices`` registered on the engine.

    ``variance = target_price - capped_amount`` (positive = the episode came in under its target).
    Hospital totals, limits and the amount to pay are in the hospital reconciliation table.
    """
    prices = target_prices.select("facility_ccn", "price_group", "target_price")
    joined = episodes.left_join(prices, ["facility_ccn", "price_group"])
    return joined.select(
        *[joined[c] for c in episodes.columns],
        target_price=joined.target_price,
        variance=(joined.target_price - joined.capped_amount).cast("decimal(18, 2)"),
    )
