"""Statements for machines (JSON, Arrow tables for Parquet) and for people (HTML, Excel).

Renderers return text, bytes or Arrow tables; the caller (CLI, API) writes them. Exact values travel as text
(``value_text``) next to a fixed-scale decimal column, so nothing is lost to binary floating point.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
from jinja2 import Environment, select_autoescape

from apmkit.money import round_money
from apmkit.settlement.statement import Settlement

VALUE_TYPE = pa.decimal128(38, 12)
"""Fixed-scale column type for line values (rates need more than cents); ``value_text`` keeps every digit."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def settlement_to_json(settlement: Settlement) -> str:
    """The whole settlement as JSON; every Decimal is written as its exact text."""
    data = settlement.model_dump(mode="python")
    data["total_net_settlement"] = settlement.total_net
    return json.dumps(_plain(data), indent=2, ensure_ascii=False)


def _scaled(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return round_money(value, 12)


def lines_table(settlement: Settlement) -> pa.Table:
    """Every statement line of every entity, one row each."""
    rows: list[dict[str, Any]] = []
    for statement in settlement.statements:
        for line in statement.lines:
            rows.append(
                {
                    "contract_id": settlement.contract_id,
                    "contract_version": settlement.contract_version,
                    "period": settlement.period,
                    "entity_id": line.entity_id,
                    "sequence": line.sequence,
                    "component_id": line.component_id,
                    "component_type": line.component_type,
                    "label": line.label,
                    "value": _scaled(line.value),
                    "value_text": None if line.value is None else str(line.value),
                    "text": line.text,
                    "unit": line.unit,
                    "role": line.role,
                    "formula": line.formula,
                    "inputs": json.dumps(line.inputs, ensure_ascii=False),
                    "source": line.source,
                    "clause": line.clause,
                }
            )
    schema = pa.schema(
        [
            ("contract_id", pa.string()),
            ("contract_version", pa.string()),
            ("period", pa.string()),
            ("entity_id", pa.string()),
            ("sequence", pa.int32()),
            ("component_id", pa.string()),
            ("component_type", pa.string()),
            ("label", pa.string()),
            ("value", VALUE_TYPE),
            ("value_text", pa.string()),
            ("text", pa.string()),
            ("unit", pa.string()),
            ("role", pa.string()),
            ("formula", pa.string()),
            ("inputs", pa.string()),
            ("source", pa.string()),
            ("clause", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


_INTEGER_COLUMNS = {"population", "member_months"}
_TEXT_COLUMNS = {"entity_id", "outcome"}


def summary_table(settlement: Settlement) -> pa.Table:
    """One row per entity: population, benchmark, expenditure, savings, MSR, sharing rate, caps, each
    component's amount, net settlement, paid during the period and balance due."""
    names: list[str] = [] if settlement.statements else ["entity_id", "net_settlement", "balance_due"]
    for statement in settlement.statements:
        for key in statement.summary:
            if key not in names:
                names.append(key)
    fields = []
    for name in names:
        if name in _TEXT_COLUMNS:
            fields.append(pa.field(name, pa.string()))
        elif name in _INTEGER_COLUMNS:
            fields.append(pa.field(name, pa.int64()))
        else:
            fields.append(pa.field(name, VALUE_TYPE))
    rows = []
    for statement in settlement.statements:
        row: dict[str, Any] = {}
        for name in names:
            value = statement.summary.get(name)
            if name in _TEXT_COLUMNS:
                row[name] = None if value is None else str(value)
            elif name in _INTEGER_COLUMNS:
                row[name] = None if value is None else int(value)
            else:
                row[name] = None if value is None else _scaled(Decimal(str(value)))
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def display(value: Decimal | None, unit: str) -> str:
    """A value for people: money to cents with separators, rates as percentages to 4 decimals."""
    if value is None:
        return ""
    if unit == "USD":
        return f"{round_money(value):,}"
    if unit == "rate":
        return f"{round_money(value * 100, 4)} %"
    if value == value.to_integral_value():
        return f"{int(value):,}" if unit == "count" else format(value.normalize(), "f")
    return format(round_money(value, 6).normalize(), "f")


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Settlement statement — {{ s.contract_name }} — {{ s.period }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top}
th{background:#f3f3f3;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.amount td{font-weight:600}
tr.total td{font-weight:700;background:#fafae8}
small{color:#666}
</style></head><body>
<h1>Settlement statement</h1>
<p><b>{{ s.contract_name }}</b> ({{ s.contract_id }} v{{ s.contract_version }}) — period {{ s.period }}
({{ s.period_start }} to {{ s.period_end }})</p>
{% if s.glide_path_applied %}<p>Glide path applied: {{ s.glide_path_applied | join("; ") }}</p>{% endif %}
{% for w in s.warnings %}<p><small>⚠ {{ w }}</small></p>{% endfor %}
<p>Entities settled: {{ s.statements | length }}; total net settlement {{ money(s.total_net) }}.
{% for k, v in s.counts.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</p>
<h2>Summary</h2>
<table><tr><th>entity</th><th>benchmark</th><th>expenditure</th><th>net settlement</th><th>paid during period</th>
<th>balance due</th></tr>
{% for st in s.statements %}<tr><td><a href="#{{ st.entity_id }}">{{ st.entity_id }}</a></td>
<td class="num">{{ money(st.summary.benchmark) }}</td><td class="num">{{ money(st.summary.expenditure) }}</td>
<td class="num">{{ money(st.net_settlement) }}</td><td class="num">{{ money(st.paid_during_period) }}</td>
<td class="num">{{ money(st.balance_due) }}</td></tr>{% endfor %}
</table>
{% for st in s.statements %}
<h2 id="{{ st.entity_id }}">Entity {{ st.entity_id }}</h2>
<table><tr><th>#</th><th>component</th><th>line</th><th>value</th><th>formula</th><th>inputs</th><th>source</th>
<th>clause</th></tr>
{% for line in st.lines %}<tr class="{{ line.role }}"><td>{{ line.sequence }}</td><td>{{ line.component_id }}</td>
<td>{{ line.label }}</td><td class="num">{{ show(line.value, line.unit) }}{% if line.text %} {{ line.text }}{% endif %}</td>
<td>{{ line.formula }}</td><td><small>{% for k, v in line.inputs.items() %}{{ k }}={{ v }}<br>{% endfor %}</small></td>
<td><small>{{ line.source }}</small></td><td><small>{{ line.clause }}</small></td></tr>
{% endfor %}</table>
{% endfor %}
{% if s.rejected %}<h2>Rejected input rows</h2><table><tr><th>file</th><th>line</th><th>reason</th></tr>
{% for r in s.rejected %}<tr><td>{{ r.source_file }}</td><td>{{ r.source_line }}</td><td>{{ r.reason }}</td></tr>{% endfor %}
</table>{% endif %}
</body></html>
"""


def settlement_to_html(settlement: Settlement) -> str:
    """A self-contained HTML statement: summary, then every entity's lines with formula, inputs, source, clause."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_HTML)

    def money(value: Any) -> str:
        return "" if value is None else display(Decimal(str(value)), "USD")

    return template.render(s=settlement, money=money, show=display)


def settlement_to_excel(settlement: Settlement) -> bytes:
    """An Excel workbook: Summary, Lines (all entities), Contract, and Rejected sheets. Amounts are written as
    numbers rounded to cents for display, with the exact value as text alongside."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Summary"
    summary = summary_table(settlement)
    sheet.append(summary.column_names)
    for row in summary.to_pylist():
        sheet.append([_excel_value(row[name]) for name in summary.column_names])
    for cell in sheet[1]:
        cell.font = Font(bold=True)

    lines_sheet = book.create_sheet("Lines")
    headers = [
        "entity_id",
        "sequence",
        "component_id",
        "label",
        "value",
        "value_exact",
        "unit",
        "role",
        "formula",
        "inputs",
        "source",
        "clause",
    ]
    lines_sheet.append(headers)
    for statement in settlement.statements:
        for line in statement.lines:
            lines_sheet.append(
                [
                    line.entity_id,
                    line.sequence,
                    line.component_id,
                    line.label,
                    _excel_value(line.value, line.unit),
                    "" if line.value is None else str(line.value),
                    line.unit,
                    line.role,
                    line.formula,
                    "; ".join(f"{k}={v}" for k, v in line.inputs.items()),
                    line.source,
                    line.clause,
                ]
            )
    for cell in lines_sheet[1]:
        cell.font = Font(bold=True)

    about = book.create_sheet("Contract")
    for key, value in (
        ("contract", settlement.contract_id),
        ("name", settlement.contract_name),
        ("version", settlement.contract_version),
        ("period", settlement.period),
        ("period start", settlement.period_start),
        ("period end", settlement.period_end),
        ("glide path applied", "; ".join(settlement.glide_path_applied)),
        ("total net settlement", str(settlement.total_net)),
        *((f"count: {k}", str(v)) for k, v in settlement.counts.items()),
        *(("warning", w) for w in settlement.warnings),
    ):
        about.append([key, value])

    if settlement.rejected:
        rejected = book.create_sheet("Rejected")
        rejected.append(["source_file", "source_line", "reason"])
        for row in settlement.rejected:
            rejected.append([row.get("source_file"), row.get("source_line"), row.get("reason")])

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _excel_value(value: Any, unit: str = "") -> Any:
    if isinstance(value, Decimal):
        if unit == "USD":
            return float(round_money(value))
        return float(value)
    return value
