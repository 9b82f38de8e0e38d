"""Runs: start one in the background (page and API), its progress and status, the history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from apmkit.contracts import template_names
from apmkit.errors import ApmkitError
from apmkit.web.auth import User
from apmkit.web.context import ApiError, Web, address, json_body, text
from apmkit.web.runs import contract_from_request


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    state, jobs = web.state, web.jobs

    @routes.get("/api/v1/templates", tags=["runs"])
    def api_templates(user: User = Depends(web.api_user("start_runs"))) -> Response:
        return JSONResponse({"templates": template_names()})

    @routes.post("/api/v1/runs", tags=["runs"], status_code=202)
    async def api_start_run(request: Request, user: User = Depends(web.api_user("start_runs"))) -> Response:
        web.check_csrf(request, None)
        body = await json_body(request)
        job = await start_run(request, user, body.get("template"), body.get("contract"), body.get("period"))
        return JSONResponse({**job.to_dict(), "status_url": f"/api/v1/runs/{job.id}"}, status_code=202)

    async def start_run(request: Request, user: User, template: Any, contract: Any, period: Any) -> Any:
        if not isinstance(period, str) or not period.strip():
            raise ApiError(422, {"message": "period: required", "fields": {"period": ["required"]}})
        if (template is not None and not isinstance(template, str)) or (
            contract is not None and not isinstance(contract, str)
        ):
            raise ApiError(422, "template and contract must be text")
        try:
            document = await run_in_threadpool(contract_from_request, template or None, contract or None)
            job = jobs.start(user.name, document, period.strip())
        except ApmkitError as exc:
            head = str(exc).split(":")[0].split(",")[0].strip()
            field = head if head in ("template", "period") else "contract"
            raise ApiError(422, {"message": str(exc), "fields": {field: [str(exc)]}}) from exc
        state.audit(user.name, "start_run", f"run {job.id}", address=address(request))
        return job

    @routes.get("/api/v1/runs", tags=["runs"])
    def api_runs(
        page: int = 1,
        size: int = 20,
        status: str | None = None,
        user: User = Depends(web.api_user("read_runs")),
    ) -> Response:
        size = max(1, min(size, 100))
        found, total = state.list_jobs(
            limit=size, offset=(max(1, page) - 1) * size, status=status, kind="run"
        )
        return JSONResponse(
            {"runs": [j.to_dict() for j in found], "total": total, "page": max(1, page), "size": size}
        )

    @routes.get("/api/v1/runs/{run_id}", tags=["runs"])
    def api_run(run_id: str, user: User = Depends(web.api_user("read_runs"))) -> Response:
        job = jobs.run(run_id)
        return JSONResponse({**job.to_dict(), "steps": job.steps})

    @routes.get("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(
        request: Request, page: int = 1, user: User = Depends(web.page_user("read_runs"))
    ) -> Response:
        found, total = state.list_jobs(limit=20, offset=(max(1, page) - 1) * 20, kind="run")
        context = {
            "runs": found,
            "total": total,
            "page": max(1, page),
            "pages": max(1, -(-total // 20)),
            "templates": template_names(),
            "has_data": web.settings.data_dir is not None,
            "problem": None,
        }
        return web.render(request, "runs.html", context)

    @routes.post("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    async def start_run_page(request: Request, user: User = Depends(web.page_user("start_runs"))) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        web.check_csrf(request, text(form.get("csrf_token")))
        job = await start_run(
            request,
            user,
            text(form.get("template")) or None,
            text(form.get("contract")) or None,
            text(form.get("period")),
        )
        return RedirectResponse(f"/ui/runs/{job.id}", status_code=303)

    @routes.get("/ui/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run_id: str, user: User = Depends(web.page_user("read_runs"))) -> Response:
        job = jobs.run(run_id)
        summary_html = None
        if job.status == "done":
            # the settlement table, rendered once per run and scope (thousands of entities at 1M members)
            summary = jobs.summary(run_id, user.scope)
            template = web.templates.env.get_template("_run_summary.html")
            summary_html = web.fragments.get(
                ("run summary", run_id, user.scope),
                lambda: template.render(job=job, summary=summary, scoped=user.scope is not None),
            )
        name = "_run_status.html" if request.headers.get("HX-Request") else "run.html"
        return web.render(request, name, {"job": job, "summary_html": summary_html, "steps": job.steps})

    return routes
