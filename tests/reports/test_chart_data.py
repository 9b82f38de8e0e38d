"""A report chart draws at most CHART_SERIES series; the table keeps every row (checked against pandas)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa

from apmkit.reports.framework import bar_chart, line_chart
from apmkit.workspace.reports import CHART_SERIES, chart_data


def _trend(tins: int) -> pa.Table:
    rows = [
        {"tin": f"T{i:02d}", "month": month, "members": (i * 7) % 11 + month}
        for i in range(tins)
        for month in (1, 2)
    ]
    return pa.Table.from_pylist(rows)


def test_a_line_per_tin_keeps_the_largest_series_and_says_so():
    table = _trend(20)
    drawn, note = chart_data(table, line_chart("trend", "month", "members", color="tin"))
    frame = table.to_pandas()
    totals = frame.groupby("tin", as_index=False)["members"].sum()
    expected = set(totals.sort_values(["members", "tin"], ascending=[False, True]).head(CHART_SERIES)["tin"])
    assert set(drawn.column("tin").to_pylist()) == expected
    assert drawn.num_rows == 2 * CHART_SERIES  # every month of each kept series
    assert note is not None and f"{CHART_SERIES} tin" in note and "of 20" in note


def test_few_series_are_drawn_whole():
    table = _trend(CHART_SERIES)
    drawn, note = chart_data(table, line_chart("trend", "month", "members", color="tin"))
    assert drawn.equals(table) and note is None


def test_bars_on_a_nominal_axis_with_money_values():
    amounts = [Decimal(f"{(i * 37) % 101}.{i:02d}") for i in range(30)]
    table = pa.table(
        {"npi": [f"N{i:03d}" for i in range(30)], "cost": pa.array(amounts, pa.decimal128(18, 2))}
    )
    drawn, note = chart_data(table, bar_chart("costs", "npi", "cost"))
    expected = pd.DataFrame({"npi": table["npi"].to_pylist(), "cost": amounts}).sort_values(
        ["cost", "npi"], ascending=[False, True]
    )
    assert drawn.column("npi").to_pylist() == sorted(
        expected.head(CHART_SERIES)["npi"], key=table["npi"].to_pylist().index
    )
    assert note is not None and "of 30" in note
