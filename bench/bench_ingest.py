"""Ingest wall time, CPU time and peak memory against the floor of copying the same files.

    .venv/bin/python bench/bench_ingest.py [--members 100000] [--years 2] [--data DIR] [--memory-limit 4GB]

Ingests an ``apmkit synth`` population (``--data``: one already written; otherwise one is generated into
a temporary folder) with ``apmkit ingest parquet`` in a child process, and, in the same run, the floor:
DuckDB (default settings) reading every one of the same Parquet files and writing it back as Parquet.
Each side runs in its own process, so its peak RSS is its own (``os.wait4``). Prints both and the ratios
(target: ingest within 3x the floor and under 8 GB). ``APMKIT_BENCH_SIZE=tiny`` (or ``--tiny``) runs a
200-member population, for the CI smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from apmkit.synth import generate

FLOOR = """
import sys
from pathlib import Path

import duckdb

source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for path in sorted(source.glob("*.parquet")):
    con.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{target / path.name}' (FORMAT parquet)")
"""


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def measure(command: list[str]) -> Measured:
    """Run ``command`` as a child process: wall time, its CPU time and its own peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="an apmkit synth population to ingest")
    parser.add_argument("--memory-limit", default=None, help="passed to apmkit ingest --memory-limit")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--tiny", action="store_true", help="200 members (same as APMKIT_BENCH_SIZE=tiny)")
    args = parser.parse_args()
    if args.tiny or os.environ.get("APMKIT_BENCH_SIZE") == "tiny":
        args.members, args.data = 200, None

    scratch = Path(tempfile.mkdtemp(prefix="apmkit-bench-ingest-"))
    try:
        data = args.data
        if data is None:
            data = scratch / "synth"
            generate(args.members, data, years=args.years, seed=7)
        files = sorted(data.glob("*.parquet"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        floor = measure([sys.executable, "-c", FLOOR, str(data), str(scratch / "floor")])
        command = [sys.executable, "-m", "apmkit", "--quiet", "ingest", "parquet", str(data)]
        command += ["--out", str(scratch / "ingested")]
        if args.memory_limit:
            command += ["--memory-limit", args.memory_limit]
        ingest = measure(command)
        report = json.loads((scratch / "ingested" / "ingest_report.json").read_text())
        rows = report["totals"]["read"]
        print(f"input: {data} ({len(files)} files, {size_mb:,.0f} MB, {rows:,} rows)")
        print(f"{'':8} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
        for label, m in (("floor", floor), ("ingest", ingest)):
            print(f"{label:8} {m.wall_s:8.1f} {m.cpu_s:8.1f} {m.peak_rss_mb:12,.0f}")
        wall_ratio = ingest.wall_s / floor.wall_s
        cpu_ratio = ingest.cpu_s / max(floor.cpu_s, 1e-9)
        print(f"ingest / floor: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x (target <= 3x)")
        print(
            f"ingest peak RSS: {ingest.peak_rss_mb / 1024:.2f} GB (target < 8 GB); {rows / ingest.wall_s:,.0f} rows/s"
        )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            figures = {
                "members": args.members if args.data is None else None,
                "data": str(data),
                "input_mb": round(size_mb, 1),
                "rows": rows,
                "floor": asdict(floor),
                "ingest": asdict(ingest),
                "wall_ratio": round(wall_ratio, 2),
                "cpu_ratio": round(cpu_ratio, 2),
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
