"""Report pages and API over the report catalog (:mod:`apmkit.reports.framework`), for a run of the dashboard.

Each report is built by :func:`apmkit.workspace.reports.build_report` - the call ``apmkit report`` makes - from the
run's folder, with the signed-in provider's scope passed into the request, so the report applies it inside its
query before any aggregation. Results are cached per run and request (a run's marts never change), so a report
page costs one build and then the rendering.

Scope: the signed-in provider's grant (:meth:`apmkit.web.auth.Scope.grant`, the report framework's
:class:`~apmkit.reports.framework.Scope`) is part of the request and so of every cache key: a cached result or
page body is only ever found again by a user with the same grant, and it was built with that grant applied inside
the report's query. The rule (a row is the provider's when ANY of its identifiers is granted) is the one the
dashboard's other reads apply (:mod:`apmkit.workspace.run_marts`).
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from apmkit.errors import ApmkitError, ConfigurationError
from apmkit.reports.framework import GROUPINGS, ReportInfo, ReportRequest, ReportResult, catalog
from apmkit.reports.framework import Scope as ReportScope
from apmkit.web.auth import Scope
from apmkit.web.runs import RunJobs, rows_to_csv

MAX_API_ROWS = 5000
"""Rows of one table in one API answer (``size``); pages cover the rest."""
MAX_SHOWN_ROWS = 200
"""Rows of each table shown on a report page (the exports hold every row)."""
EXPORTS: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "pdf": "application/pdf",
}


class ReportsBusy(Exception):
    """Too many report builds are running or waiting: answered 503 with Retry-After."""


@dataclass(frozen=True)
class ReportQuery:
    """The parameters a page or API call gives (validated by :meth:`ReportService.request`)."""

    by: str = "entity"
    payer: str | None = None
    period: str | None = None
    suppress_below: int | None = None


def report_scope(scope: Scope | None) -> ReportScope | None:
    """The report framework's scope for a dashboard user (None: every member)."""
    return None if scope is None else scope.grant()


@dataclass(frozen=True)
class ReportBody:
    """A report result and its page body (notes, charts and tables as HTML), kept per run and request."""

    result: ReportResult
    html: Markup


