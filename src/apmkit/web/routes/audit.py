"""The audit log of member-level reads (admin and auditor)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from apmkit.web.auth import User
from apmkit.web.context import Web, query, short


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    state = web.state

    @routes.get("/api/v1/audit", tags=["audit"])
    def api_audit(
        page: int = 1,
        size: int = 50,
        who: str | None = None,
        action: str | None = None,
        user: User = Depends(web.api_user("read_audit")),
    ) -> Response:
        size = max(1, min(size, 500))
        entries, total = state.audit_log(
            user=short(who), action=short(action), limit=size, offset=(max(1, page) - 1) * size
        )
        return JSONResponse(
            {"entries": [e.to_dict() for e in entries], "total": total, "page": max(1, page), "size": size}
        )

    @routes.get("/ui/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(
        request: Request,
        page: int = 1,
        who: str | None = None,
        action: str | None = None,
        user: User = Depends(web.page_user("read_audit")),
    ) -> Response:
        entries, total = state.audit_log(
            user=short(who), action=short(action), limit=50, offset=(max(1, page) - 1) * 50
        )
        context = {
            "entries": entries,
            "total": total,
            "page": max(1, page),
            "pages": max(1, -(-total // 50)),
            "who": who or "",
            "action": action or "",
            "query": query(who=who, action=action),
        }
        return web.render(request, "audit.html", context)

    return routes
