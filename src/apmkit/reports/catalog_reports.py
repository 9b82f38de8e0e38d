"""Imports every report module so each registers itself (:func:`apmkit.reports.framework.catalog`)."""

from apmkit.reports import basic  # noqa: F401
