"""Every performance report built from the marts of a synthetic run, against reading the marts (same session).

A synthetic population (``apmkit synth``, three years) is generated once into ``--cache`` and run with the demo's
shared-savings contract plus an episodes section; then, on DuckDB:

* **baseline**: read every mart of the run once (Parquet) and count its rows — the least a report over the marts
  must do;
* **each report**, twice: the **first use** (``build_report`` builds the report marts it needs that the run folder
  lacks — open gaps, HCCs, features, professional / pharmacy / episode marts — and keeps them there) and the
  **steady state** (the same request again: it reads the marts) — seconds and the ratio to the baseline.

Usage::

    .venv/bin/python bench/bench_reports.py --members 100000 --cache /tmp/apmkit-bench-reports
    .venv/bin/python bench/bench_reports.py --run /tmp/apmkit-bench/run-1000000 --cache /tmp/reports-1m

``--run DIR`` measures an existing run folder: it is copied into ``--cache`` first (the report marts are written
into the run folder; the original is never touched).

``--tiny`` (or ``APMKIT_BENCH_SIZE=tiny``, ``make bench-smoke``) runs 300 members. Prints figures; asserts nothing
about time.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)


def prepare(members: int, cache: Path) -> Path:
    from apmkit.synth import generate
    from apmkit.workspace import Workspace

    data, out = cache / f"data-{members}", cache / f"run-{members}"
    if not (data / "medical_claims.parquet").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(members, data, years=3, seed=16)
    if not (out / "run.json").exists():
        started = time.perf_counter()
        contract = cache / "contract.yaml"
        demo = Path(str(files("apmkit.demo_data") / "contract.yaml")).read_text(encoding="utf-8")
        contract.write_text(demo + "episodes:\n  build: {overlap: precedence}\n", encoding="utf-8")
        with Workspace(data) as workspace:
            workspace.run(contract, "2025", out=out)
        print(
            f"apmkit run (writes the marts; report marts are built by the first report that needs them) {time.perf_counter() - started:.1f} s"
        )
    return out


def baseline(run: Path) -> float:
    from apmkit.engines import Engine

    started = time.perf_counter()
    with Engine.duckdb() as engine:
        for path in sorted(run.glob("*.parquet")):
            engine.count(engine.read_parquet(path))
    return time.perf_counter() - started


def copy_run(run: Path, cache: Path) -> Path:
    """A copy of run folder ``run`` in ``cache`` without report marts (so first use builds them) or run.duckdb."""
    from apmkit.reports.marts import REPORT_MARTS

    target = cache / f"copy-of-{run.name}"
    shutil.rmtree(target, ignore_errors=True)
    skipped = {"run.duckdb", *(f"{name}.parquet" for name in REPORT_MARTS)}
    shutil.copytree(run, target, ignore=lambda _folder, names: [n for n in names if n in skipped])
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--run", type=Path, default=None, help="an existing run folder (copied first)")
    parser.add_argument("--reports", nargs="*", default=None, help="only these reports")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300)
    from apmkit.engines import Engine
    from apmkit.reports.framework import ReportRequest, catalog
    from apmkit.workspace.reports import build_report

    cache = args.cache or Path(tempfile.mkdtemp(prefix="apmkit-bench-reports-"))
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.run is not None:
        run = copy_run(args.run, cache)
        print(f"run {args.run} copied to {run} in {time.perf_counter() - started:.1f} s")
    else:
        run = prepare(args.members, cache)
        print(f"members {args.members:,}; synth + run {time.perf_counter() - started:.1f} s; marts in {run}")
    floor = baseline(run)
    print(f"baseline: read every mart once {floor:.2f} s")
    print(f"{'report':<18}{'first use s':>12}{'steady s':>10}{'x baseline':>12}{'rows':>10}", flush=True)
    names = args.reports or [info.name for info in catalog()]
    for name in names:
        seconds = []
        rows = 0
        for _ in range(2):
            started = time.perf_counter()
            with Engine.duckdb() as engine:
                result = build_report(run, ReportRequest(name, by="tin"), engine=engine)
            seconds.append(time.perf_counter() - started)
            rows = sum(t.num_rows for t in result.tables.values())
        first, steady = seconds
        print(
            f"{name:<18}{first:>12.2f}{steady:>10.2f}{steady / floor if floor else float('nan'):>12.1f}{rows:>10,}",
            flush=True,
        )
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
