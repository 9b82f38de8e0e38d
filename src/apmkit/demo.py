"""``make demo``: the main job end to end on the embedded engine (DuckDB).

Generates a synthetic population, ingests it through the validating loader, and prints the data-quality
summary; then runs the domain steps on it. Output goes to ``demo-out/`` (or ``APMKIT_DEMO_OUT``).
"""

from __future__ import annotations

import os
import shutil
import time
from importlib.resources import files
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


def run(*args: str | Path) -> None:
    """Run an ``apmkit`` command in-process, exactly as a user would type it."""
    from apmkit.cli.main import app

    argv = ["--quiet", *map(str, args)]
    console.print(f"[dim]$ apmkit {' '.join(argv[1:])}[/]", highlight=False)
    code = app(argv, standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise SystemExit(code)


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
        print_profile(profile(engine.canonical(canonical_dir), engine.rows))

    contract = Path(str(files("apmkit.demo_data") / "contract.yaml"))  # installed on disk, not zipped
    data = canonical_dir
    step("4. CMS-HCC V28 risk scores (payment year 2026) from the canonical tables")
    run(
        "risk",
        "score",
        "--model",
        "V28",
        "--payment-year",
        "2026",
        "--from",
        data,
        "--out",
        out / "risk_scores.csv",
    )

    step("5. one contract, one run: attribution, risk, benchmark, expenditure, settlement for 2025")
    run(
        "run",
        "--contract",
        contract,
        "--from",
        data,
        "--period",
        "2025",
        "--out",
        out / "run-2025",
    )

    step("6. quality: CMS122 diabetes HbA1c poor control (inverse measure) for 2025")
    run(
        "quality",
        "evaluate",
        "--measure",
        "CMS122",
        "--period",
        "2025-01-01..2025-12-31",
        "--from",
        data,
        "--out",
        out / "cms122_populations.csv",
    )

    step("7. episodes: CJR lower-extremity joint replacement episodes from the claims")
    run("episodes", "build", "--from", data, "--definitions", "cjr", "--out", out / "episodes")

    step("8. classification of the contract: HCP-LAN category")
    run("classify", "lan", contract)

    console.rule(f"demo finished in {time.perf_counter() - started:.1f} s; outputs in {out}/")


if __name__ == "__main__":
    main()
