"""A finished run's statements (every traced line), the benchmark build-up, members and attribution with their
exports - each read scoped to the signed-in user on the server, member-level reads audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from apmkit.web.auth import User
from apmkit.web.context import Forbidden, Web, csv_response, query, short, target
from apmkit.web.runs import rows_to_csv

STATEMENT_FILES = {
    "statement.json": "application/json",
    "statement.html": "text/html; charset=utf-8",
    "statement.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    jobs = web.jobs

    # ---- API -----------------------------------------------------------------------------------------

    @routes.get("/api/v1/runs/{run_id}/summary", tags=["runs"])
    def api_summary(run_id: str, user: User = Depends(web.api_user("read_runs"))) -> Response:
        return JSONResponse({"entities": jobs.summary(run_id, user.scope)})

    @routes.get("/api/v1/runs/{run_id}/statements/{entity}", tags=["runs"])
    def api_statement(run_id: str, entity: str, user: User = Depends(web.api_user("read_runs"))) -> Response:
        return JSONResponse(jobs.statement(run_id, entity, user.scope))

    @routes.get("/api/v1/runs/{run_id}/statements/{entity}/benchmark", tags=["runs"])
    def api_benchmark(run_id: str, entity: str, user: User = Depends(web.api_user("read_runs"))) -> Response:
        return JSONResponse(jobs.benchmark(run_id, entity, user.scope))

    @routes.get("/api/v1/runs/{run_id}/members", tags=["runs"])
    def api_members(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        size: int = 50,
        user: User = Depends(web.api_user("read_members")),
    ) -> Response:
        found = jobs.members(
            run_id, user.scope, entity=short(entity), member=short(member), page=page, size=size
        )
        web.audit(request, user, "read_member_detail", target(run_id, entity, member, page), len(found.rows))
        return JSONResponse(found.to_dict())

    @routes.get("/api/v1/runs/{run_id}/attribution", tags=["runs"])
    def api_attribution(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        attributed: bool | None = None,
        page: int = 1,
        size: int = 50,
        user: User = Depends(web.api_user("read_members")),
    ) -> Response:
        found = jobs.attribution(
            run_id,
            user.scope,
            entity=short(entity),
            member=short(member),
            attributed=attributed,
            page=page,
            size=size,
        )
        web.audit(request, user, "read_attribution", target(run_id, entity, member, page), len(found.rows))
        return JSONResponse(found.to_dict())

    # ---- pages -----------------------------------------------------------------------------------------

    @routes.get("/ui/runs/{run_id}/statements/{entity}", response_class=HTMLResponse, include_in_schema=False)
    def statement_page(
        request: Request, run_id: str, entity: str, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        statement = jobs.statement(run_id, entity, user.scope)
        return web.render(request, "statement.html", {"job": jobs.run(run_id), "statement": statement})

    @routes.get("/ui/runs/{run_id}/statements/{entity}/lines.csv", include_in_schema=False)
    def statement_export(
        run_id: str, entity: str, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        statement = jobs.statement(run_id, entity, user.scope)
        return csv_response(rows_to_csv(statement["lines"]), f"{run_id}-{entity}-statement.csv")

    @routes.get(
        "/ui/runs/{run_id}/statements/{entity}/benchmark",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def benchmark_page(
        request: Request, run_id: str, entity: str, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        built = jobs.benchmark(run_id, entity, user.scope)
        return web.render(request, "benchmark.html", {"job": jobs.run(run_id), "benchmark": built})

    @routes.get("/ui/runs/{run_id}/members", response_class=HTMLResponse, include_in_schema=False)
    def members_page(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        user: User = Depends(web.page_user("read_members")),
    ) -> Response:
        found = jobs.members(
            run_id, user.scope, entity=short(entity), member=short(member), page=page, size=50
        )
        web.audit(request, user, "read_member_detail", target(run_id, entity, member, page), len(found.rows))
        context = {
            "job": jobs.run(run_id),
            "found": found.to_dict(),
            "entity": entity or "",
            "member": member or "",
            "query": query(entity=entity, member=member),
        }
        return web.render(request, "members.html", context)

    @routes.get("/ui/runs/{run_id}/members.csv", include_in_schema=False)
    def members_export(
        request: Request,
        run_id: str,
        entity: str | None = None,
        user: User = Depends(web.page_user("read_members")),
    ) -> Response:
        found = jobs.members(run_id, user.scope, entity=short(entity), page=1, size=None)
        web.audit(request, user, "export_member_detail", target(run_id, entity, None, None), len(found.rows))
        return csv_response(rows_to_csv(found.rows), f"{run_id}-members.csv")

    @routes.get("/ui/runs/{run_id}/attribution", response_class=HTMLResponse, include_in_schema=False)
    def attribution_page(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        attributed: str | None = None,
        page: int = 1,
        user: User = Depends(web.page_user("read_members")),
    ) -> Response:
        flag = {"yes": True, "no": False}.get(attributed or "")
        found = jobs.attribution(
            run_id,
            user.scope,
            entity=short(entity),
            member=short(member),
            attributed=flag,
            page=page,
            size=50,
        )
        web.audit(request, user, "read_attribution", target(run_id, entity, member, page), len(found.rows))
        context = {
            "job": jobs.run(run_id),
            "found": found.to_dict(),
            "entity": entity or "",
            "member": member or "",
            "attributed": attributed or "",
            "query": query(entity=entity, member=member, attributed=attributed),
        }
        return web.render(request, "attribution.html", context)

    @routes.get("/ui/runs/{run_id}/files/{name}", include_in_schema=False)
    def run_file(
        request: Request, run_id: str, name: str, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        if user.scope is not None:
            # The statement files hold every entity: a provider exports its own lines instead (lines.csv).
            raise Forbidden
        path = jobs.file(run_id, name)
        return FileResponse(
            path,
            media_type=STATEMENT_FILES[name],
            filename=f"{run_id}-{name}",
            content_disposition_type="attachment",
        )

    return routes
