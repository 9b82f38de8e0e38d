"""Benchmark the HL7 ADT loader and the Admission & discharge report.

Usage::

    .venv/bin/python bench/bench_admissions.py --members 100000 --messages 100000 [--tiny]

1. ``apmkit ingest hl7-adt`` of a generated batch file against the floor of python-hl7 parsing the same messages
   (``hl7.parse`` per message, nothing else), in the same run.
2. The ``admissions`` report on an ``apmkit synth`` population (every member attributed, claims of one year, the
   ADT events of step 1 keyed to the same members) against the floor of one scan of ``medical_claims`` (rows by
   claim type), in the same run: computed from the claims, then from its marts (``admission_visits``,
   ``admission_follow_ups``: the first use writes them, later reports read them). Each executes every table of
   the report to Arrow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import hl7
import ibis
import pyarrow.parquet as pq
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.reports.admissions import ADMISSION_LIST, ADMISSION_VISITS, FOLLOW_UP_VISITS, admissions_report
from apmkit.reports.framework import ReportInputs, ReportRequest, RunInfo
from apmkit.reports.marts import report_mart
from apmkit.synth import generate

EVENTS = ("A01", "A03", "A04", "A08", "A02")
CLASSES = {"A01": "I", "A02": "I", "A03": "I", "A04": "E", "A08": "I"}


def adt_messages(member_ids: list[str], count: int) -> list[str]:
    messages = []
    start = datetime(2025, 1, 1, 8)
    for i in range(count):
        event = EVENTS[i % len(EVENTS)]
        member = member_ids[(i * 7919) % len(member_ids)]
        when = start + timedelta(hours=(i * 13) % (365 * 24))
        stamp = when.strftime("%Y%m%d%H%M%S")
        discharge = (when + timedelta(days=3)).strftime("%Y%m%d%H%M%S") if event == "A03" else ""
        pv1 = [
            "PV1",
            "1",
            CLASSES[event],
            "4W^401^1^GENHOSP",
            "",
            "",
            "",
            "1234567893^DOC^A^^^^^^NPI^L^^^NPI",
        ]
        pv1 += [""] * 11 + [f"V{i // 5}"] + [""] * 24 + [stamp, discharge]
        messages.append(
            "\r".join(
                [
                    f"MSH|^~\\&|ADT|GENHOSP|APMKIT|ACO|{stamp}||ADT^{event}^ADT_A01|M{i}|P|2.5.1",
                    f"EVN|{event}|{stamp}",
                    f"PID|1||{member}^^^CMS^MC||DOE^JANE",
                    "|".join(pv1),
                ]
            )
        )
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=100_000)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300, messages=300)

    with tempfile.TemporaryDirectory() as tmp, Engine.duckdb() as engine:
        folder = Path(tmp)
        synth = generate(args.members, folder / "pop", years=1, end_year=2025, seed=7)
        members = pq.read_table(folder / "pop" / "members.parquet", columns=["member_id"])
        member_ids = members.column("member_id").to_pylist()
        messages = adt_messages(member_ids, args.messages)
        (folder / "adt").mkdir()
        (folder / "adt" / "feed.hl7").write_text("\r".join(messages) + "\r")

        started = time.perf_counter()
        for message in messages:
            hl7.parse(message)
        floor = time.perf_counter() - started
        started = time.perf_counter()
        report = ingest(engine, "hl7-adt", folder / "adt", folder / "adt_out")
        loaded = time.perf_counter() - started
        print(
            f"hl7-adt ingest: {args.messages:,} messages in {loaded:.2f} s ({args.messages / loaded:,.0f}/s; "
            f"{report.tables['adt_events'].loaded:,} loaded); python-hl7 parse alone {floor:.2f} s; "
            f"ratio {loaded / floor:.2f}x"
        )

        tables = engine.canonical(folder / "pop")
        pop = tables["members"]
        attribution = pop.select(
            member_id=pop.member_id,
            entity_id=ibis.literal("E1"),
            tin=(pop.member_id.hash().abs() % 50).cast("string"),
            npi=(pop.member_id.hash().abs() % 500).cast("string"),
        )
        inputs = ReportInputs(
            tables={
                "attribution": attribution,
                "medical_claims": tables["medical_claims"],
                "enrollment": tables["enrollment"],
                "adt_events": engine.read_parquet(folder / "adt_out" / "adt_events.parquet"),
            },
            run=RunInfo("bench", "2025", date(2025, 1, 1), date(2025, 12, 31), str(folder / "pop")),
            materialize=engine.materialize,
        )
        claims = tables["medical_claims"]
        started = time.perf_counter()
        engine.to_arrow(claims.group_by("claim_type").aggregate(rows=claims.count()))
        scan = time.perf_counter() - started
        started = time.perf_counter()
        output = admissions_report(inputs, ReportRequest("admissions", by="tin"))
        rows = {name: engine.to_arrow(table).num_rows for name, table in output.tables.items()}
        built = time.perf_counter() - started
        print(
            f"admissions report from the claims: {args.members:,} members, {synth.rows['medical_claims']:,} claim "
            f"lines in {built:.2f} s ({', '.join(f'{n} {r:,}' for n, r in rows.items())}); claims scan "
            f"{scan:.2f} s; ratio {built / max(scan, 1e-9):.1f}x"
        )
        # what `apmkit report` does on a run folder: the first use writes the claims' visits and follow-up lines
        # and the list of the attributed people's visits with their follow-up as marts, every later report reads
        # them
        started = time.perf_counter()
        marts = {}
        for name in (ADMISSION_VISITS, FOLLOW_UP_VISITS, ADMISSION_LIST):
            source = ReportInputs(
                tables={**inputs.tables, **marts}, run=inputs.run, materialize=inputs.materialize
            )
            mart = report_mart(source, name)
            assert mart is not None
            engine.write_parquet(mart, folder / f"{name}.parquet")
            marts[name] = engine.read_parquet(folder / f"{name}.parquet")
        first = time.perf_counter() - started
        from_marts = ReportInputs(
            tables={**inputs.tables, **marts}, run=inputs.run, materialize=engine.materialize
        )
        started = time.perf_counter()
        output = admissions_report(from_marts, ReportRequest("admissions", by="tin"))
        same = {name: engine.to_arrow(table).num_rows for name, table in output.tables.items()}
        steady = time.perf_counter() - started
        assert same == rows
        print(
            f"admissions report from its marts: first use (writes them) {first:.2f} s, then {steady:.2f} s; "
            f"ratio to the claims scan {steady / max(scan, 1e-9):.1f}x"
        )


if __name__ == "__main__":
    main()
