"""Benchmark episode construction (all 34 BPCI Advanced-style categories, and CJR) on a synthetic population.

Usage::

    .venv/bin/python bench/bench_episodes.py --members 50000 --years 4 [--from DIR] [--engine duckdb]

Generates the population with ``apmkit synth`` unless ``--from`` names an existing folder. Prints
throughput (claim lines and members per second) and the ratio of the episode build to a baseline
measured in the same run: one pass that reads every claim line and sums payments per member (the
least any claims-based step must do).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.definitions import cjr_definition
from apmkit.episodes.spec import EpisodeBuildSpec


def synth(members: int, years: int, out: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "apmkit",
            "-q",
            "synth",
            "--members",
            str(members),
            "--years",
            str(years),
            "--seed",
            "11",
            "--out",
            str(out),
        ],
        check=True,
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
        data = Path(tempfile.mkdtemp(prefix="bench-episodes-")) / "synth"
        started = time.perf_counter()
        synth(args.members, args.years, data)
        print(
            f"synth: {args.members:,} members x {args.years} years in {time.perf_counter() - started:.1f} s"
        )
    with Engine.connect(args.engine) as engine:
        tables = engine.canonical(data)
        claims = tables["medical_claims"]
        lines = engine.count(claims)
        members = engine.count(tables["members"])

        started = time.perf_counter()
        baseline = claims.group_by("member_id").aggregate(paid=claims.paid_amount.sum())
        engine.to_arrow(baseline.count().name("n"))
        baseline_s = time.perf_counter() - started

        timings = {}
        for label, spec in (
            ("bpcia (36 definitions)", EpisodeBuildSpec()),
            ("cjr", EpisodeBuildSpec(definitions=(cjr_definition(),))),
        ):
            started = time.perf_counter()
            episodes = build_episodes(
                tables, spec, fetch=engine.rows, materialize=engine.materialize
            ).episodes
            out = Path(tempfile.mkdtemp(prefix="bench-episodes-out-")) / "episodes.parquet"
            engine.write_parquet(episodes, out)
            elapsed = time.perf_counter() - started
            written = engine.read_parquet(out)
            kept = engine.count(written.filter(written.status == "kept"))
            timings[label] = (elapsed, engine.count(written), kept)
            del episodes, written
            # cached intermediates are dropped on collection: collect while the engine is open
            gc.collect()

    print(f"engine {args.engine}: {members:,} members, {lines:,} claim lines")
    print(f"baseline (scan + sum per member): {baseline_s:.2f} s ({lines / baseline_s:,.0f} lines/s)")
    for label, (elapsed, candidates, kept) in timings.items():
        print(
            f"episodes {label}: {elapsed:.2f} s, {candidates:,} triggered / {kept:,} kept; "
            f"{lines / elapsed:,.0f} lines/s, {members / elapsed:,.0f} members/s; "
            f"ratio to baseline {elapsed / baseline_s:.1f}x; 1M members at this rate ~{elapsed * 1e6 / members:.0f} s"
        )


if __name__ == "__main__":
    main()
