"""The web layer: the dashboard pages (``/ui``) and their JSON API (``/api/v1``).

A thin shell over the library (FastAPI + Jinja2 + htmx + Vega-Lite, assets vendored under ``static/vendor``):
:mod:`apmkit.web.app` (routes: parse, call, render), :mod:`apmkit.web.guard` (body limits, strict JSON, headers
on every response, sign-in throttling, the scrypt pool), :mod:`apmkit.web.auth` (roles, scopes, scrypt hashes,
the older users file), :mod:`apmkit.web.state` (users, sessions, audit and jobs in SQL via SQLAlchemy),
:mod:`apmkit.web.runs` (runs as background jobs over :class:`apmkit.workspace.Workspace`, scoped reads of their
marts), :mod:`apmkit.web.reports` (the report catalog of :mod:`apmkit.reports.framework`),
:mod:`apmkit.web.data` (ingestion and data-quality status), :mod:`apmkit.web.forms` (worksheet form <-> answers),
:mod:`apmkit.web.service` (runs :mod:`apmkit.design.pipeline`), :mod:`apmkit.web.store` (saved designs),
:mod:`apmkit.web.charts` (Vega-Lite specs). ``apmkit serve`` runs it; docs/web.md describes it.
"""
