"""The ASGI app: HTML pages under ``/ui`` and JSON under ``/api/v1``, one set of auth and role checks for both.

Security model (docs/web.md): users, server-side sessions, the audit log and jobs live in the app-state database
(:mod:`apmkit.web.state`); the signed, HttpOnly, SameSite=Lax cookie carries only a random session token and the
CSRF token, and the session row is looked up on every request, so signing out, a password change or removing a
user ends the session at once. Every POST needs the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``). Unauthenticated pages redirect to the sign-in page, unauthenticated API calls get 401, a role
without the permission gets 403. A provider's :class:`~apmkit.web.auth.Scope` is passed to every read of run
data (:mod:`apmkit.web.runs`), which filters on the server. Request bodies are bounded and every response gets
the security headers (:mod:`apmkit.web.guard`); sign-ins are throttled and hashed off the event loop.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from apmkit.contracts import template_names
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
from apmkit.web.auth import User, UserStore, csrf_matches, new_csrf_token
from apmkit.web.data import DataStatus
from apmkit.web.forms import (
    FieldErrors,
    FormValues,
    answers_from_form,
    check_simulation,
    field_errors,
    long_fields,
    simulation_defaults,
)
from apmkit.web.guard import (
    BadJson,
    Hardened,
    HashPool,
    LoginThrottle,
    parse_json,
)
from apmkit.web.reports import EXPORTS, ReportQuery, ReportsBusy, ReportService
from apmkit.web.runs import RUN_STAGES, NotFound, RunJobs, contract_from_request, rows_to_csv
from apmkit.web.service import STARTING_POINT_LABELS, DesignRunner, starting_point_summary
from apmkit.web.state import AppState, default_state_url
from apmkit.web.store import DOWNLOADS, DesignStore

HERE = Path(__file__).parent
SESSION_COOKIE = "apmkit_session"
CSRF_HEADER = "X-CSRF-Token"
MEDIA_TYPES = {
    "contract.yaml": "application/yaml",
    "answers.yaml": "application/yaml",
    "design.md": "text/markdown; charset=utf-8",
    "design.html": "text/html; charset=utf-8",
    "design.json": "application/json",
}
STATEMENT_FILES = {
    "statement.json": "application/json",
    "statement.html": "text/html; charset=utf-8",
    "statement.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_NAME_CHARS = 64
MAX_PASSWORD_CHARS = 1024

log = logging.getLogger("apmkit.web")


@dataclass(frozen=True)
class WebSettings:
    """How the server runs.

    Attributes
    ----------
    users_file
        Optional YAML users file (``apmkit web add-user``), imported into the state database at start.
    workdir
        Server-side folder of saved designs, runs and (by default) the state database ``state.db``.
    data_dir
        Canonical tables the simulations and runs read; None = designs are not simulated, runs cannot start.
    state_url
        SQLAlchemy URL of the app state; None = ``sqlite:///<workdir>/state.db``.
    secret
        Key that signs session cookies (``APMKIT_WEB_SECRET``; random per process when not given).
    https_only
        Mark the session cookie Secure (behind TLS).
    login_per_account, login_per_address, login_window
        Failed sign-ins allowed per user name and per client address within ``login_window`` seconds.
    """

    users_file: Path | None
    workdir: Path
    data_dir: Path | None = None
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    engine_name: str = "duckdb"
    performance_year: int = 2025
    https_only: bool = False
    session_max_age: int = 8 * 3600
    state_url: str | None = None
    login_per_account: int = 5
    login_per_address: int = 20
    login_window: float = 900.0
    hash_workers: int = 2
    report_waiting: int = 8
    """Report requests that may wait for a build at once; more are answered 503 (each holds a server thread)."""


class LoginRequired(Exception):
    """No valid session on a page: redirect to the sign-in page."""


class Forbidden(Exception):
    """Signed in, but the role lacks the permission."""


class ApiError(Exception):
    """An API error answered as JSON ``{"detail": ...}``."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = headers


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
    runner = DesignRunner(settings.data_dir, store, settings.engine_name, settings.performance_year)
    jobs = RunJobs(state, settings.data_dir, settings.workdir / "runs", settings.engine_name)
    reports = ReportService(jobs, max_waiting=settings.report_waiting)
    data_status = DataStatus(settings.data_dir, settings.engine_name)
    throttle = LoginThrottle(settings.login_per_account, settings.login_per_address, settings.login_window)
    hashes = HashPool(settings.hash_workers)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = _money
    templates.env.filters["number"] = _number

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        hashes.close()
        state.close()

    # The schema is served at /api/v1/openapi.json to signed-in users only; no interactive docs page.
    app = _HardenedFastAPI(title="apmkit", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.app_state = state
    app.state.jobs = jobs
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ---- sessions, roles, CSRF -------------------------------------------------------------------------

    def signed_in(request: Request) -> User | None:
        if "user" in request.scope.get("state", {}):
            cached: User | None = request.state.user
            return cached
        token = request.session.get("sid")
        user = state.session_user(token) if isinstance(token, str) and len(token) < 100 else None
        request.state.user = user
        return user

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = new_csrf_token()
            request.session["csrf"] = token
        return token

    def page_user(permission: str | None) -> Callable[[Request], User]:
        # permission None: any signed-in user.
        def check(request: Request) -> User:
            user = signed_in(request)
            if user is None:
                raise LoginRequired
            if permission is not None and not user.may(permission):
                raise Forbidden
            return user

        return check

    def api_user(permission: str | None) -> Callable[[Request], User]:
        def check(request: Request) -> User:
            user = signed_in(request)
            if user is None:
                raise ApiError(401, "sign in first (POST /api/v1/login)")
            if permission is not None and not user.may(permission):
                raise ApiError(403, f"the {user.role.value} role may not do this")
            return user

        return check

    def check_csrf(request: Request, submitted: str | None) -> None:
        given = submitted or request.headers.get(CSRF_HEADER)
        if not csrf_matches(request.session.get("csrf"), given):
            raise ApiError(403, "missing or wrong CSRF token")

    def address(request: Request) -> str:
        return request.client.host if request.client else ""

    def audit(request: Request, user: User, action: str, target: str, rows: int | None = None) -> None:
        state.audit(user.name, action, target, rows=rows, address=address(request))

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path
        if request.headers.get("HX-Request"):
            # htmx follows redirects inside the page; tell it to load the sign-in page instead.
            return Response(status_code=401, headers={"HX-Redirect": "/ui/login"})
        return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "message.html", {"title": "Not allowed", "message": _FORBIDDEN}, status=403)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith("/ui/"):
            title = "Not allowed" if exc.status in (401, 403) else "Cannot do that"
            response: Response = render(
                request, "message.html", {"title": title, "message": _detail_text(exc.detail)}, exc.status
            )
        else:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if request.url.path.startswith("/ui/"):
            return render(request, "message.html", {"title": "Not found", "message": str(exc)}, 404)
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
            return render(request, "message.html", {"title": "Not found", "message": "No such page."}, 404)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        user = signed_in(request)
        base = {"user": user, "csrf_token": csrf_token(request)}
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    # ---- health, schema ---------------------------------------------------------------------------------

    @app.get("/api/v1/health", include_in_schema=False)
    async def health() -> Response:
        # Liveness only: no version, no counts, no names. Async, so it never waits for a worker thread.
        return JSONResponse({"status": "ok"})

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi_schema(user: User = Depends(api_user(None))) -> Response:
        return JSONResponse(app.openapi())

    # ---- sign-in ------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        user = signed_in(request)
        return RedirectResponse(_landing(user) if user else "/ui/login", status_code=303)

    @app.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "") -> Response:
        return render(request, "login.html", {"next": _local(next), "failed": False})

    async def authenticate(request: Request, username: str, password: str) -> User | None:
        if len(username) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
            return None
        wait = throttle.retry_after(username, address(request))
        if wait is not None:
            raise ApiError(
                429, f"too many failed sign-ins: try again in {wait} s", headers={"Retry-After": str(wait)}
            )
        # scrypt takes tens of milliseconds and 16 MB: it runs in its own small thread pool.
        user = await hashes.run(lambda: state.authenticate(username, password))
        if user is None:
            throttle.failed(username, address(request))
            log.info("failed sign-in")
        else:
            throttle.succeeded(username)
        return user

    def start_session(request: Request, user: User) -> None:
        # A fresh session on sign-in: nothing from the anonymous session (its CSRF token) carries over.
        request.session.clear()
        request.session.update(sid=state.create_session(user), csrf=new_csrf_token())
        request.state.user = user
        state.audit(user.name, "sign_in", "session", address=address(request))
        log.info("%s signed in (%s)", user.name, user.role.value)

    def end_session(request: Request) -> None:
        token = request.session.get("sid")
        if isinstance(token, str):
            state.revoke_session(token)
        request.session.clear()

    @app.post("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        check_csrf(request, _text(form.get("csrf_token")))
        target = _local(_text(form.get("next")) or "")
        user = await authenticate(
            request, _text(form.get("username")) or "", _text(form.get("password")) or ""
        )
        if user is None:
            return render(request, "login.html", {"next": target, "failed": True}, status=401)
        start_session(request, user)
        return RedirectResponse(target or _landing(user), status_code=303)

    @app.post("/ui/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        check_csrf(request, _text(form.get("csrf_token")))
        end_session(request)
        return RedirectResponse("/ui/login", status_code=303)

    @app.get("/ui/account", response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request, user: User = Depends(page_user(None))) -> Response:
        return render(request, "account.html", {"failed": None})

    @app.post("/ui/account/password", response_class=HTMLResponse, include_in_schema=False)
    async def change_password_page(request: Request, user: User = Depends(page_user(None))) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        check_csrf(request, _text(form.get("csrf_token")))
        problem = await change_password(
            request, user, _text(form.get("current")) or "", _text(form.get("new")) or ""
        )
        if problem:
            return render(request, "account.html", {"failed": problem}, status=422)
        return RedirectResponse("/ui/login", status_code=303)

    async def change_password(request: Request, user: User, current: str, new: str) -> str | None:
        if await authenticate(request, user.name, current) is None:
            return "The current password is wrong."
        if len(new) > MAX_PASSWORD_CHARS:
            return "The new password is too long."
        try:
            await hashes.run(lambda: state.set_password(user.name, new))
        except ApmkitError as exc:
            return str(exc)
        # set_password ended every session of the user, this one too: sign in again with the new password.
        request.session.clear()
        state.audit(user.name, "password_change", "account", address=address(request))
        return None

    # ---- the worksheet ----------------------------------------------------------------------------------

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
            "has_data": settings.data_dir is not None,
        }

    @app.get("/ui/design", response_class=HTMLResponse, include_in_schema=False)
    def worksheet(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        return render(request, "design.html", worksheet_context({"starting_point": "pioneer"}, {}))

    @app.post("/ui/design", response_class=HTMLResponse, include_in_schema=False)
    async def submit_worksheet(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        form = _form_values(await request.form(max_files=0, max_fields=200))
        check_csrf(request, next(iter(form.get("csrf_token", [])), None))
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
                    return render(request, "design.html", worksheet_context(flat, errors), status=422)
                # The run is synchronous (DuckDB, Decimal settlement): keep it off the event loop.
                saved, _ = await run_in_threadpool(runner.run, answers, user.name)
            except ApmkitError as exc:
                errors = field_errors(exc)
            else:
                return RedirectResponse(f"/ui/designs/{saved.id}", status_code=303)
        return render(request, "design.html", worksheet_context(flat, errors), status=422)

    @app.get("/ui/design/starting-point", response_class=HTMLResponse, include_in_schema=False)
    def starting_point_partial(
        request: Request, starting_point: str = "", user: User = Depends(page_user("run_designs"))
    ) -> Response:
        return render(request, "_starting_point.html", {"starting": starting_point_summary(starting_point)})

    @app.post("/ui/design/ptac", response_class=HTMLResponse, include_in_schema=False)
    async def ptac_partial(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        form = _form_values(await request.form(max_files=0, max_fields=200))
        check_csrf(request, None)
        if long_fields(form):
            raise ApiError(422, "an answer is too long")
        flat = {k: v[0] for k, v in form.items() if v}
        return render(request, "_ptac.html", {"ptac": _ptac_checklist(flat)})

    # ---- saved designs ----------------------------------------------------------------------------------

    @app.get("/ui/designs", response_class=HTMLResponse, include_in_schema=False)
    def designs_page(request: Request, user: User = Depends(page_user("read_designs"))) -> Response:
        return render(request, "designs.html", {"designs": store.list()})

    @app.get("/ui/designs/{design_id}", response_class=HTMLResponse, include_in_schema=False)
    def design_page(
        request: Request, design_id: str, user: User = Depends(page_user("read_designs"))
    ) -> Response:
        meta = store.get(design_id)
        summary = store.summary(design_id)
        if meta is None or summary is None:
            return render(request, "message.html", {"title": "Not found", "message": "No such design."}, 404)
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
        return render(request, "result.html", context)

    @app.get("/ui/designs/{design_id}/files/{name}", include_in_schema=False)
    def design_file(
        design_id: str, name: str, view: bool = False, user: User = Depends(page_user("read_designs"))
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

    # ---- JSON API: sign-in, account --------------------------------------------------------------------

    @app.post("/api/v1/login", tags=["session"])
    async def api_login(request: Request) -> Response:
        # Cross-site forms cannot send application/json without a CORS preflight, which this app never grants.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ApiError(415, 'send JSON: {"username": ..., "password": ...}')
        body = await _json_body(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ApiError(422, "username and password must be text")
        user = await authenticate(request, username, password)
        if user is None:
            raise ApiError(401, "wrong user name or password")
        start_session(request, user)
        return JSONResponse(
            {"user": user.name, "role": user.role.value, "csrf_token": request.session["csrf"]}
        )

    @app.post("/api/v1/logout", tags=["session"])
    def api_logout(request: Request, user: User = Depends(api_user(None))) -> Response:
        check_csrf(request, None)
        state.audit(user.name, "sign_out", "session", address=address(request))
        end_session(request)
        return JSONResponse({"signed_out": True})

    @app.post("/api/v1/password", tags=["session"])
    async def api_password(request: Request, user: User = Depends(api_user(None))) -> Response:
        check_csrf(request, None)
        body = await _json_body(request)
        current, new = body.get("current"), body.get("new")
        if not isinstance(current, str) or not isinstance(new, str):
            raise ApiError(422, "current and new must be text")
        problem = await change_password(request, user, current, new)
        if problem:
            raise ApiError(422, problem)
        return JSONResponse({"changed": True, "signed_out": True})

    @app.get("/api/v1/me", tags=["session"])
    def api_me(user: User = Depends(api_user(None))) -> Response:
        scope = user.scope.to_dict() if user.scope is not None else None
        return JSONResponse({"user": user.name, "role": user.role.value, "scope": scope})

    @app.post("/api/v1/design")
    async def api_design(request: Request, user: User = Depends(api_user("run_designs"))) -> Response:
        check_csrf(request, None)
        body = await _json_body(request)
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

    @app.post("/api/v1/simulations", tags=["designs"], status_code=202)
    async def api_simulation(request: Request, user: User = Depends(api_user("run_designs"))) -> Response:
        """The answers of POST /api/v1/design, run in the background: 202 and a job to poll."""
        check_csrf(request, None)
        body = await _json_body(request)
        try:
            answers: DesignAnswers = parse_answers(body, source="request body")
        except ApmkitError as exc:
            raise ApiError(422, {"message": str(exc), "fields": field_errors(exc)}) from exc
        problems = check_simulation(answers)
        if problems:
            raise ApiError(422, {"message": "request body: out of range", "fields": problems})
        job = jobs.start_design(user.name, answers, runner)
        return JSONResponse({**job.to_dict(), "status_url": f"/api/v1/jobs/{job.id}"}, status_code=202)

    @app.get("/api/v1/jobs/{job_id}", tags=["designs"])
    def api_job(job_id: str, user: User = Depends(api_user(None))) -> Response:
        job = jobs.job(job_id)
        may = user.may("read_runs") if job.kind == "run" else user.may("read_designs")
        if not may:
            raise ApiError(403, f"the {user.role.value} role may not do this")
        return JSONResponse(job.to_dict())

    @app.get("/api/v1/designs")
    def api_designs(user: User = Depends(api_user("read_designs"))) -> Response:
        return JSONResponse({"designs": [d.to_dict() for d in store.list()]})

    @app.get("/api/v1/designs/{design_id}")
    def api_saved_design(design_id: str, user: User = Depends(api_user("read_designs"))) -> Response:
        meta = store.get(design_id)
        summary = store.summary(design_id)
        if meta is None or summary is None:
            raise ApiError(404, "no such design")
        return JSONResponse({**meta.to_dict(), **summary, "files": _file_urls(design_id)})

    # ---- runs: API -------------------------------------------------------------------------------------

    @app.get("/api/v1/templates", tags=["runs"])
    def api_templates(user: User = Depends(api_user("start_runs"))) -> Response:
        return JSONResponse({"templates": template_names()})

    @app.post("/api/v1/runs", tags=["runs"], status_code=202)
    async def api_start_run(request: Request, user: User = Depends(api_user("start_runs"))) -> Response:
        check_csrf(request, None)
        body = await _json_body(request)
        job = await start_run(request, user, body.get("template"), body.get("contract"), body.get("period"))
        return JSONResponse({**job.to_dict(), "status_url": f"/api/v1/runs/{job.id}"}, status_code=202)

    async def start_run(request: Request, user: User, template: Any, text: Any, period: Any) -> Any:
        if not isinstance(period, str) or not period.strip():
            raise ApiError(422, {"message": "period: required", "fields": {"period": ["required"]}})
        if (template is not None and not isinstance(template, str)) or (
            text is not None and not isinstance(text, str)
        ):
            raise ApiError(422, "template and contract must be text")
        try:
            contract = await run_in_threadpool(contract_from_request, template or None, text or None)
            job = jobs.start(user.name, contract, period.strip())
        except ApmkitError as exc:
            head = str(exc).split(":")[0].split(",")[0].strip()
            field = head if head in ("template", "period") else "contract"
            raise ApiError(422, {"message": str(exc), "fields": {field: [str(exc)]}}) from exc
        state.audit(user.name, "start_run", f"run {job.id}", address=address(request))
        return job

    @app.get("/api/v1/runs", tags=["runs"])
    def api_runs(
        page: int = 1, size: int = 20, status: str | None = None, user: User = Depends(api_user("read_runs"))
    ) -> Response:
        size = max(1, min(size, 100))
        found, total = state.list_jobs(
            limit=size, offset=(max(1, page) - 1) * size, status=status, kind="run"
        )
        return JSONResponse(
            {"runs": [j.to_dict() for j in found], "total": total, "page": max(1, page), "size": size}
        )

    @app.get("/api/v1/runs/{run_id}", tags=["runs"])
    def api_run(run_id: str, user: User = Depends(api_user("read_runs"))) -> Response:
        job = jobs.run(run_id)
        return JSONResponse({**job.to_dict(), "steps": RUN_STAGES})

    @app.get("/api/v1/runs/{run_id}/summary", tags=["runs"])
    def api_summary(run_id: str, user: User = Depends(api_user("read_runs"))) -> Response:
        return JSONResponse({"entities": jobs.summary(run_id, user.scope)})

    @app.get("/api/v1/runs/{run_id}/statements/{entity}", tags=["runs"])
    def api_statement(run_id: str, entity: str, user: User = Depends(api_user("read_runs"))) -> Response:
        return JSONResponse(jobs.statement(run_id, entity, user.scope))

    @app.get("/api/v1/runs/{run_id}/statements/{entity}/benchmark", tags=["runs"])
    def api_benchmark(run_id: str, entity: str, user: User = Depends(api_user("read_runs"))) -> Response:
        return JSONResponse(jobs.benchmark(run_id, entity, user.scope))

    @app.get("/api/v1/runs/{run_id}/members", tags=["runs"])
    def api_members(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        size: int = 50,
        user: User = Depends(api_user("read_members")),
    ) -> Response:
        found = jobs.members(
            run_id, user.scope, entity=_short(entity), member=_short(member), page=page, size=size
        )
        audit(request, user, "read_member_detail", _target(run_id, entity, member, page), len(found.rows))
        return JSONResponse(found.to_dict())

    @app.get("/api/v1/runs/{run_id}/attribution", tags=["runs"])
    def api_attribution(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        attributed: bool | None = None,
        page: int = 1,
        size: int = 50,
        user: User = Depends(api_user("read_members")),
    ) -> Response:
        found = jobs.attribution(
            run_id,
            user.scope,
            entity=_short(entity),
            member=_short(member),
            attributed=attributed,
            page=page,
            size=size,
        )
        audit(request, user, "read_attribution", _target(run_id, entity, member, page), len(found.rows))
        return JSONResponse(found.to_dict())

    @app.get("/api/v1/audit", tags=["audit"])
    def api_audit(
        page: int = 1,
        size: int = 50,
        who: str | None = None,
        action: str | None = None,
        user: User = Depends(api_user("read_audit")),
    ) -> Response:
        size = max(1, min(size, 500))
        entries, total = state.audit_log(
            user=_short(who), action=_short(action), limit=size, offset=(max(1, page) - 1) * size
        )
        return JSONResponse(
            {"entries": [e.to_dict() for e in entries], "total": total, "page": max(1, page), "size": size}
        )

    # ---- runs: pages -----------------------------------------------------------------------------------

    @app.get("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request, page: int = 1, user: User = Depends(page_user("read_runs"))) -> Response:
        found, total = state.list_jobs(limit=20, offset=(max(1, page) - 1) * 20, kind="run")
        context = {
            "runs": found,
            "total": total,
            "page": max(1, page),
            "pages": max(1, -(-total // 20)),
            "templates": template_names(),
            "has_data": settings.data_dir is not None,
            "problem": None,
        }
        return render(request, "runs.html", context)

    @app.post("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    async def start_run_page(request: Request, user: User = Depends(page_user("start_runs"))) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        check_csrf(request, _text(form.get("csrf_token")))
        job = await start_run(
            request,
            user,
            _text(form.get("template")) or None,
            _text(form.get("contract")) or None,
            _text(form.get("period")),
        )
        return RedirectResponse(f"/ui/runs/{job.id}", status_code=303)

    @app.get("/ui/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run_id: str, user: User = Depends(page_user("read_runs"))) -> Response:
        job = jobs.run(run_id)
        summary = jobs.summary(run_id, user.scope) if job.status == "done" else []
        name = "_run_status.html" if request.headers.get("HX-Request") else "run.html"
        return render(request, name, {"job": job, "summary": summary, "steps": RUN_STAGES})

    @app.get("/ui/runs/{run_id}/statements/{entity}", response_class=HTMLResponse, include_in_schema=False)
    def statement_page(
        request: Request, run_id: str, entity: str, user: User = Depends(page_user("read_runs"))
    ) -> Response:
        statement = jobs.statement(run_id, entity, user.scope)
        return render(request, "statement.html", {"job": jobs.run(run_id), "statement": statement})

    @app.get("/ui/runs/{run_id}/statements/{entity}/lines.csv", include_in_schema=False)
    def statement_export(run_id: str, entity: str, user: User = Depends(page_user("read_runs"))) -> Response:
        statement = jobs.statement(run_id, entity, user.scope)
        return _csv(rows_to_csv(statement["lines"]), f"{run_id}-{entity}-statement.csv")

    @app.get(
        "/ui/runs/{run_id}/statements/{entity}/benchmark",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def benchmark_page(
        request: Request, run_id: str, entity: str, user: User = Depends(page_user("read_runs"))
    ) -> Response:
        built = jobs.benchmark(run_id, entity, user.scope)
        return render(request, "benchmark.html", {"job": jobs.run(run_id), "benchmark": built})

    @app.get("/ui/runs/{run_id}/members", response_class=HTMLResponse, include_in_schema=False)
    def members_page(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        user: User = Depends(page_user("read_members")),
    ) -> Response:
        found = jobs.members(
            run_id, user.scope, entity=_short(entity), member=_short(member), page=page, size=50
        )
        audit(request, user, "read_member_detail", _target(run_id, entity, member, page), len(found.rows))
        context = {
            "job": jobs.run(run_id),
            "found": found.to_dict(),
            "entity": entity or "",
            "member": member or "",
        }
        context["query"] = _query(entity=entity, member=member)
        return render(request, "members.html", context)

    @app.get("/ui/runs/{run_id}/members.csv", include_in_schema=False)
    def members_export(
        request: Request,
        run_id: str,
        entity: str | None = None,
        user: User = Depends(page_user("read_members")),
    ) -> Response:
        found = jobs.members(run_id, user.scope, entity=_short(entity), page=1, size=None)
        audit(request, user, "export_member_detail", _target(run_id, entity, None, None), len(found.rows))
        return _csv(rows_to_csv(found.rows), f"{run_id}-members.csv")

    @app.get("/ui/runs/{run_id}/attribution", response_class=HTMLResponse, include_in_schema=False)
    def attribution_page(
        request: Request,
        run_id: str,
        entity: str | None = None,
        member: str | None = None,
        attributed: str | None = None,
        page: int = 1,
        user: User = Depends(page_user("read_members")),
    ) -> Response:
        flag = {"yes": True, "no": False}.get(attributed or "")
        found = jobs.attribution(
            run_id,
            user.scope,
            entity=_short(entity),
            member=_short(member),
            attributed=flag,
            page=page,
            size=50,
        )
        audit(request, user, "read_attribution", _target(run_id, entity, member, page), len(found.rows))
        context = {
            "job": jobs.run(run_id),
            "found": found.to_dict(),
            "entity": entity or "",
            "member": member or "",
            "attributed": attributed or "",
            "query": _query(entity=entity, member=member, attributed=attributed),
        }
        return render(request, "attribution.html", context)

    @app.get("/ui/runs/{run_id}/files/{name}", include_in_schema=False)
    def run_file(
        request: Request, run_id: str, name: str, user: User = Depends(page_user("read_runs"))
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

    @app.get("/ui/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(
        request: Request,
        page: int = 1,
        who: str | None = None,
        action: str | None = None,
        user: User = Depends(page_user("read_audit")),
    ) -> Response:
        entries, total = state.audit_log(
            user=_short(who), action=_short(action), limit=50, offset=(max(1, page) - 1) * 50
        )
        context = {
            "entries": entries,
            "total": total,
            "page": max(1, page),
            "pages": max(1, -(-total // 50)),
            "who": who or "",
            "action": action or "",
            "query": _query(who=who, action=action),
        }
        return render(request, "audit.html", context)

    # ---- reports ---------------------------------------------------------------------------------------

    def report_of(
        run_id: str,
        name: str,
        user: User,
        by: str,
        payer: str | None,
        period: str | None,
        suppress_below: int | None,
    ) -> Any:
        try:
            request = reports.request(
                name,
                ReportQuery(by=by, payer=_short(payer), period=_short(period), suppress_below=suppress_below),
                user.scope,
            )
            return reports.build(run_id, request)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        except ReportsBusy:
            raise ApiError(
                503, "reports are being built for others: try again shortly", headers={"Retry-After": "5"}
            ) from None

    def audit_report(
        request: Request, user: User, run_id: str, name: str, by: str, result: Any, what: str
    ) -> None:
        rows = sum(table.num_rows for table in result.tables.values())
        audit(request, user, what, f"run {run_id}, report {name}, by {by}", rows)

    @app.get("/api/v1/reports", tags=["reports"])
    def api_reports(user: User = Depends(api_user("read_runs"))) -> Response:
        return JSONResponse(
            {
                "reports": [
                    {"name": r.name, "title": r.title, "description": r.description}
                    for r in reports.catalog()
                ]
            }
        )

    @app.get("/api/v1/runs/{run_id}/reports/{name}", tags=["reports"])
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
        user: User = Depends(api_user("read_runs")),
    ) -> Response:
        result = await run_in_threadpool(report_of, run_id, name, user, by, payer, period, suppress_below)
        try:
            answer = ReportService.api_page(result, table=_short(table), page=page, size=size)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        audit_report(request, user, run_id, name, by, result, "read_report")
        return JSONResponse(answer)

    @app.get("/ui/runs/{run_id}/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, run_id: str, user: User = Depends(page_user("read_runs"))) -> Response:
        jobs.run_dir(run_id)
        return render(request, "reports.html", {"job": jobs.run(run_id), "reports": reports.catalog()})

    @app.get("/ui/runs/{run_id}/reports/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def report_page(
        request: Request,
        run_id: str,
        name: str,
        by: str = "entity",
        payer: str | None = None,
        period: str | None = None,
        suppress_below: int | None = None,
        user: User = Depends(page_user("read_runs")),
    ) -> Response:
        result = await run_in_threadpool(report_of, run_id, name, user, by, payer, period, suppress_below)
        audit_report(request, user, run_id, name, by, result, "read_report")
        query = _query(
            by=by,
            payer=payer,
            period=period,
            suppress_below=None if suppress_below is None else str(suppress_below),
        )
        context = {
            "job": jobs.run(run_id),
            "result": result,
            "tables": ReportService.page_tables(result),
            "charts": result.charts,
            "by": by,
            "payer": payer or "",
            "period": period or "",
            "suppress_below": "" if suppress_below is None else suppress_below,
            "query": query,
            "exports": list(EXPORTS),
        }
        return render(request, "report.html", context)

    @app.get("/ui/runs/{run_id}/reports/{name}/export.{kind}", include_in_schema=False)
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
        user: User = Depends(page_user("read_runs")),
    ) -> Response:
        result = await run_in_threadpool(report_of, run_id, name, user, by, payer, period, suppress_below)
        try:
            if kind == "csv":
                data = ReportService.table_csv(result, table or "")
                media, filename = "text/csv; charset=utf-8", f"{run_id}-{name}-{table}.csv"
            else:
                data = await run_in_threadpool(ReportService.export, result, kind)
                media, filename = EXPORTS[kind], f"{run_id}-{name}.{kind}"
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        audit_report(request, user, run_id, name, by, result, "export_report")
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    # ---- ingestion and data quality --------------------------------------------------------------------

    def data_context() -> dict[str, Any]:
        profile, profiled_at = data_status.profile()
        return {
            "has_data": settings.data_dir is not None,
            "tables": data_status.tables(),
            "ingest": data_status.ingest(),
            "profile": profile,
            "profiled_at": profiled_at,
        }

    @app.get("/api/v1/data", tags=["data"])
    def api_data(user: User = Depends(api_user("read_data"))) -> Response:
        return JSONResponse(data_context())

    @app.post("/api/v1/data/profile", tags=["data"])
    async def api_profile(request: Request, user: User = Depends(api_user("read_data"))) -> Response:
        check_csrf(request, None)
        try:
            await run_in_threadpool(data_status.compute)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        return JSONResponse(data_context())

    @app.get("/ui/data", response_class=HTMLResponse, include_in_schema=False)
    def data_page(request: Request, user: User = Depends(page_user("read_data"))) -> Response:
        return render(request, "data.html", data_context())

    @app.post("/ui/data/profile", include_in_schema=False)
    async def profile_page(request: Request, user: User = Depends(page_user("read_data"))) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        check_csrf(request, _text(form.get("csrf_token")))
        try:
            await run_in_threadpool(data_status.compute)
        except ApmkitError as exc:
            raise ApiError(422, str(exc)) from exc
        return RedirectResponse("/ui/data", status_code=303)

    return app


_FORBIDDEN = (
    "Your role does not allow this page. Viewers may read saved designs; designers may also run them; "
    "providers, payer analysts, auditors and admins read runs (docs/web.md lists what each role may do)."
)


def _landing(user: User | None) -> str:
    if user is None:
        return "/ui/login"
    if user.may("read_runs"):
        return "/ui/runs"
    return "/ui/design" if user.may("run_designs") else "/ui/designs"


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    return str(detail)


def _short(value: str | None) -> str | None:
    # Filters are identifiers: anything longer than an identifier matches nothing anyway.
    if value is None or not value.strip():
        return None
    return value.strip()[:128]


def _target(run_id: str, entity: str | None, member: str | None, page: int | None) -> str:
    # What was read, by identifiers (the audit log is itself member-level: auditors and admins only).
    parts = [f"run {run_id}"]
    if entity:
        parts.append(f"entity {_short(entity)}")
    if member:
        parts.append(f"member {_short(member)}")
    if page is not None:
        parts.append(f"page {page}")
    return ", ".join(parts)


def _query(**values: str | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def _csv(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _number(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{amount.normalize():,f}" if amount == amount.to_integral_value() else f"{amount:,}"


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


def _money(text: Any) -> str:
    # Decimal formatting: thousands separators without passing the amount through a float.
    try:
        amount = Decimal(str(text))
    except ArithmeticError:
        return str(text)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def _form_values(form: Any) -> FormValues:
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _local(target: str) -> str:
    # Only paths of this app after sign-in: an absolute URL or '//host' would be an open redirect.
    return target if target.startswith("/ui/") and not target.startswith("//") else ""


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body())
    except BadJson as exc:
        raise ApiError(exc.status, str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return body


def _file_urls(design_id: str) -> dict[str, str]:
    return {name: f"/ui/designs/{design_id}/files/{name}" for name in DOWNLOADS}


__all__ = ["WebSettings", "create_app"]
