"""Vega-Lite chart specifications of simulation results (plain dicts: JSON in, JSON out).

Amounts are JSON numbers in dollars: a chart is a picture of the exact figures the Parquet tables hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def _number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def distribution_chart(bins: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Histogram of net settlements per entity (rows ``entity_id, bin_start, bin_end, scenarios``)."""
    values = [
        {
            "entity_id": row["entity_id"],
            "bin_start": _number(row["bin_start"]),
            "bin_end": _number(row["bin_end"]),
            "scenarios": int(row["scenarios"]),
        }
        for row in bins
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "description": "Distribution of the net settlement over the simulated scenarios (payer -> entity, $)",
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
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
        "resolve": {"scale": {"x": "independent", "y": "independent"}},
    }


def summary_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Per entity: the 5th-95th percentile range of the net settlement, its expectation and the CVaR 95 %."""
    values = [
        {
            "entity_id": row["entity_id"],
            "p05_net": _number(row["p05_net"]),
            "p95_net": _number(row["p95_net"]),
            "expected_net": _number(row["expected_net"]),
            "cvar95": _number(row["cvar95"]),
        }
        for row in rows
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "description": "Expected net settlement, 5th-95th percentile range and expected shortfall (CVaR 95 %)",
        "data": {"values": values},
        "encoding": {"y": {"field": "entity_id", "type": "nominal", "title": "entity"}},
        "layer": [
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
    }


def frontier_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Contracts compared: expected net (y) against CVaR 95 % (x), one point per contract and entity."""
    values = [
        {
            "contract": row["contract"],
            "entity_id": row["entity_id"],
            "expected_net": _number(row["expected_net"]),
            "cvar95": _number(row["cvar95"]),
            "on_frontier": bool(row.get("on_frontier")),
        }
        for row in rows
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "description": "Expected value against expected shortfall: up and right is better for the provider",
        "data": {"values": values},
        "mark": {"type": "point", "filled": True, "size": 90},
        "encoding": {
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
    }


def tornado_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Bars from the low to the high value of the expected net as each term or assumption moves."""
    values = [
        {
            "parameter": row["parameter"],
            "low": _number(row["expected_net_low"]),
            "high": _number(row["expected_net_high"]),
            "swing": _number(row["swing"]),
        }
        for row in rows
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "description": "Expected net settlement as each term or assumption moves from its low to its high value",
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "y": {"field": "parameter", "type": "nominal", "sort": {"field": "swing", "order": "descending"}},
            "x": {"field": "low", "type": "quantitative", "title": "expected net settlement ($)"},
            "x2": {"field": "high"},
        },
    }


def line_chart(
    rows: Sequence[dict[str, Any]], x: str, y: str, color: str | None, title: str
) -> dict[str, Any]:
    """A line per ``color`` value of ``y`` against ``x`` (numbers or ISO dates)."""
    values = [{k: (_number(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows]
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": "temporal" if "month" in x or "date" in x else "quantitative"},
        "y": {"field": y, "type": "quantitative"},
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal"}
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "data": {"values": values},
        "mark": {"type": "line", "point": True},
        "encoding": encoding,
    }


__all__ = ["distribution_chart", "frontier_chart", "line_chart", "summary_chart", "tornado_chart"]
