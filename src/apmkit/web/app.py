"""The ASGI app: HTML pages under ``/ui`` and JSON under ``/api/v1``, one set of auth and role checks for both.

Security model (docs/web.md): sign-in against the users file (scrypt hashes); a signed, HttpOnly, SameSite=Lax
session cookie carrying only the user name, a fingerprint of the password hash and the CSRF token; the role is
read from the users file on every request. Every POST needs the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``). Unauthenticated pages redirect to the sign-in page, unauthenticated
API calls get 401, a role without the permission gets 403. Pages show aggregate figures only.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

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
from apmkit.web.forms import FieldErrors, FormValues, answers_from_form, field_errors, simulation_defaults
from apmkit.web.service import STARTING_POINT_LABELS, DesignRunner, starting_point_summary
from apmkit.web.store import DOWNLOADS, DesignStore

HERE = Path(__file__).parent
SESSION_COOKIE = "apmkit_session"
CSRF_HEADER = "X-CSRF-Token"
# Vega compiles its expressions with Function(), hence 'unsafe-eval'; no inline script is ever served.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
MEDIA_TYPES = {
    "contract.yaml": "application/yaml",
    "answers.yaml": "application/yaml",
    "design.md": "text/markdown; charset=utf-8",
    "design.html": "text/html; charset=utf-8",
    "design.json": "application/json",
}

log = logging.getLogger("apmkit.web")


@dataclass(frozen=True)
class WebSettings:
    """How the server runs.

    Attributes
    ----------
    users_file
        YAML users file (``apmkit web add-user``).
    workdir
        Server-side folder of saved designs.
    data_dir
        Canonical tables the simulations run on; None = designs are not simulated.
    secret
        Key that signs session cookies (``APMKIT_WEB_SECRET``; random per process when not given).
    https_only
        Mark the session cookie Secure (behind TLS).
    """

    users_file: Path
    workdir: Path
    data_dir: Path | None = None
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    engine_name: str = "duckdb"
    performance_year: int = 2025
    https_only: bool = False
    session_max_age: int = 8 * 3600


class LoginRequired(Exception):
    """No valid session on a page: redirect to the sign-in page."""


class Forbidden(Exception):
    """Signed in, but the role lacks the permission."""


class ApiError(Exception):
    """An API error answered as JSON ``{"detail": ...}``."""

    def __init__(self, status: int, detail: Any):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def create_app(settings: WebSettings) -> FastAPI:
    """The dashboard app for ``settings`` (``apmkit serve`` runs it with uvicorn)."""
    users = UserStore(settings.users_file)
    store = DesignStore(settings.workdir / "designs")
    runner = DesignRunner(settings.data_dir, store, settings.engine_name, settings.performance_year)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = _money

    # No interactive docs or schema endpoint: nothing is served that the auth checks do not cover.
    app = FastAPI(title="apmkit", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            # Pages show population figures: keep them out of shared caches and the back-forward cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    # ---- sessions, roles, CSRF -------------------------------------------------------------------------

    def signed_in(request: Request) -> User | None:
        name = request.session.get("user")
        if not isinstance(name, str):
            return None
        user = users.get(name)
        if user is None or request.session.get("fingerprint") != user.session_fingerprint:
            return None
        return user

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = new_csrf_token()
            request.session["csrf"] = token
        return token

    def page_user(permission: str) -> Callable[[Request], User]:
        def check(request: Request) -> User:
            user = signed_in(request)
            if user is None:
                raise LoginRequired
            if not user.may(permission):
                raise Forbidden
            return user

        return check

    def api_user(permission: str) -> Callable[[Request], User]:
        def check(request: Request) -> User:
            user = signed_in(request)
            if user is None:
                raise ApiError(401, "sign in first (POST /api/v1/login)")
            if not user.may(permission):
                raise ApiError(403, f"the {user.role.value} role may not do this")
            return user

        return check

    def check_csrf(request: Request, submitted: str | None) -> None:
        given = submitted or request.headers.get(CSRF_HEADER)
        if not csrf_matches(request.session.get("csrf"), given):
            raise ApiError(403, "missing or wrong CSRF token")

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
            return render(
                request, "message.html", {"title": "Not allowed", "message": exc.detail}, exc.status
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        user = signed_in(request)
        base = {"user": user, "csrf_token": csrf_token(request)}
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    # ---- sign-in -----------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/ui/designs", status_code=303)

    @app.get("/ui/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "") -> Response:
        return render(request, "login.html", {"next": _local(next), "failed": False})

    @app.post("/ui/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, _text(form.get("csrf_token")))
        user = users.authenticate(_text(form.get("username")) or "", _text(form.get("password")) or "")
        target = _local(_text(form.get("next")) or "")
        if user is None:
            log.info("failed sign-in")
            return render(request, "login.html", {"next": target, "failed": True}, status=401)
        start_session(request, user)
        default = "/ui/design" if user.may("run_designs") else "/ui/designs"
        return RedirectResponse(target or default, status_code=303)

    def start_session(request: Request, user: User) -> None:
        # A fresh session on sign-in: nothing from the anonymous session (its CSRF token) carries over.
        request.session.clear()
        request.session.update(user=user.name, fingerprint=user.session_fingerprint, csrf=new_csrf_token())
        log.info("%s signed in (%s)", user.name, user.role.value)

    @app.post("/ui/logout")
    async def logout(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, _text(form.get("csrf_token")))
        request.session.clear()
        return RedirectResponse("/ui/login", status_code=303)

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

    @app.get("/ui/design", response_class=HTMLResponse)
    def worksheet(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        return render(request, "design.html", worksheet_context({"starting_point": "pioneer"}, {}))

    @app.post("/ui/design", response_class=HTMLResponse)
    async def submit_worksheet(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        form = _form_values(await request.form())
        check_csrf(request, next(iter(form.get("csrf_token", [])), None))
        data, errors = answers_from_form(form)
        flat = {k: v[0] if len(v) == 1 and k != "measures" else v for k, v in form.items()}
        if not errors:
            try:
                answers = parse_answers(data, source="worksheet")
                # The run is synchronous (DuckDB, Decimal settlement): keep it off the event loop.
                saved, _ = await run_in_threadpool(runner.run, answers, user.name)
            except ApmkitError as exc:
                errors = field_errors(exc)
            else:
                return RedirectResponse(f"/ui/designs/{saved.id}", status_code=303)
        return render(request, "design.html", worksheet_context(flat, errors), status=422)

    @app.get("/ui/design/starting-point", response_class=HTMLResponse)
    def starting_point_partial(
        request: Request, starting_point: str = "", user: User = Depends(page_user("run_designs"))
    ) -> Response:
        return render(request, "_starting_point.html", {"starting": starting_point_summary(starting_point)})

    @app.post("/ui/design/ptac", response_class=HTMLResponse)
    async def ptac_partial(request: Request, user: User = Depends(page_user("run_designs"))) -> Response:
        form = _form_values(await request.form())
        check_csrf(request, None)
        flat = {k: v[0] for k, v in form.items() if v}
        return render(request, "_ptac.html", {"ptac": _ptac_checklist(flat)})

    # ---- saved designs ----------------------------------------------------------------------------------

    @app.get("/ui/designs", response_class=HTMLResponse)
    def designs_page(request: Request, user: User = Depends(page_user("read_designs"))) -> Response:
        return render(request, "designs.html", {"designs": store.list()})

    @app.get("/ui/designs/{design_id}", response_class=HTMLResponse)
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

    @app.get("/ui/designs/{design_id}/files/{name}")
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

    # ---- JSON API ---------------------------------------------------------------------------------------

    @app.post("/api/v1/login")
    async def api_login(request: Request) -> Response:
        # Cross-site forms cannot send application/json without a CORS preflight, which this app never grants.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ApiError(415, 'send JSON: {"username": ..., "password": ...}')
        body = await _json_body(request)
        user = users.authenticate(str(body.get("username", "")), str(body.get("password", "")))
        if user is None:
            log.info("failed sign-in")
            raise ApiError(401, "wrong user name or password")
        start_session(request, user)
        return JSONResponse(
            {"user": user.name, "role": user.role.value, "csrf_token": request.session["csrf"]}
        )

    @app.post("/api/v1/logout")
    def api_logout(request: Request, user: User = Depends(api_user("read_designs"))) -> Response:
        check_csrf(request, None)
        request.session.clear()
        return JSONResponse({"signed_out": True})

    @app.post("/api/v1/design")
    async def api_design(request: Request, user: User = Depends(api_user("run_designs"))) -> Response:
        check_csrf(request, None)
        body = await _json_body(request)
        try:
            answers: DesignAnswers = parse_answers(body, source="request body")
            saved, outcome = await run_in_threadpool(runner.run, answers, user.name)
        except ApmkitError as exc:
            raise ApiError(422, {"message": str(exc), "fields": field_errors(exc)}) from exc
        summary = json.loads(outcome.files["design.json"])
        return JSONResponse({"id": saved.id, **summary, "files": _file_urls(saved.id)}, status_code=201)

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

    return app


_FORBIDDEN = (
    "Your role does not allow this page. Viewers may read saved designs; designers may also run them."
)


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
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object of worksheet answers")
    return body


def _file_urls(design_id: str) -> dict[str, str]:
    return {name: f"/ui/designs/{design_id}/files/{name}" for name in DOWNLOADS}


__all__ = ["WebSettings", "create_app"]
