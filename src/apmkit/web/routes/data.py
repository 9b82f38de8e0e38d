"""Ingestion and data-quality status of the server's data folder (page and API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from apmkit.errors import ApmkitError
from apmkit.web.auth import User
from apmkit.web.context import ApiError, Web, text


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    data_status = web.data_status

    def data_context() -> dict[str, Any]:
        profile, profiled_at = data_status.profile()
        return {
            "has_data": web.settings.data_dir is not None,
            "tables": data_status.tables(),
            "ingest": data_status.ingest(),
            "profile": profile,
            "profiled_at": profiled_at,
        }

    @routes.get("/api/v1/data", tags=["data"])
    def api_data(user: User = Depends(web.api_user("read_data"))) -> Response:
        return JSONResponse(data_context())

    @routes.post("/api/v1/data/profile", tags=["data"])
    async def api_profile(request: Request, user: User = Depends(web.api_user("read_data"))) -> Response:
        web.check_csrf(request, None)
        try:
            await run_in_threadpool(data_status.compute)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        return JSONResponse(data_context())

    @routes.get("/ui/data", response_class=HTMLResponse, include_in_schema=False)
    def data_page(request: Request, user: User = Depends(web.page_user("read_data"))) -> Response:
        return web.render(request, "data.html", data_context())

    @routes.post("/ui/data/profile", include_in_schema=False)
    async def profile_page(request: Request, user: User = Depends(web.page_user("read_data"))) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        web.check_csrf(request, text(form.get("csrf_token")))
        try:
            await run_in_threadpool(data_status.compute)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        return RedirectResponse("/ui/data", status_code=303)

    return routes
