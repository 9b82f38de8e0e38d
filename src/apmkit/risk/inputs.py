"""Conform risk-adjustment inputs (persons, diagnoses) and keep the rows that break a rule.

Both functions accept string columns (as read from CSV) or already-typed columns, check every row
in one ibis expression, and return the valid rows in the types the model needs plus a rejects table
``table, source_file, source_line, field, reason`` (reasons name fields and rules, never values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apmkit.errors import InputFileError
from apmkit.portable import one_of
from apmkit.risk._expr import trimmed
from apmkit.schemas.canonical import DUAL_STATUS_CODES

PERSON_REQUIRED = ("member_id", "birth_date", "sex", "orec", "ltimcaid", "nemcaid")
PERSON_OPTIONAL = ("dual_status_code", "esrd", "snp", "institutional", "new_enrollee")
DIAGNOSIS_REQUIRED = ("member_id", "dx_code")

_TRUE = ("1", "TRUE", "T", "Y", "YES")
_FALSE = ("0", "FALSE", "F", "N", "NO", "")
# ICD-10-CM: a letter, a digit, then one to five letters or digits (dot removed).
_ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z]{1,5}$"
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# No one is older than this; an older birth date is a typing error.
_MAX_AGE_YEARS = 125

REJECT_COLUMNS = ("table", "source_file", "source_line", "field", "reason")
# The conformed persons columns (valid rows), then the line number the rejects report.
_PERSON_TYPED = (
    "member_id",
    "birth_date",
    "sex",
    "orec",
    "ltimcaid",
    "nemcaid",
    "dual_status_code",
    *PERSON_OPTIONAL[1:],
    "source_line",
)


@dataclass(frozen=True)
class Conformed:
    """Valid rows and rejected rows of one input."""

    valid: ir.Table
    rejects: ir.Table


def _text(table: ir.Table, name: str) -> ir.StringValue:
    if name not in table.columns:
        return ibis.literal("", type="string")
    return trimmed(table[name].cast("string")).fill_null("")


def _require_columns(table: ir.Table, required: tuple[str, ...], source_file: str) -> None:
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise InputFileError(source_file, f"missing required column(s): {', '.join(missing)}")


def _combine(
    checks: list[tuple[str, ir.BooleanValue, str]],
) -> tuple[ir.BooleanValue, ir.StringValue, ir.StringValue]:
    """Combine checks (field, failed, message) into (any_failed, first field, all reasons)."""
    any_failed = ibis.literal(False)
    reason = ibis.literal("", type="string")
    for field, failed, message in checks:
        failed = failed.fill_null(True)
        any_failed = any_failed | failed
        reason = reason + ibis.ifelse(failed, f"{field}: {message}; ", "")
    first_field = ibis.cases(*[(failed.fill_null(True), field) for field, failed, _ in checks], else_="")
    return any_failed, first_field, reason


def _line(table: ir.Table) -> ir.IntegerValue:
    if "source_line" in table.columns:
        return table.source_line.cast("int64")
    return ibis.null("int64")


def conform_persons(
    raw: ir.Table,
    *,
    payment_year: int,
    source_file: str = "persons",
    materialize: Callable[[ir.Table], ir.Table] | None = None,
) -> Conformed:
    """Check and type the persons table.

    Parameters
    ----------
    raw
        ``member_id, birth_date (YYYY-MM-DD), sex (M/F or 1/2), orec (0-3), ltimcaid (0/1),
        nemcaid (0/1)`` and optionally ``dual_status_code`` (CMS 2-digit code, blank = non-dual),
        ``esrd``, ``snp``, ``institutional``, ``new_enrollee`` (0/1), ``source_line``.
    payment_year
        Birth dates after February 1 of this year are impossible.
    source_file
        Name used in rejects and error messages.
    materialize
        When given, computes the checked rows once (typed values and one flag per rule), which both
        ``valid`` and ``rejects`` then read: otherwise each of them repeats every check.

    Returns
    -------
    Conformed
        ``valid``: ``member_id, birth_date (date), sex (M/F), orec, ltimcaid, nemcaid,
        dual_status_code, esrd, snp, institutional, new_enrollee`` (booleans).
    """
    _require_columns(raw, PERSON_REQUIRED, source_file)
    member_id = _text(raw, "member_id")
    birth_text = _text(raw, "birth_date")
    birth = ibis.ifelse(birth_text.re_search(_DATE_PATTERN), birth_text, ibis.null("string")).try_cast("date")
    sex_text = _text(raw, "sex").upper()
    sex = ibis.cases(
        (one_of(sex_text, ("M", "1")), "M"), (one_of(sex_text, ("F", "2")), "F"), else_=ibis.null("string")
    )
    orec = _text(raw, "orec")
    dual_text = _text(raw, "dual_status_code").upper()
    dual = ibis.cases((one_of(dual_text, ("", "NA")), ibis.null("string")), else_=dual_text)

    def flag(name: str) -> tuple[ir.BooleanValue, ir.BooleanValue]:
        value = _text(raw, name).upper()
        return one_of(value, _TRUE), ~(one_of(value, _TRUE) | one_of(value, _FALSE))

    feb_first = ibis.date(payment_year, 2, 1)
    oldest = ibis.date(payment_year - _MAX_AGE_YEARS, 2, 1)
    checks: list[tuple[str, ir.BooleanValue, str]] = [
        ("member_id", member_id == "", "required"),
        ("birth_date", birth.isnull(), "not a valid YYYY-MM-DD date"),
        # A NULL birth date is reported once, as invalid, not again by the range rules.
        (
            "birth_date",
            (birth > feb_first).fill_null(False),
            f"after February 1 of payment year {payment_year}",
        ),
        (
            "birth_date",
            (birth < oldest).fill_null(False),
            f"more than {_MAX_AGE_YEARS} years before payment year",
        ),
        ("sex", sex.isnull(), "must be M, F, 1 or 2"),
        ("orec", ~one_of(orec, ("0", "1", "2", "3")), "must be 0, 1, 2 or 3"),
        ("dual_status_code", dual.notnull() & ~one_of(dual, DUAL_STATUS_CODES), "not a CMS dual status code"),
    ]
    flags = {}
    for name in ("ltimcaid", "nemcaid", *PERSON_OPTIONAL[1:]):
        value, invalid = flag(name)
        flags[name] = value
        checks.append((name, invalid, "must be 0 or 1"))
    # Each rule is a boolean column; reasons are spelled out for the failing rows only.
    failed_rules = {f"_rule_{i}": failed.fill_null(True) for i, (_, failed, _) in enumerate(checks)}
    typed = raw.mutate(
        member_id=member_id,
        birth_date=birth,
        sex=sex,
        orec=orec,
        dual_status_code=dual,
        **flags,
        source_line=_line(raw),
        **failed_rules,
    )
    # Every copy of a repeated member_id is rejected: which row is right cannot be known.
    copies = typed.member_id.count().over(group_by=typed.member_id)
    duplicate_rule = f"_rule_{len(checks)}"
    typed = typed.mutate(**{duplicate_rule: (typed.member_id != "") & (copies > 1)})
    rules = [*checks, ("member_id", ibis.literal(True), "appears more than once")]
    if materialize is not None:
        typed = materialize(typed.select(*_PERSON_TYPED, *[f"_rule_{i}" for i in range(len(rules))]))
    any_failed = ibis.or_(*[typed[f"_rule_{i}"] for i in range(len(rules))])
    valid = typed.filter(~any_failed).select(*_PERSON_TYPED[:-1])
    failed = typed.filter(any_failed)
    spelled = [(field, failed[f"_rule_{i}"], message) for i, (field, _, message) in enumerate(rules)]
    _, field, reason = _combine(spelled)
    rejects = _reject_rows(failed.mutate(_field=field, _reason=reason), "persons", source_file)
    return Conformed(valid=valid, rejects=rejects)


def text_column(table: ir.Table, name: str) -> ir.StringValue:
    """Column ``name`` as trimmed text, ``""`` when NULL or absent (optional input columns)."""
    return _text(table, name)


def add_checked_column(
    raw: ir.Table,
    valid_people: ir.Table,
    *,
    column: str,
    value: ir.Value,
    bad: ir.BooleanValue,
    reason: str,
    source_file: str = "persons",
) -> tuple[ir.Table, ir.Table]:
    """Add a model-specific column (``value``, an expression on ``raw``) to the valid persons and reject
    the rows where ``bad`` holds, with ``column: reason``.

    Only rows that passed the common persons checks are checked, so a row failing both is reported
    once, with the common reasons.

    Returns
    -------
    tuple
        (valid persons plus ``column``, rejects ``table, source_file, source_line, field, reason``).
    """
    checked = raw.select(
        raw_member_id=_text(raw, "member_id"), value=value, bad=bad.fill_null(True), source_line=_line(raw)
    )
    # valid_people has one row per member (repeated ids are rejected), so this join keeps its rows.
    joined = valid_people.join(checked, valid_people.member_id == checked.raw_member_id)
    valid = joined.filter(~joined.bad).select(*valid_people.columns, **{column: joined.value})
    failed = joined.filter(joined.bad)
    failed = failed.mutate(_field=ibis.literal(column), _reason=ibis.literal(f"{column}: {reason}"))
    return valid, _reject_rows(failed, "persons", source_file)


def normalize_dx_code(code: ir.StringValue) -> ir.StringValue:
    """Upper case, no dot, no surrounding blanks: the form CMS's mapping tables use."""
    return trimmed(code.cast("string")).upper().replace(".", "")


