"""Run benchmarks and keep their results: ``python bench/run.py [--out DIR] [--label L] [NAME ...] [-- ARGS]``.

Runs every ``bench_*.py`` (or the NAMEs given, e.g. ``ingest risk``) one after another, so the machine is
not shared between them; ``ARGS`` after ``--`` are passed to each script (e.g. ``-- --members 1000000``).
Each script prints its own figures and a ratio against a baseline measured in the same run; this runner
echoes that output and saves it, with the date, the git commit and the machine (cores, RAM, load average
before and after), the script's wall time and its peak RSS (``os.wait4``: the script and its children), as
``<out>/<name>[-<label>].txt`` and ``.json``, then rewrites the summary table of ``<out>/README.md``
(between its ``<!-- results -->`` markers) from every ``.json`` in the folder.

``<out>`` is ``bench/results`` (committed; ``make bench``). A tiny run (``APMKIT_BENCH_SIZE=tiny``, ``make
bench-smoke`` in CI) measures nothing worth keeping: unless ``--out`` is given it saves into a temporary
folder that is removed afterwards, so CI leaves the tree clean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
START, END = "<!-- results -->", "<!-- /results -->"
SMOKE_TOOLS = ("replicate_population.py",)
"""Scripts in bench/ that make benchmark data rather than measure: run in the smoke run only, so they stay working."""
# Output lines worth a place in the summary: ratios against the same-run baseline, targets, peaks.
HEADLINE = re.compile(r"ratio|[0-9]\.[0-9]+x\b|÷|peak RSS[: ]+[0-9]", re.IGNORECASE)


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/src", ":/bench")
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    memory_gb = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def run_script(script: Path, args: list[str]) -> dict[str, Any]:
    """Run one script as a child process, echoing its output; its wall time, peak RSS and output."""
    load_before = load_average()
    commit = git_commit()  # before the run: files edited while it runs do not change what it measured
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line.rstrip("\n"))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "name": script.stem.removeprefix("bench_"),
        "command": " ".join(["python", f"bench/{script.name}", *args]),
        "date": started_at.isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wall_s": round(time.perf_counter() - started, 1),
        # ru_maxrss of RUSAGE of a waited child: the largest of the script and its own children.
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "exit_code": process.returncode,
        "output": lines,
    }


def save(result: dict[str, Any], out: Path, label: str | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = result["name"] + (f"-{label}" if label else "")
    result = {**result, "label": label}
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    header = [
        f"# {stem}: {result['command']}",
        f"# date {result['date']}  commit {result['commit']}  exit {result['exit_code']}",
        f"# machine: {m['cores']} cores, {m['memory_gb']} GB RAM, {m['platform']}, Python {m['python']}",
        f"# load average before {result['load_average_before']}, after {result['load_average_after']}",
        f"# whole script: {result['wall_s']} s wall, peak RSS {result['peak_rss_mb']:,} MB",
        "",
    ]
    (out / f"{stem}.txt").write_text("\n".join(header + result["output"]) + "\n")
    return out / f"{stem}.json"


def summary(out: Path) -> str:
    """The summary table over every saved result in ``out``."""
    rows = [
        "| result | date (UTC) | commit | load before | wall s | peak RSS MB | headline figures (same-run ratios) |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(out.glob("*.json")):
        r = json.loads(path.read_text())
        headline = [line.strip() for line in r["output"] if HEADLINE.search(line)][:6]
        text = "<br>".join(line.replace("|", "\\|") for line in headline) or "(see file)"
        load = r["load_average_before"][0] if r["load_average_before"] else ""
        rows.append(
            f"| [{path.stem}]({path.stem}.txt) | {r['date'][:16].replace('T', ' ')} | {r['commit']} | "
            f"{load} | {r['wall_s']} | {r['peak_rss_mb']:,} | {text} |"
        )
    return "\n".join(rows)


def write_summary(out: Path) -> None:
    readme = out / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{summary(out)}\n{END}{after}")


def main(argv: list[str]) -> int:
    passed: list[str] = []
    if "--" in argv:
        argv, passed = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (bench_NAME.py); default all")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    parser.add_argument("--label", default=None, help="suffix of the result files, e.g. 1m or csv-1m")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        unknown = set(args.names) - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            parser.error(f"no bench/bench_NAME.py for: {', '.join(sorted(unknown))}")
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    tiny = os.environ.get("APMKIT_BENCH_SIZE") == "tiny" or "--tiny" in passed
    if tiny and not args.names:
        scripts += [HERE / tool for tool in SMOKE_TOOLS]
    scratch = None
    out = args.out
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="apmkit-bench-smoke-")) if tiny else RESULTS
        scratch = out if tiny else None
    failed = 0
    try:
        for script in scripts:
            print(f"=== {script.stem}", flush=True)
            result = run_script(script, passed)
            failed += result["exit_code"] != 0
            saved = save(result, out, args.label)
            print(
                f"=== {script.stem}: {result['wall_s']} s, peak RSS {result['peak_rss_mb']:,} MB -> {saved}"
            )
        write_summary(out)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
