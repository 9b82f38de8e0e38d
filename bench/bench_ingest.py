"""Ingest of Parquet, CSV, CCLF and FHIR: wall time, CPU time and peak memory against the floor of DuckDB
reading the same files and writing them back as Parquet.

    .venv/bin/python bench/bench_ingest.py [--members 100000] [--years 2] [--data DIR]
        [--formats parquet,csv,cclf,fhir] [--work DIR] [--memory-limit 4GB] [--fhir-resources 200000]

The population is an ``apmkit synth`` one (``--data``: one already written; otherwise one is generated into
the work folder). For each format its files are rendered once into ``--work`` (kept and reused there when
given; a temporary folder otherwise), not timed:

- ``parquet``: the synth files themselves;
- ``csv``: every canonical table as ``<table>.csv`` (DuckDB ``COPY``, without the provenance columns);
- ``cclf``: a CCLF delivery written per the IP v38 layouts (SQL over the canonical tables, no Python loop):
  CCLF8 members, CCLF1 headers + CCLF2 revenue-centre lines for institutional claims, CCLF5 professional
  lines, CCLF6 DME lines, CCLF7 Part D events;
- ``fhir``: NDJSON built from the repository's FHIR fixtures (BCDA EOBs and eCQM clinical resources, copied
  with fresh ids; ``--fhir-resources`` of them, 9 EOBs in 10), as ``bench_fhir.py`` does. It is not a
  rendering of the synth population: FHIR at 1M members (tens of millions of EOBs) is not written here.

Then, in the same run and each in its own child process (so its peak RSS is its own, ``os.wait4``): the
floor, DuckDB (default settings) reading every one of the same files and writing it back as Parquet (CSV:
``read_csv`` with every column as text, as apmkit reads it; CCLF: each record cut into its layout's fields with ``substr``; FHIR:
``read_json`` of the NDJSON), and ``apmkit ingest <format>``. Prints both and the ratios (target: ingest
within 3x the floor and under 8 GB). ``APMKIT_BENCH_SIZE=tiny`` (or ``--tiny``) runs a 200-member
population and 300 FHIR resources, for the CI smoke run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
from _child import measure  # bench/_child.py
from _size import is_tiny  # bench/_size.py (the script's folder is on sys.path)

from apmkit.ingest.cclf import Field, layouts
from apmkit.synth import generate

FORMATS = ("parquet", "csv", "cclf", "fhir")

PARQUET_FLOOR = """
import sys
from pathlib import Path

import duckdb

source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for path in sorted(source.glob("*.parquet")):
    con.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{target / path.name}' (FORMAT parquet)")
"""

CSV_FLOOR = """
import sys
from pathlib import Path

import duckdb

source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for path in sorted(source.glob("*.csv")):
    con.execute(f"COPY (SELECT * FROM read_csv('{path}', all_varchar=true)) TO '{target / path.stem}.parquet' (FORMAT parquet)")
"""

# Each record read as one line and cut into every field of its layout (positions given as JSON).
CCLF_FLOOR = """
import json
import sys
from pathlib import Path

import duckdb

source, target, fields = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for path in sorted(p for p in source.iterdir() if p.name in fields):
    cut = ", ".join(
        f"nullif(trim(substr(record, {start}, {length})), '') AS \\"{name}\\""
        for name, start, length in fields[path.name]
    )
    lines = (
        f"read_csv('{path}', columns={{'record': 'VARCHAR'}}, header=false, delim='\\x1f', quote='', "
        "escape='', auto_detect=false)"
    )
    con.execute(f"COPY (SELECT {cut} FROM {lines}) TO '{target / path.name}.parquet' (FORMAT parquet)")
"""

FHIR_FLOOR = """
import sys
from pathlib import Path

import duckdb

source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for path in sorted(source.glob("*.ndjson")):
    con.execute(
        f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited')) "
        f"TO '{target / path.stem}.parquet' (FORMAT parquet)"
    )
