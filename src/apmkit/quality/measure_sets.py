"""MSSP quality measure sets by performance year, kept as package data with their sources.

``data/mssp_measure_sets.csv`` lists, per performance year, the measures of the APM Performance Pathway set
an ACO is scored on (APP PY2021-2024, APP Plus from PY2025; 42 CFR 425.510(b), 425.512): apmkit's measure id
(the CMS eCQM id for the measures apmkit evaluates; ``CAHPS``, ``HWR``, ``MCC`` for the supplied ones), the
QPP quality ID, the collection type, whether apmkit evaluates it or its rate is supplied (CAHPS for MIPS from
the survey, CMS-computed administrative claims measures), whether it is an outcome measure (alternative
quality standard) and lower-is-better, and the source of each row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from apmkit.errors import ConfigurationError


@dataclass(frozen=True)
class MeasureSetEntry:
    """One measure of a program's measure set in one performance year."""

    performance_year: int
    measure_set: str
    measure_id: str
    quality_id: str
    title: str
    collection: str
    evaluated: bool
    """apmkit evaluates the measure (else its rate is supplied)."""
    outcome: bool
    inverse: bool
    source: str


@cache
def _rows() -> tuple[MeasureSetEntry, ...]:
    text = resources.files("apmkit.quality").joinpath("data", "mssp_measure_sets.csv").read_text("utf-8")
    return tuple(
        MeasureSetEntry(
            performance_year=int(r["performance_year"]),
            measure_set=r["measure_set"],
            measure_id=r["measure_id"],
            quality_id=r["quality_id"],
            title=r["title"],
            collection=r["collection"],
            evaluated=r["evaluated"] == "apmkit",
            outcome=r["outcome"] == "true",
            inverse=r["inverse"] == "true",
            source=r["source"],
        )
        for r in csv.DictReader(io.StringIO(text))
    )


def measure_set_years(program: str = "mssp") -> tuple[int, ...]:
    """The performance years with a measure set in the package data."""
    if program != "mssp":
        raise ConfigurationError(f"quality spec: field measure_set.program: no measure sets for {program!r}")
    return tuple(sorted({row.performance_year for row in _rows()}))


def measure_set(program: str, performance_year: int) -> tuple[MeasureSetEntry, ...]:
    """The measures of ``program``'s set in ``performance_year``.

    Raises
    ------
    ConfigurationError
        The year has no set in the package data (naming the years that do).

    Examples
    --------
    >>> [m.quality_id for m in measure_set("mssp", 2024)]
    ['001', '134', '236', '321', '479', '484']
    """
    years = measure_set_years(program)
    chosen = tuple(row for row in _rows() if row.performance_year == performance_year)
    if not chosen:
        raise ConfigurationError(
            f"quality spec: field measure_set.performance_year: no {program} measure set for {performance_year} "
            f"(package data has {years[0]}-{years[-1]}); list the measures instead"
        )
    return chosen
