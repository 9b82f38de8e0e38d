"""Admission & discharge report against an independent computation on a hand-made population.

The reference (``reference_visits`` / ``reference_summary``) is plain Python written from the definitions in
docs/reports.md "Admission & discharge": it never calls the report's code. The population covers interim
inpatient bills, an ED visit that led to a stay, ED from a facility claim and a POS 23 professional claim on
the same day, a SNF stay, an expired and a transferred discharge, a discharge whose window is still open, a
stay admitted the year before, a non-attributed member, ADT visits that duplicate a claim and ADT-only
visits, and a second payer whose member is the same person (follow-up across payers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apmkit.engines import Engine
from apmkit.ingest import ingest
from apmkit.reports.framework import ReportInputs, ReportRequest, RunInfo, Scope
from apmkit.schemas import ADT_EVENTS, ENROLLMENT, MEDICAL_CLAIMS, MEMBER_PERSONS

FIXTURE_ADT = Path(__file__).parent.parent / "fixtures" / "hl7_adt" / "adt_batch.hl7"
RUN = RunInfo(contract_id="c", period="2025", start=date(2025, 1, 1), end=date(2025, 12, 31), data="unused")
PANEL = [  # member_id, entity_id, tin, npi
    ("M1", "E1", "T1", "N1"),
    ("M2", "E1", "T1", "N2"),
    ("M3", "E1", "T2", "N3"),
    ("M4", "E2", "T3", "N4"),
]
D = date


def claim(cid: str, line: int, ctype: str, member: str, **fields: Any) -> dict[str, Any]:
    row = {"claim_id": cid, "claim_line_number": line, "claim_type": ctype, "member_id": member}
    row["payer"] = "medicare"
    row.update(fields)
    return row


CLAIMS = [
    # M1: ED (facility, revenue 0450) the day before an inpatient stay billed in two interim claims.
    claim(
        "ED1", 1, "outpatient", "M1", service_date=D(2025, 3, 1), revenue_code="0450", facility_ccn="100001"
    ),
    claim(
        "IP1",
        1,
        "inpatient",
        "M1",
        claim_from_date=D(2025, 3, 2),
        claim_thru_date=D(2025, 3, 4),
        admission_date=D(2025, 3, 2),
        discharge_status="30",
        facility_ccn="100001",
        attending_npi="A1",
        billing_tin="H1",
    ),
    claim(
        "IP2",
        1,
        "inpatient",
        "M1",
        claim_from_date=D(2025, 3, 5),
        claim_thru_date=D(2025, 3, 6),
        admission_date=D(2025, 3, 2),
        discharge_date=D(2025, 3, 6),
        discharge_status="01",
        facility_ccn="100001",
        attending_npi="A1",
        billing_tin="H1",
    ),
    claim("F1", 1, "professional", "M1", service_date=D(2025, 3, 10), hcpcs_code="99214", rendering_npi="N1"),
    # M1: a stay admitted the year before, discharged in the period; follow-up by home visit day 7.
    claim(
        "IP0",
        1,
        "inpatient",
        "M1",
        claim_from_date=D(2024, 12, 30),
        claim_thru_date=D(2025, 1, 2),
        admission_date=D(2024, 12, 30),
        discharge_date=D(2025, 1, 2),
        discharge_status="01",
    ),
    claim("F0", 1, "professional", "M1", service_date=D(2025, 1, 9), hcpcs_code="99347", rendering_npi="N1"),
    # M2: one ED visit from a facility claim (0981) and a POS 23 professional claim the same day; TCM day 11.
    claim("ED2", 1, "outpatient", "M2", service_date=D(2025, 5, 5), revenue_code="0981"),
    claim(
        "ED2P",
        1,
        "professional",
        "M2",
        service_date=D(2025, 5, 5),
        place_of_service="23",
        hcpcs_code="99284",
        rendering_npi="EDDOC",
    ),
    claim("F2", 1, "professional", "M2", service_date=D(2025, 5, 16), hcpcs_code="99495", rendering_npi="N2"),
    # M2: a lab line after it is no follow-up (not an E/M).
    claim("L2", 1, "professional", "M2", service_date=D(2025, 5, 7), hcpcs_code="80053"),
    # M3: SNF stay without follow-up; an inpatient stay at the end of the year (window still open).
    claim(
        "S3",
        1,
        "snf",
        "M3",
        claim_from_date=D(2025, 6, 1),
        claim_thru_date=D(2025, 6, 20),
        admission_date=D(2025, 6, 1),
        discharge_date=D(2025, 6, 20),
        discharge_status="01",
    ),
    claim(
        "IP3",
        1,
        "inpatient",
        "M3",
        claim_from_date=D(2025, 12, 28),
        claim_thru_date=D(2025, 12, 30),
        admission_date=D(2025, 12, 28),
        discharge_date=D(2025, 12, 30),
        discharge_status="01",
    ),
    claim(
        "X3", 1, "professional", "M3", service_date=D(2025, 12, 31), hcpcs_code="80053"
    ),  # last service day
    # M4: a death and a transfer: no follow-up expected.
    claim(
        "IP4",
        1,
        "inpatient",
        "M4",
        claim_from_date=D(2025, 4, 1),
        claim_thru_date=D(2025, 4, 3),
        admission_date=D(2025, 4, 1),
        discharge_date=D(2025, 4, 3),
        discharge_status="20",
    ),
    claim(
        "IP5",
        1,
        "inpatient",
        "M4",
        claim_from_date=D(2025, 7, 10),
        claim_thru_date=D(2025, 7, 12),
        admission_date=D(2025, 7, 10),
        discharge_date=D(2025, 7, 12),
        discharge_status="02",
    ),
    # M5 is not attributed.
    claim(
        "IP6",
        1,
        "inpatient",
        "M5",
        claim_from_date=D(2025, 2, 1),
        claim_thru_date=D(2025, 2, 3),
        admission_date=D(2025, 2, 1),
        discharge_date=D(2025, 2, 3),
        discharge_status="01",
    ),
    # acme's B-100 is M1: an ED visit paid by acme, followed up by a Medicare-paid visit on day 4.
    claim("A1", 1, "outpatient", "B-100", payer="acme", service_date=D(2025, 8, 8), revenue_code="0450"),
    claim("F3", 1, "professional", "M1", service_date=D(2025, 8, 12), hcpcs_code="99213", rendering_npi="N1"),
]

ADT = [  # event_id, member_id, type, event_time, admit, discharge, class, setting, facility, visit
    (
        "E1",
        "M1",
        "A01",
        datetime(2025, 3, 2, 10),
        datetime(2025, 3, 2, 9),
        None,
        "I",
        "inpatient",
        "GEN",
        "V1",
    ),
    (
        "E2",
        "M1",
        "A03",
        datetime(2025, 3, 6, 12),
        datetime(2025, 3, 2, 9),
        datetime(2025, 3, 6, 11),
        "I",
        "inpatient",
        "GEN",
        "V1",
    ),
    # M2 admitted on 20 December, no claim yet and no discharge: still admitted.
    (
        "E3",
        "M2",
        "A01",
        datetime(2025, 12, 20, 8),
        datetime(2025, 12, 20, 7),
        None,
        "I",
        "inpatient",
        "GEN",
        "V2",
    ),
    # M3: an ED visit known from ADT only (registration and discharge the same day).
    (
        "E4",
        "M3",
        "A04",
        datetime(2025, 9, 9, 22),
        datetime(2025, 9, 9, 21),
        None,
        "E",
        "emergency",
        "CITY",
        "V3",
    ),
    (
        "E5",
        "M3",
        "A03",
        datetime(2025, 9, 10, 1),
        datetime(2025, 9, 9, 21),
        datetime(2025, 9, 10, 1),
        "E",
        "emergency",
        "CITY",
        "V3",
    ),
    # M4 observation: not listed.
    (
        "E6",
        "M4",
        "A04",
        datetime(2025, 10, 1, 8),
        datetime(2025, 10, 1, 8),
        None,
        "O",
        "observation",
        "GEN",
        "V4",
    ),
]
PERSONS = [("medicare", m, m, "member_id") for m in ("M1", "M2", "M3", "M4", "M5")] + [
    ("acme", "B-100", "M1", "mbi")
]


def _table(engine: Engine, schema, rows: list[dict[str, Any]]):
    arrow = schema.arrow_schema()
    columns = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in arrow}
    return engine.from_arrow(pa.table(columns, schema=arrow))


def make_inputs(engine: Engine, *, with_adt: bool = True, materialize: bool = False) -> ReportInputs:
    enrollment = [
        {"member_id": m, "month": D(2025, month, 1), "payer": "medicare", "product": "ffs"}
        for m in ("M1", "M2", "M3", "M4", "M5")
        for month in range(1, 13)
    ] + [{"member_id": "B-100", "month": D(2025, 8, 1), "payer": "acme", "product": "ma"}]
    attribution = pa.table(
        {
            "member_id": [p[0] for p in PANEL],
            "entity_id": [p[1] for p in PANEL],
            "tin": [p[2] for p in PANEL],
            "npi": [p[3] for p in PANEL],
        }
    )
    tables = {
        "attribution": engine.from_arrow(attribution),
        "medical_claims": _table(engine, MEDICAL_CLAIMS, CLAIMS),
        "enrollment": _table(engine, ENROLLMENT, enrollment),
        "member_persons": _table(
            engine,
            MEMBER_PERSONS,
            [dict(zip(("payer", "member_id", "person_id", "matched_by"), p, strict=True)) for p in PERSONS],
        ),
    }
    if with_adt:
        keys = (
            "event_id",
            "member_id",
            "event_type",
            "event_time",
            "admit_time",
            "discharge_time",
            "patient_class",
            "setting",
            "facility_id",
            "visit_number",
        )
        rows = [dict(zip(keys, event, strict=True)) | {"payer": "hie"} for event in ADT]
        tables["adt_events"] = _table(engine, ADT_EVENTS, rows)
    return ReportInputs(tables=tables, run=RUN, materialize=engine.materialize if materialize else None)


# ---- the independent reference ---------------------------------------------------------------------------
FOLLOW_UP = {*map(str, range(99202, 99206)), *map(str, range(99211, 99216)), *map(str, range(99324, 99338))}
FOLLOW_UP |= {*map(str, range(99341, 99351)), "99495", "99496"}
NO_FOLLOW_UP = {"20", "40", "41", "42", "02", "05", "65", "66"}
PERSON = {member: person for _, member, person, _ in PERSONS}


def reference_visits(with_adt: bool = True) -> list[dict[str, Any]]:
    """Visits per the definitions, in plain Python."""
    claims = [dict(c) for c in CLAIMS]
    for c in claims:
        c["person"] = PERSON.get(c["member_id"], c["member_id"])
        c["day"] = c.get("service_date") or c.get("claim_from_date")
    stays: dict[tuple, list[dict]] = defaultdict(list)
    for c in claims:
        if c["claim_type"] in ("inpatient", "snf"):
            admit = c.get("admission_date") or c.get("claim_from_date")
            stays[(c["member_id"], c["claim_type"], admit)].append(c)
    visits = []
    for (member, setting, admit), lines in stays.items():
        last = max(lines, key=lambda c: (c.get("discharge_date") or c.get("claim_thru_date"), c["claim_id"]))
        visits.append(
            dict(
                person=PERSON.get(member, member),
                member=member,
                setting=setting,
                admit=admit,
                discharge=max(c.get("discharge_date") or c.get("claim_thru_date") for c in lines),
                status=last.get("discharge_status"),
                payer=lines[0]["payer"],
                source="claims",
                via_ed=False,
            )
        )
    ed_days: dict[tuple, dict] = {}
    for c in claims:
        facility_ed = c["claim_type"] == "outpatient" and (c.get("revenue_code") or "") in (
            [f"{n:04d}" for n in range(450, 460)] + ["0981"]
        )
        professional_ed = c["claim_type"] == "professional" and c.get("place_of_service") == "23"
        if facility_ed or professional_ed:
            ed_days.setdefault((c["member_id"], c["day"]), c)
    for (member, day), c in ed_days.items():
        person = PERSON.get(member, member)
        stay = [
            v
            for v in visits
            if v["person"] == person
            and v["setting"] == "inpatient"
            and v["admit"] - timedelta(days=1) <= day <= v["admit"]
        ]
        if stay:
            for v in stay:
                v["via_ed"] = True
            continue
        visits.append(
            dict(
                person=person,
                member=member,
                setting="emergency",
                admit=day,
                discharge=day,
                status=None,
                payer=c["payer"],
                source="claims",
                via_ed=False,
            )
        )
    if with_adt:
        by_visit: dict[tuple, list] = defaultdict(list)
        for event in ADT:
            by_visit[(event[1], event[8], event[9])].append(event)
        for (member, _facility, _visit), events in by_visit.items():
            settings = {e[7] for e in events}
            setting = (
                "snf"
                if "snf" in settings
                else "inpatient"
                if "inpatient" in settings
                else ("emergency" if "emergency" in settings else None)
            )
            if setting is None:
                continue
            admit = min(e[4].date() for e in events)
            discharges = [e[5].date() for e in events if e[5]] + [
                e[3].date() for e in events if e[2] == "A03" and not e[5]
            ]
            discharge = max(discharges) if discharges else (admit if setting == "emergency" else None)
            person = PERSON.get(member, member)
            twins = [
                v
                for v in visits
                if v["source"] != "adt"
                and v["person"] == person
                and v["setting"] == setting
                and abs((v["admit"] - admit).days) <= 1
            ]
            if twins:
                for v in twins:
                    v["source"] = "claims+adt"
                continue
            visits.append(
                dict(
                    person=person,
                    member=member,
                    setting=setting,
                    admit=admit,
                    discharge=discharge,
                    status=None,
                    payer="medicare",
                    source="adt",
                    via_ed=False,
                )
            )
    last_day = max(c["day"] for c in claims if c["day"])
    fu = [
        (c["person"], c["day"])
        for c in claims
        if c["claim_type"] in ("professional", "outpatient") and c.get("hcpcs_code") in FOLLOW_UP
    ]
    for v in visits:
        v["expected"] = v["discharge"] is not None and (v["status"] or "") not in NO_FOLLOW_UP
        days = sorted(
            (d - v["discharge"]).days
            for p, d in fu
            if v["expected"] and p == v["person"] and 1 <= (d - v["discharge"]).days <= 14
        )
        v["days"] = days[0] if days else None
        for w in (7, 14):
            if not v["expected"]:
                v[f"fu{w}"] = None
            elif v["days"] is not None and v["days"] <= w:
                v[f"fu{w}"] = True
            elif v["discharge"] + timedelta(days=w) <= last_day:
                v[f"fu{w}"] = False
            else:
                v[f"fu{w}"] = None
    return visits


def reference_summary(by: int, tins: set[str] | None = None, suppress_below: int | None = None) -> dict:
    """(group, payer, setting) -> counts and rates; ``by`` is the panel column (1 entity, 2 TIN, 3 NPI)."""
    start, end = D(2025, 1, 1), D(2025, 12, 31)
    panel = [p for p in PANEL if tins is None or p[2] in tins]
    out: dict[tuple, dict] = {}
    for v in reference_visits():
        for p in panel:
            if p[0] != v["person"]:
                continue
            key = (p[by], v["payer"], v["setting"])
            row = out.setdefault(
                key, dict(admissions=0, discharges=0, due_7=0, followed_up_7=0, due_14=0, followed_up_14=0)
            )
            if start <= v["admit"] <= end:
                row["admissions"] += 1
            if v["discharge"] is not None and start <= v["discharge"] <= end:
                row["discharges"] += 1
                for w in (7, 14):
                    if v[f"fu{w}"] is not None:
                        row[f"due_{w}"] += 1
                        row[f"followed_up_{w}"] += int(v[f"fu{w}"])
    for row in out.values():
        for w in (7, 14):
            row[f"follow_up_rate_{w}"] = (
                round(row[f"followed_up_{w}"] / row[f"due_{w}"], 4) if row[f"due_{w}"] else None
            )
        if suppress_below:
            counts = ["admissions", "discharges", "due_7", "followed_up_7", "due_14", "followed_up_14"]
            small = [c for c in counts if 1 <= row[c] < suppress_below]
            for c in small:
                row[c] = None
            if small:
                row["follow_up_rate_7"] = row["follow_up_rate_14"] = None
    return out


def _summary(result_table: pa.Table, key: str) -> dict:
    rows = {}
    for row in result_table.to_pylist():
        rows[(row[key], row["payer"], row["setting"])] = {
            k: v for k, v in row.items() if k not in (key, "payer", "setting")
        }
    return rows


def build(
    engine: Engine, request: ReportRequest, *, with_adt: bool = True, materialize: bool = False
) -> dict[str, pa.Table]:
    from apmkit.reports.admissions import admissions_report

    output = admissions_report(make_inputs(engine, with_adt=with_adt, materialize=materialize), request)
    return {name: engine.to_arrow(table) for name, table in output.tables.items()}


@pytest.mark.parametrize(
    ("by", "column", "index"), [("entity", "entity_id", 1), ("tin", "tin", 2), ("npi", "npi", 3)]
)
def test_summary_matches_the_reference(engine: Engine, by: str, column: str, index: int) -> None:
    tables = build(engine, ReportRequest("admissions", by=by))
    assert _summary(tables["summary"], column) == reference_summary(index)


def test_reference_population_is_what_the_comments_say() -> None:
    """Guard the hand-made population itself (so a typo cannot make both sides agree on nothing)."""
    visits = {(v["person"], v["setting"], v["admit"]): v for v in reference_visits()}
    stay = visits[("M1", "inpatient", D(2025, 3, 2))]
    assert stay["via_ed"] and stay["source"] == "claims+adt" and stay["days"] == 4 and stay["fu7"] is True
    assert visits[("M2", "emergency", D(2025, 5, 5))]["days"] == 11
    assert visits[("M2", "emergency", D(2025, 5, 5))]["fu7"] is False
    assert visits[("M2", "inpatient", D(2025, 12, 20))]["source"] == "adt"
    assert visits[("M3", "inpatient", D(2025, 12, 28))]["fu7"] is None  # window still open on 31 December
    assert visits[("M4", "inpatient", D(2025, 4, 1))]["expected"] is False
    assert visits[("M1", "emergency", D(2025, 8, 8))]["payer"] == "acme"
    assert visits[("M1", "emergency", D(2025, 8, 8))]["fu7"] is True  # followed up under Medicare
    assert ("M1", "emergency", D(2025, 3, 1)) not in visits  # the ED visit that led to the stay


def test_daily_list_rows(engine: Engine) -> None:
    events = build(engine, ReportRequest("admissions"))["events"].to_pylist()
    listed = {(e["date"], e["event"], e["person_id"], e["setting"]): e for e in events}
    expected = set()
    for v in reference_visits():
        if v["person"] not in {p[0] for p in PANEL}:
            continue
        if D(2025, 1, 1) <= v["admit"] <= D(2025, 12, 31):
            expected.add((v["admit"], "admission", v["person"], v["setting"]))
        if v["discharge"] and D(2025, 1, 1) <= v["discharge"] <= D(2025, 12, 31):
            expected.add((v["discharge"], "discharge", v["person"], v["setting"]))
    assert set(listed) == expected
    discharge = listed[(D(2025, 3, 6), "discharge", "M1", "inpatient")]
    assert discharge["follow_up_date"] == D(2025, 3, 10) and discharge["follow_up_npi"] == "N1"
    assert discharge["via_ed"] and discharge["source"] == "claims+adt" and discharge["entity_id"] == "E1"
    assert listed[(D(2025, 8, 8), "discharge", "M1", "emergency")]["payer"] == "acme"
    dates = [e["date"] for e in events]
    assert dates == sorted(dates)


def test_small_cells_are_suppressed(engine: Engine) -> None:
    tables = build(engine, ReportRequest("admissions", by="entity", suppress_below=3))
    assert _summary(tables["summary"], "entity_id") == reference_summary(1, suppress_below=3)
    assert "events" not in tables  # no patient list in a report shared outside the entity
    for row in tables["daily"].to_pylist():
        for column in ("admissions", "discharges"):
            assert row[column] is None or row[column] == 0 or row[column] >= 3


def test_a_tin_scope_sees_only_its_members(engine: Engine) -> None:
    request = ReportRequest("admissions", by="npi", scope=Scope(tins=frozenset({"T1"})))
    tables = build(engine, request, materialize=True)  # the visits computed once, as `apmkit report` does
    assert _summary(tables["summary"], "npi") == reference_summary(3, tins={"T1"})
    assert {e["person_id"] for e in tables["events"].to_pylist()} == {"M1", "M2"}


def test_payer_filter_and_claims_only(engine: Engine) -> None:
    acme = build(engine, ReportRequest("admissions", payer="acme"))
    assert {(r["payer"], r["setting"], r["admissions"]) for r in acme["summary"].to_pylist()} == {
        ("acme", "emergency", 1)
    }
    without_adt = build(engine, ReportRequest("admissions"), with_adt=False)
    sources = {e["source"] for e in without_adt["events"].to_pylist()}
    assert sources == {"claims"}
    people = {(e["person_id"], e["setting"]) for e in without_adt["events"].to_pylist()}
    assert ("M3", "emergency") not in people  # the ED visit known from ADT only
    assert ("M2", "inpatient") not in people  # known from ADT only


def test_end_to_end_from_payer_feeds_through_the_command(engine: Engine, tmp_path: Path) -> None:
    """Two payers' CSV feeds and an HL7 ADT feed loaded with --payer/--into, then `apmkit report admissions`
    over a run folder whose attribution mart attributes both people (its other marts are not read)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "apmkit", "--quiet", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )

    medicare, acme, hie = tmp_path / "medicare", tmp_path / "acme", tmp_path / "hie"
    for folder in (medicare, acme, hie):
        folder.mkdir()
    (medicare / "members.csv").write_text("member_id,sex\n1EG4TE5MK73,F\n2EG4TE5MK74,M\n")
    (medicare / "medical_claims.csv").write_text(
        "claim_id,claim_line_number,claim_type,member_id,claim_from_date,claim_thru_date,admission_date,"
        "discharge_date,discharge_status,service_date,hcpcs_code,rendering_npi\n"
        "IP1,1,inpatient,1EG4TE5MK73,2025-03-02,2025-03-06,2025-03-02,2025-03-06,01,,,\n"
        "F1,1,professional,1EG4TE5MK73,,,,,,2025-03-20,99214,1234567893\n"
    )
    (acme / "members.csv").write_text("member_id,sex,mbi\nB-100,F,1EG4TE5MK73\n")
    (acme / "medical_claims.csv").write_text(
        "claim_id,claim_line_number,claim_type,member_id,service_date,hcpcs_code,rendering_npi\n"
        "F9,1,professional,B-100,2025-03-12,99495,1234567893\n"
    )
    # The HL7 fixture: 1EG4TE5MK73 admitted 2 March (the Medicare stay: deduplicated), discharged 6 March, an
    # SNF stay from 6 March; 2EG4TE5MK74 observation (not listed) and an outpatient visit.
    pop = tmp_path / "pop"
    ingest(engine, "csv", medicare, pop, payer="medicare", into=True)
    ingest(engine, "csv", acme, pop, payer="acme", into=True)
    ingest(engine, "hl7-adt", FIXTURE_ADT, pop, payer="hie", into=True)

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(
        json.dumps(
            {
                "contract_id": "c",
                "period": "2025",
                "start": "2025-01-01",
                "end": "2025-12-31",
                "data": str(tmp_path / "pop"),
            }
        )
    )
    pa_table = pa.table(
        {
            "member_id": ["1EG4TE5MK73", "2EG4TE5MK74"],
            "entity_id": ["E1", "E1"],
            "tin": ["T1", "T1"],
            "npi": ["N1", "N1"],
        }
    )
    pq.write_table(pa_table, out / "attribution.parquet")
    result = run("report", "admissions", "--run", "run", "--by", "entity", "--out", "adm.json")
    assert result.returncode == 0, result.stderr
    tables = json.loads((tmp_path / "adm.json").read_text())["tables"]
    summary = {(r["entity_id"], r["payer"], r["setting"]): r for r in tables["summary"]}
    # The inpatient stay: one admission and one discharge (claims and ADT are the same visit), followed up
    # by acme's TCM on day 6 (the same person under another payer). The SNF stay is known from ADT only and
    # has no discharge yet; without enrollment its payer is the ADT feed's.
    assert set(summary) == {("E1", "medicare", "inpatient"), ("E1", "hie", "snf")}
    inpatient = summary[("E1", "medicare", "inpatient")]
    assert (
        inpatient["admissions"],
        inpatient["discharges"],
        inpatient["due_7"],
        inpatient["followed_up_7"],
    ) == (
        1,
        1,
        1,
        1,
    )
    snf = summary[("E1", "hie", "snf")]
    assert (snf["admissions"], snf["discharges"], snf["follow_up_rate_7"]) == (1, 0, None)
    events = {(e["date"], e["event"], e["setting"]): e for e in tables["events"]}
    assert set(events) == {
        ("2025-03-02", "admission", "inpatient"),
        ("2025-03-06", "discharge", "inpatient"),
        ("2025-03-06", "admission", "snf"),
    }
    discharge = events[("2025-03-06", "discharge", "inpatient")]
    assert discharge["source"] == "claims+adt" and discharge["follow_up_date"] == "2025-03-12"
    assert discharge["days_to_follow_up"] == 6 and discharge["follow_up_7"] is True
    assert events[("2025-03-06", "admission", "snf")]["source"] == "adt"


@pytest.mark.spark
def test_spark_gives_the_same_summary(spark_engine: Engine) -> None:
    from apmkit.reports.admissions import admissions_report

    # The visits computed once, as `apmkit report` does; only the summary is collected (each Spark job costs
    # seconds here, and the daily list and the events are the same visits counted another way).
    inputs = make_inputs(spark_engine, materialize=True)
    summary = admissions_report(inputs, ReportRequest("admissions", by="tin")).tables["summary"]
    assert _summary(spark_engine.to_arrow(summary), "tin") == reference_summary(2)
