"""Benchmark the MSSP benchmark (3 base years + performance year) on a synthetic population.

Usage::

    .venv/bin/python bench/bench_benchmark.py --members 50000 --years 4 [--from DIR] [--engine duckdb]

The synthetic data end in 2025, so base years are 2022-2024 and the performance year 2025. Prints
throughput and the ratio to a baseline measured in the same run (one pass summing payments per member
and year over all claim lines).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.benchmark.mssp import mssp_benchmark
from apmkit.benchmark.spec import GeneralBenchmarkSpec, MsspBenchmarkSpec
from apmkit.engines import Engine
from apmkit.workspace.benchmark import general_benchmark_from_claims, general_definitions

TYPES = ("esrd", "disabled", "aged_dual", "aged_non_dual")


def spec() -> MsspBenchmarkSpec:
    national = {
        2022: (95000, 11000, 17000, 11000),
        2023: (97000, 11300, 17500, 11400),
        2024: (99000, 11600, 18000, 11800),
    }
    return MsspBenchmarkSpec.model_validate(
        {
            "base_years": (2022, 2023, 2024),
            "performance_year": 2025,
            "national_per_capita": {y: dict(zip(TYPES, v, strict=True)) for y, v in national.items()},
            "risk_growth": {"demographic_growth": Decimal("1.01")},
            "update": {
                "national_growth": dict.fromkeys(TYPES, Decimal("1.04")),
                "acpt": dict.fromkeys(TYPES, Decimal("1.045")),
            },
            "minimum_loss_rate": Decimal("0.02"),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--from", dest="data", type=Path)
    parser.add_argument("--engine", default="duckdb")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300)
    data = args.data
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="bench-benchmark-")) / "synth"
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "apmkit",
                "-q",
                "synth",
                "--members",
                str(args.members),
                "--years",
                str(args.years),
                "--seed",
                "11",
                "--out",
                str(data),
            ],
            check=True,
        )
        print(
            f"synth: {args.members:,} members x {args.years} years in {time.perf_counter() - started:.1f} s"
        )
    with Engine.connect(args.engine) as engine:
        tables = engine.canonical(data)
        claims = tables["medical_claims"]
        lines = engine.count(claims)
        members = engine.count(tables["members"])

        started = time.perf_counter()
        per_year = claims.group_by(["member_id", claims.service_date.year().name("year")]).aggregate(
            paid=claims.paid_amount.sum()
        )
        engine.to_arrow(per_year.count().name("n"))
        baseline_s = time.perf_counter() - started

        started = time.perf_counter()
        result = mssp_benchmark(tables, spec(), fetch=engine.rows, materialize=engine.materialize)
        engine.write_parquet(result.member_years, Path(tempfile.mkdtemp()) / "member_years.parquet")
        mssp_s = time.perf_counter() - started

        started = time.perf_counter()
        general_spec = GeneralBenchmarkSpec(base_years=(2022, 2023, 2024), performance_year=2025)
        general = general_benchmark_from_claims(
            engine, tables, general_spec, general_definitions(general_spec)
        )
        general_s = time.perf_counter() - started
        updated, n_lines = result.updated_per_capita, len(result.lines)
        del result
        gc.collect()  # drop the engine-side cache while the connection is open

    print(f"engine {args.engine}: {members:,} members, {lines:,} claim lines")
    print(f"baseline (scan + sum per member-year): {baseline_s:.2f} s ({lines / baseline_s:,.0f} lines/s)")
    for label, elapsed in (("mssp", mssp_s), ("general", general_s)):
        print(
            f"benchmark {label}: {elapsed:.2f} s; {lines / elapsed:,.0f} lines/s, {members / elapsed:,.0f} members/s; "
            f"ratio to baseline {elapsed / baseline_s:.1f}x; 1M members at this rate ~{elapsed * 1e6 / members:.0f} s"
        )
    print(
        f"mssp updated benchmark per capita {updated:,.2f} ({n_lines} statement lines); "
        f"general PMPM {general.entities[0].benchmark_pmpm:,.2f}"
    )


if __name__ == "__main__":
    main()
