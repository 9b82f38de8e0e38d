"""The whole run (``apmkit run``) against the I/O floor, measured in the same session.

For each population size (an ``apmkit synth`` population, generated once into ``--cache``):

* **floor**: DuckDB reads every input table once (medical and pharmacy claims, clinical, enrollment) and
  aggregates it per member — the least any contract run must do;
* **run**: ``Workspace.run`` of the demo's commercial shared-savings contract (plurality attribution, V28
  risk scores, a general benchmark, shared savings), writing every mart — wall time, peak RSS and each
  stage's share;
* **run ÷ floor**, and across sizes the scaling exponent of run time (log t / log n, least squares).

Each measurement runs in a child process so its peak RSS is its own. Usage::

    .venv/bin/python bench/bench_run.py --members 100000 300000 --cache /tmp/apmkit-bench

Prints figures; asserts nothing about time. ``--members 2000`` is the smoke size CI runs.

Last measured (2-core, 24 GB machine shared with other jobs, load 13-21; docs/run.md "Performance"): after
the run's diagnoses, spending and member-years changes, CPU seconds 25.6 / 75.6 / 287.8 at 100k / 300k / 1M
members (exponent 1.05), run / floor 15x / 31x / 55x in CPU, peak RSS 1.34 / 3.27 / 6.39 GiB (1M with
``--memory-limit 6GB``); before: 30.9 / 88.2 CPU seconds, 1.54 / 3.89 GiB at 100k / 300k. Later that day (load
8-15), with each mart written once (computed into run.duckdb, copied to Parquet): 25.1 / 85.8 / 300.6 CPU
seconds, peak 1.41 / 3.54 / 6.12 GiB; the code before it, same session: 28.9 / 81.4 / 336.9, 1.33 / 3.36 /
6.33 GiB (within the noise at that load). At 1M under ``--memory-limit 2GB``: peak 2.46 GiB, DuckDB tracked at most
1.86 GiB per stage (the code before b104d12, whose second DuckDB database loaded run.duckdb: 3.14 GiB).
On 8 December (``APMKIT_MEMORY_LIMIT=3GB``, load 2.5-7, each code twice): after the exact cuts of issue 19 (money
conversions on 64-bit decimals, the utilization mart, the risk diagnoses), 16.1 / 14.6 CPU seconds at 100k and
39.8 / 42.1 at 300k against 19.4 / 19.5 and 58.6 / 55.4 for the code before (63e5ba8); peak 1.06 / 2.47 GiB
against 1.42 / 3.11.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from importlib.resources import files
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

CONTRACT = Path(str(files("apmkit.demo_data") / "contract.yaml"))


def floor(data: Path) -> dict[str, float]:
    """Read every input table once and aggregate it per member, on DuckDB."""
    from apmkit.engines import Engine

    started, cpu = time.perf_counter(), time.process_time()  # CPU of every thread: steadier when shared
    with Engine.duckdb() as engine:
        tables = engine.canonical(data)
        for name in ("medical_claims", "pharmacy_claims", "clinical", "enrollment"):
            if name not in tables.present():
                continue
            table = tables[name]
            numeric = next((c for c in ("paid_amount", "allowed_amount") if c in table.columns), None)
            per_member = table.group_by("member_id").aggregate(
                rows=table.count(), **({"spend": table[numeric].sum()} if numeric else {})
            )
            engine.to_arrow(per_member.count().name("n").as_table())
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}


def _rss_now() -> int:
    """The process's resident set size now (bytes; Linux), not its peak."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _EngineSampler:
    """Samples, twice a second, the process's RSS and the memory DuckDB's buffer manager accounts for
    (``duckdb_memory()``, the part its ``memory_limit`` bounds), from a second cursor on the run's connection.

    Per stage it keeps the largest RSS, the largest tracked memory and the largest difference: memory the engine's
    limit does not bound (Python and Arrow objects, a second engine, allocations DuckDB does not track).
    """

    def __init__(self, connection: object) -> None:
        self.stage = "contract and checks"
        self.by_stage: dict[str, dict[str, int]] = {}
        self._cursor = connection.cursor()  # type: ignore[attr-defined]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        query = "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()"
        while not self._stop.is_set():
            tracked, spilled = self._cursor.execute(query).fetchone()
            rss = _rss_now()
            kept = self.by_stage.setdefault(self.stage, {"rss": 0, "tracked": 0, "outside": 0, "spilled": 0})
            for key, value in (
                ("rss", rss),
                ("tracked", int(tracked)),
                ("outside", rss - int(tracked)),
                ("spilled", int(spilled)),
            ):
                kept[key] = max(kept[key], value)
            self._stop.wait(0.5)

    def close(self) -> dict[str, dict[str, int]]:
        self._stop.set()
        self._thread.join()
        self._cursor.close()
        return self.by_stage


