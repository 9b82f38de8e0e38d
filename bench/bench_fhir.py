"""FHIR and Synthea loader throughput.

    .venv/bin/python bench/bench_fhir.py [--eobs 3000] [--clinical 20000] [--synthea-copies 20]

FHIR: an NDJSON folder built from the repository's fixtures (the BCDA-style EOB subset and the eCQM
clinical resources, copied with fresh ids) goes through ``apmkit.ingest.ingest(engine, "fhir", ...)`` on
DuckDB. The same-run baseline is the parse floor: ``json.loads`` of every line of the same files. The
ratio says how much the whole load (mapping, Arrow, conformance, final action, Parquet) costs over
parsing alone.

Synthea: the fixture export copied N times with fresh UUIDs; the baseline is reading the same CSV files
with :func:`apmkit.ingest.readers.read_delimited` (the I/O floor).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.ingest.readers import read_delimited

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures"
VALUE = re.compile(r'"value":\s*"-1000')
ID = re.compile(r'"id":\s*"')
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def build_fhir(folder: Path, eobs: int, clinical: int) -> int:
    templates = (FIXTURES / "fhir" / "bcda" / "eob_subset.ndjson").read_text().splitlines()
    resources = []
    for path in sorted((FIXTURES / "fhir" / "ecqm").rglob("*.json")):
        resource_ = json.loads(path.read_text())
        if resource_["resourceType"] in (
            "Condition",
            "Observation",
            "Encounter",
            "Procedure",
            "MedicationRequest",
        ):
            resources.append(resource_)
    lines = 0
    with (folder / "ExplanationOfBenefit.ndjson").open("w") as handle:
        for i in range(eobs):
            text = templates[i % len(templates)]
            # Fresh claim ids and ten patients per template line.
            # (The fixture is compact JSON: no space after the colons.)
            text = VALUE.sub(f'"value":"{i}-1000', text).replace("Patient/-1000", f"Patient/{i % 997}-1000")
            text = ID.sub(f'"id":"{i}-', text, count=1)
            handle.write(text + "\n")
            lines += 1
    with (folder / "Clinical.ndjson").open("w") as handle:
        for i in range(clinical):
            resource_ = dict(resources[i % len(resources)])
            resource_["id"] = f"r{i}"
            handle.write(json.dumps(resource_) + "\n")
            lines += 1
    return lines


def parse_floor(folder: Path) -> float:
    started = time.perf_counter()
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_text().splitlines():
            json.loads(line)
    return time.perf_counter() - started


def build_synthea(folder: Path, copies: int) -> None:
    for source in sorted((FIXTURES / "synthea").glob("*.csv")):
        header, *rows = source.read_text().splitlines()
        with (folder / source.name).open("w") as handle:
            handle.write(header + "\n")
            repeat = 1 if source.name in ("payers.csv",) else copies
            for copy in range(repeat):
                prefix = f"{copy:03x}"
                for row in rows:
                    handle.write(UUID.sub(lambda m, p=prefix: p + m.group(0)[3:], row) + "\n")


def read_floor(folder: Path) -> float:
    started = time.perf_counter()
    for path in sorted(folder.glob("*.csv")):
        read_delimited(path, normalize_header=True)
    return time.perf_counter() - started


def timed_ingest(engine: Engine, fmt: str, source: Path, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    report = ingest(engine, fmt, source, out)
    elapsed = time.perf_counter() - started
    assert report.reconciles
    return elapsed, report.totals.read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eobs", type=int, default=3000)
    parser.add_argument("--clinical", type=int, default=20000)
    parser.add_argument("--synthea-copies", type=int, default=20)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), eobs=20, clinical=100, synthea_copies=1)
    scratch = Path(tempfile.mkdtemp(prefix="apmkit-bench-fhir-"))
    try:
        (scratch / "fhir").mkdir()
        resources = build_fhir(scratch / "fhir", args.eobs, args.clinical)
        size = sum(p.stat().st_size for p in (scratch / "fhir").glob("*")) / 1e6
        floor = parse_floor(scratch / "fhir")
        with Engine.duckdb() as engine:
            elapsed, rows = timed_ingest(engine, "fhir", scratch / "fhir", scratch / "fhir_out")
        print(
            f"fhir: {resources:,} resources ({size:.1f} MB NDJSON) -> {rows:,} canonical rows in {elapsed:.2f} s"
        )
        print(f"fhir: {resources / elapsed:,.0f} resources/s, {rows / elapsed:,.0f} rows/s")
        print(
            f"fhir: baseline json.loads of the same lines {floor:.2f} s ({resources / floor:,.0f} resources/s)"
        )
        print(f"fhir: ratio full load / parse floor = {elapsed / floor:.2f}")

        (scratch / "synthea").mkdir()
        build_synthea(scratch / "synthea", args.synthea_copies)
        records = sum(
            max(0, len(p.read_text().splitlines()) - 1) for p in (scratch / "synthea").glob("*.csv")
        )
        floor = read_floor(scratch / "synthea")
        with Engine.duckdb() as engine:
            elapsed, rows = timed_ingest(engine, "synthea", scratch / "synthea", scratch / "synthea_out")
        print(
            f"synthea: {records:,} CSV records ({args.synthea_copies} copies) -> {rows:,} canonical rows in {elapsed:.2f} s"
        )
        print(f"synthea: {records / elapsed:,.0f} records/s, {rows / elapsed:,.0f} rows/s")
        print(f"synthea: baseline read_delimited of the same files {floor:.2f} s")
        print(f"synthea: ratio full load / read floor = {elapsed / floor:.2f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:,.0f} MB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
