"""The admissions report read from its marts (``admission_visits``, ``admission_follow_ups``: the claims' visits
and follow-up lines, built on first use) gives every table the report computes from the claims, on the reference
population of test_admissions.py (whose figures that file checks against an independent computation): with a
provider scope (any of entity, TIN or NPI), a payer filter, claims and ADT."""

from __future__ import annotations

from apmkit.engines import Engine
from apmkit.reports.admissions import ADMISSION_LIST, ADMISSION_VISITS, FOLLOW_UP_VISITS, admissions_report
from apmkit.reports.framework import ReportInputs, ReportRequest, Scope
from apmkit.reports.marts import report_mart

from .test_admissions import PANEL, make_inputs, reference_visits

# suppression is applied to the tables after the visits are read, the same way on both paths: one request
REQUESTS = (
    ReportRequest(
        "admissions", by="npi", payer="medicare", scope=Scope(tins=frozenset({"T1"}), npis=frozenset({"N3"}))
    ),
)


def test_the_marts_give_the_report_of_the_claims() -> None:
    with Engine.duckdb() as engine:
        inputs = make_inputs(engine)
        marts = {}
        for name in (ADMISSION_VISITS, FOLLOW_UP_VISITS, ADMISSION_LIST):
            # each built from those before it, as a first use builds them
            built = report_mart(ReportInputs(tables={**inputs.tables, **marts}, run=inputs.run), name)
            assert built is not None
            marts[name] = engine.from_arrow(engine.to_arrow(built))  # as read back from the run folder
        from_marts = ReportInputs(tables={**inputs.tables, **marts}, run=inputs.run)
        for request in REQUESTS:
            fast = admissions_report(from_marts, request).tables
            slow = admissions_report(inputs, request).tables
            assert fast.keys() == slow.keys()
            for table in slow:
                expected = engine.to_arrow(slow[table]).to_pylist()
                assert engine.to_arrow(fast[table]).to_pylist() == expected, (request, table)
                if table == "summary":
                    assert expected, request


def test_the_list_mart_is_the_reference_visits_of_the_attributed_people() -> None:
    """``admission_list``: each claims visit of an attributed person (the reference of test_admissions.py, written
    from the definitions), under the attributed member with its entity, TIN and NPI, payer and follow-up."""
    with Engine.duckdb() as engine:
        inputs = make_inputs(engine, with_adt=False)
        built = report_mart(inputs, ADMISSION_LIST)
        assert built is not None
        rows = engine.to_arrow(built).to_pylist()
    panel = {member: (entity, tin, npi) for member, entity, tin, npi in PANEL}
    got = {
        (r["person_id"], r["setting"], r["admit_date"]): (
            r["member_id"],
            (r["entity_id"], r["tin"], r["npi"]),
            r["discharge_date"],
            r["payer"],
            r["via_ed"],
            r["days_to_follow_up"],
            r["follow_up_7"],
            r["follow_up_14"],
        )
        for r in rows
    }
    assert len(got) == len(rows)  # every person here has one attributed member: one row per visit
    expected = {
        (v["person"], v["setting"], v["admit"]): (
            v["person"],
            panel[v["person"]],
            v["discharge"],
            v["payer"],
            v["via_ed"],
            v["days"],
            v["fu7"],
            v["fu14"],
        )
        for v in reference_visits(with_adt=False)
        if v["person"] in panel
    }
    assert got == expected
    assert any(days is not None for *_, days, _, _ in expected.values())
