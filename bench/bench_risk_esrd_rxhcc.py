"""Benchmark: ESRD-V24 and RxHCC-V08-X scoring throughput of apmkit (DuckDB), with hccinfhir on a sample.

    .venv/bin/python bench/bench_risk_esrd_rxhcc.py [--members 200000] [--dx-per-member 8] [--sample 2000]

Generates a seeded synthetic population (dialysis, graft and transplant months, dual and institutional
status, low-income subsidy, ~8 diagnoses per member from the ESRD V24 mapping), scores it with
``apmkit.risk.score`` for each model on DuckDB (conformance, mapping, edits, hierarchies, interactions, all
segment scores, to Arrow) and prints members per second. For ESRD-V24 it also scores the first ``--sample``
dialysis members with hccinfhir's ``calculate_raf`` one by one (the segment both score alike; docs/risk.md)
and prints the ratio in the same run. hccinfhir has no usable PY2026 RxHCC tables, so RxHCC has no ratio.
"""

from __future__ import annotations

import argparse
import csv
import time
from importlib import resources

import numpy as np
import pyarrow as pa
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.risk import score

PAYMENT_YEAR = 2026


def population(members: int, dx_per_member: int, seed: int = 11) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    with resources.files("apmkit.risk.data").joinpath("esrd_dx_to_cc.csv").open(encoding="utf-8") as handle:
        codes = sorted({r["dx_code"] for r in csv.DictReader(handle)})
    ids = np.char.add("M", np.arange(members).astype(str))
    ages = rng.integers(20, 96, members)
    months = rng.choice(["", "", "", "1", "2", "3", "6", "15", "40"], members)
    persons = pa.table(
        {
            "member_id": ids,
            "birth_date": [f"{PAYMENT_YEAR - a - 1}-06-15" for a in ages.tolist()],
            "sex": rng.choice(["M", "F"], members),
            "orec": rng.choice(["0", "1", "2", "3"], members),
            "ltimcaid": np.full(members, "0"),
            "nemcaid": np.full(members, "0"),
            "dual_status_code": rng.choice(["00", "00", "02", "01", "08", ""], members),
            "institutional": rng.choice(["0", "1"], members, p=[0.9, 0.1]),
            "new_enrollee": rng.choice(["0", "1"], members, p=[0.9, 0.1]),
            "esrd": np.full(members, "1"),
            "months_since_transplant": months,
            "low_income": rng.choice(["0", "1"], members, p=[0.7, 0.3]),
        }
    )
    counts = rng.poisson(dx_per_member, members)
    diagnoses = pa.table(
        {
            "member_id": np.repeat(ids, counts),
            "dx_code": np.array(codes)[rng.integers(0, len(codes), int(counts.sum()))],
        }
    )
    return persons, diagnoses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--dx-per-member", type=int, default=8)
    parser.add_argument("--sample", type=int, default=2000)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=500, sample=50)
    persons, diagnoses = population(args.members, args.dx_per_member)
    print(f"population: {args.members:,} members, {diagnoses.num_rows:,} diagnoses")
    engine = Engine.duckdb()
    p, d = engine.from_arrow(persons), engine.from_arrow(diagnoses)
    rates = {}
    for model in ("ESRD-V24", "RxHCC-V08-X"):
        start = time.perf_counter()
        result = score(p, d, model=model, payment_year=PAYMENT_YEAR, materialize=engine.materialize)
        scored = engine.to_arrow(result.scores)
        seconds = time.perf_counter() - start
        rates[model] = scored.num_rows / seconds
        print(f"{model}: {scored.num_rows:,} scored in {seconds:.2f} s = {rates[model]:,.0f} members/s")

    from hccinfhir.model_calculate import calculate_raf

    rows = persons.slice(0, 50_000).to_pylist()
    sample = [r for r in rows if r["months_since_transplant"] == "" and r["new_enrollee"] == "0"][
        : args.sample
    ]
    by_member: dict[str, list[str]] = {}
    wanted = {r["member_id"] for r in sample}
    for member, code in zip(
        diagnoses.column("member_id").to_pylist(), diagnoses.column("dx_code").to_pylist(), strict=True
    ):
        if member in wanted:
            by_member.setdefault(member, []).append(code)
    start = time.perf_counter()
    for r in sample:
        calculate_raf(
            by_member.get(r["member_id"], []),
            "CMS-HCC ESRD Model V24",
            age=PAYMENT_YEAR - int(r["birth_date"][:4]) - 1,
            sex=r["sex"],
            dual_elgbl_cd=r["dual_status_code"] or "NA",
            orec=r["orec"],
            crec="2",
            lti=r["institutional"] == "1",
        )
    hcc_rate = len(sample) / (time.perf_counter() - start)
    print(f"hccinfhir ESRD V24 (dialysis sample of {len(sample):,}): {hcc_rate:,.0f} members/s")
    print(f"ratio ESRD-V24 apmkit / hccinfhir: {rates['ESRD-V24'] / hcc_rate:.1f}x")


if __name__ == "__main__":
    main()
