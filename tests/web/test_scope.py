"""The one scope rule on a run whose entity spans several TINs (an ACO-like entity E1 of TINs T1 and T2, and an
entity E2 that is TIN T3), read through :class:`apmkit.workspace.run_marts.RunMarts`.

The marts are written by hand with pyarrow (the columns ``apmkit run`` writes); the expected rows are computed
with pandas from the rule's words (docs/web.md, "Scope"): a row is the provider's when its entity is one of its
entities, OR its TIN is one of its TINs, OR its NPI is one of its NPIs; an entity-level row by its entity id.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apmkit.reports.framework import Scope
from apmkit.workspace.run_marts import NotFound, RunMarts

ATTRIBUTION = pd.DataFrame(
    {
        "member_id": ["M1", "M2", "M3", "M4", "M5", "M6"],
        "attributed": [True, True, True, True, True, False],
        "entity_id": ["E1", "E1", "E1", "T3", "T3", None],
        "tin": ["T1", "T1", "T2", "T3", "T3", None],
        "npi": ["N1", "N2", "N3", "N4", "N3", None],
    }
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scope-run")
    pq.write_table(pa.Table.from_pandas(ATTRIBUTION, preserve_index=False), folder / "attribution.parquet")
    linked = ATTRIBUTION[ATTRIBUTION["attributed"]]
    detail = pa.table(
        {
            "entity_id": list(linked["entity_id"]),
            "member_id": list(linked["member_id"]),
            "expenditure": pa.array([Decimal("100.00")] * len(linked), pa.decimal128(18, 2)),
        }
    )
    pq.write_table(detail, folder / "member_detail.parquet")
    summary = pa.table(
        {
            "entity_id": ["E1", "T3"],
            "net_settlement": pa.array([Decimal("1.50"), Decimal("-2.25")], pa.decimal128(18, 2)),
        }
    )
    pq.write_table(summary, folder / "summary.parquet")
    lines = pa.table({"entity_id": ["E1", "E1", "T3"], "sequence": [1, 2, 1], "label": ["a", "b", "c"]})
    pq.write_table(lines, folder / "lines.parquet")
    return folder


def _expected(scope: Scope) -> set[str]:
    rows = ATTRIBUTION
    reached = pd.Series(False, index=rows.index)
    for column, values in (("entity_id", scope.entity_ids), ("tin", scope.tins), ("npi", scope.npis)):
        if values:
            reached |= rows[column].isin(values)
    return set(rows.loc[reached, "member_id"])


@pytest.mark.parametrize(
    "scope",
    [
        Scope(tins=frozenset({"T1"})),
        Scope(tins=frozenset({"T2"}), npis=frozenset({"N4"})),
        Scope(npis=frozenset({"N3"})),
        Scope(entity_ids=frozenset({"E1"})),
        Scope(entity_ids=frozenset({"E1"}), tins=frozenset({"T3"})),
    ],
)
def test_member_rows_follow_the_any_identifier_rule(run: Path, scope: Scope) -> None:
    marts = RunMarts()
    expected = _expected(scope)
    attribution = marts.attribution(run, scope, size=500)
    assert {r["member_id"] for r in attribution.rows} == expected
    members = marts.members(run, scope, size=None)
    linked = set(ATTRIBUTION.loc[ATTRIBUTION["attributed"], "member_id"])
    assert {r["member_id"] for r in members.rows} == expected & linked


def test_a_tin_of_a_larger_entity_sees_its_own_members_not_the_entitys_statement(run: Path) -> None:
    marts = RunMarts()
    t1 = Scope(tins=frozenset({"T1"}))
    assert {r["member_id"] for r in marts.members(run, t1, size=None).rows} == {"M1", "M2"}  # not T2's M3
    assert marts.summary(run, t1) == []
    with pytest.raises(NotFound):
        marts.statement(run, "E1", t1)
    # the entity is granted by its id; a TIN-level entity by its TIN
    assert [r["entity_id"] for r in marts.summary(run, Scope(entity_ids=frozenset({"E1"})))] == ["E1"]
    t3 = marts.statement(run, "T3", Scope(tins=frozenset({"T3"})))
    assert t3["summary"]["net_settlement"] == "-2.25" and [line["label"] for line in t3["lines"]] == ["c"]
    # a grant of nothing reaches nothing; no scope reaches everything
    assert marts.members(run, Scope(), size=None).total == 0
    assert marts.members(run, None, size=None).total == 5


def test_each_scope_is_kept_apart(run: Path) -> None:
    """The scoped shares are cached per (run, mart, scope): one provider's cached rows never answer another."""
    marts = RunMarts(cache_size=4)
    first, second = Scope(tins=frozenset({"T1"})), Scope(tins=frozenset({"T3"}))
    for _ in range(2):
        assert {r["member_id"] for r in marts.members(run, first, size=None).rows} == {"M1", "M2"}
        assert {r["member_id"] for r in marts.members(run, second, size=None).rows} == {"M4", "M5"}
