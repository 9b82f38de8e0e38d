"""Every performance report built from the marts of a synthetic run, against reading the marts (same session).

A synthetic population (``apmkit synth``, three years) is generated once into ``--cache`` and run with the demo's
shared-savings contract plus an episodes section; then, on DuckDB:

* **baseline**: read every mart of the run once (Parquet) and count its rows — the least a report over the marts
  must do;
* **each report**: ``build_report`` (open, build, execute every table) — seconds and the ratio to the baseline.

Usage::

    .venv/bin/python bench/bench_reports.py --members 100000 --cache /tmp/apmkit-bench-reports

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--reports", nargs="*", default=None, help="only these reports")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300)
    from apmkit.engines import Engine
    from apmkit.reports.framework import ReportRequest, catalog
    from apmkit.workspace.reports import build_report

    cache = args.cache or Path(tempfile.mkdtemp(prefix="apmkit-bench-reports-"))
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run = prepare(args.members, cache)
    print(f"members {args.members:,}; synth + run {time.perf_counter() - started:.1f} s; marts in {run}")
    floor = baseline(run)
    print(f"baseline: read every mart once {floor:.2f} s")
    print(f"{'report':<18}{'seconds':>10}{'x baseline':>12}{'rows':>10}")
    names = args.reports or [info.name for info in catalog()]
    for name in names:
        started = time.perf_counter()
        with Engine.duckdb() as engine:
            result = build_report(run, ReportRequest(name, by="tin"), engine=engine)
        seconds = time.perf_counter() - started
        rows = sum(t.num_rows for t in result.tables.values())
        print(
            f"{name:<18}{seconds:>10.2f}{seconds / floor if floor else float('nan'):>12.1f}{rows:>10,}",
            flush=True,
        )
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
