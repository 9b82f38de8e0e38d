"""Imports every report module so each registers itself (:func:`apmkit.reports.framework.catalog`)."""

from apmkit.reports import (
    admissions,  # noqa: F401
    basic,  # noqa: F401
)
