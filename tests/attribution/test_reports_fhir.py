"""Change report, monthly list, panel sizes and the Da Vinci ATR export on two hand-written runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apmkit.attribution.fhir import ATR, atr_bundle, atr_groups
from apmkit.attribution.outputs import ATTRIBUTION
from apmkit.attribution.reports import changes, monthly_list, panel_summary

NOV, DEC = dt.date(2025, 11, 30), dt.date(2025, 12, 31)


def row(
    member_id: str,
    as_of: dt.date,
    entity: str | None,
    tin: str | None = None,
    npi: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    base = {
        "contract_id": "c1",
        "method": "plurality",
        "as_of_date": as_of,
        "member_id": member_id,
        "attributed": entity is not None,
        "step": "plurality" if entity else None,
        "entity_id": entity,
        "tin": tin,
        "npi": npi,
        "reason": None if entity else "no_qualifying_services",
    }
    base.update(kw)
    return base


PREVIOUS = [
    row("m1", NOV, "A", "111111111", "1000000001"),
    row("m2", NOV, "A", "111111111", "1000000001"),
    row("m3", NOV, "B", "222222222", "2000000001"),
    row("m5", NOV, "A", "111111111", "1000000002"),
    row("m6", NOV, None),
]
CURRENT = [
    row("m1", DEC, "A", "111111111", "1000000001"),
    row("m2", DEC, "B", "222222222", "2000000001"),
    row("m3", DEC, None, reason="not_eligible:deceased"),
    row("m4", DEC, "A", "111111111", "1000000002", step="step1"),
    row("m6", DEC, None),
]


@pytest.fixture(scope="module")
def runs(engine: Any) -> tuple[Any, Any]:
    return engine.from_rows(PREVIOUS, ATTRIBUTION), engine.from_rows(CURRENT, ATTRIBUTION)


def test_changes_with_reasons(engine: Any, runs: tuple[Any, Any]) -> None:
    got = engine.to_arrow(changes(*runs)).to_pylist()
    by_member = {
        r["member_id"]: (r["change"], r["reason"], r["previous_entity_id"], r["current_entity_id"])
        for r in got
    }
    assert by_member == {
        "m2": ("transferred", "transfer:plurality", "A", "B"),
        "m3": ("dropped", "not_eligible:deceased", "B", None),
        "m4": ("added", "attributed:step1", None, "A"),
        "m5": ("dropped", "absent_from_current_run", "A", None),
    }


def test_monthly_list_and_panels(engine: Any, runs: tuple[Any, Any]) -> None:
    both = runs[0].union(runs[1])
    listed = engine.to_arrow(monthly_list(both)).to_pylist()
    assert sorted((r["month"], r["member_id"]) for r in listed) == [
        (dt.date(2025, 11, 1), "m1"),
        (dt.date(2025, 11, 1), "m2"),
        (dt.date(2025, 11, 1), "m3"),
        (dt.date(2025, 11, 1), "m5"),
        (dt.date(2025, 12, 1), "m1"),
        (dt.date(2025, 12, 1), "m2"),
        (dt.date(2025, 12, 1), "m4"),
    ]
    panels = {
        (r["month"].month, r["entity_id"], r["npi"]): r["members"]
        for r in engine.to_arrow(panel_summary(both)).to_pylist()
    }
    assert panels == {
        (11, "A", "1000000001"): 2,
        (11, "B", "2000000001"): 1,
        (11, "A", "1000000002"): 1,
        (12, "A", "1000000001"): 1,
        (12, "B", "2000000001"): 1,
        (12, "A", "1000000002"): 1,
    }


def test_atr_groups(engine: Any, runs: tuple[Any, Any]) -> None:
    groups = atr_groups(
        engine.to_arrow(runs[1]),
        period_start=dt.date(2025, 1, 1),
        period_end=DEC,
        changes=engine.to_arrow(changes(*runs)),
        member_system="http://hl7.org/fhir/sid/us-mbi",
    )
    by_id = {g["id"]: g for g in groups}
    assert sorted(by_id) == ["c1-A", "c1-B"]
    group_a = by_id["c1-A"]
    assert group_a["resourceType"] == "Group" and group_a["type"] == "person" and group_a["actual"] is True
    assert group_a["meta"]["profile"] == [f"{ATR}/atr-group"]
    assert {"url": f"{ATR}/ext-attributionListStatus", "valueCode": "final"} in group_a["extension"]

    def summary(group: dict[str, Any]) -> dict[str, tuple[str, bool, str]]:
        out = {}
        for m in group["member"]:
            ext = {e["url"].rsplit("/", 1)[1]: e for e in m["extension"]}
            out[m["entity"]["identifier"]["value"]] = (
                ext["ext-changeType"]["valueCode"],
                m["inactive"],
                ext["ext-attributedProvider"]["valueReference"]["identifier"]["value"],
            )
        return out

    # m5 was dropped from A (absent now) and m3 from B; both are listed inactive under their old entity.
    assert summary(group_a) == {
        "m1": ("nochange", False, "1000000001"),
        "m4": ("new", False, "1000000002"),
        "m5": ("dropped", True, "1000000002"),
    }
    assert summary(by_id["c1-B"]) == {
        "m2": ("changed", False, "2000000001"),
        "m3": ("dropped", True, "2000000001"),
    }
    assert (group_a["quantity"], by_id["c1-B"]["quantity"]) == (2, 1)
    assert group_a["member"][0]["entity"]["identifier"]["system"] == "http://hl7.org/fhir/sid/us-mbi"
    bundle = atr_bundle(groups)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 2
