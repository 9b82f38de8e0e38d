"""Benchmark the CMS loaders (``cclf``, ``ccw-rif``) against the canonical ``csv`` loader.

Usage::

    .venv/bin/python bench/bench_cms.py --claims 20000 [--rif-copies 200]

Generates, in a temporary folder, a CCLF delivery (CCLF1 headers, three CCLF2 revenue-centre lines per
header and three CCLF5 professional lines per claim, written with ``format_record`` from the IP layouts)
and a RIF folder (the BFD Synthea carrier file repeated with fresh claim ids). Each is ingested end to
end (parse, conform, adjustments and final action, Parquet out). The baseline, measured in the same run,
is the canonical ``csv`` loader ingesting the very ``medical_claims`` rows the CCLF run produced, so the
ratio is the cost of fixed-width parsing and CMS adjustment logic over a plain canonical load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.ingest.cclf import format_record

SYNTHEA_CARRIER = Path(__file__).parent.parent / "tests" / "fixtures" / "ccw_rif" / "synthea" / "carrier.csv"


def write_cclf(folder: Path, claims: int) -> int:
    """A CCLF1/CCLF2/CCLF5 delivery; returns the number of records written."""
    folder.mkdir(parents=True)
    header = format_record(
        "CCLF1",
        {
            "CUR_CLM_UNIQ_ID": "0",
            "PRVDR_OSCAR_NUM": "654321",
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "40",
            "CLM_FROM_DT": "2024-03-01",
            "CLM_THRU_DT": "2024-03-01",
            "CLM_PMT_AMT": "412.37",
            "CLM_ADJSMT_TYPE_CD": "0",
            "CLM_EFCTV_DT": "2024-03-10",
            "CLM_BLG_PRVDR_OSCAR_NUM": "654321",
            "PRNCPL_DGNS_CD": "E1122",
        },
    )
    line = format_record(
        "CCLF2",
        {
            "CUR_CLM_UNIQ_ID": "0",
            "CLM_LINE_NUM": "1",
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "40",
            "CLM_LINE_PROD_REV_CTR_CD": "0450",
            "CLM_LINE_HCPCS_CD": "99284",
            "CLM_LINE_SRVC_UNIT_QTY": "1",
            "CLM_LINE_CVRD_PD_AMT": "137.46",
        },
    )
    professional = format_record(
        "CCLF5",
        {
            "CUR_CLM_UNIQ_ID": "0",
            "CLM_LINE_NUM": "1",
            "BENE_MBI_ID": "1EG4TE5MK73",
            "CLM_TYPE_CD": "71",
            "CLM_FROM_DT": "2024-03-02",
            "CLM_THRU_DT": "2024-03-02",
            "CLM_LINE_HCPCS_CD": "99213",
            "CLM_LINE_CVRD_PD_AMT": "92.15",
            "CLM_LINE_ALOWD_CHRG_AMT": "117.58",
            "CLM_LINE_SRVC_UNIT_QTY": "1",
            "CLM_ADJSMT_TYPE_CD": "0",
            "CLM_EFCTV_DT": "2024-03-12",
            "CLM_CNTL_NUM": "X",
            "RNDRG_PRVDR_NPI_NUM": "1497758544",
            "CLM_DGNS_1_CD": "E1122",
        },
    )

    def with_ids(record: str, claim: int, line_number: int | None, control: bool = False) -> str:
        text = f"{claim:013d}" + record[13:]
        if line_number is not None:
            text = text[:13] + f"{line_number:010d}" + text[23:]
        if control:  # CLM_CNTL_NUM 172-211 makes each professional claim its own natural key
            text = text[:171] + f"C{claim:039d}" + text[211:]
        return text

    ids = range(1, claims + 1)
    (folder / "ZC1").write_text("".join(with_ids(header, c, None) + "\n" for c in ids))
    (folder / "ZC2").write_text("".join(with_ids(line, c, n) + "\n" for c in ids for n in (1, 2, 3)))
    (folder / "ZC5").write_text(
        "".join(with_ids(professional, c + 10**9, n, control=True) + "\n" for c in ids for n in (1, 2, 3))
    )
    return claims * 7


def write_rif(folder: Path, copies: int) -> int:
    """The Synthea carrier file repeated ``copies`` times with fresh claim ids."""
    folder.mkdir(parents=True)
    header, *rows = SYNTHEA_CARRIER.read_text(encoding="utf-8-sig").splitlines()
    names = header.split("|")
    clm, grp = names.index("CLM_ID"), names.index("CLM_GRP_ID")
    out = [header]
    for copy in range(copies):
        for row in rows:
            values = row.split("|")
            values[clm] = f"{values[clm]}{copy:05d}"
            values[grp] = f"{values[grp]}{copy:05d}"
            out.append("|".join(values))
    (folder / "carrier.csv").write_text("\n".join(out) + "\n")
    return len(out) - 1


def timed(engine: Engine, fmt: str, source: Path, out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    report = ingest(engine, fmt, source, out)
    seconds = time.perf_counter() - start
    assert report.reconciles
    return seconds, report.totals.read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20_000, help="CCLF1 headers (x7 records in all)")
    parser.add_argument(
        "--rif-copies", type=int, default=200, help="copies of the 221-line Synthea carrier file"
    )
    parser.add_argument("--threads", type=int, default=2)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), claims=50, rif_copies=2)
    with tempfile.TemporaryDirectory(prefix="apmkit-bench-cms-") as tmp:
        root = Path(tmp)
        records = write_cclf(root / "cclf", args.claims)
        rif_rows = write_rif(root / "rif", args.rif_copies)
        with Engine.duckdb(threads=args.threads) as engine:
            cclf_s, cclf_read = timed(engine, "cclf", root / "cclf", root / "cclf_out")
            rif_s, rif_read = timed(engine, "ccw-rif", root / "rif", root / "rif_out")
            # Baseline: the same medical_claims rows through the canonical csv loader.
            claims = pq.read_table(root / "cclf_out" / "medical_claims.parquet").drop(
                ["source_format", "source_file", "source_line"]
            )
            (root / "csv").mkdir()
            pcsv.write_csv(claims, root / "csv" / "medical_claims.csv")
            csv_s, csv_read = timed(engine, "csv", root / "csv", root / "csv_out")
        print(
            f"cclf     {records:>9,} records written, {cclf_read:>9,} read: {cclf_s:6.2f} s  {cclf_read / cclf_s:>10,.0f} records/s"
        )
        print(
            f"ccw-rif  {rif_rows:>9,} rows written,    {rif_read:>9,} read: {rif_s:6.2f} s  {rif_read / rif_s:>10,.0f} records/s"
        )
        print(
            f"csv      baseline (canonical rows):  {csv_read:>9,} read: {csv_s:6.2f} s  {csv_read / csv_s:>10,.0f} records/s"
        )
        print(f"ratio cclf/csv throughput: {(cclf_read / cclf_s) / (csv_read / csv_s):.2f}")
        print(f"ratio ccw-rif/csv throughput: {(rif_read / rif_s) / (csv_read / csv_s):.2f}")


if __name__ == "__main__":
    main()