def run(data: Path, out: Path) -> dict[str, object]:
    from apmkit.workspace import Workspace

    stages: list[tuple[str, float]] = []
    peaks: list[int] = []  # the process's peak RSS (bytes) when each stage starts
    sampler: _EngineSampler | None = None

    def progress(stage: str) -> None:
        stages.append((stage, time.perf_counter()))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        if sampler is not None:
            sampler.stage = stage

    started, cpu = time.perf_counter(), time.process_time()
    with Workspace(data) as workspace:
        if workspace.engine.name == "duckdb":
            sampler = _EngineSampler(workspace.engine.backend.con)
        try:
            result = workspace.run(CONTRACT, "2025", out=out, progress=progress)
        finally:
            engine_memory = sampler.close() if sampler is not None else {}
    ended, cpu = time.perf_counter(), time.process_time() - cpu
    marks = [*stages, ("end", ended)]
    shares = {name: round(marks[i + 1][1] - at, 3) for i, (name, at) in enumerate(marks[:-1])}
    ends = [*peaks[1:], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]
    return {
        "seconds": ended - started,
        "cpu_seconds": cpu,
        # Peak RSS reached by the end of each stage: the stage where it jumps is the one that holds the memory.
        "stage_peaks": {name: ends[i] for i, (name, _) in enumerate(stages)},
        # Within each stage: the largest RSS, DuckDB's tracked memory, and RSS less tracked (outside its limit).
        "engine_memory": engine_memory,
        "stages": {"contract and checks": round(stages[0][1] - started, 3) if stages else 0.0, **shares},
        "members": result.counts.get("members", 0),
        "claim_lines": result.counts.get("claim_lines_counted", 0),
        "net": str(result.total_net),
    }


def child(kind: str, data: Path, out: Path) -> dict[str, object]:
    """Run one measurement in a child process; add its peak RSS (bytes)."""
    command = [sys.executable, __file__, "--child", kind, "--data", str(data), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    assert process.stdout is not None
    output = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{kind} failed: {output[-2000:]}")
    figures: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    figures["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports kilobytes
    return figures


def input_rows(data: Path) -> int:
    """Rows of the input tables the floor reads (from the Parquet footers)."""
    import pyarrow.parquet as pq

    names = ("medical_claims", "pharmacy_claims", "clinical", "enrollment")
    return sum(
        pq.ParquetFile(data / f"{n}.parquet").metadata.num_rows
        for n in names
        if (data / f"{n}.parquet").exists()
    )


def population(members: int, cache: Path) -> Path:
    """The synthetic population, generated by a child process: Linux keeps a process's peak RSS across
    exec, so the parent must stay small for the children's peaks to be their own."""
    folder = cache / f"synth-{members}"
    if not (folder / "synth_report.json").exists():
        command = [sys.executable, "-m", "apmkit", "--quiet", "synth", "--members", str(members)]
        subprocess.run([*command, "--years", "2", "--seed", "7", "--out", str(folder)], check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[100_000])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "apmkit-bench")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory limit of the floor and the run (APMKIT_MEMORY_LIMIT), e.g. 6GB; default: the engine's",
    )
    parser.add_argument("--keep", type=Path, help="write each run's output to KEEP/run-<members> (kept)")
    parser.add_argument("--child", choices=["floor", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=[2000])
    if args.memory_limit:
        os.environ["APMKIT_MEMORY_LIMIT"] = args.memory_limit  # inherited by the children
    if args.child:
        figures = floor(args.data) if args.child == "floor" else run(args.data, args.out)
        print(json.dumps(figures))
        return
    sizes, times, cpus = [], [], []
    for members in args.members:
        data = population(members, args.cache)
        with tempfile.TemporaryDirectory() as work:
            base = child("floor", data, Path(work) / "floor")
            out = args.keep / f"run-{members}" if args.keep else Path(work) / "run"
            measured = child("run", data, out)
        seconds = float(measured["seconds"])  # type: ignore[arg-type]
        ratio = seconds / float(base["seconds"])  # type: ignore[arg-type]
        cpu, base_cpu = float(measured["cpu_seconds"]), float(base["cpu_seconds"])  # type: ignore[arg-type]
        rows = input_rows(data)
        print(
            f"{members:>10,} members: run {seconds:7.2f} s, peak RSS {int(measured['peak_rss_bytes']) / 2**30:5.2f} GiB "  # type: ignore[call-overload]
            f"({measured['claim_lines']:,} claim lines counted, {members / seconds:,.0f} members/s, "
            f"{rows / seconds:,.0f} input rows/s); floor "
            f"{float(base['seconds']):.2f} s (peak {int(base['peak_rss_bytes']) / 2**30:.2f} GiB); "  # type: ignore[call-overload, arg-type]
            f"run / floor {ratio:.1f}x"
        )
        print(f"    CPU seconds: run {cpu:.1f}, floor {base_cpu:.1f}, run / floor {cpu / base_cpu:.1f}x")
        print(f"    members settled {measured['members']:,}, total net {measured['net']}")
        stages = measured["stages"]
        assert isinstance(stages, dict)
        print("    stage shares: " + ", ".join(f"{k} {v / seconds:.0%}" for k, v in stages.items()))
        peaks = measured.get("stage_peaks", {})
        assert isinstance(peaks, dict)
        print(
            "    peak RSS by the end of: " + ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in peaks.items())
        )
        engine_memory = measured.get("engine_memory", {})
        assert isinstance(engine_memory, dict)
        if engine_memory:
            print(
                "    within each stage, largest RSS / DuckDB tracked / RSS outside the engine's limit / spilled (GiB): "
                + ", ".join(
                    f"{k} {v['rss'] / 2**30:.2f} / {v['tracked'] / 2**30:.2f} / {v['outside'] / 2**30:.2f}"
                    f" / {v['spilled'] / 2**30:.2f}"
                    for k, v in engine_memory.items()
                )
            )
        sizes.append(members)
        times.append(seconds)
        cpus.append(cpu)
    if len(sizes) > 1:
        print(
            f"scaling exponent over {sizes[0]:,}-{sizes[-1]:,} members: wall {_exponent(sizes, times):.2f}, "
            f"CPU {_exponent(sizes, cpus):.2f}"
        )


def _exponent(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(value) on log(size)."""
    xs, ys = [math.log(n) for n in sizes], [math.log(v) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


if __name__ == "__main__":
    main()