"""

FLOORS = {"parquet": PARQUET_FLOOR, "csv": CSV_FLOOR, "cclf": CCLF_FLOOR, "fhir": FHIR_FLOOR}


# ---- rendering ----------------------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]


def render_csv(data: Path, out: Path) -> None:
    con = duckdb.connect()
    for path in sorted(data.glob("*.parquet")):
        keep = [c for c in _columns(con, path) if c not in ("source_format", "source_file", "source_line")]
        select = ", ".join(f'"{c}"' for c in keep)
        con.execute(
            f"COPY (SELECT {select} FROM read_parquet('{path}')) TO '{out / path.stem}.csv' (HEADER, DELIMITER ',')"
        )


def _fixed(field: Field, expr: str | None) -> str:
    """SQL for one field of a fixed-width record, exactly ``field.length`` characters (blank when NULL)."""
    blank = f"repeat(' ', {field.length})"
    if expr is None:
        return blank
    if field.is_date:
        text = f"strftime(CAST({expr} AS DATE), '%Y-%m-%d')"
    elif field.decimals is not None:
        value = f"CAST({expr} AS DECIMAL(18, {field.decimals}))"
        digits = f"lpad(printf('%.{field.decimals}f', abs({value})), {field.length - 1}, '0')"
        text = f"(CASE WHEN {value} < 0 THEN '-' ELSE ' ' END) || {digits}"
    elif field.is_digits:
        text = f"lpad(CAST({expr} AS VARCHAR), {field.length}, '0')"
    else:
        text = f"rpad(CAST({expr} AS VARCHAR), {field.length}, ' ')"
    return f"coalesce({text}, {blank})"


def _record_sql(file: str, values: dict[str, str]) -> str:
    layout = layouts()[file]
    unknown = set(values) - {f.name for f in layout.fields}
    assert not unknown, f"{file}: {unknown}"
    return " || ".join(_fixed(f, values.get(f.name)) for f in layout.fields)


def _write_records(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> None:
    # One VARCHAR column, no quoting: each row is written as the record itself.
    con.execute(
        f"COPY ({sql}) TO '{target}' (FORMAT csv, HEADER false, DELIMITER '\x1f', QUOTE '', ESCAPE '')"
    )


CLAIM_NUMBER = "CAST(right(claim_id, 13) AS VARCHAR)"  # synth ids are a letter and 15 digits


def render_cclf(data: Path, out: Path) -> None:
    """A CCLF delivery from the canonical synth tables (one file per CCLF number, simple ``ZC<n>`` names)."""
    con = duckdb.connect()
    medical, pharmacy, members = (
        data / "medical_claims.parquet",
        data / "pharmacy_claims.parquet",
        data / "members.parquet",
    )
    # CUR_CLM_UNIQ_ID is 13 digits: the synth claim ids must stay distinct when cut to their last 13.
    for path in (medical, pharmacy):
        distinct, cut = con.execute(
            f"SELECT count(DISTINCT claim_id), count(DISTINCT right(claim_id, 13)) FROM read_parquet('{path}')"
        ).fetchone()
        assert distinct == cut, f"{path.name}: claim ids collide on their last 13 characters"
    member = {
        "BENE_MBI_ID": "member_id",
        "BENE_FIPS_STATE_CD": "substr(county_fips, 1, 2)",
        "BENE_FIPS_CNTY_CD": "substr(county_fips, 3, 3)",
        "BENE_ZIP_CD": "zip_code",
        "BENE_DOB": "birth_date",
        "BENE_SEX_CD": "CASE sex WHEN 'M' THEN '1' WHEN 'F' THEN '2' ELSE '0' END",
        "BENE_RACE_CD": "race_code",
        "BENE_MDCR_STUS_CD": "CASE WHEN esrd THEN '11' ELSE '10' END",
        "BENE_DUAL_STUS_CD": "dual_status_code",
        "BENE_DEATH_DT": "death_date",
        "BENE_ORGNL_ENTLMT_RSN_CD": "orec",
        "GEO_USPS_STATE_CD": "state_code",
    }
    _write_records(con, f"SELECT {_record_sql('CCLF8', member)} FROM read_parquet('{members}')", out / "ZC8")
    adjustment = "CASE adjustment_type WHEN 'void' THEN '1' WHEN 'adjustment' THEN '2' ELSE '0' END"
    institutional = {"inpatient": "60", "snf": "20", "hha": "10", "hospice": "50", "outpatient": "40"}
    type_code = (
        "CASE claim_type " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in institutional.items()) + " END"
    )
    header = {
        "CUR_CLM_UNIQ_ID": CLAIM_NUMBER,
        "PRVDR_OSCAR_NUM": "facility_ccn",
        "BENE_MBI_ID": "member_id",
        "CLM_TYPE_CD": type_code,
        "CLM_FROM_DT": "claim_from_date",
        "CLM_THRU_DT": "claim_thru_date",
        "CLM_BILL_FAC_TYPE_CD": "substr(bill_type, 1, 1)",
        "CLM_BILL_CLSFCTN_CD": "substr(bill_type, 2, 1)",
        "CLM_BILL_FREQ_CD": "substr(bill_type, 3, 1)",
        "PRNCPL_DGNS_CD": "dx_1",
        "ADMTG_DGNS_CD": "admitting_dx",
        "CLM_PMT_AMT": "paid",
        "BENE_PTNT_STUS_CD": "discharge_status",
        "DGNS_DRG_CD": "lpad(ms_drg, 4, '0')",
        "FAC_PRVDR_NPI_NUM": "billing_npi",
        "OPRTG_PRVDR_NPI_NUM": "operating_npi",
        "ATNDG_PRVDR_NPI_NUM": "attending_npi",
        "CLM_ADJSMT_TYPE_CD": adjustment,
        "CLM_EFCTV_DT": "processed_date",
        "CLM_ADMSN_SRC_CD": "admit_source",
        "CLM_MDCR_INSTNL_TOT_CHRG_AMT": "charge",
        "CLM_BLG_PRVDR_OSCAR_NUM": "facility_ccn",
    }
    kinds = ", ".join(f"'{k}'" for k in institutional)
    headers = (
        f"SELECT *, sum(paid_amount) OVER w AS paid, sum(charge_amount) OVER w AS charge, "
        f"row_number() OVER (w ORDER BY claim_line_number) AS _n FROM read_parquet('{medical}') "
        f"WHERE claim_type IN ({kinds}) WINDOW w AS (PARTITION BY claim_id)"
    )
    _write_records(con, f"SELECT {_record_sql('CCLF1', header)} FROM ({headers}) WHERE _n = 1", out / "ZC1")
    line = {
        "CUR_CLM_UNIQ_ID": CLAIM_NUMBER,
        "CLM_LINE_NUM": "claim_line_number",
        "BENE_MBI_ID": "member_id",
        "CLM_TYPE_CD": type_code,
        "CLM_LINE_FROM_DT": "service_date",
        "CLM_LINE_THRU_DT": "service_end_date",
        "CLM_LINE_PROD_REV_CTR_CD": "revenue_code",
        "CLM_LINE_HCPCS_CD": "hcpcs_code",
        "PRVDR_OSCAR_NUM": "facility_ccn",
        "CLM_FROM_DT": "claim_from_date",
        "CLM_THRU_DT": "claim_thru_date",
        "CLM_LINE_SRVC_UNIT_QTY": "units",
        "CLM_LINE_CVRD_PD_AMT": "paid_amount",
        **{f"HCPCS_{i}_MDFR_CD": f"hcpcs_modifier_{i}" for i in range(1, 5)},
    }
    _write_records(
        con,
        f"SELECT {_record_sql('CCLF2', line)} FROM read_parquet('{medical}') WHERE claim_type IN ({kinds})",
        out / "ZC2",
    )
    part_b = {
        "CUR_CLM_UNIQ_ID": CLAIM_NUMBER,
        "CLM_LINE_NUM": "claim_line_number",
        "BENE_MBI_ID": "member_id",
        "CLM_FROM_DT": "claim_from_date",
        "CLM_THRU_DT": "claim_thru_date",
        "CLM_POS_CD": "place_of_service",
        "CLM_LINE_FROM_DT": "service_date",
        "CLM_LINE_THRU_DT": "service_end_date",
        "CLM_LINE_HCPCS_CD": "hcpcs_code",
        "CLM_ADJSMT_TYPE_CD": adjustment,
        "CLM_EFCTV_DT": "processed_date",
        "CLM_CNTL_NUM": "claim_id",
    }
    professional = {
        **part_b,
        "CLM_TYPE_CD": "'71'",
        "CLM_PRVDR_SPCLTY_CD": "rendering_specialty",
        "CLM_LINE_CVRD_PD_AMT": "CAST(paid_amount AS VARCHAR)",
        "CLM_LINE_DGNS_CD": "dx_1",
        "CLM_RNDRG_PRVDR_TAX_NUM": "billing_tin",
        "RNDRG_PRVDR_NPI_NUM": "rendering_npi",
        "CLM_LINE_ALOWD_CHRG_AMT": "CAST(allowed_amount AS VARCHAR)",
        "CLM_LINE_SRVC_UNIT_QTY": "units",
        **{f"HCPCS_{i}_MDFR_CD": f"hcpcs_modifier_{i}" for i in range(1, 5)},
        **{f"CLM_DGNS_{i}_CD": f"dx_{i}" for i in range(1, 13)},
    }
    _write_records(
        con,
        f"SELECT {_record_sql('CCLF5', professional)} FROM read_parquet('{medical}') "
        "WHERE claim_type = 'professional'",
        out / "ZC5",
    )
    dme = {
        **part_b,
        "CLM_TYPE_CD": "'81'",
        "CLM_LINE_CVRD_PD_AMT": "paid_amount",
        "PAYTO_PRVDR_NPI_NUM": "billing_npi",
        "CLM_LINE_ALOWD_CHRG_AMT": "allowed_amount",
    }
    _write_records(
        con,
        f"SELECT {_record_sql('CCLF6', dme)} FROM read_parquet('{medical}') WHERE claim_type = 'dme'",
        out / "ZC6",
    )
    part_d = {
        "CUR_CLM_UNIQ_ID": CLAIM_NUMBER,
        "BENE_MBI_ID": "member_id",
        "CLM_LINE_NDC_CD": "ndc",
        "CLM_TYPE_CD": "'01'",
        "CLM_LINE_FROM_DT": "dispensing_date",
        "PRVDR_SRVC_ID_QLFYR_CD": "'01'",
        "CLM_SRVC_PRVDR_GNRC_ID_NUM": "pharmacy_npi",
        "CLM_LINE_SRVC_UNIT_QTY": "quantity",
        "CLM_LINE_DAYS_SUPLY_QTY": "days_supply",
        "PRVDR_PRSBNG_ID_QLFYR_CD": "'01'",
        "CLM_PRSBNG_PRVDR_GNRC_ID_NUM": "prescriber_npi",
        "CLM_LINE_BENE_PMT_AMT": "paid_amount",
        "CLM_ADJSMT_TYPE_CD": adjustment,
        "CLM_EFCTV_DT": "processed_date",
        "CLM_LINE_RX_SRVC_RFRNC_NUM": "right(claim_id, 12)",
        "CLM_LINE_RX_FILL_NUM": "'1'",
    }
    _write_records(con, f"SELECT {_record_sql('CCLF7', part_d)} FROM read_parquet('{pharmacy}')", out / "ZC7")


def cclf_fields(folder: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Per rendered file, its layout's fields (name, start, length) for the floor."""
    return {
        path.name: [(f.name, f.start, f.length) for f in layouts()[f"CCLF{path.name[2:]}"].fields]
        for path in sorted(folder.glob("ZC*"))
    }


