"""Every performance report built from the marts of a synthetic run, against reading the marts (same session).

A synthetic population (``apmkit synth``, three years) is generated once into ``--cache`` and run with the demo's
shared-savings contract plus an episodes section; then, on DuckDB:

* **baselines**: read every mart of the run once (Parquet) and count its rows; and DuckDB summing the
  ``expenditure`` mart's cents by month once (one scan of the largest member-level mart a report used to join);
* **each report**, twice: the **first use** (``build_report`` builds the report marts it needs that the run folder
  lacks — open gaps, HCCs, features, professional / pharmacy / episode / admission marts and the report
  aggregates ``cells_*`` — and keeps them there) and the **steady state** (the same request again: it reads the
  marts and aggregates) — seconds, the ratio of the steady state to the expenditure scan (wall, and CPU seconds
  of this process with DuckDB's threads: steadier on a shared machine), and the 1-minute load average when the
  report started;
* for ``admissions``, the floor of its daily list: DuckDB reading the ``admission_list`` mart's visits of the
  period into Arrow.

Usage::

    .venv/bin/python bench/bench_reports.py --members 100000 --cache /tmp/apmkit-bench-reports
    .venv/bin/python bench/bench_reports.py --run /tmp/apmkit-bench/run-1000000 --cache /tmp/reports-1m

``--run DIR`` measures an existing run folder: it is copied into ``--cache`` first (hard links where the file
system allows: report marts are new files renamed into place, so the original is never touched), without its
report marts unless ``--keep-marts`` (then both columns are steady states).

``--tiny`` (or ``APMKIT_BENCH_SIZE=tiny``, ``make bench-smoke``) runs 300 members. Prints figures; asserts nothing
about time.
"""

from __future__ import annotations

import argparse
import os
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


def expenditure_scan(run: Path) -> tuple[float, float]:
    """Seconds and CPU seconds (this process, DuckDB's threads included) for DuckDB to sum the expenditure mart's
    cents by month once."""
    import duckdb

    started, cpu = time.perf_counter(), time.process_time()
    with duckdb.connect() as con:
        con.execute(
            "select month, sum(cents) from read_parquet(?) group by month", [str(run / "expenditure.parquet")]
        ).fetchall()
    return time.perf_counter() - started, time.process_time() - cpu


def list_scan(run: Path) -> tuple[float, float, int] | None:
    """The admissions list's floor: seconds, CPU seconds and rows for DuckDB to read the ``admission_list`` mart's
    visits admitted or discharged in the performance period into Arrow (what the report's ``events`` table is,
    before its sort and group counts); None before the mart exists."""
    import json

    import duckdb

    mart = run / "admission_list.parquet"
    if not mart.exists():
        return None
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    started, cpu = time.perf_counter(), time.process_time()
    with duckdb.connect() as con:
        rows = con.sql(
            "select * from read_parquet($1) where admit_date between $2::date and $3::date "
            "or discharge_date between $2::date and $3::date",
            params=[str(mart), record["start"], record["end"]],
        ).to_arrow_table()
    return time.perf_counter() - started, time.process_time() - cpu, rows.num_rows


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_run(run: Path, cache: Path, *, keep_marts: bool = False) -> Path:
    """A copy of run folder ``run`` in ``cache`` without run.duckdb, and without report marts (so first use builds
    them) unless ``keep_marts``."""
    from apmkit.reports.marts import REPORT_MARTS

    target = cache / f"copy-of-{run.name}"
    shutil.rmtree(target, ignore_errors=True)
    skipped = {"run.duckdb"} | (set() if keep_marts else {f"{name}.parquet" for name in REPORT_MARTS})
    shutil.copytree(
        run,
        target,
        ignore=lambda _folder, names: [n for n in names if n in skipped or n.endswith(".partial")],
        copy_function=_link_or_copy,
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--run", type=Path, default=None, help="an existing run folder (copied first)")
    parser.add_argument("--reports", nargs="*", default=None, help="only these reports")
    parser.add_argument("--by", default="tin", choices=("entity", "tin", "npi"))
    parser.add_argument("--keep-marts", action="store_true", help="copy --run with its report marts")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300)
    from apmkit.engines import Engine
    from apmkit.errors import ApmkitError
    from apmkit.reports.framework import ReportRequest, catalog
    from apmkit.workspace.reports import build_report

    cache = args.cache or Path(tempfile.mkdtemp(prefix="apmkit-bench-reports-"))
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.run is not None:
        run = copy_run(args.run, cache, keep_marts=args.keep_marts)
        print(f"run {args.run} copied to {run} in {time.perf_counter() - started:.1f} s")
    else:
        run = prepare(args.members, cache)
        print(f"members {args.members:,}; synth + run {time.perf_counter() - started:.1f} s; marts in {run}")
    every = baseline(run)
    floor, floor_cpu = expenditure_scan(run)
    print(
        f"baselines: read every mart once {every:.2f} s; sum the expenditure mart by month {floor:.2f} s "
        f"({floor_cpu:.2f} CPU s)"
    )
    print(
        f"{'report':<18}{'first use s':>12}{'steady s':>10}{'x scan':>8}{'CPU s':>8}{'x CPU':>8}{'rows':>10}"
        f"{'load':>7}",
        flush=True,
    )
    names = args.reports or [info.name for info in catalog()]
    for name in names:
        seconds, cpus = [], []
        rows = 0
        load = os.getloadavg()[0]
        try:
            for _ in range(2):
                started, cpu = time.perf_counter(), time.process_time()
                with Engine.duckdb() as engine:
                    result = build_report(run, ReportRequest(name, by=args.by), engine=engine)
                seconds.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
                rows = sum(t.num_rows for t in result.tables.values())
        except ApmkitError as error:  # e.g. episodes of a contract without an episodes: section
            print(f"{name:<18}not built: {error}", flush=True)
            continue
        first, steady = seconds
        print(
            f"{name:<18}{first:>12.2f}{steady:>10.2f}{steady / floor if floor else float('nan'):>8.1f}"
            f"{cpus[1]:>8.2f}{cpus[1] / floor_cpu if floor_cpu else float('nan'):>8.1f}{rows:>10,}{load:>7.1f}",
            flush=True,
        )
        if name == "admissions" and (listing := list_scan(run)) is not None:
            wall, cpu_s, listed = listing
            print(
                f"  floor of the list: DuckDB reads the admission_list mart's {listed:,} visits of the period "
                f"into Arrow in {wall:.2f} s ({cpu_s:.2f} CPU s); the report / that: {steady / wall:.1f}x wall, "
                f"{cpus[1] / cpu_s if cpu_s else float('nan'):.1f}x CPU",
                flush=True,
            )
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
