"""Reference code lists shipped with apmkit (``apmkit/attribution/data``, provenance in its SOURCES.md)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

PHE_START = dt.date(2020, 1, 27)
PHE_END = dt.date(2023, 5, 11)
"""The COVID-19 public health emergency as defined in 42 CFR 400.200."""


@dataclass(frozen=True)
class PrimaryCareCode:
    """One primary care service code and the condition under which it counts."""

    code: str
    condition: str
    pos: tuple[str, ...] = ()
    """Only at these places of service (empty = any); from a spec's :class:`CodeRule`."""
    exclude_pos: tuple[str, ...] = ()
    """Not at these places of service."""


def _read_package_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("apmkit.attribution").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def _mssp_code_rows() -> tuple[tuple[str, int, int, str], ...]:
    return tuple(
        (r["code"], int(r["first_performance_year"]), int(r["last_performance_year"]), r["condition"])
        for r in _read_package_csv("mssp_primary_care_codes.csv")
    )


@cache
def mssp_specialty_roles() -> dict[str, str]:
    """CMS specialty code → ``primary_care_physician``, ``non_physician`` or ``specialist``."""
    return {r["specialty_code"]: r["role"] for r in _read_package_csv("mssp_specialties.csv")}


def mssp_primary_care_codes(
    performance_year: int, window_start: dt.date | None = None, window_end: dt.date | None = None
) -> tuple[PrimaryCareCode, ...]:
    """The primary care service codes of 42 CFR 425.400(c) for one performance year.

    Parameters
    ----------
    performance_year
        Benchmark or performance year whose list applies.
    window_start, window_end
        The assignment window (or expanded window); when it includes any month of the COVID-19 public
        health emergency, the codes of 425.400(c)(2) are added for the whole window.

    Examples
    --------
    >>> codes = {c.code for c in mssp_primary_care_codes(2025)}
    >>> {"99213", "G0556", "98016"} <= codes, "G0556" in {c.code for c in mssp_primary_care_codes(2024)}
    (True, False)
    """
    touches_phe = (
        window_start is not None
        and window_end is not None
        and window_start <= PHE_END
        and window_end >= PHE_START.replace(day=1)
    )
    chosen: dict[tuple[str, str], PrimaryCareCode] = {}
    for code, first, last, condition in _mssp_code_rows():
        if not first <= performance_year <= last:
            continue
        if condition == "phe_window":
            if not touches_phe:
                continue
            condition = ""
        chosen[(code, condition)] = PrimaryCareCode(code, condition)
    # Keyed by (code, condition): a PHE code already listed unconditionally collapses into one entry.
    return tuple(chosen[key] for key in sorted(chosen))
