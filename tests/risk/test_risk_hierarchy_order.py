"""Hierarchies against CMS's own SAS macros (V28115H1, V24H86H1), read from tests/fixtures/risk.

The macros zero child HCCs parent by parent in file order, each test reading the already-updated HCC
flags. This test replays that sequence in plain Python for hypothesis-chosen sets of HCCs and checks
that apmkit's set-based anti-join expression keeps exactly the same HCCs, and that apmkit's shipped
hierarchy table has exactly the macros' parent/child pairs.
"""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from risk_cases import RISK_FIXTURES

from apmkit.risk.model import _impose_hierarchies
from apmkit.risk.reference import model_tables

MACROS = {"V28": "V28115H1.TXT", "V24": "V24H86H1.TXT"}


def cms_order(model: str) -> list[tuple[int, list[int]]]:
    text = (RISK_FIXTURES / MACROS[model]).read_text()
    found = re.finditer(r"%SET0\(CC=(\d+)\s*,\s*HIER=%STR\(([^)]*)\)", text)
    return [(int(m.group(1)), [int(c) for c in re.findall(r"\d+", m.group(2))]) for m in found]


def cms_impose(order: list[tuple[int, list[int]]], present: set[int]) -> set[int]:
    kept = set(present)
    for parent, children in order:
        if parent in kept:
            kept -= set(children)
    return kept


@pytest.mark.parametrize("model", ["V24", "V28"])
def test_shipped_hierarchy_is_cms_macro(model):
    pairs = {(p, c) for p, children in cms_order(model) for c in children}
    table = model_tables(model, 2026).hierarchy
    shipped = set(
        zip(table.column("parent_cc").to_pylist(), table.column("child_cc").to_pylist(), strict=True)
    )
    assert shipped == pairs


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_hierarchies_match_cms_macro_order(engine, seed):
    rng = random.Random(seed)
    for model in ("V24", "V28"):
        order = cms_order(model)
        ccs = sorted({p for p, _ in order} | {c for _, cs in order for c in cs})
        members = {f"m{i}": set(rng.sample(ccs, rng.randint(1, 8))) for i in range(400)}
        rows = [(m, cc) for m, present in members.items() for cc in sorted(present)]
        present = engine.from_arrow(pa.table({"member_id": [r[0] for r in rows], "cc": [r[1] for r in rows]}))
        kept, _ = _impose_hierarchies(present, model_tables(model, 2026))
        got: dict[str, set[int]] = {m: set() for m in members}
        for row in engine.to_arrow(kept.select("member_id", cc=kept.cc.cast("int64"))).to_pylist():
            got[row["member_id"]].add(row["cc"])
        expected = {m: cms_impose(order, present_ccs) for m, present_ccs in members.items()}
        assert got == expected, model
