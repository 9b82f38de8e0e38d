"""Benchmark the five eCQMs (CMS122, CMS165, CMS2, CMS125, CMS130) over a large synthetic population.

Usage::

    .venv/bin/python bench/bench_quality.py --members 1000000 [--base-members 50000] [--base DIR] [--threads 2]

The population comes from ``apmkit synth`` (members and the long-form ``clinical`` table with encounters,
conditions, HbA1c and blood-pressure observations, screenings): a base population of ``--base-members`` is
generated (or read from ``--base``) and replicated under new member ids up to ``--members`` inside DuckDB,
then read back through ``Engine.canonical`` like any ``--from`` folder. Each measure runs as in
``apmkit quality evaluate`` (record tagging, facts and pivot materialized by the engine) and its populations
are written to Parquet. Prints patients/s per measure and the ratio of the measure's time to a baseline
measured in the same run: one ibis pass over ``clinical`` that counts records and finds the latest date
per member (the least any measure must do).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.quality.ecqm import ECQM_DEFINITIONS
from apmkit.quality.evaluate import POPULATIONS, evaluate_measures


def base_population(folder: Path, members: int) -> Path:
    from apmkit.synth import generate  # the generator writes canonical Parquet tables

    generate(members=members, years=1, seed=20251, out=folder)
    return folder


def replicate(engine: Engine, base: Path, out: Path, target: int) -> tuple[int, int]:
    """Write members/clinical with ``ceil(target / base)`` copies of the base under new ids (DuckDB SQL)."""
    con = engine.backend.con
    base_members = con.execute(f"select count(*) from read_parquet('{base}/members.parquet')").fetchone()[0]
    copies = -(-target // base_members)
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        copy (
            select * replace (m.member_id || '-' || cast(c.k as varchar) as member_id)
            from read_parquet('{base}/members.parquet') m, range({copies}) c(k)
            limit {target}
        ) to '{out}/members.parquet' (format parquet)
    """)
    con.execute(f"""
        copy (
            select * replace (
                x.member_id || '-' || cast(c.k as varchar) as member_id,
                x.record_id || '-' || cast(c.k as varchar) as record_id,
                x.encounter_id || '-' || cast(c.k as varchar) as encounter_id)
            from read_parquet('{base}/clinical.parquet') x, range({copies}) c(k)
            where (x.member_id || '-' || cast(c.k as varchar)) in (select member_id from read_parquet('{out}/members.parquet'))
        ) to '{out}/clinical.parquet' (format parquet)
    """)
    clinical_rows = con.execute(f"select count(*) from read_parquet('{out}/clinical.parquet')").fetchone()[0]
    return target, clinical_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--base-members", type=int, default=50_000)
    parser.add_argument("--base", type=Path, help="existing synth folder to replicate (skips generation)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--measures", default=",".join(ECQM_DEFINITIONS))
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=500, base_members=500)
    start, end = dt.date(2025, 1, 1), dt.date(2025, 12, 31)

    with tempfile.TemporaryDirectory(prefix="bench-quality-") as work:
        folder = Path(work)
        t0 = time.perf_counter()
        base = args.base or base_population(folder / "base", args.base_members)
        t1 = time.perf_counter()
        engine = Engine.duckdb(folder / "bench.duckdb", threads=args.threads)
        members, clinical_rows = replicate(engine, base, folder / "data", args.members)
        t2 = time.perf_counter()
        print(
            f"data: {members:,} patients, {clinical_rows:,} clinical rows "
            f"(base {t1 - t0:.1f} s, replicate {t2 - t1:.1f} s)"
        )
        tables = engine.canonical(folder / "data")

        t, cpu = time.perf_counter(), time.process_time()
        clinical = tables.clinical
        scan = clinical.group_by("member_id").aggregate(
            records=clinical.record_id.nunique(), latest=clinical.effective_start.max()
        )
        engine.write_parquet(scan, folder / "baseline.parquet")
        baseline = time.perf_counter() - t
        print(
            f"baseline (one pass over clinical per member): {baseline:.2f} s, {members / baseline:,.0f} patients/s"
        )

        definitions = [ECQM_DEFINITIONS[m] for m in args.measures.split(",")]
        t, cpu = time.perf_counter(), time.process_time()
        results = evaluate_measures(
            definitions, tables.members, tables.clinical, start, end, materialize=engine.materialize
        )
        shared = time.perf_counter() - t
        print(f"shared pass (tag records, facts, pivot for {len(definitions)} measures): {shared:.2f} s")
        total = shared
        for measure, populations in results.items():
            t = time.perf_counter()
            keep = [
                c for c in populations.columns if c == "patient_id" or c in POPULATIONS or c == "evidence"
            ]
            engine.write_parquet(populations.select(*keep), folder / f"{measure}.parquet")
            out = engine.read_parquet(folder / f"{measure}.parquet")
            counts = engine.to_arrow(
                out.aggregate(
                    ip=out.initial_population.cast("int64").sum(), numerator=out.numerator.cast("int64").sum()
                )
            ).to_pylist()[0]
            elapsed = time.perf_counter() - t
            total += elapsed
            print(
                f"{measure:7s} populations {elapsed:6.2f} s  IP {counts['ip']:,}  numerator {counts['numerator']:,}"
            )
        cpu = time.process_time() - cpu
        print(
            f"all {len(definitions)} measures: {total:.1f} s wall ({members / total:,.0f} patients/s), "
            f"{cpu:.1f} s CPU in this process, x{total / baseline:.1f} baseline; target 120 s for 1,000,000 patients"
        )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        engine.close()


if __name__ == "__main__":
    main()
