"""Imports every report module so each registers itself (:func:`apmkit.reports.framework.catalog`)."""

from apmkit.reports import (
    admissions,  # noqa: F401
    basic,  # noqa: F401
    episode_analytics,  # noqa: F401
    performance,  # noqa: F401
    population,  # noqa: F401
    prediction,  # noqa: F401
    utilization,  # noqa: F401
    variation,  # noqa: F401
)

ORDER = (
    "admissions",
    "attribution",
    "gaps",
    "performance",
    "utilization",
    "population",
    "variation",
    "report_cards",
    "cost_opportunity",
    "episodes",
    "prediction",
)
"""The order ``apmkit report --list`` and the docs name the reports in (priority order of issue 16)."""
