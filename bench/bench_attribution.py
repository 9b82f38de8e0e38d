"""Benchmark attribution (MSSP step-wise and claims plurality) on generated claim lines, and plurality
against a plain pandas implementation of the same rule.

Usage::

    .venv/bin/python bench/bench_attribution.py --members 1000000 --lines-per-member 30 [--threads 2]

Claim lines are generated inside DuckDB (SQL over ``range()``; no Python loop per row) into Parquet in a
temporary folder, then read back through ``Engine.canonical`` like any ``--from`` folder. Prints the
throughput of each method and its ratio to a baseline measured in the same run: one ibis expression that
counts visits per member and NPI and keeps the top NPI per member (the "throwaway probe" shape of
ARCHITECTURE.md's engine comparison), over the same lines.

Peer: the plurality rule (visits = distinct member/clinician/date among primary-care codes of primary-care
specialties in the 2025 window; the TIN/NPI pair with the most visits wins, ties to the most recent visit,
then the highest allowed charges, then the lowest identifier) written in plain pandas from the Parquet
files, timed from reading the files to the winners, and its winners compared with apmkit's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import tempfile
import time
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.attribution.assign import AttributionInputs, attribute
from apmkit.attribution.codes import mssp_primary_care_codes
from apmkit.attribution.inputs import PARTICIPANTS
from apmkit.attribution.spec import MsspStepwiseSpec, PluralitySpec
from apmkit.engines import Engine
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS, PROVIDERS

TINS = 4_000
NPIS = 20_000
SPECIALTIES = ["08", "11", "01", "38", "50", "97", "06", "13", "20", "30"]  # PCPs, NPPs, specialists, others


def generate(engine: Engine, folder: Path, members: int, lines_per_member: int) -> dict[str, int]:
    """Write members, enrollment, providers and medical_claims Parquet files with DuckDB SQL."""
    con = engine.backend.con
    codes = [c.code for c in mssp_primary_care_codes(2025) if c.condition == ""][:40]
    # 60 % of lines carry a primary care code, the rest other services.
    code_list = ", ".join(f"'{c}'" for c in [*codes, *(["80053", "71046", "45378", "93000"] * 7)])
    spec_list = ", ".join(f"'{s}'" for s in SPECIALTIES)
    total_lines = members * lines_per_member
    con.execute(f"""
        create or replace table gen_providers as
        select lpad(cast(1000000000 + i as varchar), 10, '0') as npi,
               lpad(cast(100000000 + (i % {TINS}) as varchar), 9, '0') as tin,
               ([{spec_list}])[1 + (i % {len(SPECIALTIES)})] as specialty_code
        from range({NPIS}) t(i)
    """)
    con.execute(f"""
        create or replace table gen_claims as
        select 'C' || cast(i as varchar) as claim_id,
               cast(1 as integer) as claim_line_number,
               'professional' as claim_type,
               'M' || cast((hash(i) % {members}) as varchar) as member_id,
               'medicare' as payer,
               date '2024-01-01' + cast(hash(i * 7) % 731 as integer) as service_date,
               p.npi as rendering_npi,
               p.specialty_code as rendering_specialty,
               p.tin as billing_tin,
               '11' as place_of_service,
               ([{code_list}])[1 + cast(hash(i * 13) % {len(codes) + 28} as integer)] as hcpcs_code,
               cast((hash(i * 17) % 30000) / 100.0 as decimal(18, 2)) as allowed_amount,
               'bench' as source_file,
               i as source_line
        from range({total_lines}) t(i)
        join gen_providers p on p.npi = lpad(cast(1000000000 + (hash(i * 3) % {NPIS}) as varchar), 10, '0')
    """)
    con.execute(f"""
        create or replace table gen_members as
        select 'M' || cast(i as varchar) as member_id, 'OH' as state_code from range({members}) t(i)
    """)
    con.execute(f"""
        create or replace table gen_enrollment as
        select 'M' || cast(i as varchar) as member_id, date '2025-01-01' + to_months(m) as month,
               'medicare' as payer, 'ffs' as product, true as part_a, true as part_b,
               (i % 50 = 0) as medicare_advantage
        from range({members}) t(i), range(12) s(m)
    """)
    counts = {}
    for name, schema, source in (
        ("members", MEMBERS, "gen_members"),
        ("enrollment", ENROLLMENT, "gen_enrollment"),
        ("providers", PROVIDERS, "gen_providers"),
        ("medical_claims", MEDICAL_CLAIMS, "gen_claims"),
    ):
        table = schema.select_from(engine.backend.table(source))
        engine.write_parquet(table, folder / f"{name}.parquet")
        counts[name] = engine.count(engine.backend.table(source))
        con.execute(f"drop table {source}")
    return counts


def baseline(claims: ibis.Table) -> ibis.Table:
    """Top NPI by visit count per member: one group-by and one window over the same lines."""
    visits = claims.group_by("member_id", "rendering_npi").agg(visits=claims.service_date.nunique())
    ranked = visits.mutate(
        rank=ibis.row_number().over(
            group_by=visits.member_id, order_by=[visits.visits.desc(), visits.rendering_npi]
        )
    )
    return ranked.filter(ranked["rank"] == 0)


def pandas_plurality(
    folder: Path, codes: set[str], specialties: tuple[str, ...], year: int
) -> tuple[float, pd.DataFrame]:
    """The plurality rule in plain pandas (the peer): winners per member and the seconds it took."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    start = time.perf_counter()
    columns = [
        "member_id",
        "service_date",
        "rendering_npi",
        "billing_tin",
        "rendering_specialty",
        "hcpcs_code",
        "allowed_amount",
    ]
    table = pq.read_table(folder / "medical_claims.parquet", columns=columns)
    table = table.set_column(6, "allowed_amount", pc.cast(table["allowed_amount"], pa.float64()))
    claims = table.to_pandas()
    window = (claims.service_date >= dt.date(year, 1, 1)) & (claims.service_date <= dt.date(year, 12, 31))
    lines = claims[
        window & claims.hcpcs_code.isin(codes) & claims.rendering_specialty.isin(specialties)
    ].copy()
    lines["allowed_cents"] = (lines.allowed_amount * 100).round().astype("int64")
    keys = ["member_id", "billing_tin", "rendering_npi"]
    visits = lines.groupby([*keys, "service_date"], as_index=False)["allowed_cents"].sum()
    scores = visits.groupby(keys, as_index=False).agg(
        visits=("service_date", "size"),
        allowed_cents=("allowed_cents", "sum"),
        last_visit=("service_date", "max"),
    )
    scores["winner_id"] = "TIN_NPI:" + scores.billing_tin + "|" + scores.rendering_npi
    scores = scores.sort_values(
        ["member_id", "visits", "last_visit", "allowed_cents", "winner_id"],
        ascending=[True, False, False, False, True],
    )
    winners = scores.drop_duplicates("member_id")[["member_id", "winner_id", "visits"]]
    return time.perf_counter() - start, winners


