"""The design worksheet, its live partials, saved designs and their files; the design API and its background
jobs."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from apmkit.design.capability import DOMAINS, RUBRIC
from apmkit.design.worksheet import (
    PTAC_CRITERIA,
    STARTING_POINTS,
    SUPPORTED_MEASURES,
    DesignAnswers,
    parse_answers,
    ptac_review,
)
from apmkit.errors import ApmkitError
from apmkit.web import charts
from apmkit.web.auth import User
from apmkit.web.context import ApiError, Web, json_body
from apmkit.web.forms import (
    FieldErrors,
    FormValues,
    answers_from_form,
    check_simulation,
    field_errors,
    long_fields,
    simulation_defaults,
)
from apmkit.web.service import STARTING_POINT_LABELS, starting_point_summary
from apmkit.web.store import DOWNLOADS

MEDIA_TYPES = {
    "contract.yaml": "application/yaml",
    "answers.yaml": "application/yaml",
    "design.md": "text/markdown; charset=utf-8",
    "design.html": "text/html; charset=utf-8",
    "design.json": "application/json",
}


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    store, runner, jobs = web.store, web.runner, web.jobs

    def worksheet_context(values: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
        chosen = values.get("starting_point") or "pioneer"
        return {
            "values": values,
            "errors": errors,
            "starting_points": STARTING_POINT_LABELS,
            "starting": starting_point_summary(chosen),
            "ptac_criteria": PTAC_CRITERIA,
            "ptac": _ptac_checklist(values),
            "measures": SUPPORTED_MEASURES,
            "domains": DOMAINS,
            "rubric": RUBRIC,
            "simulation_defaults": simulation_defaults(),
            "has_data": web.settings.data_dir is not None,
        }

    @routes.get("/ui/design", response_class=HTMLResponse, include_in_schema=False)
    def worksheet(request: Request, user: User = Depends(web.page_user("run_designs"))) -> Response:
        return web.render(request, "design.html", worksheet_context({"starting_point": "pioneer"}, {}))

    @routes.post("/ui/design", response_class=HTMLResponse, include_in_schema=False)
    async def submit_worksheet(
        request: Request, user: User = Depends(web.page_user("run_designs"))
    ) -> Response:
        form = _form_values(await request.form(max_files=0, max_fields=200))
        web.check_csrf(request, next(iter(form.get("csrf_token", [])), None))
        errors = long_fields(form)
        if errors:
            # Over-long answers are neither parsed nor echoed back into the page.
            form = {k: v for k, v in form.items() if k not in errors}
        else:
            data, errors = answers_from_form(form)
        flat = {k: v[0] if len(v) == 1 and k != "measures" else v for k, v in form.items()}
        if not errors:
            try:
                answers = parse_answers(data, source="worksheet")
                errors = check_simulation(answers)
                if errors:
                    return web.render(request, "design.html", worksheet_context(flat, errors), status=422)
                # The run is synchronous (DuckDB, Decimal settlement): keep it off the event loop.
                saved, _ = await run_in_threadpool(runner.run, answers, user.name)
            except ApmkitError as exc:
                errors = field_errors(exc)
            else:
                return RedirectResponse(f"/ui/designs/{saved.id}", status_code=303)
        return web.render(request, "design.html", worksheet_context(flat, errors), status=422)

    @routes.get("/ui/design/starting-point", response_class=HTMLResponse, include_in_schema=False)
    def starting_point_partial(
        request: Request, starting_point: str = "", user: User = Depends(web.page_user("run_designs"))
    ) -> Response:
        return web.render(
            request, "_starting_point.html", {"starting": starting_point_summary(starting_point)}
        )

    @routes.post("/ui/design/ptac", response_class=HTMLResponse, include_in_schema=False)
    async def ptac_partial(request: Request, user: User = Depends(web.page_user("run_designs"))) -> Response:
        form = _form_values(await request.form(max_files=0, max_fields=200))
        web.check_csrf(request, None)
        if long_fields(form):
            raise ApiError(422, "an answer is too long")
        flat = {k: v[0] for k, v in form.items() if v}
        return web.render(request, "_ptac.html", {"ptac": _ptac_checklist(flat)})

    @routes.get("/ui/designs", response_class=HTMLResponse, include_in_schema=False)
    def designs_page(request: Request, user: User = Depends(web.page_user("read_designs"))) -> Response:
        return web.render(request, "designs.html", {"designs": store.list()})

    @routes.get("/ui/designs/{design_id}", response_class=HTMLResponse, include_in_schema=False)
    def design_page(
        request: Request, design_id: str, user: User = Depends(web.page_user("read_designs"))
    ) -> Response:
        meta = store.get(design_id)
        summary = store.summary(design_id)
        if meta is None or summary is None:
            return web.render(
                request, "message.html", {"title": "Not found", "message": "No such design."}, 404
            )
        answers = parse_answers(store.answers(design_id), source="saved answers")
        context = {
            "meta": meta,
            "summary": summary,
            "ptac": ptac_review(answers),
            "answers": answers,
            "simulation_chart": charts.simulation_chart(summary.get("simulation")),
            "capability_chart": charts.capability_chart(summary.get("capability")),
            "downloads": DOWNLOADS,
        }
        return web.render(request, "result.html", context)

    @routes.get("/ui/designs/{design_id}/files/{name}", include_in_schema=False)
    def design_file(
        design_id: str, name: str, view: bool = False, user: User = Depends(web.page_user("read_designs"))
    ) -> Response:
        text = store.read_file(design_id, name)
        if text is None:
            return PlainTextResponse("not found", status_code=404)
        headers = {} if view else {"Content-Disposition": f'attachment; filename="{design_id}-{name}"'}
        if name == "design.html":
            # The document is shown in a sandboxed frame; it needs no script and may load nothing.
            headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
            )
        return Response(text, media_type=MEDIA_TYPES[name], headers=headers)

    @routes.post("/api/v1/design")
    async def api_design(request: Request, user: User = Depends(web.api_user("run_designs"))) -> Response:
        web.check_csrf(request, None)
        body = await json_body(request)
        try:
            answers: DesignAnswers = parse_answers(body, source="request body")
            problems = check_simulation(answers)
            if problems:
                raise ApiError(422, {"message": "request body: out of range", "fields": problems})
            saved, outcome = await run_in_threadpool(runner.run, answers, user.name)
        except ApmkitError as exc:
            raise ApiError(422, {"message": str(exc), "fields": field_errors(exc)}) from exc
        summary = json.loads(outcome.files["design.json"])
        return JSONResponse({"id": saved.id, **summary, "files": _file_urls(saved.id)}, status_code=201)

    @routes.post("/api/v1/simulations", tags=["designs"], status_code=202)
    async def api_simulation(request: Request, user: User = Depends(web.api_user("run_designs"))) -> Response:
        """The answers of POST /api/v1/design, run in the background: 202 and a job to poll."""
        web.check_csrf(request, None)
        body = await json_body(request)
        try:
            answers: DesignAnswers = parse_answers(body, source="request body")
        except ApmkitError as exc:
            raise ApiError(422, {"message": str(exc), "fields": field_errors(exc)}) from exc
        problems = check_simulation(answers)
        if problems:
            raise ApiError(422, {"message": "request body: out of range", "fields": problems})
        job = jobs.start_design(user.name, answers, runner)
        return JSONResponse({**job.to_dict(), "status_url": f"/api/v1/jobs/{job.id}"}, status_code=202)

    @routes.get("/api/v1/jobs/{job_id}", tags=["designs"])
    def api_job(job_id: str, user: User = Depends(web.api_user(None))) -> Response:
        job = jobs.job(job_id)
        may = user.may("read_runs") if job.kind == "run" else user.may("read_designs")
        if not may:
            raise ApiError(403, f"the {user.role.value} role may not do this")
        return JSONResponse(job.to_dict())

    @routes.get("/api/v1/designs")
    def api_designs(user: User = Depends(web.api_user("read_designs"))) -> Response:
        return JSONResponse({"designs": [d.to_dict() for d in store.list()]})

    @routes.get("/api/v1/designs/{design_id}")
    def api_saved_design(design_id: str, user: User = Depends(web.api_user("read_designs"))) -> Response:
        meta = store.get(design_id)
        summary = store.summary(design_id)
        if meta is None or summary is None:
            raise ApiError(404, "no such design")
        return JSONResponse({**meta.to_dict(), **summary, "files": _file_urls(design_id)})

    return routes


def _ptac_checklist(values: dict[str, Any]) -> list[dict[str, Any]]:
    # The live checklist reads only the PTAC answers, while the rest of the worksheet may still be blank, so
    # ptac_review gets answers that are complete apart from them (name and starting point are placeholders).
    answered = {name: str(values.get(f"ptac_{name}", "")) for name, _ in PTAC_CRITERIA}
    draft = parse_answers(
        {
            "name": "checklist",
            "starting_point": next(iter(STARTING_POINTS)),
            "apm_type": {"ptac": {k: v for k, v in answered.items() if v.strip()}},
        },
        source="worksheet",
    )
    return ptac_review(draft)


def _form_values(form: Any) -> FormValues:
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


def _file_urls(design_id: str) -> dict[str, str]:
    return {name: f"/ui/designs/{design_id}/files/{name}" for name in DOWNLOADS}