def render_fhir(out: Path, resources: int) -> None:
    from bench_fhir import build_fhir  # bench/bench_fhir.py: the fixtures copied with fresh ids

    eobs = resources * 9 // 10
    build_fhir(out, eobs, resources - eobs)


def render(fmt: str, data: Path, work: Path, fhir_resources: int) -> Path:
    """The input folder of ``fmt``, rendered into ``work`` unless already there (``.done`` marker)."""
    if fmt == "parquet":
        return data
    folder = work / fmt
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    if fmt == "csv":
        render_csv(data, folder)
    elif fmt == "cclf":
        render_cclf(data, folder)
    else:
        render_fhir(folder, fhir_resources)
    (folder / ".done").write_text(json.dumps({"data": str(data), "fhir_resources": fhir_resources}) + "\n")
    print(f"rendered {fmt} in {time.perf_counter() - started:.0f} s -> {folder}", flush=True)
    return folder


# ---- one format ---------------------------------------------------------------------------------------
def run_format(fmt: str, source: Path, scratch: Path, memory_limit: str | None) -> dict[str, Any]:
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    floor_command = [sys.executable, "-c", FLOORS[fmt], str(source), str(scratch / f"floor-{fmt}")]
    if fmt == "cclf":
        floor_command.append(json.dumps(cclf_fields(source)))
    floor = measure(floor_command)
    shutil.rmtree(scratch / f"floor-{fmt}", ignore_errors=True)
    out = scratch / f"ingested-{fmt}"
    command = [sys.executable, "-m", "apmkit", "--quiet", "ingest", fmt, str(source), "--out", str(out)]
    if memory_limit:
        command += ["--memory-limit", memory_limit]
    ingest = measure(command)
    report = json.loads((out / "ingest_report.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    rows = report["totals"]["read"]
    loaded = sum(t["loaded"] for t in report["tables"].values())
    quarantined = sum(t["quarantined"] for t in report["tables"].values())
    wall_ratio = ingest.wall_s / floor.wall_s
    cpu_ratio = ingest.cpu_s / max(floor.cpu_s, 1e-9)
    print(
        f"{fmt}: {source} ({len(files)} files, {size_mb:,.0f} MB, {rows:,} records read, {loaded:,} loaded, {quarantined:,} quarantined)"
    )
    print(f"  {'':8} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
    for label, m in (("floor", floor), ("ingest", ingest)):
        print(f"  {label:8} {m.wall_s:8.1f} {m.cpu_s:8.1f} {m.peak_rss_mb:12,.0f}")
    print(f"  {fmt} ingest / floor: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x (target <= 3x)")
    print(
        f"  {fmt} ingest peak RSS: {ingest.peak_rss_mb / 1024:.2f} GB (target < 8 GB); "
        f"{rows / ingest.wall_s:,.0f} records/s",
        flush=True,
    )
    return {
        "format": fmt,
        "input": str(source),
        "files": len(files),
        "input_mb": round(size_mb, 1),
        "records_read": rows,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "floor": asdict(floor),
        "ingest": asdict(ingest),
        "wall_ratio": round(wall_ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="an apmkit synth population to ingest")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="comma-separated, of: " + ", ".join(FORMATS)
    )
    parser.add_argument("--work", type=Path, default=None, help="keep (and reuse) the renderings here")
    parser.add_argument("--fhir-resources", type=int, default=200_000, help="FHIR resources to build")
    parser.add_argument("--memory-limit", default=None, help="passed to apmkit ingest --memory-limit")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--tiny", action="store_true", help="200 members (same as APMKIT_BENCH_SIZE=tiny)")
    args = parser.parse_args()
    if is_tiny(args):
        args.members, args.data, args.work, args.fhir_resources = 200, None, None, 300
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")

    scratch = Path(tempfile.mkdtemp(prefix="apmkit-bench-ingest-", dir=args.work))
    work = args.work or scratch
    try:
        data = args.data
        if data is None:
            data = work / f"synth-{args.members}"
            if formats != ["fhir"] and not (data / "members.parquet").exists():  # FHIR is built from fixtures
                generate(args.members, data, years=args.years, seed=7)
        results = []
        for fmt in formats:
            source = render(fmt, data, work, args.fhir_resources)
            results.append(run_format(fmt, source, scratch, args.memory_limit))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            figures = {"data": str(data), "members": None if args.data else args.members, "formats": results}
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
