"""Assignment windows: which months of claims a run reads, from the spec's timing and the as-of date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apmkit.attribution.spec import AnySpec, MsspStepwiseSpec, PluralitySpec, program_year


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """The dates one attribution run uses.

    Attributes
    ----------
    start, end
        The assignment window (inclusive): claims with a service date inside it count.
    expanded_start
        Start of the expanded window (MSSP step 3; equal to ``start`` otherwise), ending at ``end``.
    period_start, period_end
        The program year the attribution is for.
    claims_through
        Claims with a later service date are ignored (nothing after the as-of date is known).
    """

    start: dt.date
    end: dt.date
    expanded_start: dt.date
    period_start: dt.date
    period_end: dt.date
    claims_through: dt.date


def assignment_window(spec: AnySpec, as_of: dt.date) -> Window:
    """The window a run of ``spec`` on ``as_of`` reads.

    ``retrospective``
        The ``lookback_months`` ending at the earlier of the as-of date and the program year's end (a
        run on the last day of the year reads the whole year).
    ``prospective``
        The ``lookback_months`` ending ``window_offset_months`` before the program year starts; the
        as-of date does not move it (42 CFR 425.400(a)(3): assigned at the beginning of the year).
    ``hybrid``
        Preliminary prospective with retrospective reconciliation (42 CFR 425.400(a)(2)): before the
        program year ends, the ``lookback_months`` ending with the last complete calendar quarter on or
        before the as-of date (quarterly updates); from the year's end, the program year itself (final
        reconciliation).

    ``window_start`` / ``window_end`` in the spec replace all of the above; the MSSP expanded window then
    ends at ``window_end`` and spans ``expanded_window_months`` (or the given window, if longer).
    """
    year = program_year(spec, as_of)
    period_start, period_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    lookback = spec.lookback_months if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else 12
    timing = spec.timing if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else "retrospective"
    offset = spec.window_offset_months if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else 0
    given_start = spec.window_start if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else None
    given_end = spec.window_end if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else None
    if given_start is not None and given_end is not None:
        expanded_months = spec.expanded_window_months if isinstance(spec, MsspStepwiseSpec) else 0
        expanded_start = min(given_start, add_months(given_end, -(expanded_months - 1)))
        return Window(
            start=given_start,
            end=given_end,
            expanded_start=expanded_start if expanded_months else given_start,
            period_start=period_start,
            period_end=period_end,
            claims_through=as_of,
        )
    if timing == "prospective":
        end = add_months(period_start, -offset) - dt.timedelta(days=1)
    elif timing == "hybrid" and as_of < period_end:
        quarter_first_month = ((as_of.month - 1) // 3) * 3 + 1
        quarter_end = month_end(dt.date(as_of.year, quarter_first_month + 2, 1))
        end = (
            quarter_end
            if as_of >= quarter_end
            else dt.date(as_of.year, quarter_first_month, 1) - dt.timedelta(days=1)
        )
    else:
        end = min(as_of, period_end)
    start = add_months(end, -(lookback - 1))
    expanded_months = spec.expanded_window_months if isinstance(spec, MsspStepwiseSpec) else lookback
    expanded_start = add_months(end, -(max(expanded_months, lookback) - 1))
    return Window(
        start=start,
        end=end,
        expanded_start=expanded_start,
        period_start=period_start,
        period_end=period_end,
        claims_through=as_of,
    )
