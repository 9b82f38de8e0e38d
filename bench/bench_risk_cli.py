"""``apmkit risk score`` as a user runs it (CSV in, CSV out, whole process) against DuckDB doing the same I/O.

    .venv/bin/python bench/bench_risk_cli.py [--members 1000000] [--dx-per-member 8] [--work DIR]

Writes ``persons.csv`` and ``diagnoses.csv`` (the population of ``bench_risk.py``) once, then measures, each
in its own child process (wall, CPU and peak RSS by ``os.wait4``):

- **floor**: a Python process that imports DuckDB, reads the same two CSVs, joins the diagnoses to the V28
  diagnosis-to-HCC map and the community non-dual aged coefficients (the package's reference CSVs), sums
  them per member, joins the persons and writes one CSV row per person;
- **startup**: ``apmkit --help``, the fixed cost of starting the command line (imports);
- **apmkit**: ``apmkit --quiet risk score --model V28 --payment-year 2026 --persons ... --diagnoses ...
  --out scores.csv`` (conformance, mapping, edits, hierarchies, interactions, nine segments, rejects file).

Prints the three and the ratio apmkit / floor (target <= 3x). ``APMKIT_BENCH_SIZE=tiny`` (or ``--tiny``)
runs 200 members, for the CI smoke run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import pyarrow.csv as pcsv
from _child import Measured, measure  # bench/_child.py
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)
from bench_risk import PAYMENT_YEAR, population

FLOOR = """
import sys

import duckdb

persons, diagnoses, dx_to_cc, coefficients, out, year = sys.argv[1:7]
con = duckdb.connect()
con.execute(f'''
COPY (
    WITH hccs AS (
        SELECT DISTINCT d.member_id, m.cc
        FROM read_csv('{diagnoses}') d
        JOIN (SELECT * FROM read_csv('{dx_to_cc}') WHERE model = 'V28'
              AND first_payment_year <= {year} AND {year} <= last_payment_year) m USING (dx_code)
    ),
    summed AS (
        SELECT h.member_id, count(*) AS hcc_count, sum(c.value) AS hcc_score
        FROM hccs h JOIN (SELECT * FROM read_csv('{coefficients}') WHERE model = 'V28' AND segment = 'CNA') c
          ON c.variable = 'HCC' || h.cc
        GROUP BY h.member_id
    )
    SELECT p.*, coalesce(s.hcc_count, 0) AS hcc_count, coalesce(s.hcc_score, 0) AS hcc_score
    FROM read_csv('{persons}') p LEFT JOIN summed s USING (member_id)
) TO '{out}' (HEADER)
''')
"""


def write_inputs(inputs: Path, members: int, dx_per_member: int) -> None:
    """``persons.csv`` and ``diagnoses.csv`` of the population, and ``.done`` once both are whole."""
    inputs.mkdir(parents=True, exist_ok=True)
    persons, diagnoses = population(members, dx_per_member)
    pcsv.write_csv(persons, inputs / "persons.csv")
    pcsv.write_csv(diagnoses, inputs / "diagnoses.csv")
    (inputs / ".done").touch()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--dx-per-member", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None, help="keep (and reuse) the input CSVs here")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the best counts")
    parser.add_argument("--write-inputs", type=Path, help=argparse.SUPPRESS)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=200, work=None, repeat=1)
    if args.write_inputs is not None:
        write_inputs(args.write_inputs, args.members, args.dx_per_member)
        return
    scratch = Path(tempfile.mkdtemp(prefix="apmkit-bench-risk-cli-"))
    try:
        work = args.work or scratch
        inputs = work / f"risk-{args.members}"
        if not (inputs / ".done").exists():
            # In a child process: Linux keeps a process's peak RSS across exec, so a parent that had held
            # the population would lend its peak to every command measured after it.
            write = [sys.executable, __file__, "--members", str(args.members)]
            write += ["--dx-per-member", str(args.dx_per_member), "--write-inputs", str(inputs)]
            subprocess.run(write, check=True)
        persons_csv, diagnoses_csv = inputs / "persons.csv", inputs / "diagnoses.csv"
        data = resources.files("apmkit.risk.data")
        floor_command = [
            sys.executable,
            "-c",
            FLOOR,
            str(persons_csv),
            str(diagnoses_csv),
            str(data.joinpath("dx_to_cc.csv")),
            str(data.joinpath("coefficients.csv")),
            str(scratch / "floor.csv"),
            str(PAYMENT_YEAR),
        ]
        cli = [sys.executable, "-m", "apmkit"]
        score_command = [
            *cli,
            "--quiet",
            "risk",
            "score",
            "--model",
            "V28",
            "--payment-year",
            str(PAYMENT_YEAR),
            "--persons",
            str(persons_csv),
            "--diagnoses",
            str(diagnoses_csv),
            "--out",
            str(scratch / "scores.csv"),
        ]
        runs: dict[str, list[Measured]] = {"floor": [], "startup": [], "apmkit": []}
        for _ in range(args.repeat):
            runs["floor"].append(measure(floor_command))
            runs["startup"].append(measure([*cli, "--help"]))
            runs["apmkit"].append(measure(score_command))
        best = {name: min(ms, key=lambda m: m.wall_s) for name, ms in runs.items()}
        size = (persons_csv.stat().st_size + diagnoses_csv.stat().st_size) / 1e6
        with open(scratch / "scores.csv") as handle:
            scored = sum(1 for _ in handle) - 1
        print(
            f"risk score V28 PY{PAYMENT_YEAR}: {args.members:,} members, {size:,.0f} MB of CSV, {scored:,} scored"
        )
        print(f"  {'':8} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
        for name, m in best.items():
            print(f"  {name:8} {m.wall_s:8.2f} {m.cpu_s:8.2f} {m.peak_rss_mb:12,.0f}")
        floor, apmkit = best["floor"], best["apmkit"]
        print(
            f"  risk score whole process / DuckDB floor: wall {apmkit.wall_s / floor.wall_s:.2f}x, "
            f"cpu {apmkit.cpu_s / max(floor.cpu_s, 1e-9):.2f}x (target <= 3x)"
        )
        print(
            f"  startup (apmkit --help) is {best['startup'].wall_s / apmkit.wall_s:.0%} of the apmkit wall time"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