def conform_diagnoses(
    raw: ir.Table,
    persons: ir.Table,
    *,
    source_file: str = "diagnoses",
    materialize: Callable[[ir.Table], ir.Table] | None = None,
) -> Conformed:
    """Check diagnoses: a member in ``persons`` (valid rows) and a well-formed ICD-10-CM code.

    Codes that are well formed but map to no HCC are valid (most diagnoses carry no HCC).

    ``valid`` holds the rows with a member id (malformed codes stay in it: they are reported in
    ``rejects`` and can never map to an HCC); rows of members missing from
    ``persons`` are reported in ``rejects`` but left in ``valid``, because scoring joins diagnoses to
    persons anyway, and a join of every diagnosis to the persons table is the costliest step of a
    large run. Codes are normalized and checked once per distinct code, not once per row; with
    ``materialize`` the table of distinct codes is computed once for ``valid`` and ``rejects``.
    """
    _require_columns(raw, DIAGNOSIS_REQUIRED, source_file)
    rows = raw.select(
        member_id=_text(raw, "member_id"), raw_dx_code=raw["dx_code"].cast("string"), source_line=_line(raw)
    )
    distinct = rows.select("raw_dx_code").distinct()
    normalized = normalize_dx_code(distinct.raw_dx_code.fill_null(""))
    # NULL codes never match an equality join; key them as the empty code.
    codes = distinct.select(
        code_key=distinct.raw_dx_code.fill_null(""),
        dx_code=normalized,
        well_formed=normalized.re_search(_ICD10_PATTERN),
    )
    if materialize is not None:
        codes = materialize(codes)
    keyed = rows.mutate(code_key=rows.raw_dx_code.fill_null(""))
    typed = keyed.join(codes, "code_key")
    # Malformed codes are rejected below but not filtered here: they can never match the HCC mapping,
    # and DuckDB pushes a filter on the per-code check below the DISTINCT, evaluating the regex once
    # per row instead of once per code (2.3 s of 3.1 s on 8M diagnoses).
    valid = typed.filter(typed.member_id != "").select("member_id", "dx_code")

    known = persons.select(known_member_id=persons.member_id).distinct()
    checked = typed.left_join(known, typed.member_id == known.known_member_id)
    checks: list[tuple[str, ir.BooleanValue, str]] = [
        ("member_id", checked.member_id == "", "required"),
        (
            "member_id",
            (checked.member_id != "") & checked.known_member_id.isnull(),
            "no valid row for this member in the persons file",
        ),
        ("dx_code", checked.dx_code == "", "required"),
        ("dx_code", (checked.dx_code != "") & ~checked.well_formed, "not an ICD-10-CM code"),
    ]
    any_failed, field, reason = _combine(checks)
    checked = checked.mutate(_failed=any_failed, _field=field, _reason=reason)
    rejects = _reject_rows(checked.filter(checked._failed), "diagnoses", source_file)
    return Conformed(valid=valid, rejects=rejects)


def _reject_rows(failed: ir.Table, table_name: str, source_file: str) -> ir.Table:
    return failed.select(
        table=ibis.literal(table_name),
        source_file=ibis.literal(source_file),
        source_line=failed.source_line,
        field=failed._field,
        reason=failed._reason.re_replace(r";\s*$", ""),
    )
