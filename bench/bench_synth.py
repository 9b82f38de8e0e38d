"""Synthetic population throughput and memory.

    .venv/bin/python bench/bench_synth.py [--members 1000000] [--years 1] [--out DIR]

Prints rows/s and peak RSS for ``apmkit.synth.generate``, and, as the same-run baseline, the time to
read and rewrite the very same Parquet tables (the I/O floor): the ratio says how much of the run is
generation rather than writing.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.synth import generate


def io_floor(folder: Path, scratch: Path) -> float:
    started = time.perf_counter()
    for path in sorted(folder.glob("*.parquet")):
        reader = pq.ParquetFile(path)
        with pq.ParquetWriter(scratch / path.name, reader.schema_arrow, compression="zstd") as writer:
            for group in range(reader.num_row_groups):
                writer.write_table(reader.read_row_group(group))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=25_000)
    parser.add_argument("--out", type=Path, default=None)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=200)
    out = args.out or Path(tempfile.mkdtemp(prefix="apmkit-bench-synth-"))
    report = generate(args.members, out, years=args.years, seed=1, chunk_size=args.chunk_size)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = sum(report.rows.values())
    scratch = Path(tempfile.mkdtemp(prefix="apmkit-bench-io-"))
    floor = io_floor(out, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    size_gb = sum(p.stat().st_size for p in out.glob("*.parquet")) / 1024**3
    print(f"synth: {args.members:,} members x {args.years} year(s), chunk {args.chunk_size:,}")
    for name, n in report.rows.items():
        print(f"  {name:16s} {n:>14,}")
    print(f"  total rows       {rows:>14,}  ({size_gb:.2f} GB Parquet)")
    print(
        f"generate: {report.seconds:.1f} s, {rows / report.seconds:,.0f} rows/s, "
        f"{args.members * args.years / report.seconds:,.0f} member-years/s, peak RSS {peak_gb:.2f} GB"
    )
    print(f"baseline (read + rewrite the same Parquet): {floor:.1f} s, {rows / floor:,.0f} rows/s")
    print(f"ratio generate / I/O floor: {report.seconds / floor:.2f}x")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
