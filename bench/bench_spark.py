"""The whole run (``apmkit run``) on Spark local vs DuckDB, stage by stage, measured in the same session.

Runs the demo's commercial shared-savings contract (plurality attribution, V28 risk scores, a general
benchmark, shared savings, every mart written) on one ``apmkit synth`` population, first on DuckDB, then on
PySpark local, each in its own child process, and prints for each stage of ``Workspace.run`` (its progress
callback) the seconds on each engine and Spark ÷ DuckDB. Spark's session start is timed apart. The two
settlements must be equal to the cent (the script exits 1 otherwise).

For the Spark run it also prints the Spark jobs and stages each run stage started (Spark's status tracker)
and, with ``--event-log DIR``, keeps Spark's event log there and prints the slowest Spark stages from it
(tasks, duration, shuffle read/write) — the Spark UI's stage summary. Usage::

    .venv/bin/python bench/bench_spark.py --data /tmp/apmkit-bench/synth-50000
    .venv/bin/python bench/bench_spark.py --members 100000 --cache /tmp/apmkit-bench

Prints figures; asserts nothing about time. ``APMKIT_BENCH_SIZE=tiny`` runs 300 members (and Spark without
whole-stage code generation, on 2 shuffle partitions: a smoke run, whose figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from _size import add_tiny_flag, is_tiny, shrink  # bench/_size.py (the script's folder is on sys.path)

CONTRACT = Path(str(files("apmkit.demo_data") / "contract.yaml"))


def run(
    engine_name: str, data: Path, out: Path, event_log: Path | None, tiny: bool = False
) -> dict[str, Any]:
    from apmkit.engines import Engine
    from apmkit.workspace import Workspace

    started = time.perf_counter()
    if engine_name == "pyspark":
        if event_log is not None:  # settings for the JVM pyspark starts (as spark-submit's --conf would)
            event_log.mkdir(parents=True, exist_ok=True)
            os.environ["PYSPARK_SUBMIT_ARGS"] = (
                f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={event_log.resolve()} "
                "--conf spark.eventLog.compress=false --conf spark.eventLog.rolling.enabled=false pyspark-shell"
            )
        engine = Engine.spark(shuffle_partitions=2 if tiny else None)
        if tiny:  # a smoke run: a few hundred rows, whose time goes to compiling generated Java per query
            engine._spark.conf.set("spark.sql.codegen.wholeStage", "false")
    else:
        engine = Engine.duckdb()
    session = time.perf_counter() - started
    tracker = engine._spark.sparkContext if engine._spark is not None else None
    stages: list[tuple[str, float]] = []

    def progress(stage: str) -> None:
        stages.append((stage, time.perf_counter()))
        if tracker is not None:
            tracker.setJobGroup(stage, stage)  # Spark jobs started from here on belong to this stage

    begun = time.perf_counter()
    with Workspace(data, engine=engine) as workspace:
        result = workspace.run(CONTRACT, "2025", out=out, progress=progress)
        ended = time.perf_counter()
        jobs: dict[str, list[int]] = {}
        if tracker is not None:
            status = tracker.statusTracker()
            for name, _ in stages:
                ids = list(status.getJobIdsForGroup(name))
                spark_stages = sum(len(status.getJobInfo(j).stageIds) for j in ids if status.getJobInfo(j))
                jobs[name] = [len(ids), spark_stages]
    engine.close()
    marks = [*stages, ("end", ended)]
    seconds = {"contract and checks": stages[0][1] - begun if stages else 0.0}
    seconds.update({name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])})
    return {
        "session": session,
        "run": ended - begun,
        "stages": seconds,
        "jobs": jobs,
        "members": result.counts.get("members", 0),
        "net": str(result.total_net),
        "statements": [s.model_dump(mode="json") for s in result.settlement.statements],
    }


def child(engine_name: str, data: Path, out: Path, event_log: Path | None, tiny: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", engine_name, "--data", str(data), "--out", str(out)]
    if tiny:
        command.append("--tiny")
    if event_log is not None:
        command += ["--event-log", str(event_log)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{engine_name} run failed: {done.stdout[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def population(members: int, cache: Path) -> Path:
    folder = cache / f"synth-{members}"
    if not (folder / "synth_report.json").exists():
        command = [sys.executable, "-m", "apmkit", "--quiet", "synth", "--members", str(members)]
        subprocess.run([*command, "--years", "2", "--seed", "7", "--out", str(folder)], check=True)
    return folder


def stage_summary(event_log: Path, top: int) -> list[dict[str, Any]]:
    """The Spark UI's stage table, read back from an event log: the ``top`` longest stages."""
    rows = []
    group: dict[int, str] = {}  # Spark stage -> the run stage (job group) that started it
    for path in sorted(p for p in event_log.rglob("*") if p.is_file() and not p.name.startswith(".")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerJobStart":
                for stage_id in event.get("Stage IDs", []):
                    group[stage_id] = (event.get("Properties") or {}).get("spark.jobGroup.id", "")
            if event.get("Event") != "SparkListenerStageCompleted":
                continue
            info = event["Stage Info"]
            metrics = {a.get("Name"): a.get("Value") for a in info.get("Accumulables", [])}

            def number(name: str, metrics: dict[str, Any] = metrics) -> int:
                return int(metrics.get(name) or 0)

            rows.append(
                {
                    "stage": info["Stage ID"],
                    "name": group.get(info["Stage ID"], ""),
                    "tasks": info["Number of Tasks"],
                    "seconds": (info["Completion Time"] - info["Submission Time"]) / 1000,
                    "input_mb": number("internal.metrics.input.bytesRead") / 1e6,
                    "shuffle_read_mb": (
                        number("internal.metrics.shuffle.read.localBytesRead")
                        + number("internal.metrics.shuffle.read.remoteBytesRead")
                    )
                    / 1e6,
                    "shuffle_write_mb": number("internal.metrics.shuffle.write.bytesWritten") / 1e6,
                }
            )
    print(f"Spark stages: {len(rows)}, {sum(r['tasks'] for r in rows)} tasks")
    return sorted(rows, key=lambda r: -r["seconds"])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing `apmkit synth` folder (instead of --members)")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "apmkit-bench")
    parser.add_argument("--event-log", type=Path, help="keep Spark's event log here; print its stage summary")
    parser.add_argument("--top", type=int, default=8, help="Spark stages shown from the event log")
    parser.add_argument("--child", choices=["duckdb", "pyspark"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    add_tiny_flag(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.data, args.out, args.event_log, is_tiny(args))))
        return
    args = shrink(args, members=300, data=None)
    with tempfile.TemporaryDirectory() as work:
        data = args.data or population(args.members, Path(work) if is_tiny(args) else args.cache)
        duck = child("duckdb", data, Path(work) / "duckdb", None, is_tiny(args))
        spark = child("pyspark", data, Path(work) / "spark", args.event_log, is_tiny(args))
    print(f"{data.name}: {duck['members']:,} members settled; Spark session start {spark['session']:.1f} s")
    print(f"{'stage':<32}{'DuckDB s':>10}{'Spark s':>10}{'ratio':>8}  Spark jobs/stages")
    for name, seconds in spark["stages"].items():
        base = duck["stages"].get(name, 0.0)
        ratio = f"{seconds / base:7.1f}x" if base > 0 else "      -"
        jobs = spark["jobs"].get(name)
        print(
            f"{name:<32}{base:>10.2f}{seconds:>10.2f}{ratio}  {'' if jobs is None else f'{jobs[0]}/{jobs[1]}'}"
        )
    print(f"{'whole run':<32}{duck['run']:>10.2f}{spark['run']:>10.2f}{spark['run'] / duck['run']:7.1f}x")
    if args.event_log is not None:
        print(
            f"{'stage':>6} {'tasks':>6} {'seconds':>8} {'input MB':>9} {'shuffle read MB':>16} {'write MB':>9}  name"
        )
        for row in stage_summary(args.event_log, args.top):
            print(
                f"{row['stage']:>6} {row['tasks']:>6} {row['seconds']:>8.2f} {row['input_mb']:>9.1f} "
                f"{row['shuffle_read_mb']:>16.1f} {row['shuffle_write_mb']:>9.1f}  {row['name']}"
            )
    same = duck["statements"] == spark["statements"]
    print(f"parity: net {duck['net']} (DuckDB) vs {spark['net']} (Spark): {'equal' if same else 'DIFFERENT'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
