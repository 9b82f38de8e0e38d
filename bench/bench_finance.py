"""Practice-finance throughput, measured against a baseline in the same run.

1. Loading: a billing CSV of N claim lines conformed to the ``billing_lines`` schema (parse, type checks, code
   patterns, key uniqueness, quarantine) against a baseline that only reads the same CSV with the same reader.
2. KPIs: ``kpis`` for every dimension, denials by CARC, A/R aging and days in A/R on the loaded lines, against a
   baseline that scans and sums ``billed_amount`` once per dimension on the same engine.
3. X12 835: parse an 835 of N service lines (pyx12 tokens + apmkit's walk), lines per second.

Usage: ``.venv/bin/python bench/bench_finance.py [--lines 200000]``. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
from apmkit.finance.loaders import load_billing
from apmkit.finance.x12_835 import read_835

from apmkit.engines import Engine
from apmkit.finance.kpis import DIMENSIONS, ar_aging, days_in_ar, denials_by_reason, kpis
from apmkit.ingest.readers import read_delimited
from apmkit.money import to_cents


def billing_csv(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    billed = rng.integers(5_000, 80_000, n)
    allowed = (billed * rng.uniform(0.4, 0.9, n)).astype(np.int64)
    denied = rng.random(n) < 0.08
    paid = np.where(denied, 0, (allowed * 0.8).astype(np.int64))
    days = rng.integers(0, 365, n)
    table = pa.table(
        {
            "claim_id": [f"C{i // 2}" for i in range(n)],
            "line_number": [i % 2 + 1 for i in range(n)],
            "service_date": [
                str(date(2025, 1, 1).fromordinal(date(2025, 1, 1).toordinal() + int(d))) for d in days
            ],
            "payer": rng.choice(["Medicare", "Medicaid", "Acme", "Beta", "Self"], n),
            "location": rng.choice(["Main", "North", "South"], n),
            "clinician": rng.choice([f"{1000000000 + i}" for i in range(40)], n),
            "billed_amount": [f"{b / 100:.2f}" for b in billed],
            "allowed_amount": [f"{a / 100:.2f}" for a in np.where(denied, 0, allowed)],
            "paid_amount": [f"{p / 100:.2f}" for p in paid],
            "denied": np.where(denied, "true", "false"),
            "carc": np.where(denied, rng.choice(["16", "50", "97", "197"], n), ""),
        }
    )
    pcsv.write_csv(table, path)


def era(path: Path, claims: int) -> int:
    isa = "ISA*00*" + " " * 10 + "*00*" + " " * 10 + "*ZZ*" + "P".ljust(15) + "*ZZ*" + "R".ljust(15)
    isa += "*250115*1200*^*00501*000000001*0*P*:~"
    body = ["ST*835*0001", "BPR*I*0*C*NON************20250115", "N1*PR*X"]
    for i in range(claims):
        body += [
            f"CLP*K{i}*1*300*182*20*12",
            "SVC*HC:99213*200*132**1",
            "DTM*472*20250105",
            "CAS*CO*45*48",
            "CAS*PR*2*20",
            "SVC*HC:36415*100*50**1",
            "CAS*CO*45*50",
        ]
    text = (
        isa
        + "GS*HP*P*R*20250115*1200*1*X*005010X221A1~"
        + "~".join(body)
        + f"~SE*{len(body) + 1}*0001~GE*1*1~IEA*1*000000001~"
    )
    path.write_text(text, encoding="ascii")
    return claims * 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--era-claims", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Engine.duckdb() as engine:
        csv_path = Path(folder) / "billing.csv"
        billing_csv(csv_path, args.lines)

        start = time.perf_counter()
        raw = read_delimited(csv_path)
        engine.count(engine.from_arrow(raw.table))
        baseline_load = time.perf_counter() - start
        start = time.perf_counter()
        loaded = load_billing(engine, [csv_path])
        load_time = time.perf_counter() - start
        print(
            f"load billing CSV: {args.lines:,} lines in {load_time:.2f} s ({args.lines / load_time:,.0f} lines/s); "
            f"read-only baseline {baseline_load:.2f} s; ratio {load_time / baseline_load:.1f}x "
            f"(loaded {loaded.loaded:,}, rejected {loaded.rejected:,})"
        )

        lines = loaded.table
        start = time.perf_counter()
        for _dimension in DIMENSIONS:
            engine.to_arrow(lines.group_by(lines.payer).aggregate(s=to_cents(lines.billed_amount).sum()))
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        for dimension in DIMENSIONS:
            engine.to_arrow(kpis(lines, None, dimension))
        engine.to_arrow(denials_by_reason(lines))
        engine.to_arrow(ar_aging(lines, date(2025, 12, 31)))
        engine.to_arrow(days_in_ar(lines, date(2025, 12, 31)))
        kpi_time = time.perf_counter() - start
        print(
            f"KPIs ({len(DIMENSIONS)} dimensions + denials + aging + days in A/R): {kpi_time:.2f} s "
            f"({args.lines / kpi_time:,.0f} lines/s); scan-and-sum baseline {baseline:.2f} s; "
            f"ratio {kpi_time / baseline:.1f}x"
        )

        era_path = Path(folder) / "bench.835"
        n = era(era_path, args.era_claims)
        start = time.perf_counter()
        remit = read_835(era_path)
        era_time = time.perf_counter() - start
        print(
            f"835 parse: {n:,} service lines ({remit.segments:,} segments) in {era_time:.2f} s "
            f"({n / era_time:,.0f} lines/s)"
        )


if __name__ == "__main__":
    main()
