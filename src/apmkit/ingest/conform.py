"""Conform raw records to a canonical schema, splitting them into loaded rows and quarantine.

Input is an ibis table whose columns carry canonical names (strings straight from a file, or already
typed values from Parquet) plus ``source_file``, ``source_line`` and optionally ``_record`` (the raw
text). Every rule of the :class:`~apmkit.schemas.TableSchema` becomes an ibis expression, so a whole file
is validated in one pass on DuckDB or Spark:

- a required value is present;
- the text parses as the column type (ISO dates, integers, decimals with at most the declared scale,
  booleans as true/false, 1/0, Y/N);
- the value is in the allowed code set, at or above the minimum, and matches the pattern;
- the primary key is unique (the first occurrence, by file and line, is kept).

A rejected row goes to quarantine once, with the first failing field and every reason it failed.
Reasons name fields and rules, never values: quarantine messages may be logged, values are PHI.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE
from apmkit.portable import trim_text
from apmkit.schemas import QUARANTINE, Column, TableSchema

_TRUE = ("true", "t", "1", "y", "yes")
_FALSE = ("false", "f", "0", "n", "no")
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_PATTERN = r"^[+-]?[0-9]+$"
_MAX_LISTED_CODES = 12
EARLIEST_DATE = "1800-01-01"
LATEST_DATE = "2199-12-31"
"""Dates outside these (year 0000, the 9999-12-31 "open end" sentinel) are quarantined, not loaded."""


@dataclass(frozen=True)
class Conformed:
    """Result of :func:`conform`: rows in the canonical schema, and quarantine rows."""

    loaded: ibis.Table
    quarantined: ibis.Table
    checked: ibis.Table
    """Every row with its typed values and ``_reason`` (NULL when it loads): both of the above in one."""


def _decimal_pattern(scale: int) -> str:
    fraction = rf"(\.[0-9]{{0,{scale}}})?" if scale else r"(\.0*)?"
    return rf"^[+-]?([0-9]+{fraction}|\.[0-9]{{1,{max(scale, 1)}}})$"


def _parse(text: ir.StringValue, column: Column) -> tuple[ir.Value, ir.BooleanValue]:
    """Parse ``text`` (already trimmed, NULL when empty) as ``column``'s type.

    Returns the typed value (NULL when unparseable) and a flag that is true where text was present
    but did not parse.
    """
    target = column.ibis_type
    if target.is_string():
        return text, ibis.literal(False)
    if target.is_boolean():
        lowered = text.lower()
        value = ibis.cases(
            (lowered.isin(_TRUE), True), (lowered.isin(_FALSE), False), else_=ibis.null("boolean")
        )
        return value, text.notnull() & value.isnull()
    if target.is_date():
        shaped = text.re_search(_DATE_PATTERN)
        value = ibis.ifelse(shaped, text, ibis.null("string")).try_cast("date")
        return value, text.notnull() & value.isnull()
    if target.is_timestamp():
        value = text.try_cast("timestamp")
        return value, text.notnull() & value.isnull()
    if target.is_integer():
        shaped = text.re_search(_INT_PATTERN)
        value = ibis.ifelse(shaped, text, ibis.null("string")).try_cast(target)
        return value, text.notnull() & value.isnull()
    if target.is_decimal():
        assert isinstance(target, dt.Decimal)
        shaped = text.re_search(_decimal_pattern(target.scale or 0))
        value = ibis.ifelse(shaped, text, ibis.null("string")).try_cast(target)
        return value, text.notnull() & value.isnull()
    value = text.try_cast(target)
    return value, text.notnull() & value.isnull()


def _type_message(column: Column) -> str:
    target = column.ibis_type
    if target.is_boolean():
        return "not a boolean (true/false, 1/0, Y/N)"
    if target.is_date():
        return "not a valid date (YYYY-MM-DD)"
    if target.is_timestamp():
        return "not a valid timestamp (ISO 8601)"
    if target.is_integer():
        return "not a whole number"
    if target.is_decimal():
        assert isinstance(target, dt.Decimal)
        return f"not a number with at most {target.scale} decimals"
    return f"not a valid {target}"


def _allowed_message(column: Column) -> str:
    assert column.allowed is not None
    codes = list(column.allowed)
    listed = ", ".join(codes[:_MAX_LISTED_CODES]) + (", ..." if len(codes) > _MAX_LISTED_CODES else "")
    return f"unknown code (allowed: {listed})"


_BLANKS = (" ", "\t", "\r", "\n")


def _trimmed(source: ir.StringValue) -> ir.StringValue:
    """``trim_text(source)``, with the regular expression run only on values that start or end blank.

    Nearly every value is already trimmed; two prefix/suffix tests per blank character are far cheaper
    than a regular-expression replacement on every value of every text column.
    """
    edges = [source.startswith(c) for c in _BLANKS] + [source.endswith(c) for c in _BLANKS]
    padded = edges[0]
    for edge in edges[1:]:
        padded = padded | edge
    return ibis.ifelse(padded.fill_null(False), trim_text(source), source)


def _column_checks(raw: ibis.Table, column: Column) -> tuple[ir.Value, ir.StringValue]:
    """The typed value of ``column`` and the reason it fails (NULL when it passes)."""
    source = raw[column.name]
    if source.type().is_string():
        text = _trimmed(source).nullif("")
        value, unparseable = _parse(text, column)
    else:
        text = None
        value = source.cast(column.ibis_type) if source.type() != column.ibis_type else source
        unparseable = ibis.literal(False)
    present = value.notnull()
    failures: list[tuple[ir.BooleanValue, str]] = []
    if column.required:
        failures.append((value.isnull() & ~unparseable, "required field is empty"))
    failures.append((unparseable, _type_message(column)))
    if column.allowed is not None:
        allowed = [ibis.literal(code).cast(column.ibis_type) for code in column.allowed]
        failures.append((present & ~value.isin(allowed), _allowed_message(column)))
    if column.min_value is not None:
        if column.min_value == 0:
            message = "negative value not allowed"
        else:
            message = f"below the minimum {column.min_value:g}"
        failures.append((present & (value < column.min_value), message))
    if column.ibis_type.is_date() or column.ibis_type.is_timestamp():
        low = ibis.literal(EARLIEST_DATE).cast(column.ibis_type)
        high = ibis.literal(LATEST_DATE).cast(column.ibis_type)
        if column.ibis_type.is_timestamp():
            high = ibis.literal(f"{LATEST_DATE} 23:59:59.999999").cast(column.ibis_type)
        failures.append(
            (present & ((value < low) | (value > high)), f"date outside {EARLIEST_DATE} to {LATEST_DATE}")
        )
    if column.pattern is not None:
        checked = value if column.ibis_type.is_string() else value.cast("string")
        failures.append(
            (present & ~checked.re_search(column.pattern), f"does not match the pattern {column.pattern}")
        )
    reason = ibis.cases(
        *[(condition.fill_null(False), f"{column.name}: {message}") for condition, message in failures],
        else_=ibis.null("string"),
    )
    return value.name(column.name), reason


def conform(raw: ibis.Table, schema: TableSchema, *, source_format: str, check_key: bool = True) -> Conformed:
    """Validate ``raw`` against ``schema``.

    Parameters
    ----------
    raw
        Records with canonical column names (a subset of the schema), ``source_file`` and
        ``source_line``; ``_record`` (the raw text) is kept in quarantine when present.
    schema
        The canonical table to conform to.
    source_format
        Loader name written to ``source_format``.
    check_key
        Reject later duplicates of the primary key.

    Returns
    -------
    Conformed
        ``loaded`` in the schema's column order and types; ``quarantined`` in the quarantine layout.
    """
    provided = [
        c for c in schema.columns if c.name in raw.columns and c.name not in schema.provenance_columns
    ]
    values: dict[str, ir.Value] = {}
    reasons: list[ir.StringValue] = []
    first_field: list[ir.StringValue] = []
    for column in provided:
        value, reason = _column_checks(raw, column)
        values[column.name] = value
        reasons.append(reason)
        first_field.append(ibis.ifelse(reason.isnull(), ibis.null("string"), column.name))
    for column in schema.columns:
        if column.required and column.name not in raw.columns:
            reasons.append(ibis.literal(f"{column.name}: required field is missing"))
            first_field.append(ibis.literal(column.name))

    record = raw[RECORD] if RECORD in raw.columns else ibis.null("string")
    checked = raw.select(
        **values,
        _reason=ibis.literal("; ").join(reasons) if reasons else ibis.null("string"),
        _field=ibis.coalesce(*first_field) if first_field else ibis.null("string"),
        **{SOURCE_FILE: raw[SOURCE_FILE].cast("string"), SOURCE_LINE: raw[SOURCE_LINE].cast("int64")},
        _record=record.cast("string"),
    )
    # concat_ws of no non-null parts is '' on both engines: normalise to NULL.
    checked = checked.mutate(_reason=checked._reason.nullif(""))

    if check_key:
        checked = mark_duplicates(checked, schema)
    return split_checked(checked, schema, source_format)


def repeated_keys(checked: ibis.Table, schema: TableSchema) -> ibis.Table | None:
    """The primary-key values held by more than one valid row (None when the keys cannot be grouped so).

    Keys with NULL parts never meet in an equality join, so a schema with an optional key column gets
    None and :func:`mark_duplicates` ranks the whole table.
    """
    # A key column the input does not have is NULL on every row: grouping by the others is the same.
    key = [k for k in schema.primary_key if k in checked.columns]
    if not key or any(not c.required for c in schema.columns if c.name in schema.primary_key):
        return None
    valid = checked.filter(checked._reason.isnull())
    counted = valid.group_by(key).agg(_n=valid.count())
    return counted.filter(counted._n > 1).select(key)


def mark_duplicates(
    checked: ibis.Table, schema: TableSchema, repeated: ibis.Table | None = None
) -> ibis.Table:
    """Quarantine later duplicates of the primary key: the first by file and line wins.

    Only rows that pass every other rule compete for the key. Duplicates are rare, so the ranking
    window runs only over the valid rows whose key is in ``repeated`` (:func:`repeated_keys`, computed
    here when not given; a caller that found it empty can skip this function); every other row passes
    through unchanged. The result is the same as ranking the whole table, without sorting it.
    """
    if not schema.primary_key:
        return checked
    key = [k for k in schema.primary_key if k in checked.columns]
    if repeated is None:
        repeated = repeated_keys(checked, schema)
    if repeated is None:
        return _rank_duplicates(checked, schema)
    valid = checked.filter(checked._reason.isnull())
    contested = valid.semi_join(repeated, key)
    uncontested = valid.anti_join(repeated, key)
    rejected = checked.filter(checked._reason.notnull())
    ranked = _rank_duplicates(contested, schema)
    columns = checked.columns
    return ibis.union(rejected.select(columns), uncontested.select(columns), ranked.select(columns))


def _rank_duplicates(checked: ibis.Table, schema: TableSchema) -> ibis.Table:
    checked = checked.mutate(_valid=checked._reason.isnull())
    # A key column the input does not have is NULL on every row: grouping by the others is the same.
    key_columns = [checked[k] for k in schema.primary_key if k in checked.columns]
    window = ibis.window(
        group_by=[checked._valid, *key_columns],
        order_by=[SOURCE_FILE, SOURCE_LINE],
    )
    ranked = checked.mutate(
        _later=checked._valid & (ibis.row_number().over(window) > 0),  # ibis row_number is 0-based
        _first_line=checked[SOURCE_LINE].first().over(window),
        _first_file=checked[SOURCE_FILE].first().over(window),
    )
    key_names = ", ".join(schema.primary_key)
    duplicate_reason = ibis.literal(
        f"duplicate key ({key_names}): first loaded from "
    ) + ranked._first_file.concat(" line ", ranked._first_line.cast("string"))
    keep = [c for c in checked.columns if c != "_valid"]
    # An explicit select, not drop(): ibis renders drop() as EXCLUDE in set order, which varies by run.
    return ranked.mutate(
        _reason=ibis.ifelse(ranked._later, duplicate_reason, ranked._reason),
        _field=ibis.ifelse(ranked._later, ibis.literal(schema.primary_key[0]), ranked._field),
    ).select(keep)


def split_checked(checked: ibis.Table, schema: TableSchema, source_format: str) -> Conformed:
    """Split checked rows (the schema's typed values plus ``_reason``, ``_field``, ``source_file``,
    ``source_line`` and ``_record``) into loaded rows and quarantine rows.

    The ingest pipeline writes ``Conformed.checked`` to a Parquet file once and splits that file, so the
    checks (and the duplicate-key window) run a single time however large the table is.
    """
    loaded = checked.filter(checked._reason.isnull()).mutate(source_format=ibis.literal(source_format))
    loaded = schema.select_from(loaded)
    bad = checked.filter(checked._reason.notnull())
    quarantined = QUARANTINE.select_from(
        bad.select(
            table=ibis.literal(schema.name),
            source_file=bad[SOURCE_FILE],
            source_line=bad[SOURCE_LINE],
            field=bad._field,
            reason=bad._reason,
            record=bad._record,
        )
    )
    return Conformed(loaded=loaded, quarantined=quarantined, checked=checked)
