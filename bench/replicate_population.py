"""Make a large benchmark population from a smaller one: K copies of an ``apmkit synth`` folder under new ids.

Generating 10M members with ``apmkit synth`` takes hours on a 2-core machine (1M took 38 min under load); a
run's cost depends on rows, members and claims per member, not on how the members were drawn. So the 3M and
10M points of ``bench/bench_run.py`` are K copies of the 1M population: copy 0 keeps every id, copy k > 0
appends ``~k`` to every identifier of a person, claim, record or encounter (providers are shared, so the
copies are attributed to the same clinicians, as a payer's larger book would be). DuckDB streams each table
from Parquet to Parquet under a memory limit; nothing is held in Python.

Usage::

    .venv/bin/python bench/replicate_population.py --source /tmp/apmkit-bench/synth-1000000 --copies 10
    # writes /tmp/apmkit-bench/synth-10000000 (with synth_report.json), which bench_run.py then reuses

``--tiny`` replicates a 300-member population twice (the CI smoke size).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

IDENTIFIERS = {
    "members": ("member_id", "mbi"),
    "enrollment": ("member_id",),
    "medical_claims": ("claim_id", "member_id", "original_claim_id"),
    "pharmacy_claims": ("claim_id", "member_id", "original_claim_id"),
    "clinical": ("record_id", "member_id", "encounter_id"),
    "member_xref": ("member_id", "person_id"),
    "providers": (),
}
"""Per canonical table, the columns that name a person, claim, record or encounter (suffixed per copy)."""


def replicate(source: Path, copies: int, out: Path, memory_limit: str = "3GB") -> dict[str, int]:
    """Write ``copies`` copies of every canonical table in ``source`` to ``out``; the row count of each."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = false")
    rows: dict[str, int] = {}
    for table, identifiers in IDENTIFIERS.items():
        path = source / f"{table}.parquet"
        if not path.exists():
            continue
        columns = {c[0] for c in con.execute(f"describe select * from read_parquet('{path}')").fetchall()}
        renamed = [
            f"case when copy = 0 then {c} else {c} || '~' || cast(copy as varchar) end as {c}"
            for c in identifiers
            if c in columns
        ]
        select = f"* exclude (copy) replace ({', '.join(renamed)})" if renamed else "* exclude (copy)"
        many = copies if identifiers else 1
        con.execute(
            f"copy (select {select} from range({many}) c(copy), read_parquet('{path}')) "
            f"to '{out / f'{table}.parquet'}' (format parquet)"
        )
        rows[table] = int(
            con.execute(f"select count(*) from read_parquet('{out / f'{table}.parquet'}')").fetchall()[0][0]
        )
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, help="an apmkit synth folder (default: a fresh 300-member one)"
    )
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, help="default: SOURCE's parent / synth-<members x copies>")
    parser.add_argument("--memory-limit", default="3GB")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), copies=2)
    with tempfile.TemporaryDirectory() as work:
        source = args.source
        if source is None:
            from apmkit.synth import generate

            source = Path(work) / "synth-300"
            generate(members=300, years=2, seed=7, out=source)
        report = json.loads((source / "synth_report.json").read_text())
        members = int(report["members"]) * args.copies
        out = args.out or (Path(work) / f"synth-{members}" if args.source is None else None)
        out = out or source.parent / f"synth-{members}"
        started = time.perf_counter()
        rows = replicate(source, args.copies, out, args.memory_limit)
        seconds = time.perf_counter() - started
        if rows["members"] != members:
            raise SystemExit(f"expected {members:,} members, wrote {rows['members']:,}")
        (out / "synth_report.json").write_text(
            json.dumps(
                {
                    **report,
                    "members": members,
                    "rows": rows,
                    "replicated_from": str(source),
                    "copies": args.copies,
                },
                indent=2,
            )
        )
        print(f"{members:,} members ({args.copies} copies of {source}) in {seconds:.1f} s: {rows}")


if __name__ == "__main__":
    main()
