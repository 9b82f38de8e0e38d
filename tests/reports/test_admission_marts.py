"""The admissions report read from its marts (``admission_visits``, ``admission_follow_ups``: the claims' visits
and follow-up lines, built on first use) gives every table the report computes from the claims, on the reference
population of test_admissions.py (whose figures that file checks against an independent computation): with a
provider scope (any of entity, TIN or NPI), a payer filter, claims and ADT."""

from __future__ import annotations

from apmkit.engines import Engine
from apmkit.reports.admissions import ADMISSION_VISITS, FOLLOW_UP_VISITS, admissions_report
from apmkit.reports.framework import ReportInputs, ReportRequest, Scope
from apmkit.reports.marts import report_mart

from .test_admissions import make_inputs

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
        for name in (ADMISSION_VISITS, FOLLOW_UP_VISITS):
            built = report_mart(inputs, name)
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
