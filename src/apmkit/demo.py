"""``make demo``: the main job end to end on the embedded engine (DuckDB).

Generates a synthetic population, ingests it through the validating loader, and prints the data-quality
summary; then runs the domain steps on it. Output goes to ``demo-out/`` (or ``APMKIT_DEMO_OUT``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from rich.console import Console

from apmkit.cli.ingest import print_report
from apmkit.cli.profile import print_profile
from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.reports.data_quality import profile
from apmkit.synth import generate

console = Console()


def step(title: str) -> None:
    console.rule(f"[bold]{title}")


def main(members: int = 20_000, out: Path | None = None) -> None:
    started = time.perf_counter()
    out = Path(out or os.environ.get("APMKIT_DEMO_OUT", "demo-out"))
    shutil.rmtree(out, ignore_errors=True)
    synth_dir, canonical_dir = out / "synth", out / "canonical"

    step(f"1. synthesize {members:,} members (2 years)")
    report = generate(members, synth_dir, years=2, seed=2025)
    console.print(
        f"{sum(report.rows.values()):,} rows in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s): "
        + ", ".join(f"{name} {rows:,}" for name, rows in report.rows.items())
    )

    with Engine.duckdb() as engine:
        step("2. ingest (validate against the canonical schemas, quarantine, final-action claims)")
        ingest_report = ingest(engine, "parquet", synth_dir, canonical_dir)
        print_report(ingest_report)

        step("3. data-quality summary")
        print_profile(profile(engine.canonical(canonical_dir)))

    console.rule(f"demo finished in {time.perf_counter() - started:.1f} s; outputs in {out}/")


if __name__ == "__main__":
    main()
