"""Extra inputs of attribution (CSV files next to the canonical tables) and their schemas.

``participants``
    Which TINs (optionally TIN/NPI pairs) belong to which entity (ACO, practice, contract group).
``roster``, ``member_selected_pcp``, ``voluntary_alignment``
    Member assignments supplied from outside claims; all three share :data:`ASSIGNMENT_INPUT`.

Every input keeps its provenance (file, 1-based line) so rejected rows can be traced.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.portable import trim_text
from apmkit.schemas.canonical import NPI_PATTERN, TIN_PATTERN
from apmkit.schemas.model import Column, TableSchema, columns

_PROVENANCE = (
    Column("source_file", "string", description="Input file the row came from"),
    Column("source_line", "int64", description="1-based data line in that file"),
)

PARTICIPANTS = TableSchema(
    name="participants",
    version="1.0",
    description="Participant list: the TINs (or TIN/NPI pairs) that make up each entity.",
    columns=columns(
        Column("entity_id", "string", required=True, description="Entity (ACO, practice group, contract)"),
        Column("tin", "string", required=True, pattern=TIN_PATTERN, description="Participant billing TIN"),
        Column(
            "npi", "string", pattern=NPI_PATTERN, description="Clinician NPI; empty = every NPI of the TIN"
        ),
        Column("start_date", "date", description="First day of participation (empty = open)"),
        Column("end_date", "date", description="Last day of participation (empty = open)"),
        _PROVENANCE,
    ),
    provenance_columns=("source_file", "source_line"),
)

ASSIGNMENT_INPUT = TableSchema(
    name="assignment_input",
    version="1.0",
    description="A roster, member-selected PCP or voluntary-alignment file: one row per member assignment.",
    columns=columns(
        Column("member_id", "string", required=True, description="Member"),
        Column("entity_id", "string", description="Entity assigned to (or looked up from participants)"),
        Column("tin", "string", pattern=TIN_PATTERN, description="TIN assigned to"),
        Column("npi", "string", pattern=NPI_PATTERN, description="Clinician assigned to / designated"),
        Column("start_date", "date", required=True, description="Assignment or designation effective date"),
        Column("end_date", "date", description="Last effective day (empty = open)"),
        _PROVENANCE,
    ),
    provenance_columns=("source_file", "source_line"),
)

REJECTS = TableSchema(
    name="attribution_rejects",
    version="1.0",
    description="Input rows attribution could not use, each with where it came from and why.",
    columns=columns(
        Column("contract_id", "string", description="Attribution (contract) the run was for"),
        Column("input", "string", required=True, description="medical_claims, participants, roster, ..."),
        Column("source_file", "string", description="File the row came from"),
        Column("source_line", "int64", description="1-based line (or record) number in that file"),
        Column("record_id", "string", description="Claim id/line or member id of the row"),
        Column("field", "string", description="First field at fault"),
        Column("reason", "string", required=True, description="Why the row was not used"),
    ),
    provenance_columns=(),
)


def conform_input(raw: ir.Table, schema: TableSchema, input_name: str) -> tuple[ir.Table, ir.Table]:
    """Cast a raw (all-string) input to ``schema``; rows that break a rule go to rejects.

    ``raw`` must carry ``source_file`` and ``source_line``; the caller has already checked that every
    required column is present (and named the file in its error).

    Returns
    -------
    (valid, rejects)
        ``valid`` in ``schema``; ``rejects`` in :data:`REJECTS` with the first failing field.
    """
    checks: list[tuple[str, str, ir.BooleanValue]] = []
    typed: dict[str, ir.Value] = {}
    for column in schema.columns:
        if column.name in ("source_file", "source_line"):
            typed[column.name] = raw[column.name].cast(column.ibis_type)
            continue
        if column.name in raw.columns:
            text = trim_text(raw[column.name].cast("string"))
            text = ibis.ifelse(text == "", ibis.null("string"), text)
        else:
            text = ibis.null("string")
        if column.dtype == "date":
            value = text.try_cast("date")
            checks.append((column.name, "not a date (YYYY-MM-DD)", text.notnull() & value.isnull()))
        else:
            value = text
        if column.required:
            checks.append((column.name, "missing required value", text.isnull()))
        if column.pattern:
            checks.append(
                (
                    column.name,
                    f"does not match {column.pattern}",
                    text.notnull() & ~text.re_search(column.pattern),
                )
            )
        typed[column.name] = value.name(column.name)
    first_failure = ibis.cases(*[(bad, name) for name, _, bad in checks], else_=ibis.null("string"))
    first_reason = ibis.cases(*[(bad, reason) for _, reason, bad in checks], else_=ibis.null("string"))
    with_checks = raw.mutate(
        _bad_field=first_failure,
        _bad_reason=first_reason,
        **{f"_typed_{name}": expr for name, expr in typed.items()},
    )
    good = with_checks.filter(with_checks._bad_field.isnull())
    valid = good.select(**{name: good[f"_typed_{name}"] for name in typed})
    bad = with_checks.filter(with_checks._bad_field.notnull())
    rejects = bad.select(
        contract_id=ibis.null("string"),
        input=ibis.literal(input_name),
        source_file=bad.source_file.cast("string"),
        source_line=bad.source_line.cast("int64"),
        record_id=(bad["member_id"].cast("string") if "member_id" in bad.columns else ibis.null("string")),
        field=bad._bad_field,
        reason=bad._bad_reason,
    )
    return valid, rejects
