"""Vega-Lite chart specs are pure functions of a design summary: golden JSON written out by hand."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from apmkit.web.charts import VEGA_LITE_SCHEMA, capability_chart, simulation_chart

SIMULATION = {
    "period": "2025",
    "population": 60,
    "member_months": 700,
    "person_years": "58.33",
    "benchmark": "512345.67",
    "benchmark_source": "the population's own measured spending (break-even baseline)",
    "expenditure": "512345.67",
    "net_settlement": "0",
    "scenarios": 30,
    "expected_net": "-1234.50",
    "p95_loss": "20400.05",
}

SIMULATION_SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "description": "Settlement outcomes of the drafted contract on the population (payer -> entity, $)",
    "title": "Settlement outcomes, period 2025",
    "width": 420,
    "height": 180,
    "data": {
        "values": [
            {"figure": "Settlement at measured expenditure", "amount": 0.0},
            {"figure": "Expected net over 30 scenarios", "amount": -1234.5},
            {"figure": "95th-percentile loss", "amount": -20400.05},
        ]
    },
    "mark": {"type": "bar"},
    "encoding": {
        "y": {"field": "figure", "type": "nominal", "sort": None, "title": None},
        "x": {"field": "amount", "type": "quantitative", "title": "$ (negative = paid back)"},
        "color": {"condition": {"test": "datum.amount < 0", "value": "#c62828"}, "value": "#2e7d32"},
        "tooltip": [
            {"field": "figure", "type": "nominal"},
            {"field": "amount", "type": "quantitative", "format": ",.2f"},
        ],
    },
}


def test_simulation_chart_golden() -> None:
    assert simulation_chart(SIMULATION) == SIMULATION_SPEC


def test_no_chart_without_a_simulation() -> None:
    assert simulation_chart(None) is None
    assert simulation_chart({"error": "period '2025' is not defined in the contract"}) is None


def test_capability_chart_golden() -> None:
    capability = {
        "levels": {
            "data": {"level": 3, "meaning": "payer claims feeds analysed at least monthly"},
            "experience": {"level": 1, "meaning": "fee for service only"},
        },
        "recommended_step": "upside-only",
        "recommended_category": "3A",
        "glide_path": ["upside-only", "two-sided", "population-based"],
        "gaps_to_next_step": {},
    }
    assert capability_chart(capability) == {
        "$schema": VEGA_LITE_SCHEMA,
        "description": "Provider capability level per domain (1 absent - 4 mature)",
        "title": "Capability: recommended first step upside-only",
        "width": 420,
        "height": 150,
        "data": {
            "values": [
                {"domain": "data", "level": 3, "meaning": "payer claims feeds analysed at least monthly"},
                {"domain": "experience", "level": 1, "meaning": "fee for service only"},
            ]
        },
        "mark": {"type": "bar"},
        "encoding": {
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
    }
    assert capability_chart(None) is None


cents = st.integers(min_value=-(10**13), max_value=10**13)


@given(net=cents, expected=cents, loss=st.integers(min_value=0, max_value=10**13))
def test_chart_amounts_print_as_the_exact_cents(net: int, expected: int, loss: int) -> None:
    """Every bar's number, printed as JSON, is the summary's exact two-decimal amount; the loss is drawn below 0."""
    as_text = [str(Decimal(v).scaleb(-2)) for v in (net, expected, loss)]
    spec = simulation_chart(
        {**SIMULATION, "net_settlement": as_text[0], "expected_net": as_text[1], "p95_loss": as_text[2]}
    )
    assert spec is not None
    amounts = [row["amount"] for row in spec["data"]["values"]]
    assert [Decimal(repr(a)) for a in amounts] == [
        Decimal(as_text[0]),
        Decimal(as_text[1]),
        -Decimal(as_text[2]),
    ]
    assert amounts[2] <= 0
