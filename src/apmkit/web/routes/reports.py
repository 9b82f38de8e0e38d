"""Report pages, the report API and the exports, over the report catalog of a finished run."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from apmkit.errors import ApmkitError
from apmkit.reports.framework import ReportRequest, ReportResult
from apmkit.web.auth import User
from apmkit.web.context import ApiError, Web, query, short
from apmkit.web.reports import EXPORTS, ReportQuery, ReportsBusy, ReportService


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    jobs, reports = web.jobs, web.reports

    def request_of(
        name: str, user: User, by: str, payer: str | None, period: str | None, suppress_below: int | None
    ) -> ReportRequest:
        # The scope comes from the signed-in user on the server, never from the request.
        try:
            return reports.request(
                name,
                ReportQuery(by=by, payer=short(payer), period=short(period), suppress_below=suppress_below),
                user.scope,
            )
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc

    def build(run_id: str, request: ReportRequest) -> ReportResult:
        try:
            return reports.build(run_id, request)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        except ReportsBusy:
            raise ApiError(
                503, "reports are being built for others: try again shortly", headers={"Retry-After": "5"}
            ) from None

    def audit_report(
        request: Request, user: User, run_id: str, result: ReportResult, by: str, what: str
    ) -> None:
        rows = sum(table.num_rows for table in result.tables.values())
        web.audit(request, user, what, f"run {run_id}, report {result.name}, by {by}", rows)

    @routes.get("/api/v1/reports", tags=["reports"])
    def api_reports(user: User = Depends(web.api_user("read_runs"))) -> Response:
        return JSONResponse(
            {
                "reports": [
                    {"name": r.name, "title": r.title, "description": r.description}
                    for r in reports.catalog()
                ]
            }
        )

    @routes.get("/api/v1/runs/{run_id}/reports/{name}", tags=["reports"])
    async def api_report(
        request: Request,
        run_id: str,
        name: str,
        by: str = "entity",
        payer: str | None = None,
        period: str | None = None,
        suppress_below: int | None = None,
        table: str | None = None,
        page: int = 1,
        size: int = 500,
        user: User = Depends(web.api_user("read_runs")),
    ) -> Response:
        asked = request_of(name, user, by, payer, period, suppress_below)
        result = await run_in_threadpool(build, run_id, asked)
        try:
            answer = ReportService.api_page(result, table=short(table), page=page, size=size)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        audit_report(request, user, run_id, result, by, "read_report")
        return JSONResponse(answer)

    @routes.get("/ui/runs/{run_id}/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(
        request: Request, run_id: str, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        jobs.run_dir(run_id)
        return web.render(request, "reports.html", {"job": jobs.run(run_id), "reports": reports.catalog()})

    @routes.get("/ui/runs/{run_id}/reports/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def report_page(
        request: Request,
        run_id: str,
        name: str,
        by: str = "entity",
        payer: str | None = None,
        period: str | None = None,
        suppress_below: int | None = None,
        user: User = Depends(web.page_user("read_runs")),
    ) -> Response:
        asked = request_of(name, user, by, payer, period, suppress_below)
        link = query(
            by=by,
            payer=payer,
            period=period,
            suppress_below=None if suppress_below is None else str(suppress_below),
        )
        body = reports.cached_body(run_id, asked)
        if body is None:
            result = await run_in_threadpool(build, run_id, asked)
            body = await run_in_threadpool(
                reports.keep_body, run_id, asked, result, _body(web, run_id, asked, result)
            )
        job = jobs.run(run_id)
        audit_report(request, user, run_id, body.result, by, "read_report")
        context = {
            "job": job,
            "result": body.result,
            "body": body.html,
            "by": by,
            "payer": payer or "",
            "period": period or "",
            "suppress_below": "" if suppress_below is None else suppress_below,
            "query": link,
            "exports": list(EXPORTS),
        }
        return web.render(request, "report.html", context)

    @routes.get("/ui/runs/{run_id}/reports/{name}/export.{kind}", include_in_schema=False)
    async def report_export(
        request: Request,
        run_id: str,
        name: str,
        kind: str,
        table: str | None = None,
        by: str = "entity",
        payer: str | None = None,
        period: str | None = None,
        suppress_below: int | None = None,
        user: User = Depends(web.page_user("read_runs")),
    ) -> Response:
        asked = request_of(name, user, by, payer, period, suppress_below)
        result = await run_in_threadpool(build, run_id, asked)
        try:
            if kind == "csv":
                data = ReportService.table_csv(result, table or "")
                media, filename = "text/csv; charset=utf-8", f"{run_id}-{name}-{table}.csv"
            else:
                data = await run_in_threadpool(ReportService.export, result, kind)
                media, filename = EXPORTS[kind], f"{run_id}-{name}.{kind}"
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        audit_report(request, user, run_id, result, by, "export_report")
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    return routes


def _body(web: Web, run_id: str, asked: ReportRequest, result: ReportResult) -> Callable[[], str]:
    """The report's notes, charts and tables as HTML: the part of the page that depends only on the run and the
    request (whose scope is the user's), rendered once per request and kept."""

    def render() -> str:
        link = query(
            by=asked.by,
            payer=asked.payer,
            period=asked.period,
            suppress_below=None if asked.suppress_below is None else str(asked.suppress_below),
        )
        template = web.templates.env.get_template("_report_body.html")
        return template.render(
            run_id=run_id,
            result=result,
            query=link,
            tables=ReportService.page_tables(result),
            charts=result.charts,
        )

    return render
