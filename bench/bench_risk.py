"""Benchmark: CMS-HCC V28 scoring throughput of apmkit (DuckDB) vs hccinfhir on a sample, in one run.

    .venv/bin/python bench/bench_risk.py [--members 1000000] [--dx-per-member 8] [--sample 2000]

Generates a synthetic population (seeded numpy; ages 65-95 mostly, ~8 diagnoses per member drawn
from the V28 mapping and common codes without an HCC), scores it with ``apmkit.risk.score`` on
DuckDB (conformance, mapping, edits, hierarchies, interactions, nine segment scores, written to
Arrow), then scores the first ``--sample`` members with hccinfhir's ``calculate_raf`` one by one,
and prints both throughputs and their ratio. Also checks that the sample's scores agree.

Both engines are warmed up first, outside the timings: apmkit scores a 1,000-member slice once
(imports, reference tables, the first ibis compilation: about 1 s, printed as "warm-up") and
hccinfhir scores one member (its data files load on first use), so the ratio compares steady-state
throughput. Each engine is then timed ``--repeat`` times (default 3) and its best run counts, the usual
guard against other jobs on a shared machine; every run is printed.
"""

from __future__ import annotations

import argparse
import csv
import time
from decimal import Decimal
from importlib import resources

import numpy as np
import pyarrow as pa
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.risk import score

PAYMENT_YEAR = 2026
NO_HCC_CODES = ["I10", "E785", "M545", "R05", "Z0000", "J069", "K219", "M170", "E119", "I2510"]


def population(members: int, dx_per_member: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    with resources.files("apmkit.risk.data").joinpath("dx_to_cc.csv").open(encoding="utf-8") as handle:
        mapped = sorted(
            {
                r["dx_code"]
                for r in csv.DictReader(handle)
                if r["model"] == "V28"
                and int(r["first_payment_year"]) <= PAYMENT_YEAR <= int(r["last_payment_year"])
            }
        )
    ids = np.char.add("M", np.arange(members).astype(str))
    ages = np.where(rng.random(members) < 0.85, rng.integers(65, 96, members), rng.integers(21, 65, members))
    birth = [
        f"{PAYMENT_YEAR - a - 1}-{m:02d}-15"
        for a, m in zip(ages.tolist(), rng.integers(3, 13, members).tolist(), strict=True)
    ]
    persons = pa.table(
        {
            "member_id": ids,
            "birth_date": birth,
            "sex": rng.choice(["M", "F"], members),
            "orec": np.where(ages < 65, "1", rng.choice(["0", "0", "0", "1"], members)),
            "nemcaid": np.full(members, "0"),
            "dual_status_code": rng.choice(["00", "00", "00", "00", "02", "01", "08", ""], members),
            "institutional": rng.choice(["0", "1"], members, p=[0.97, 0.03]),
        }
    )
    # LTI Medicaid as hccinfhir derives it (institutional with a Medicaid dual status), so the two agree.
    medicaid = np.isin(persons.column("dual_status_code").to_numpy(zero_copy_only=False), ["01", "02", "08"])
    institutional = persons.column("institutional").to_numpy(zero_copy_only=False) == "1"
    persons = persons.append_column("ltimcaid", pa.array(np.where(medicaid & institutional, "1", "0")))
    counts = rng.poisson(dx_per_member, members)
    owners = np.repeat(ids, counts)
    total = int(counts.sum())
    hcc_share = rng.random(total) < 0.35
    codes = np.where(hcc_share, rng.choice(mapped, total), rng.choice(NO_HCC_CODES, total))
    diagnoses = pa.table({"member_id": owners, "dx_code": codes})
    return persons, diagnoses


def hccinfhir_scores(persons: pa.Table, diagnoses: pa.Table, sample: int) -> tuple[dict[str, Decimal], float]:
    from hccinfhir.model_calculate import calculate_raf

    people = persons.slice(0, sample).to_pylist()
    wanted = {p["member_id"] for p in people}
    codes: dict[str, list[str]] = {}
    for row in diagnoses.to_pylist():
        if row["member_id"] in wanted:
            codes.setdefault(row["member_id"], []).append(row["dx_code"])
    calculate_raf(["E119"], "CMS-HCC Model V28", age=70, sex="F", dual_elgbl_cd="NA", orec="0", lti=False)
    started = time.perf_counter()
    results = {}
    for p in people:
        year, month, day = (int(x) for x in p["birth_date"].split("-"))
        age = PAYMENT_YEAR - year - (1 if (month, day) > (2, 1) else 0)
        institutional = p["institutional"] == "1"
        dual = p["dual_status_code"] or "NA"
        raf = calculate_raf(
            codes.get(p["member_id"], []),
            "CMS-HCC Model V28",
            age=age,
            sex=p["sex"],
            dual_elgbl_cd=dual,
            orec=p["orec"],
            lti=institutional,
        )
        results[p["member_id"]] = Decimal(str(raf.risk_score)).quantize(Decimal("0.001"))
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--dx-per-member", type=int, default=8)
    parser.add_argument("--sample", type=int, default=2000, help="members scored by hccinfhir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each engine; the best counts")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=500, sample=50, repeat=1)

    persons, diagnoses = population(args.members, args.dx_per_member)
    print(f"population: {persons.num_rows:,} members, {diagnoses.num_rows:,} diagnoses")
    engine = Engine.duckdb(threads=args.threads)
    persons_t = engine.from_arrow(persons)
    diagnoses_t = engine.from_arrow(diagnoses)

    started = time.perf_counter()
    warm = score(
        engine.from_arrow(persons.slice(0, 1000)),
        engine.from_arrow(diagnoses.slice(0, 8000)),
        model="V28",
        payment_year=PAYMENT_YEAR,
        materialize=engine.materialize,
    )
    engine.to_arrow(warm.scores)
    print(f"warm-up (1,000 members, not timed below): {time.perf_counter() - started:.2f} s")

    runs = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = score(
            persons_t, diagnoses_t, model="V28", payment_year=PAYMENT_YEAR, materialize=engine.materialize
        )
        scores = engine.to_arrow(result.scores)
        runs.append(time.perf_counter() - started)
    ours = min(runs)
    ours_rate = scores.num_rows / ours
    print(
        f"apmkit (DuckDB, {args.threads} threads): {scores.num_rows:,} members in {ours:.2f} s = {ours_rate:,.0f} members/s"
        f" (best of {args.repeat}: {', '.join(f'{r:.2f}' for r in runs)} s)"
    )

    timed = [hccinfhir_scores(persons, diagnoses, args.sample) for _ in range(args.repeat)]
    reference = timed[0][0]
    theirs = min(seconds for _, seconds in timed)
    theirs_rate = len(reference) / theirs
    print(
        f"hccinfhir 0.4.0 (per member): {len(reference):,} members in {theirs:.2f} s = {theirs_rate:,.0f} members/s"
        f" (best of {args.repeat})"
    )
    print(f"ratio: {ours_rate / theirs_rate:,.1f}x")

    sample_ids = list(reference)
    ours_sample = engine.to_arrow(result.scores.filter(result.scores.member_id.isin(sample_ids)))
    by_member = {r["member_id"]: r["score"] for r in ours_sample.to_pylist()}
    disagree = sum(1 for m, s in reference.items() if by_member.get(m) != s)
    print(f"sample agreement: {len(reference) - disagree:,} of {len(reference):,} members score the same")


if __name__ == "__main__":
    main()
