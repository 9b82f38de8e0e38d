"""Settlement throughput, measured against baselines in the same run.

1. Claims path: ``apmkit.settlement.claims.measure`` (population, run-out, exclusions, truncation, stop-loss,
   carve-outs per entity) on a synthetic population, against a baseline that only scans and sums the same
   claims (``SUM(paid_amount)``) on the same engine.
2. Aggregate path: ``settle`` of N entities under a two-component contract (shared savings + risk corridor,
   every line traced), against the bare shared-savings calculator on the same inputs.

Usage: ``.venv/bin/python bench/bench_settlement.py [--members 10000] [--entities 2000]``. Prints figures;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.contracts import contract_from_data
from apmkit.engines import Engine
from apmkit.money import to_cents
from apmkit.settlement import claims
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings
from apmkit.synth import generate

TERMS = {
    "sided": "two_sided",
    "minimum_savings_rate": {"kind": "fixed", "rate": "0.02"},
    "max_sharing_rate": "0.5",
    "quality": {"method": "scale"},
    "loss_rate": {"method": "fixed", "rate": "0.3"},
    "savings_cap": {"pct_of_benchmark": "0.1"},
    "loss_cap": {"pct_of_benchmark": "0.04"},
}
CONTRACT = contract_from_data(
    {
        "id": "bench",
        "name": "bench",
        "expenditure": {"runout_months": 3, "truncation_per_member": 100000, "exclude_claim_types": ["dme"]},
        "target": {"benchmark_per_person_year": 12000},
        "components": [
            {"id": "shared_savings", "type": "shared_savings", "terms": TERMS},
            {
                "id": "corridor",
                "type": "risk_corridor",
                "gain_bands": [
                    {"lower": 0, "upper": "0.05", "entity_share": 0},
                    {"lower": "0.05", "entity_share": "0.5"},
                ],
            },
            {
                "id": "capitation",
                "type": "capitation",
                "scope": "partial",
                "default_pmpm": 30,
                "carve_outs": ["pharmacy"],
                "stop_loss": {"attachment_point": 50000},
                "prepaid": False,
            },
        ],
    }
)


def best_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def bench_claims(members: int) -> None:
    with tempfile.TemporaryDirectory() as folder, Engine.duckdb() as engine:
        generate(members, folder, years=1, end_year=2025, seed=5)
        tables = engine.canonical(Path(folder))
        lines = engine.count(tables["medical_claims"])
        spec = claims.ClaimsMeasureSpec.from_contract(CONTRACT, "2025")

        def measured() -> None:
            measures, cells = claims.measure(tables, None, spec)
            engine.to_arrow(measures)
            engine.to_arrow(cells)

        def baseline() -> None:
            engine.execute(to_cents(tables["medical_claims"].paid_amount.fill_null(0)).sum())

        base = best_of(3, baseline)
        full = best_of(3, measured)
        print(f"claims path: {members:,} members, {lines:,} claim lines (DuckDB)")
        print(f"  baseline scan+sum      {base:7.3f} s  {lines / base:12,.0f} lines/s")
        print(
            f"  settlement measures    {full:7.3f} s  {lines / full:12,.0f} lines/s  ratio {full / base:5.1f}x baseline"
        )


def bench_aggregate(entities: int) -> None:
    rows = [
        EntityInputs(
            entity_id=f"E{i}",
            benchmark=Decimal(10_000_000 + i * 1000),
            expenditure=Decimal(9_500_000 + (i * 7919) % 1_500_000),
            person_years=Decimal(1000),
            member_months=12000,
            population=1000,
            quality_score=Decimal("0.85"),
            stop_loss_excess=Decimal(0),
        )
        for i in range(entities)
    ]
    terms = CONTRACT.components[0].terms  # type: ignore[union-attr]
    bare = [
        SharedSavingsInputs(
            benchmark=r.benchmark,
            expenditure=r.expenditure,
            assigned_population=1000,
            quality_score=r.quality_score,
        )
        for r in rows
    ]

    def baseline() -> None:
        for item in bare:
            compute_shared_savings(terms, item)

    def full() -> None:
        settle(CONTRACT, "2025", rows)

    base = best_of(2, baseline)
    total = best_of(2, full)
    print(f"aggregate path: {entities:,} entities, 3 components")
    print(f"  baseline shared-savings calculator only  {base:7.3f} s  {entities / base:10,.0f} entities/s")
    print(
        f"  full settlement with statements          {total:7.3f} s  {entities / total:10,.0f} entities/s"
        f"  ratio {total / base:5.1f}x baseline"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=2_000)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=200, entities=10)
    bench_claims(args.members)
    bench_aggregate(args.entities)


if __name__ == "__main__":
    main()
