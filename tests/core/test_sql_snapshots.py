"""Compiled SQL of core transforms, per dialect, compared with committed snapshots.

The stack notes record that an unpinned sqlglot upgrade silently broke ibis; a dependency upgrade that
changes the SQL we run shows up here as a diff. Regenerate deliberately with ``APMKIT_UPDATE_SNAPSHOTS=1``
after reviewing the change.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import pytest

from apmkit.ingest.conform import conform
from apmkit.ingest.final_action import resolve_final_action
from apmkit.schemas import MEDICAL_CLAIMS, MEDICAL_CLAIMS_HISTORY, MEMBERS

SNAPSHOTS = Path(__file__).parent / "snapshots"


def raw_members() -> ibis.Table:
    columns = {name: "string" for name in ("member_id", "birth_date", "sex", "dual_status_code", "esrd")}
    return ibis.table(
        {**columns, "source_file": "string", "source_line": "int64", "_record": "string"}, name="raw"
    )


def transforms() -> dict[str, ibis.Expr]:
    conformed = conform(raw_members(), MEMBERS, source_format="csv")
    claims = ibis.table(MEDICAL_CLAIMS.ibis_schema(), name="claims")
    final = resolve_final_action(claims, MEDICAL_CLAIMS_HISTORY, MEDICAL_CLAIMS)
    return {"conform_members_loaded": conformed.loaded, "final_action_history": final.history}


@pytest.mark.parametrize("dialect", ["duckdb", "pyspark"])
@pytest.mark.parametrize("name", sorted(transforms()))
def test_compiled_sql_matches_snapshot(name, dialect):
    sql = ibis.to_sql(transforms()[name], dialect=dialect).strip() + "\n"
    path = SNAPSHOTS / f"{name}.{dialect}.sql"
    if os.environ.get("APMKIT_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_bytes(sql.encode())  # bytes: the SQL holds a literal carriage return (whitespace class)
    assert sql == path.read_bytes().decode(), f"compiled SQL changed: review and regenerate {path.name}"
