"""A report as a PDF for people (matplotlib ``PdfPages``): a title page with the notes, each table (first rows
on A4 landscape pages) and each chart drawn from its Vega-Lite spec (bar or line, one optional colour field)."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from apmkit.reports.framework import ReportResult

ROWS_PER_PAGE = 30
MAX_PAGES_PER_TABLE = 5
PAGE = (11.69, 8.27)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)[:28]


def write_pdf(result: ReportResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        figure = plt.figure(figsize=PAGE)
        figure.text(0.05, 0.92, result.title, fontsize=18, weight="bold")
        y = 0.85
        for note in result.notes:
            for line in textwrap.wrap(note, 130):
                figure.text(0.05, y, line, fontsize=9)
                y -= 0.025
        pdf.savefig(figure)
        plt.close(figure)
        for name, table in result.tables.items():
            rows = table.to_pylist()
            pages = max(1, min(MAX_PAGES_PER_TABLE, -(-len(rows) // ROWS_PER_PAGE)))
            for page in range(pages):
                chunk = rows[page * ROWS_PER_PAGE : (page + 1) * ROWS_PER_PAGE]
                figure, axes = plt.subplots(figsize=PAGE)
                axes.axis("off")
                shown = (
                    f" (rows {page * ROWS_PER_PAGE + 1}-{page * ROWS_PER_PAGE + len(chunk)} of {len(rows)})"
                )
                axes.set_title(f"{name}{shown}", loc="left", fontsize=11)
                if chunk:
                    cells = [[_cell(v) for v in row.values()] for row in chunk]
                    drawn = axes.table(cellText=cells, colLabels=table.column_names, loc="upper center")
                    drawn.auto_set_font_size(False)
                    drawn.set_fontsize(6)
                    drawn.scale(1, 1.1)
                else:
                    axes.text(0.0, 0.9, "no rows", fontsize=9)
                pdf.savefig(figure)
                plt.close(figure)
        for name, spec in result.charts.items():
            figure, axes = plt.subplots(figsize=PAGE)
            _draw(axes, spec)
            axes.set_title(spec.get("title") or name, loc="left")
            pdf.savefig(figure)
            plt.close(figure)


def _draw(axes: Any, spec: dict[str, Any]) -> None:
    values = spec.get("data", {}).get("values", [])
    encoding = spec.get("encoding", {})
    x, y = encoding.get("x", {}).get("field"), encoding.get("y", {}).get("field")
    colour = encoding.get("color", {}).get("field")
    mark = spec.get("mark")
    kind = mark.get("type") if isinstance(mark, dict) else mark
    series: dict[str, list[tuple[Any, float]]] = {}
    for row in values:
        if row.get(x) is None or row.get(y) is None:
            continue
        key = str(row.get(colour)) if colour else ""
        series.setdefault(key, []).append((row[x], float(row[y])))
    for key, points in series.items():
        labels = [str(p[0]) for p in points]
        heights = [p[1] for p in points]
        if kind == "line":
            axes.plot(labels, heights, marker="o", label=key or None)
        else:
            axes.bar(labels, heights, label=key or None, alpha=0.7)
    axes.set_xlabel(x or "")
    axes.set_ylabel(y or "")
    axes.tick_params(axis="x", labelrotation=60, labelsize=7)
    if colour and series:
        axes.legend(fontsize=7)
