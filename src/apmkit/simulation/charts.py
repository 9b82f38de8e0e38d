"""Vega-Lite chart specifications of simulation results (plain dicts: JSON in, JSON out).

Amounts are JSON numbers in dollars: a chart is a picture of the exact figures the Parquet tables hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def _number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _values(
    rows: Sequence[dict[str, Any]],
    keep: Sequence[str] = (),
    numbers: dict[str, str] | None = None,
    **computed: Callable[[dict[str, Any]], Any],
) -> list[dict[str, Any]]:
    """The rows a chart plots: ``keep`` fields as they are, ``numbers`` (chart field -> row field) in dollars as
    JSON numbers, then each ``computed`` field; in that order."""
    return [
        {k: row[k] for k in keep}
        | {name: _number(row[source]) for name, source in (numbers or {}).items()}
        | {name: compute(row) for name, compute in computed.items()}
        for row in rows
    ]


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


def _spec(title: str, description: str | None, values: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    """A Vega-Lite specification: schema, title, description (when given), inline data, then mark and encoding."""
    head: dict[str, Any] = {"$schema": VEGA_LITE_SCHEMA, "title": title}
    if description is not None:
        head["description"] = description
    return head | {"data": {"values": values}} | body


def distribution_chart(bins: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Histogram of net settlements per entity (rows ``entity_id, bin_start, bin_end, scenarios``)."""
    return _spec(
        title,
        "Distribution of the net settlement over the simulated scenarios (payer -> entity, $)",
        _values(
            bins, ["entity_id"], _same("bin_start", "bin_end"), scenarios=lambda row: int(row["scenarios"])
        ),
        mark="bar",
        encoding={
            "x": {
                "field": "bin_start",
                "type": "quantitative",
                "bin": {"binned": True},
                "title": "net settlement ($)",
            },
            "x2": {"field": "bin_end"},
            "y": {"field": "scenarios", "type": "quantitative", "title": "scenarios"},
            "row": {"field": "entity_id", "type": "nominal", "title": "entity"},
        },
        resolve={"scale": {"x": "independent", "y": "independent"}},
    )


def summary_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Per entity: the 5th-95th percentile range of the net settlement, its expectation and the CVaR 95 %."""
    return _spec(
        title,
        "Expected net settlement, 5th-95th percentile range and expected shortfall (CVaR 95 %)",
        _values(rows, ["entity_id"], _same("p05_net", "p95_net", "expected_net", "cvar95")),
        encoding={"y": {"field": "entity_id", "type": "nominal", "title": "entity"}},
        layer=[
            {
                "mark": {"type": "rule", "strokeWidth": 2},
                "encoding": {
                    "x": {"field": "p05_net", "type": "quantitative", "title": "net settlement ($)"},
                    "x2": {"field": "p95_net"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 80},
                "encoding": {"x": {"field": "expected_net"}},
            },
            {"mark": {"type": "tick", "color": "#c62828"}, "encoding": {"x": {"field": "cvar95"}}},
        ],
    )


def frontier_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Contracts compared: expected net (y) against CVaR 95 % (x), one point per contract and entity."""
    return _spec(
        title,
        "Expected value against expected shortfall: up and right is better for the provider",
        _values(
            rows,
            ["contract", "entity_id"],
            _same("expected_net", "cvar95"),
            on_frontier=lambda row: bool(row.get("on_frontier")),
        ),
        mark={"type": "point", "filled": True, "size": 90},
        encoding={
            "x": {"field": "cvar95", "type": "quantitative", "title": "CVaR 95 % of the net settlement ($)"},
            "y": {"field": "expected_net", "type": "quantitative", "title": "expected net settlement ($)"},
            "color": {"field": "contract", "type": "nominal"},
            "shape": {"field": "on_frontier", "type": "nominal", "title": "on the frontier"},
            "tooltip": [
                {"field": "contract"},
                {"field": "entity_id"},
                {"field": "expected_net"},
                {"field": "cvar95"},
            ],
        },
    )


def tornado_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Bars from the low to the high value of the expected net as each term or assumption moves."""
    return _spec(
        title,
        "Expected net settlement as each term or assumption moves from its low to its high value",
        _values(
            rows, ["parameter"], {"low": "expected_net_low", "high": "expected_net_high", "swing": "swing"}
        ),
        mark="bar",
        encoding={
            "y": {"field": "parameter", "type": "nominal", "sort": {"field": "swing", "order": "descending"}},
            "x": {"field": "low", "type": "quantitative", "title": "expected net settlement ($)"},
            "x2": {"field": "high"},
        },
    )


def line_chart(
    rows: Sequence[dict[str, Any]], x: str, y: str, color: str | None, title: str
) -> dict[str, Any]:
    """A line per ``color`` value of ``y`` against ``x`` (numbers, or ISO dates as text: a time axis)."""
    values = [{k: (_number(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows]
    dates = all(isinstance(row.get(x), str) for row in rows) if rows else "month" in x or "date" in x
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": "temporal" if dates else "quantitative"},
        "y": {"field": y, "type": "quantitative"},
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal"}
    return _spec(title, None, values, mark={"type": "line", "point": True}, encoding=encoding)


__all__ = ["distribution_chart", "frontier_chart", "line_chart", "summary_chart", "tornado_chart"]