class ReportService:
    """Builds reports of the dashboard's runs, caching each result.

    Parameters
    ----------
    jobs
        The runs (their folders).
    cache_size
        Results kept (least recently used dropped first).
    """

    def __init__(self, jobs: RunJobs, cache_size: int = 64, max_waiting: int = 8):
        self.jobs = jobs
        self.cache_size = cache_size
        self.max_waiting = max_waiting
        self._waiting = 0
        # A run's marts never change: results and refusals (a table the run did not write) are both kept.
        self._cache: OrderedDict[tuple[str, ReportRequest], ReportResult | ApmkitError] = OrderedDict()
        self._lock = threading.Lock()
        # Builds run DuckDB over the marts: two at a time at most, so a burst of first views cannot thrash.
        self._builds = threading.Semaphore(2)
        self._building: dict[tuple[str, ReportRequest], threading.Lock] = {}
        # The rendered page bodies: a cached page costs the lookup and the page frame, not the tables' rendering.
        self._bodies: OrderedDict[tuple[str, ReportRequest], ReportBody] = OrderedDict()

    def cached_body(self, run_id: str, request: ReportRequest) -> ReportBody | None:
        """The kept page body of this run and request (its scope included), or None."""
        with self._lock:
            found = self._bodies.get((run_id, request))
            if found is not None:
                self._bodies.move_to_end((run_id, request))
            return found

    def keep_body(
        self, run_id: str, request: ReportRequest, result: ReportResult, render: Callable[[], str]
    ) -> ReportBody:
        """Render the page body of ``result`` (built for ``request``) and keep it."""
        body = ReportBody(result=result, html=Markup(render()))  # the template autoescapes
        with self._lock:
            self._bodies[(run_id, request)] = body
            while len(self._bodies) > self.cache_size:
                self._bodies.popitem(last=False)
        return body

    @staticmethod
    def catalog() -> list[ReportInfo]:
        return catalog()

    def request(self, name: str, query: ReportQuery, scope: Scope | None) -> ReportRequest:
        """A validated request (errors name the parameter)."""
        if name not in {info.name for info in catalog()}:
            raise ConfigurationError("report: not a report of the catalog (GET /api/v1/reports)")
        if query.by not in GROUPINGS:
            raise ConfigurationError(f"by: one of {', '.join(GROUPINGS)}")
        if query.suppress_below is not None and not 0 <= query.suppress_below <= 1000:
            raise ConfigurationError("suppress_below: a whole number from 0 to 1000")
        for label, value in (("payer", query.payer), ("period", query.period)):
            if value is not None and (len(value) > 64 or not value.strip()):
                raise ConfigurationError(f"{label}: at most 64 characters")
        return ReportRequest(
            name=name,
            by=query.by,  # type: ignore[arg-type]
            payer=query.payer,
            period=query.period,
            scope=report_scope(scope),
            suppress_below=query.suppress_below or None,
        )

    def build(self, run_id: str, request: ReportRequest) -> ReportResult:
        """The report of a finished run (cached)."""
        from apmkit.workspace.reports import build_report

        folder = self.jobs.run_dir(run_id)
        key = (run_id, request)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            with self._lock:
                # Requests waiting for a build hold a server thread each: beyond a few, answer "busy" at once
                # rather than let new report parameters tie up the threads every other page needs.
                if self._waiting >= self.max_waiting:
                    raise ReportsBusy
                self._waiting += 1
                # One build per request at a time: the others asking for it wait for that build.
                building = self._building.setdefault(key, threading.Lock())
            try:
                with building:
                    with self._lock:
                        cached = self._cache.get(key)
                    if cached is None:
                        with self._builds:
                            try:
                                cached = build_report(folder, request)
                            except ApmkitError as exc:
                                cached = exc
                        with self._lock:
                            self._cache[key] = cached
                            while len(self._cache) > self.cache_size:
                                self._cache.popitem(last=False)
            finally:
                with self._lock:
                    self._waiting -= 1
                    self._building.pop(key, None)
        if isinstance(cached, ApmkitError):
            raise cached
        return cached

    @staticmethod
    def page_tables(result: ReportResult) -> list[dict[str, Any]]:
        """Each table's columns and first :data:`MAX_SHOWN_ROWS` rows, for the page."""
        from apmkit.web.runs import table_rows

        shown = []
        for name, table in result.tables.items():
            shown.append(
                {
                    "name": name,
                    "columns": table.column_names,
                    "rows": table_rows(table.slice(0, MAX_SHOWN_ROWS)),
                    "total": table.num_rows,
                }
            )
        return shown

    @staticmethod
    def api_page(result: ReportResult, *, table: str | None, page: int, size: int) -> dict[str, Any]:
        """The report for the API: notes, charts and a page of each table (or of the one named), with totals.

        A whole report can hold a row per member; the API pages it (``size`` at most 5,000 rows) so no answer
        grows with the population. The exports hold every row.
        """
        from apmkit.web.runs import table_rows

        if table is not None and table not in result.tables:
            raise ConfigurationError("table: not a table of this report")
        size = max(1, min(size, MAX_API_ROWS))
        page = max(1, page)
        tables = {}
        for name, data in result.tables.items():
            if table is not None and name != table:
                continue
            tables[name] = {
                "rows": table_rows(data.slice((page - 1) * size, size)),
                "total": data.num_rows,
                "page": page,
                "size": size,
                "pages": max(1, -(-data.num_rows // size)),
            }
        return {
            "report": result.name,
            "title": result.title,
            "notes": result.notes,
            "tables": tables,
            "charts": result.charts,
        }

    @staticmethod
    def export(result: ReportResult, kind: str) -> bytes:
        """The report as an xlsx workbook, JSON or PDF (the files ``apmkit report --out`` writes)."""
        from apmkit.workspace.reports import export_report, report_to_excel, report_to_json

        if kind == "xlsx":
            return report_to_excel(result)
        if kind == "json":
            return report_to_json(result).encode("utf-8")
        if kind == "pdf":
            with tempfile.TemporaryDirectory() as folder:
                written = export_report(result, Path(folder) / "report.pdf")
                return written.read_bytes()
        raise ConfigurationError(f"export: one of {', '.join(EXPORTS)}")

    @staticmethod
    def table_csv(result: ReportResult, table: str) -> bytes:
        from apmkit.web.runs import table_rows

        if table not in result.tables:
            raise ConfigurationError("table: not a table of this report")
        return rows_to_csv(table_rows(result.tables[table]))


__all__ = [
    "EXPORTS",
    "MAX_SHOWN_ROWS",
    "ReportBody",
    "ReportQuery",
    "ReportService",
    "ReportsBusy",
    "report_scope",
]
