"""Monte Carlo of a contract's settlement: vectorized (``apmkit.simulation``) against a loop per scenario.

One entity of ``--members`` member-years (heavy-tailed costs drawn with numpy, 12 months each, risk scores)
under a two-sided shared-savings contract with a variable MSR, caps and a quality scale, with the assumptions
``apmkit simulate`` offers (bootstrap, panel size, churn, trend, utilization, coding, quality) switched on:

* **vectorized**: :func:`apmkit.simulation.simulate` for ``--scenarios`` scenarios (wall time);
* **loop**: the same model one scenario at a time — numpy draws of that scenario's members, then the settlement
  engine (:func:`apmkit.settlement.engine.settle_entity`, exact Decimal with its trace) on its inputs — timed on
  ``--loop-scenarios`` scenarios and scaled to ``--scenarios`` (the loop is linear in scenarios);
* their ratio, and the vectorized scenarios per second.

Prints figures; asserts nothing about time. ``APMKIT_BENCH_SIZE=tiny`` (``make bench-smoke``) runs it tiny.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

import numpy as np
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

CONTRACT = """
id: bench_simulate
name: simulation benchmark (two-sided shared savings)
components:
  - id: shared_savings
    type: shared_savings
    terms:
      sided: two_sided
      minimum_savings_rate:
        kind: variable
        bands:
          - {min_population: 1, max_population: 4999, rate_at_min: 0.039, rate_at_max: 0.039}
          - {min_population: 5000, max_population: 59999, rate_at_min: 0.039, rate_at_max: 0.02}
          - {min_population: 60000, rate_at_min: 0.02}
      sharing_basis: first_dollar
      max_sharing_rate: 0.60
      quality: {method: scale}
      loss_rate: {method: one_minus_final_sharing_rate, floor: 0.40, ceiling: 0.60}
      savings_cap: {pct_of_benchmark: 0.15}
      loss_cap: {pct_of_benchmark: 0.10}
      sequestration_rate: 0.02
"""


def setup(members: int, seed: int):  # type: ignore[no-untyped-def]
    from apmkit.contracts import parse_contract
    from apmkit.settlement.inputs import EntityInputs
    from apmkit.simulation import EntitySetup, MemberPool, RunFigures

    rng = np.random.default_rng(seed)
    cents = np.rint(rng.lognormal(np.log(6_000), 1.3, members) * 100).astype(np.int64)
    truncated = np.minimum(cents, 25_000_000)
    scores = np.rint(rng.gamma(4.0, 0.25, members) * 1_000_000).astype(np.int64)
    pool = MemberPool.from_columns(
        months=np.full(members, 12, np.int64),
        truncated_cents=truncated,
        score_micro=scores,
        scored=np.ones(members, bool),
    )
    outside = MemberPool.from_columns(
        months=np.full(members // 4, 12, np.int64), truncated_cents=truncated[: members // 4][::-1].copy()
    )
    months = 12 * members
    expenditure = Decimal(int(truncated.sum())).scaleb(-2)
    benchmark = (expenditure * Decimal("1.02")).quantize(Decimal("0.01"))
    entity = EntityInputs(
        entity_id="E1",
        source="bench",
        benchmark=benchmark,
        expenditure=expenditure,
        population=members,
        member_months=months,
        person_years=Decimal(months) / 12,
        quality_score=Decimal("0.9"),
    )
    run = RunFigures(benchmark, expenditure, months, int(truncated.sum()), Decimal(1), True)
    contract = parse_contract(CONTRACT, source="bench")
    return contract, EntitySetup(fixed=entity, pool=pool, run=run, outside=outside)


CPU: dict[str, float] = {}
"""CPU seconds of each measurement (the machine is shared: wall time includes waiting)."""

ASSUMPTIONS = {
    "trend_sd": 0.02,
    "utilization_sd": 0.02,
    "coding_sd": 0.01,
    "quality_sd": 0.05,
    "panel_sd": 0.05,
    "churn": 0.1,
}


def vectorized(contract, entity, scenarios: int, seed: int) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    from apmkit.simulation import Assumptions, simulate

    started, cpu = time.perf_counter(), time.process_time()
    outcomes = simulate(
        contract, [entity], scenarios=scenarios, seed=seed, assumptions=Assumptions(**ASSUMPTIONS)
    )
    CPU["vectorized"] = time.process_time() - cpu
    return time.perf_counter() - started, outcomes[0].settlement.net


def loop(contract, entity, scenarios: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    """One scenario at a time: the model's draws for that scenario, then the settlement engine."""
    from apmkit.settlement.engine import settle_entity

    a = ASSUMPTIONS
    rng = np.random.default_rng(seed)
    pool, outside, run, fixed = entity.pool, entity.outside, entity.run, entity.fixed
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(scenarios):
        sigma = a["panel_sd"]
        panel = max(1, int(np.rint(pool.size * np.exp(rng.normal(-(sigma**2) / 2, sigma)))))
        moved = int(rng.binomial(panel, a["churn"]))
        own = rng.integers(0, pool.size, panel - moved)
        came = rng.integers(0, outside.size, moved)
        months = int(pool.months[own].sum() + outside.months[came].sum())
        spend = int(pool.truncated_cents[own].sum() + outside.truncated_cents[came].sum())
        factor = (1 + rng.normal(0, a["trend_sd"])) * (1 + rng.normal(0, a["utilization_sd"]))
        coding = rng.normal(0, a["coding_sd"])
        quality = min(max(rng.normal(0.9, a["quality_sd"]), 0.0), 1.0)
        expenditure = (Decimal(spend) * Decimal(round(factor * 1_000_000)) / 1_000_000 / 100).quantize(
            Decimal("0.01")
        )
        benchmark = (
            run.benchmark * months / run.member_months * (1 + Decimal(round(coding * 1_000_000)) / 1_000_000)
        )
        inputs = fixed.model_copy(
            update={
                "benchmark": benchmark,
                "expenditure": expenditure,
                "population": panel,
                "member_months": months,
                "quality_score": Decimal(round(quality * 10_000)) / 10_000,
            }
        )
        settle_entity(contract, "2025", inputs)
    CPU["loop"] = time.process_time() - cpu
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--loop-scenarios", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=500, scenarios=200, loop_scenarios=20)
    contract, entity = setup(args.members, args.seed)
    seconds, net = vectorized(contract, entity, args.scenarios, args.seed)
    looped = loop(contract, entity, args.loop_scenarios, args.seed)
    per_scenario = looped / args.loop_scenarios
    projected = per_scenario * args.scenarios
    print(
        f"{args.scenarios:,} scenarios x {args.members:,} members: vectorized {seconds:.2f} s "
        f"({args.scenarios / seconds:,.0f} scenarios/s; mean net {np.mean(net) / 100:,.2f}); "
        f"loop {looped:.2f} s for {args.loop_scenarios:,} scenarios = {per_scenario * 1000:.2f} ms/scenario "
        f"-> {projected:.1f} s for {args.scenarios:,}; loop / vectorized {projected / seconds:.1f}x"
    )
    loop_cpu = CPU["loop"] / args.loop_scenarios * args.scenarios
    print(
        f"    CPU time: vectorized {CPU['vectorized']:.2f} s, loop {loop_cpu:.1f} s for {args.scenarios:,} "
        f"(projected); loop / vectorized {loop_cpu / max(CPU['vectorized'], 1e-9):.1f}x"
    )


if __name__ == "__main__":
    main()
