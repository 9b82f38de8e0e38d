"""CJR target prices and reconciliation against docs/reference/methodology.md §3.1 (42 CFR 510.300-510.305).

Derived example (PY3, good quality): hospital $25,000, regional $27,000 -> 1/3 x 25,000 + 2/3 x
27,000 = $26,333.33; discount 3% - 1 pp = 2% -> $25,806.67; 100 episodes, actual $2,450,000 -> NPRA
$130,666.67; stop-gain 10% x $2,580,666.67 = $258,066.67 not binding -> reconciliation $130,666.67.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pyarrow as pa

from apmkit.engines import Engine
from apmkit.episodes.price import blended_target, price_episodes, quality_tier, reconcile
from apmkit.episodes.spec import CJR_QUALITY_TIERS, TargetPriceSpec
from apmkit.money import round_money

PY3 = TargetPriceSpec(performance_year="PY3", baseline_years=(2014, 2015, 2016), repayment_discount=D("0.02"))


def test_cjr_py3_target_price() -> None:
    price, parts = blended_target(
        D(25000), D(27000), 100, PY3, discount=PY3.discount, quality_score=D("10.0")
    )
    assert round_money(parts["blended"]) == D("26333.33")
    assert parts["effective_discount"] == D("0.02")
    assert round_money(price) == D("25806.67")


def test_cjr_py3_reconciliation() -> None:
    price, _ = blended_target(D(25000), D(27000), 100, PY3, discount=PY3.discount, quality_score=D("10.0"))
    tier = quality_tier(D("10.0"), CJR_QUALITY_TIERS)
    result = reconcile(price * 100, price * 100, D(2450000), PY3, tier)
    assert result.target_amount == D("2580666.67")
    assert result.npra == D("130666.67")
    assert result.limit == D("258066.67")
    assert result.amount == D("130666.67")
    assert not result.limited


def test_stop_gain_and_stop_loss_bind() -> None:
    # 10% limits of PY3: NPRA 500,000 on a 2,000,000 target pays 200,000; a 400,000 overage owes 200,000.
    gain = reconcile(D(2000000), D(2000000), D(1500000), PY3, None)
    assert (gain.amount, gain.limited) == (D("200000.00"), True)
    loss = reconcile(D(2000000), D(2000000), D(2400000), PY3, None)
    assert (loss.amount, loss.limited) == (D("-200000.00"), True)


def test_quality_tiers() -> None:
    # docs/reference/methodology.md §3.1: good 6.9 <= CQS <= 15.0, excellent > 15.0, acceptable 5.0 <= CQS < 6.9, below acceptable < 5.0.
    names = [quality_tier(D(s), CJR_QUALITY_TIERS).name for s in ("4.99", "5.0", "6.9", "15.0", "15.01")]  # type: ignore[union-attr]
    assert names == ["below_acceptable", "acceptable", "good", "good", "excellent"]
    # below acceptable: no reconciliation payment
    tier = quality_tier(D("4.0"), CJR_QUALITY_TIERS)
    assert reconcile(D(100), D(100), D(50), PY3, tier).amount == 0


def test_fewer_than_20_baseline_episodes_is_100_percent_regional() -> None:
    price, parts = blended_target(D(25000), D(27000), 19, PY3, discount=D(0))
    assert parts["hospital_weight"] == 0
    assert price == D(27000)


def _episodes(engine: Engine, rows: list[tuple[str, str, int, str]]) -> object:
    keys, ccns, groups, starts, totals = [], [], [], [], []
    for i, (ccn, group, year, amount) in enumerate(rows):
        keys.append(f"e{i}")
        ccns.append(ccn)
        groups.append(group)
        starts.append(dt.date(year, 6, 1))
        totals.append(D(amount))
    schema = pa.schema(
        [
            ("episode_key", pa.string()),
            ("member_id", pa.string()),
            ("episode_id", pa.string()),
            ("price_group", pa.string()),
            ("facility_ccn", pa.string()),
            ("anchor_start", pa.date32()),
            ("status", pa.string()),
            ("total_amount", pa.decimal128(18, 2)),
        ]
    )
    data = {
        "episode_key": keys,
        "member_id": keys,
        "episode_id": ["CJR"] * len(keys),
        "price_group": groups,
        "facility_ccn": ccns,
        "anchor_start": starts,
        "status": ["kept"] * len(keys),
        "total_amount": totals,
    }
    return engine.from_arrow(pa.table(data, schema=schema))


def test_price_episodes_end_to_end_cjr_py3(engine: Engine) -> None:
    # Region (CCN prefix 01 = Alabama -> East South Central): H1 30 baseline episodes at $25,000,
    # H2 60 at $28,000 -> regional mean (750,000 + 1,680,000) / 90 = $27,000; mean + 2 SD = $29,844 does
    # not cap. PY: H1 100 episodes at $24,500 = $2,450,000; H1 quality 10.0 (good).
    baseline = [("010001", "470", 2015, "25000.00")] * 30 + [("010002", "470", 2016, "28000.00")] * 60
    performance = [("010001", "470", 2018, "24500.00")] * 100
    quality = engine.from_arrow(pa.table({"facility_ccn": ["010001"], "quality_score": [10.0]}))
    result = price_episodes(
        _episodes(engine, baseline), _episodes(engine, performance), PY3, fetch=engine.rows, quality=quality
    )
    prices = {r["facility_ccn"]: r for r in result.target_prices.to_pylist()}
    assert prices["010001"]["region"] == "6"
    assert prices["010001"]["regional_mean"] == D("27000.00")
    assert prices["010001"]["target_price"] == D("25806.67")
    (recon,) = result.hospital_reconciliation.to_pylist()
    assert recon["npra"] == D("130666.67")
    assert recon["reconciliation_amount"] == D("130666.67")


def test_high_cost_cap_at_mean_plus_two_sd(engine: Engine) -> None:
    # 20 episodes at $10,000 and one at $100,000 in one region/group: mean 14,285.714..., sample SD
    # sqrt(21 x 20 x 90,000^2 / 21^2 / 20) = 19,639.610... -> cap 53,564.93; the $100,000 episode is
    # capped, so the regional mean is (200,000 + 53,564.93) / 21 = 12,074.52.
    baseline = [("010001", "470", 2015, "10000.00")] * 20 + [("010002", "470", 2015, "100000.00")]
    result = price_episodes(_episodes(engine, baseline), _episodes(engine, []), PY3, fetch=engine.rows)
    prices = {r["facility_ccn"]: r for r in result.target_prices.to_pylist()}
    assert prices["010001"]["regional_mean"] == D("12074.52")
