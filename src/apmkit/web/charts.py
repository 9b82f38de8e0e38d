"""Vega-Lite chart specifications of a design, built by pure functions (JSON in, JSON out).

The page renders them with vega-embed; the specs are plain dicts so they are tested as JSON and can be exported
with a report. Amounts are shown in dollars as JSON numbers: a chart is a picture of the exact figures that the
page and ``design.json`` print as decimal text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

GAIN_COLOR = "#2e7d32"
LOSS_COLOR = "#c62828"


def _dollars(text: Any) -> float:
    # Two-decimal amounts convert to the nearest double, whose shortest repr is the same decimal text.
    return float(Decimal(str(text)))


def simulation_chart(simulation: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bars of the settlement at the measured expenditure, the expected net and the 95th-percentile loss.

    Parameters
    ----------
    simulation
        The ``simulation`` figures of a design summary (:func:`apmkit.design.simulate.simulate`).

    Returns
    -------
    dict or None
        A Vega-Lite spec; None when there is no simulation or it reported an error.
    """
    if not simulation or "error" in simulation:
        return None
    values = [
        {
            "figure": "Settlement at measured expenditure",
            "amount": _dollars(simulation["net_settlement"]),
        },
        {
            "figure": f"Expected net over {simulation['scenarios']} scenarios",
            "amount": _dollars(simulation["expected_net"]),
        },
        {
            "figure": "95th-percentile loss",
            # A loss is money paid back, so it is drawn below zero next to the nets.
            "amount": -_dollars(simulation["p95_loss"]),
        },
    ]
    return _bar_chart(
        "Settlement outcomes of the drafted contract on the population (payer -> entity, $)",
        f"Settlement outcomes, period {simulation['period']}",
        180,
        values,
        {
            "y": {"field": "figure", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "amount", "type": "quantitative", "title": "$ (negative = paid back)"},
            "color": {
                "condition": {"test": "datum.amount < 0", "value": LOSS_COLOR},
                "value": GAIN_COLOR,
            },
            "tooltip": [
                {"field": "figure", "type": "nominal"},
                {"field": "amount", "type": "quantitative", "format": ",.2f"},
            ],
        },
    )


def capability_chart(capability: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bars of the capability level (1-4) per domain, with the rubric meaning as tooltip.

    Parameters
    ----------
    capability
        The ``capability`` section of a design summary (:meth:`CapabilityAssessment.to_dict`).

    Returns
    -------
    dict or None
        A Vega-Lite spec; None when no assessment was made.
    """
    if not capability:
        return None
    values = [
        {"domain": domain, "level": entry["level"], "meaning": entry["meaning"]}
        for domain, entry in capability["levels"].items()
    ]
    return _bar_chart(
        "Provider capability level per domain (1 absent - 4 mature)",
        f"Capability: recommended first step {capability['recommended_step']}",
        150,
        values,
        {
            "y": {"field": "domain", "type": "nominal", "sort": None, "title": None},
            "x": {
                "field": "level",
                "type": "quantitative",
                "scale": {"domain": [0, 4]},
                "axis": {"tickCount": 4},
                "title": "level",
            },
            "tooltip": [
                {"field": "domain", "type": "nominal"},
                {"field": "level", "type": "quantitative"},
                {"field": "meaning", "type": "nominal"},
            ],
        },
    )


def _bar_chart(
    description: str, title: str, height: int, values: list[dict[str, Any]], encoding: dict[str, Any]
) -> dict[str, Any]:
    """A horizontal Vega-Lite bar chart of the result page's width."""
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": description,
        "title": title,
        "width": 420,
        "height": height,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": encoding,
    }


__all__ = ["capability_chart", "simulation_chart"]
