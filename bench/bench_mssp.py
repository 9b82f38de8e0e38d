"""Benchmark: MSSP PUF reproduction and the exact shared savings calculator.

Prints throughput (ACO-years per second) for

1. the exact Decimal calculator (``compute_shared_savings`` with MSSP terms) over real PUF inputs;
2. a baseline measured in the same run: the same first-dollar formula in plain floats, no trace, no
   validation (the floor any implementation pays), and the ratio of the two;
3. the whole ``reproduce_puf`` path (engine round trip, parsing, rules, calculator, comparison).

The input is the standardized PY2017 PUF fixture (472 ACOs), repeated ``--copies`` times.

    .venv/bin/python bench/bench_mssp.py --copies 20
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.cli.mssp import read_puf_csv
from apmkit.engines import Engine
from apmkit.programs.mssp.puf import reproduce_puf
from apmkit.programs.mssp.rules import mssp_terms
from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings, variable_rate

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "mssp"
    / "mssp_aco_results_2013_2017_columns.csv"
)
YEAR = 2017


def _track_1_inputs(table: pa.Table) -> list[tuple[float, float, int, float]]:
    rows = []
    for row in table.to_pylist():
        in_year = row.get("performance_year") in ("2017.0", "2017")
        track_1 = row.get("current_track_1") in ("1", "1.0")
        # One ACO has fewer than 500 beneficiaries, below the MSR table: not a calculator case.
        if not (in_year and track_1) or float(row["n_ab"]) < 500:
            continue
        rows.append(
            (
                float(row["abtotbnchmk"]),
                float(row["abtotexp"]),
                int(float(row["n_ab"])),
                float(row["qualscore"] or 1),
            )
        )
    return rows


def _float_baseline(rows: list[tuple[float, float, int, float]], msr: list[float]) -> float:
    total = 0.0
    for (benchmark, expenditure, _, quality), rate in zip(rows, msr, strict=True):
        savings = benchmark - expenditure
        if savings > 0 and savings / benchmark >= rate:
            total += min(savings * 0.5 * quality * 0.98, 0.10 * benchmark)
    return total


def _exact(rows: list[tuple[float, float, int, float]]) -> Decimal:
    terms = mssp_terms("track_1", YEAR)
    total = Decimal(0)
    for benchmark, expenditure, population, quality in rows:
        inputs = SharedSavingsInputs(
            benchmark=Decimal(repr(benchmark)),
            expenditure=Decimal(repr(expenditure)),
            assigned_population=population,
            quality_score=Decimal(repr(quality)),
            quality_standard_met=True,
        )
        total += compute_shared_savings(terms, inputs).net
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="times the PY2017 rows are repeated")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), copies=1)

    arrow = read_puf_csv(FIXTURE)
    base_rows = _track_1_inputs(arrow)
    rows = base_rows * args.copies
    terms = mssp_terms("track_1", YEAR)
    msr = [float(variable_rate(terms.minimum_savings_rate.bands, population)) for _, _, population, _ in rows]

    start = time.perf_counter()
    _float_baseline(rows, msr)
    float_seconds = time.perf_counter() - start

    start = time.perf_counter()
    _exact(rows)
    exact_seconds = time.perf_counter() - start

    year_rows = arrow.filter(pa.compute.is_in(arrow["performance_year"], pa.array(["2017.0", "2017"])))
    repeated = pa.concat_tables([year_rows] * args.copies)
    with Engine.duckdb() as engine:
        table = engine.from_arrow(repeated)
        start = time.perf_counter()
        result = reproduce_puf(engine.rows(table), YEAR)
        reproduce_seconds = time.perf_counter() - start

    print(
        f"calculator, exact Decimal with trace: {len(rows):>7} ACO-years  {len(rows) / exact_seconds:>12,.0f} /s"
    )
    print(
        f"baseline, plain float formula:        {len(rows):>7} ACO-years  {len(rows) / float_seconds:>12,.0f} /s"
    )
    print(f"ratio exact / float time:             {exact_seconds / float_seconds:>12,.1f}x")
    print(
        f"reproduce_puf end to end (DuckDB):    {len(result.rows):>7} ACO-years  "
        f"{len(result.rows) / reproduce_seconds:>12,.0f} /s  (match {result.matched}/{len(result.rows)})"
    )


if __name__ == "__main__":
    main()
