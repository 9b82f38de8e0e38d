"""The web layer: the APM design dashboard page (``/ui``) and its JSON API (``/api/v1``).

A thin shell over the library (FastAPI + Jinja2 + htmx + Vega-Lite, assets vendored under ``static/vendor``):
:mod:`apmkit.web.app` (routes, sessions, roles, CSRF), :mod:`apmkit.web.auth` (users file, scrypt hashes),
:mod:`apmkit.web.forms` (worksheet form <-> answers), :mod:`apmkit.web.service` (runs
:mod:`apmkit.design.pipeline`), :mod:`apmkit.web.store` (saved designs), :mod:`apmkit.web.charts` (Vega-Lite specs).
``apmkit serve`` runs it; docs/web.md describes it.
"""
