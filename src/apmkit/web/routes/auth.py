"""Sign-in, sign-out, the account page and password change; the health check and the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from apmkit.errors import ApmkitError
from apmkit.web.auth import User, new_csrf_token
from apmkit.web.context import ApiError, Web, address, json_body, landing, local, log, text

MAX_NAME_CHARS = 64
MAX_PASSWORD_CHARS = 1024


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    state, throttle, hashes = web.state, web.throttle, web.hashes

    @routes.get("/api/v1/health", include_in_schema=False)
    async def health() -> Response:
        # Liveness only: no version, no counts, no names. Async, so it never waits for a worker thread.
        return JSONResponse({"status": "ok"})

    @routes.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi_schema(request: Request, user: User = Depends(web.api_user(None))) -> Response:
        return JSONResponse(request.app.openapi())

    @routes.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        user = web.signed_in(request)
        return RedirectResponse(landing(user) if user else "/ui/login", status_code=303)

    @routes.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "") -> Response:
        return web.render(request, "login.html", {"next": local(next), "failed": False})

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

    @routes.post("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        web.check_csrf(request, text(form.get("csrf_token")))
        goal = local(text(form.get("next")) or "")
        user = await authenticate(request, text(form.get("username")) or "", text(form.get("password")) or "")
        if user is None:
            return web.render(request, "login.html", {"next": goal, "failed": True}, status=401)
        start_session(request, user)
        return RedirectResponse(goal or landing(user), status_code=303)

    @routes.post("/ui/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        web.check_csrf(request, text(form.get("csrf_token")))
        end_session(request)
        return RedirectResponse("/ui/login", status_code=303)

    @routes.get("/ui/account", response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request, user: User = Depends(web.page_user(None))) -> Response:
        return web.render(request, "account.html", {"failed": None})

    @routes.post("/ui/account/password", response_class=HTMLResponse, include_in_schema=False)
    async def change_password_page(request: Request, user: User = Depends(web.page_user(None))) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        web.check_csrf(request, text(form.get("csrf_token")))
        problem = await change_password(
            request, user, text(form.get("current")) or "", text(form.get("new")) or ""
        )
        if problem:
            return web.render(request, "account.html", {"failed": problem}, status=422)
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

    @routes.post("/api/v1/login", tags=["session"])
    async def api_login(request: Request) -> Response:
        # Cross-site forms cannot send application/json without a CORS preflight, which this app never grants.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ApiError(415, 'send JSON: {"username": ..., "password": ...}')
        body = await json_body(request)
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

    @routes.post("/api/v1/logout", tags=["session"])
    def api_logout(request: Request, user: User = Depends(web.api_user(None))) -> Response:
        web.check_csrf(request, None)
        state.audit(user.name, "sign_out", "session", address=address(request))
        end_session(request)
        return JSONResponse({"signed_out": True})

    @routes.post("/api/v1/password", tags=["session"])
    async def api_password(request: Request, user: User = Depends(web.api_user(None))) -> Response:
        web.check_csrf(request, None)
        body = await json_body(request)
        current, new = body.get("current"), body.get("new")
        if not isinstance(current, str) or not isinstance(new, str):
            raise ApiError(422, "current and new must be text")
        problem = await change_password(request, user, current, new)
        if problem:
            raise ApiError(422, problem)
        return JSONResponse({"changed": True, "signed_out": True})

    @routes.get("/api/v1/me", tags=["session"])
    def api_me(user: User = Depends(web.api_user(None))) -> Response:
        scope = user.scope.to_dict() if user.scope is not None else None
        return JSONResponse({"user": user.name, "role": user.role.value, "scope": scope})

    return routes
