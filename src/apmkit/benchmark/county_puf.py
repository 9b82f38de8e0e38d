"""CMS county-level FFS benchmark PUF, conformed to a long table of regional inputs.

The PUF ("County-level FFS Data for Shared Savings Program Benchmark") has one row per county with, for
each enrollment type, per-capita expenditure, average HCC risk score and person-years. Counties are keyed
by SSA state and county codes (``State ID``, ``County ID``), joined here into a 5-character
``county_code``. Cells CMS suppresses for small numbers hold ``*`` (``.`` where there is no figure) and are skipped (not errors); any
other non-numeric value rejects that county/type with a reason.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.errors import InputFileError
from apmkit.portable import trim_text

PUF_TYPE_LABELS = {
    "esrd": "ESRD",
    "disabled": "DISABLED",
    "aged_dual": "AGED/DUAL",
    "aged_non_dual": "AGED/NON-DUAL",
}
IDENTITY_COLUMNS = ("Year", "State Name", "County Name", "State ID", "County ID")
SUPPRESSED = ("*", ".")
"""Cell values CMS uses for suppressed or unavailable figures."""


def puf_columns(label: str) -> dict[str, str]:
    """PUF column names of one enrollment type (header names with surrounding spaces stripped)."""
    return {
        "per_capita": f"Per capita {label} expenditures",
        "risk_score": f"Average {label} HCC risk score",
        "person_years": f"{label} person-years",
    }


def required_columns() -> list[str]:
    names = list(IDENTITY_COLUMNS)
    for label in PUF_TYPE_LABELS.values():
        names += list(puf_columns(label).values())
    return names


def conform_county_puf(raw: ir.Table, source_file: str) -> tuple[ir.Table, ir.Table]:
    """Reshape the PUF to ``year, county_code, state_name, county_name, enrollment_type, per_capita,
    risk_score, person_years`` and collect rejected cells.

    Parameters
    ----------
    raw
        The PUF read as strings, header names stripped, plus ``source_line`` (1-based line in the file).
    source_file
        File name, for error messages and rejects.

    Returns
    -------
    (regional, rejects)
        ``rejects`` has ``source_file, source_line, field, reason``.
    """
    missing = [c for c in required_columns() if c not in raw.columns]
    if missing:
        raise InputFileError(source_file, "not a county FFS benchmark PUF: missing column", field=missing[0])
    county_code = trim_text(raw["State ID"]).lpad(2, "0") + trim_text(raw["County ID"]).lpad(3, "0")
    parts = []
    rejects = []
    for kind, label in PUF_TYPE_LABELS.items():
        names = puf_columns(label)
        values = {key: trim_text(raw[col]) for key, col in names.items()}
        numbers = {
            "per_capita": values["per_capita"].try_cast("decimal(18, 2)"),
            "risk_score": values["risk_score"].try_cast("decimal(12, 5)"),
            "person_years": values["person_years"].try_cast("decimal(18, 2)"),
        }
        suppressed = ibis.or_(*[values[key].isin(SUPPRESSED) for key in names])
        complete = ibis.and_(*[numbers[key].notnull() for key in names])
        year = trim_text(raw["Year"]).try_cast("int32")
        part = raw.filter(complete, year.notnull()).select(
            year=year,
            county_code=county_code,
            state_name=trim_text(raw["State Name"]),
            county_name=trim_text(raw["County Name"]),
            enrollment_type=ibis.literal(kind),
            **numbers,
        )
        parts.append(part)
        bad_field = ibis.cases(
            *[(numbers[key].isnull(), names[key]) for key in names], else_=ibis.literal("Year")
        )
        bad = raw.filter(~suppressed, ~complete | year.isnull()).select(
            source_file=ibis.literal(source_file),
            source_line=raw.source_line.cast("int64"),
            field=bad_field,
            reason=ibis.literal("not a number"),
        )
        rejects.append(bad)
    return ibis.union(*parts), ibis.union(*rejects)
