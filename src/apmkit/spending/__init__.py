"""Spending under a contract's definitions: the one measurement behind both the benchmark and the actuals.

:func:`measure_spending` turns canonical tables into member-month eligibility, spending by member × month ×
service category and truncated spending by member × year, with the contract's
:class:`~apmkit.contracts.spec.Definitions` applied identically to every base year and the performance period.
"""

from apmkit.spending.measure import (
    SERVICE_CATEGORIES,
    MeasurementYear,
    Spending,
    eligible_months,
    measure_spending,
    measurement_years,
    member_years,
    monthly_spending,
    spending_lines,
)

__all__ = [
    "SERVICE_CATEGORIES",
    "MeasurementYear",
    "Spending",
    "eligible_months",
    "measure_spending",
    "measurement_years",
    "member_years",
    "monthly_spending",
    "spending_lines",
]
