"""The ASGI app: HTML pages under ``/ui`` and JSON under ``/api/v1``, one set of auth and role checks for both.

:func:`create_app` makes the services (app state, design store and runner, run jobs, reports, data status, the
sign-in throttle and hash pool), the error answers and the middleware, and includes one router per area
(:mod:`apmkit.web.routes`). The security model - sessions, CSRF, roles, the provider's scope applied on the server
- is described in :mod:`apmkit.web.context` and docs/web.md. Request bodies are bounded and every response gets
the security headers (:mod:`apmkit.web.guard`); sign-ins are throttled and hashed off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from apmkit.web.auth import UserStore
from apmkit.web.context import (
    HERE,
    ApiError,
    Forbidden,
    LoginRequired,
    Web,
    WebSettings,
    detail_text,
    make_templates,
)
from apmkit.web.data import DataStatus
from apmkit.web.guard import Hardened, HashPool, LoginThrottle
from apmkit.web.reports import ReportService
from apmkit.web.routes import audit, auth, data, design, reports, runs, statements
from apmkit.web.runs import NotFound, RunJobs
from apmkit.web.service import DesignRunner
from apmkit.web.state import AppState, default_state_url
from apmkit.web.store import DesignStore

SESSION_COOKIE = "apmkit_session"


class _HardenedFastAPI(FastAPI):
    """FastAPI whose whole middleware stack - error pages included - sits inside :class:`Hardened`."""

    def build_middleware_stack(self) -> ASGIApp:
        return Hardened(super().build_middleware_stack())


def create_app(settings: WebSettings) -> FastAPI:
    """The dashboard app for ``settings`` (``apmkit serve`` runs it with uvicorn)."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    state = AppState(
        settings.state_url or default_state_url(settings.workdir), session_max_age=settings.session_max_age
    )
    if settings.users_file is not None:
        # The older users file: its users are imported (same hash, same role) at every start.
        for imported in UserStore(settings.users_file).all():
            present = state.get_user(imported.name)
            if present is not None and (present.role, present.password_hash) == (
                imported.role,
                imported.password_hash,
            ):
                continue  # unchanged: its sessions carry on
            state.add_user(imported.name, imported.role.value, "", password_hash=imported.password_hash)
    store = DesignStore(settings.workdir / "designs")
    jobs = RunJobs(state, settings.data_dir, settings.workdir / "runs", settings.engine_name)
    web = Web(
        settings=settings,
        state=state,
        store=store,
        runner=DesignRunner(settings.data_dir, store, settings.engine_name, settings.performance_year),
        jobs=jobs,
        reports=ReportService(jobs, max_waiting=settings.report_waiting),
        data_status=DataStatus(settings.data_dir, settings.engine_name),
        throttle=LoginThrottle(settings.login_per_account, settings.login_per_address, settings.login_window),
        hashes=HashPool(settings.hash_workers),
        templates=make_templates(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        web.hashes.close()
        state.close()

    # The schema is served at /api/v1/openapi.json to signed-in users only; no interactive docs page.
    app = _HardenedFastAPI(title="apmkit", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.app_state = state
    app.state.jobs = jobs
    app.state.web = web
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _error_answers(app, web)
    for area in (auth, design, runs, statements, audit, reports, data):
        # The routes themselves join the app's router (a flat app.routes, as the OpenAPI schema and the body
        # limits' tests walk it; the routers carry no prefix or dependency of their own).
        app.router.routes.extend(area.router(web).routes)
    return app


def _error_answers(app: FastAPI, web: Web) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path
        if request.headers.get("HX-Request"):
            # htmx follows redirects inside the page; tell it to load the sign-in page instead.
            return Response(status_code=401, headers={"HX-Redirect": "/ui/login"})
        return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return web.render(
            request, "message.html", {"title": "Not allowed", "message": _FORBIDDEN}, status=403
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith("/ui/"):
            title = "Not allowed" if exc.status in (401, 403) else "Cannot do that"
            response: Response = web.render(
                request, "message.html", {"title": title, "message": detail_text(exc.detail)}, exc.status
            )
        else:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if request.url.path.startswith("/ui/"):
            return web.render(request, "message.html", {"title": "Not found", "message": str(exc)}, 404)
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        # Query parameters of the wrong type (page=abc): 422 naming the parameter, never its value.
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()})
        return JSONResponse({"detail": f"bad parameter: {', '.join(fields)}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # 404s, 405s, 413 from the body limit and the form parser's 400s: a short answer, no echo.
        if request.url.path.startswith("/ui/") and exc.status_code == 404:
            return web.render(
                request, "message.html", {"title": "Not found", "message": "No such page."}, 404
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


_FORBIDDEN = (
    "Your role does not allow this page. Viewers may read saved designs; designers may also run them; "
    "providers, payer analysts, auditors and admins read runs (docs/web.md lists what each role may do)."
)

__all__ = ["SESSION_COOKIE", "WebSettings", "create_app"]