def timed(label: str, engine: Engine, expr: ibis.Table) -> tuple[float, int]:
    start = time.perf_counter()
    rows = engine.count(engine.materialize(expr))
    seconds = time.perf_counter() - start
    print(f"  {label:<28} {seconds:8.1f} s  ({rows:,} rows out)")
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lines-per-member", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument(
        "--data", type=Path, help="Keep the generated tables here and reuse them on later runs."
    )
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=200, memory_limit="1GB")
    with tempfile.TemporaryDirectory(prefix="apmkit-bench-attr-") as tmp:
        folder = args.data or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        engine = Engine.duckdb(
            Path(tmp) / "bench.duckdb", threads=args.threads, memory_limit=args.memory_limit
        )
        tables = engine.canonical(folder)
        if "medical_claims" in tables.present():
            lines = engine.count(tables["medical_claims"])
            members = engine.count(tables["members"])
            print(f"reusing {lines:,} claim lines for {members:,} members in {folder}")
        else:
            start = time.perf_counter()
            members = args.members
            lines = generate(engine, folder, members, args.lines_per_member)["medical_claims"]
            print(
                f"generated {lines:,} claim lines for {members:,} members in {time.perf_counter() - start:.1f} s"
            )
            tables = engine.canonical(folder)
        participants = engine.from_arrow(
            pa.Table.from_pylist(
                [
                    {"entity_id": "A" if t < 400 else "B", "tin": str(100000000 + t), "source_line": t + 2}
                    for t in range(800)
                ],
                schema=PARTICIPANTS.arrow_schema(),
            )
        )
        inputs = AttributionInputs.from_tables(tables, participants=participants)
        as_of = dt.date(2025, 12, 31)
        print("timings (DuckDB; each result materialized):")
        base_s, _ = timed("baseline top-NPI probe", engine, baseline(tables["medical_claims"]))
        results = {}
        for label, spec in (
            (
                "plurality (visits, TIN/NPI)",
                PluralitySpec(performance_year=2025, providers="primary_care_specialties"),
            ),
            ("mssp_stepwise (PY2025)", MsspStepwiseSpec(performance_year=2025, timing="retrospective")),
        ):
            start = time.perf_counter()
            result = attribute(inputs, spec, as_of, materialize=engine.materialize)
            timed(f"{label}: last step", engine, result.attribution)
            results[label] = time.perf_counter() - start
            if isinstance(spec, PluralitySpec):
                att = result.attribution
                ours = engine.to_arrow(
                    att.filter(att.winner_id.notnull()).select("member_id", "winner_id", "winner_visits")
                ).to_pandas()
                codes = {c.code for c in mssp_primary_care_codes(2025) if c.condition == ""}
                peer_s, peer = pandas_plurality(folder, codes, spec.primary_care_specialties, 2025)
                both = ours.merge(peer, on="member_id", how="outer", indicator=True)
                same = int(
                    (
                        (both._merge == "both")
                        & (both.winner_id_x == both.winner_id_y)
                        & (both.winner_visits == both.visits)
                    ).sum()
                )
                print(
                    f"  {'plurality in plain pandas':<28} {peer_s:8.1f} s  ({len(peer):,} winners; "
                    f"{same:,} of {len(both):,} members with the same winner and visits as apmkit)"
                )
                print(f"  ratio apmkit plurality / pandas = {results[label] / peer_s:.2f}x")
            print(
                f"  {label + ': total':<28} {results[label]:8.1f} s  (eligibility, lines, per-step caches, result)"
            )
            del result
            gc.collect()
        print("throughput and ratio to the baseline measured above:")
        for label, seconds in results.items():
            print(
                f"  {label:<28} {lines / seconds:12,.0f} lines/s  {members / seconds:10,.0f} members/s  "
                f"{seconds / base_s:5.1f}x baseline"
            )
        engine.close()


if __name__ == "__main__":
    main()
