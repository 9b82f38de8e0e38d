"""What every router of the app shares: the settings and services, the sign-in and role checks, CSRF, the audit
call, rendering, and the small parsing helpers of the pages and the API.

Security model (docs/web.md): users, server-side sessions, the audit log and jobs live in the app-state database
(:mod:`apmkit.web.state`); the signed, HttpOnly, SameSite=Lax cookie carries only a random session token and the
CSRF token, and the session row is looked up on every request, so signing out, a password change or removing a
user ends the session at once. Every POST needs the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``). Unauthenticated pages redirect to the sign-in page, unauthenticated API calls get 401, a role
without the permission gets 403. A provider's scope is passed to every read of run data
(:mod:`apmkit.workspace.run_marts`, :mod:`apmkit.workspace.reports`), which filters on the server.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from apmkit.web.auth import User, csrf_matches, new_csrf_token
from apmkit.web.data import DataStatus
from apmkit.web.guard import BadJson, HashPool, LoginThrottle, parse_json
from apmkit.web.reports import ReportService
from apmkit.web.runs import RunJobs
from apmkit.web.service import DesignRunner
from apmkit.web.state import AppState
from apmkit.web.store import DesignStore

HERE = Path(__file__).parent
CSRF_HEADER = "X-CSRF-Token"

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


class Fragments:
    """Rendered parts of pages that depend only on a finished run and the user's scope (a run's output never
    changes), kept in a bounded in-process cache (least recently used dropped first). The key must hold the
    scope: a fragment is only ever found again by a user with the same grant."""

    def __init__(self, size: int = 256):
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], render: Callable[[], str]) -> Markup:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        made = Markup(render())  # rendered by an autoescaping template
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return made


@dataclass
class Web:
    """The services of one app and the checks its routes depend on."""

    settings: WebSettings
    state: AppState
    store: DesignStore
    runner: DesignRunner
    jobs: RunJobs
    reports: ReportService
    data_status: DataStatus
    throttle: LoginThrottle
    hashes: HashPool
    templates: Jinja2Templates
    fragments: Fragments = field(default_factory=Fragments)

    # ---- sessions, roles, CSRF -------------------------------------------------------------------------

    def signed_in(self, request: Request) -> User | None:
        if "user" in request.scope.get("state", {}):
            cached: User | None = request.state.user
            return cached
        token = request.session.get("sid")
        user = self.state.session_user(token) if isinstance(token, str) and len(token) < 100 else None
        request.state.user = user
        return user

    def csrf_token(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = new_csrf_token()
            request.session["csrf"] = token
        return token

    def page_user(self, permission: str | None) -> Callable[[Request], User]:
        """A dependency: the signed-in user of a page (``permission`` None: any signed-in user)."""

        def check(request: Request) -> User:
            user = self.signed_in(request)
            if user is None:
                raise LoginRequired
            if permission is not None and not user.may(permission):
                raise Forbidden
            return user

        return check

    def api_user(self, permission: str | None) -> Callable[[Request], User]:
        """A dependency: the signed-in user of an API call (401/403 as JSON)."""

        def check(request: Request) -> User:
            user = self.signed_in(request)
            if user is None:
                raise ApiError(401, "sign in first (POST /api/v1/login)")
            if permission is not None and not user.may(permission):
                raise ApiError(403, f"the {user.role.value} role may not do this")
            return user

        return check

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        given = submitted or request.headers.get(CSRF_HEADER)
        if not csrf_matches(request.session.get("csrf"), given):
            raise ApiError(403, "missing or wrong CSRF token")

    def audit(self, request: Request, user: User, action: str, target: str, rows: int | None = None) -> None:
        self.state.audit(user.name, action, target, rows=rows, address=address(request))

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        user = self.signed_in(request)
        base = {"user": user, "csrf_token": self.csrf_token(request)}
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = money
    templates.env.filters["number"] = number
    return templates


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def landing(user: User | None) -> str:
    if user is None:
        return "/ui/login"
    if user.may("read_runs"):
        return "/ui/runs"
    return "/ui/design" if user.may("run_designs") else "/ui/designs"


def detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    return str(detail)


def short(value: str | None) -> str | None:
    """A filter value: identifiers only (anything longer than an identifier matches nothing anyway)."""
    if value is None or not value.strip():
        return None
    return value.strip()[:128]


def target(run_id: str, entity: str | None, member: str | None, page: int | None) -> str:
    """What was read, by identifiers (the audit log is itself member-level: auditors and admins only)."""
    parts = [f"run {run_id}"]
    if entity:
        parts.append(f"entity {short(entity)}")
    if member:
        parts.append(f"member {short(member)}")
    if page is not None:
        parts.append(f"page {page}")
    return ", ".join(parts)


def query(**values: str | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def csv_response(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def number(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{amount.normalize():,f}" if amount == amount.to_integral_value() else f"{amount:,}"


def money(text: Any) -> str:
    # Decimal formatting: thousands separators without passing the amount through a float.
    try:
        amount = Decimal(str(text))
    except ArithmeticError:
        return str(text)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def local(path: str) -> str:
    """Only paths of this app after sign-in: an absolute URL or '//host' would be an open redirect."""
    return path if path.startswith("/ui/") and not path.startswith("//") else ""


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body())
    except BadJson as exc:
        raise ApiError(exc.status, str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return body


__all__ = [
    "ApiError",
    "Forbidden",
    "LoginRequired",
    "Web",
    "WebSettings",
    "address",
    "csv_response",
    "json_body",
    "landing",
    "local",
    "query",
    "short",
    "target",
    "text",
]
