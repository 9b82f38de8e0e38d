"""Performance reports over a run's marts (``apmkit report``): open the marts, build, execute, export.

:func:`build_report` reads ``OUT/run.json`` and the marts the report needs (Parquet in OUT; canonical tables
from the run's data folder), calls the report's pure function (:mod:`apmkit.reports`) and executes its tables.
:func:`export_report` writes a result by the file's suffix: ``.csv``, ``.xlsx``, ``.pdf``, ``.json`` (Vega-Lite
specs with their data) and ``.fhir.json`` (gaps in care: a DEQM individual MeasureReport Bundle).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import os
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.reports.framework import ReportInputs, ReportRequest, ReportResult, RunInfo, lookup

EXPORT_SUFFIXES = (".csv", ".xlsx", ".pdf", ".json", ".fhir.json")


def read_run_info(run_dir: Path) -> RunInfo:
    """``OUT/run.json`` as a :class:`RunInfo`.

    Raises
    ------
    InputFileError
        No run folder, no ``run.json`` (a run before reports existed: run it again) or a field missing.
    """
    path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "no such run folder (give --run OUT of `apmkit run`)")
    if not path.exists():
        raise InputFileError(path, "missing: the run predates the reports; run `apmkit run` again")
    try:
        return run_info_from_record(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        field = exc.args[0] if isinstance(exc, KeyError) else None
        raise InputFileError(path, "not a run record", field=None if field is None else str(field)) from None


def run_info_from_record(data: dict[str, Any]) -> RunInfo:
    """The :class:`RunInfo` of a run record (the ``run.json`` document); KeyError names a missing field."""
    return RunInfo(
        contract_id=str(data["contract_id"]),
        period=str(data["period"]),
        start=dt.date.fromisoformat(data["start"]),
        end=dt.date.fromisoformat(data["end"]),
        data=str(data["data"]),
        cost_basis=str(data.get("cost_basis", "allowed_amount")),
        base_years=tuple(int(y) for y in data.get("base_years", [])),
        include_pharmacy=bool(data.get("include_pharmacy", False)),
    )


def open_inputs(engine: Engine, run_dir: Path, needs: tuple[str, ...]) -> ReportInputs:
    """The marts (OUT/<name>.parquet) and canonical tables (the run's data folder) named in ``needs``.

    A report mart (:data:`apmkit.reports.marts.REPORT_MARTS`: open gaps, member HCCs, member-year features) the
    run folder does not hold yet is built on this first use and kept there (written beside it, then renamed into
    place), so the run itself pays nothing for reports nobody asks for and later reports read it.
    """
    from apmkit.reports.marts import REPORT_MARTS, with_sources

    info = read_run_info(run_dir)
    tables: dict[str, Any] = {}
    canonical = None
    # every report counts people: one person's member ids across payers (when the data hold the crosswalks);
    # a report aggregate's sources are opened (and built) before it
    needs = with_sources(tuple(dict.fromkeys((*needs, "member_persons", "member_xref"))))
    for name in needs:
        mart = run_dir / f"{name}.parquet"
        if mart.exists():
            tables[name] = engine.read_parquet(mart)
            continue
        if canonical is None:
            data = Path(info.data)
            canonical = engine.canonical(data) if data.is_dir() else None
        if canonical is not None and name in canonical.present():
            tables[name] = canonical[name]
    missing = [n for n in needs if n in REPORT_MARTS and n not in tables]
    if missing and canonical is not None:
        # Two first uses of the same run (two users of the dashboard) build its marts one after the other: the
        # second finds the first's files instead of writing over them.
        with _mart_lock(run_dir):
            source = None
            for name in missing:
                mart = run_dir / f"{name}.parquet"
                if mart.exists():
                    tables[name] = engine.read_parquet(mart)
                    continue
                source = source or _mart_source(engine, run_dir, info, canonical)
                # the aggregates sum the marts opened or built before them (the member-month panel first)
                source.tables = {**source.tables, **tables}
                built = _build_report_mart(engine, run_dir, source, name)
                if built is not None:
                    tables[name] = built
    return ReportInputs(
        tables=tables, run=info, fetch=engine.to_arrow, materialize=engine.materialize, stage=engine.stage
    )


_MART_LOCKS: dict[Path, threading.Lock] = {}
_MART_LOCKS_GUARD = threading.Lock()


def _mart_lock(run_dir: Path) -> threading.Lock:
    """The lock that serializes building the report marts of one run folder within this process."""
    with _MART_LOCKS_GUARD:
        return _MART_LOCKS.setdefault(Path(run_dir).resolve(), threading.Lock())


def _mart_source(engine: Engine, run_dir: Path, info: RunInfo, canonical: Any) -> ReportInputs:
    """What the report marts are built from: the canonical tables and the run's attribution and member rows."""
    available: dict[str, Any] = {n: canonical[n] for n in canonical.present()}
    for mart in ("attribution", "member_detail", "member_months", "risk_scores", "episodes"):
        if (run_dir / f"{mart}.parquet").exists():
            available[mart] = engine.read_parquet(run_dir / f"{mart}.parquet")
    return ReportInputs(
        tables=available, run=info, fetch=engine.to_arrow, materialize=engine.materialize, stage=engine.stage
    )


def _build_report_mart(engine: Engine, run_dir: Path, source: ReportInputs, name: str) -> Any:
    from apmkit.reports.marts import report_mart

    table = report_mart(source, name)
    if table is None:
        return None
    target = run_dir / f"{name}.parquet"
    partial = run_dir / f".{name}.{os.getpid()}.{threading.get_ident()}.parquet.partial"  # one per builder
    engine.write_parquet(table, partial)
    partial.replace(target)  # whole or not at all: a report interrupted mid-build leaves no half mart
    return engine.read_parquet(target)


def read_planned_codes(path: Path) -> pa.Table:
    """The planned-readmission code list (``category, code``; docs/reference/analytics-definitions.md §3.1) as an
    Arrow table, codes upper case without dots.

    Raises
    ------
    InputFileError
        No such file, a missing column, a category that is not one of
        :data:`apmkit.reports.planned.CATEGORIES` or an empty code (file, line and field named).
    """
    from apmkit.documents import read_csv_rows
    from apmkit.reports.planned import CATEGORIES

    path = Path(path)
    _, rows = read_csv_rows(path, required=("category", "code"))
    categories, codes = [], []
    for line, row in enumerate(rows, start=2):
        lowered = {str(k).lower(): v for k, v in row.items() if k is not None}
        category = (lowered.get("category") or "").strip().lower()
        code = (lowered.get("code") or "").strip().upper().replace(".", "")
        if category not in CATEGORIES:
            raise InputFileError(
                path, f"category must be one of {', '.join(CATEGORIES)}", line=line, field="category"
            )
        if not code:
            raise InputFileError(path, "empty code", line=line, field="code")
        categories.append(category)
        codes.append(code)
    if not codes:
        raise InputFileError(path, "no codes (a planned-readmission list needs at least one row)")
    return pa.table({"category": pa.array(categories, pa.string()), "code": pa.array(codes, pa.string())})


def build_report(
    run_dir: Path,
    request: ReportRequest,
    *,
    engine: Engine | None = None,
    planned_readmissions: Path | None = None,
) -> ReportResult:
    """Build the report ``request.name`` from the run in ``run_dir``. ``planned_readmissions`` is the CSV code list
    of CMS's Planned Readmission Algorithm (:func:`read_planned_codes`): the utilization report then excludes
    planned readmissions (other reports ignore it).

    Raises
    ------
    ApmkitError
        Unknown report, no run record, a table the report needs is missing, a bad period or grouping, a bad
        code list.
    """
    import ibis

    from apmkit.reports.planned import PLANNED_CODES

    info, function, needs = lookup(request.name)
    codes = None if planned_readmissions is None else read_planned_codes(Path(planned_readmissions))
    active = engine or Engine.duckdb()
    try:
        inputs = open_inputs(active, Path(run_dir), needs)
        if codes is not None and planned_readmissions is not None:
            inputs.tables = {**inputs.tables, PLANNED_CODES: ibis.memtable(codes)}
            inputs.run_notes[PLANNED_CODES] = (
                f"code list {Path(planned_readmissions).name}, {codes.num_rows} codes"
            )
        output = function(inputs, request)
        tables = {name: active.to_arrow(table) for name, table in output.tables.items()}
    finally:
        if engine is None:
            active.close()
    notes = list(output.notes)
    if info.name == "cost_opportunity" and "opportunity" in tables:
        effect, said = settlement_effect(Path(run_dir), tables["opportunity"])
        tables["settlement_effect"] = effect
        notes += said
    charts = {}
    for name, spec in output.charts.items():
        filled = copy.deepcopy(spec)
        source = filled.get("data", {}).get("name")
        if source in tables:
            drawn, left_out = chart_data(tables[source], filled)
            filled["data"] = {"values": _json_rows(drawn)}
            notes += [f"chart {filled.get('title') or name!r}: {left_out}"] if left_out else []
        charts[name] = filled
    return ReportResult(name=info.name, title=info.title, tables=tables, charts=charts, notes=notes)


def settlement_effect(run_dir: Path, opportunity: pa.Table) -> tuple[pa.Table, list[str]]:
    """What the cost opportunity does to the settlement: each entity settled again under the run's contract with
    its expenditure reduced by its total opportunity (docs/reference/analytics-definitions.md §4: re-run, never
    scaled). Uses the contract and the settled entity inputs the run recorded in ``run.json``."""
    from apmkit.contracts import parse_contract
    from apmkit.settlement.engine import settle
    from apmkit.settlement.inputs import EntityInputs

    path = run_dir / "run.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    columns = [
        "entity_id",
        "expenditure",
        "opportunity",
        "net_settlement",
        "net_settlement_at_peer_median",
        "change",
    ]
    if "contract_yaml" not in data or "entity_inputs" not in data:
        return pa.table({c: pa.array([], pa.string()) for c in columns}), [
            "settlement effect: not computed (the run predates it: run `apmkit run` again)"
        ]
    contract = parse_contract(data["contract_yaml"], source=str(path))
    period = str(data["period"])
    totals: dict[str, Decimal] = {}
    blanked = 0
    for row in opportunity.to_pylist():
        value = row.get("opportunity")
        if value is None:
            blanked += 1
            continue
        totals[str(row["entity_id"])] = totals.get(str(row["entity_id"]), Decimal(0)) + Decimal(value)
    entities = [EntityInputs.model_validate(e) for e in data["entity_inputs"]]
    chosen = [e for e in entities if e.entity_id in totals and e.expenditure is not None]
    before = {s.entity_id: s for s in settle(contract, period, chosen).statements}
    changed = [
        e.model_copy(
            update={"expenditure": max(Decimal(0), (e.expenditure or Decimal(0)) - totals[e.entity_id])}
        )
        for e in chosen
    ]
    after = {s.entity_id: s for s in settle(contract, period, changed).statements}
    rows = []
    for entity in chosen:
        if entity.entity_id not in before or entity.entity_id not in after:
            continue
        now, then = before[entity.entity_id].net_settlement, after[entity.entity_id].net_settlement
        rows.append(
            {
                "entity_id": entity.entity_id,
                "expenditure": str(entity.expenditure),
                "opportunity": str(totals[entity.entity_id]),
                "net_settlement": str(now),
                "net_settlement_at_peer_median": str(then),
                "change": str(then - now),
            }
        )
    notes = [
        "settlement effect: each entity settled again under the run's contract with expenditure minus its "
        "opportunity (every other input as settled)"
    ]
    if blanked:
        notes.append(f"settlement effect leaves out {blanked} suppressed cells")
    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in columns}), notes


# ---- export --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


CHART_SERIES = 12
"""A chart draws at most this many series (its colour field, else a nominal x axis); the table keeps every row.
Drawn whole, a 1M-member run's attribution trend was a line per TIN (678 TINs x 24 months): 1.3 MB of inline
data in every page view and a chart nobody can read."""


def chart_data(table: pa.Table, spec: dict[str, Any]) -> tuple[pa.Table, str | None]:
    """The rows of ``table`` the chart ``spec`` draws, and a note when some series are left to the table.

    With more than :data:`CHART_SERIES` series, the chart keeps those with the largest total of its y field
    (ties by series name); a y field that is not a number keeps the first series by name."""
    encoding = spec.get("encoding", {})
    y = encoding.get("y", {}).get("field")
    series = encoding.get("color", {}).get("field")
    if series is None and encoding.get("x", {}).get("type") == "nominal":
        series = encoding["x"].get("field")
    if series not in table.column_names:
        return table, None
    names = pc.unique(table[series])
    if len(names) <= CHART_SERIES:
        return table, None
    measure = table.schema.field(y).type if y in table.column_names else None
    if measure is not None and (
        pa.types.is_integer(measure) or pa.types.is_floating(measure) or pa.types.is_decimal(measure)
    ):
        totals = table.group_by(series).aggregate([(y, "sum")])
        order = [(f"{y}_sum", "descending"), (series, "ascending")]
        rule = f"the largest total {y}"
    else:
        totals = table.group_by(series).aggregate([])
        order = [(series, "ascending")]
        rule = f"the first by {series}"
    kept = totals.sort_by(order).slice(0, CHART_SERIES).column(series)
    drawn = table.filter(pc.is_in(table[series], value_set=kept))
    return drawn, f"draws the {CHART_SERIES} {series} values with {rule} of {len(names)}; the table lists all"


def _json_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def report_to_json(result: ReportResult) -> str:
    """The report as JSON: title, notes, every table's rows and the Vega-Lite specs (data inline)."""
    document = {
        "report": result.name,
        "title": result.title,
        "notes": result.notes,
        "tables": {name: _json_rows(table) for name, table in result.tables.items()},
        "charts": result.charts,
    }
    return json.dumps(document, indent=2, default=str)


def _write_csv(table: pa.Table, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.column_names)
        for row in table.to_pylist():
            writer.writerow(["" if v is None else _plain(v) for v in row.values()])


def report_to_excel(result: ReportResult) -> bytes:
    """A workbook: a notes sheet, then one sheet per table."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "notes"
    notes.append([result.title])
    for note in result.notes:
        notes.append([note])
    for name, table in result.tables.items():
        sheet = book.create_sheet(name[:31])
        sheet.append(table.column_names)
        for row in table.to_pylist():
            sheet.append([_excel_value(v) for v in row.values()])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _excel_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if abs(value) < Decimal(10) ** 15 else str(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def export_report(result: ReportResult, path: Path) -> Path:
    """Write ``result`` by ``path``'s suffix; returns what was written (a folder for several CSV tables).

    Raises
    ------
    ConfigurationError
        An unknown suffix, or FHIR asked of a report without a FHIR standard.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".fhir.json"):
        from apmkit.reports.fhir import report_bundle

        bundle = report_bundle(result.name, {n: t.to_pylist() for n, t in result.tables.items()})
        path.write_text(json.dumps(bundle, indent=2, default=_plain), encoding="utf-8")
        return path
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(report_to_json(result), encoding="utf-8")
    elif suffix == ".csv":
        if len(result.tables) == 1:
            _write_csv(next(iter(result.tables.values())), path)
            return path
        folder = path.with_suffix("")
        folder.mkdir(parents=True, exist_ok=True)
        for table_name, table in result.tables.items():
            _write_csv(table, folder / f"{table_name}.csv")
        return folder
    elif suffix == ".xlsx":
        path.write_bytes(report_to_excel(result))
    elif suffix == ".pdf":
        from apmkit.workspace.report_pdf import write_pdf

        write_pdf(result, path)
    else:
        raise ConfigurationError(
            f"--out {path.name}: unknown report format (use {', '.join(EXPORT_SUFFIXES)})"
        )
    return path


__all__ = [
    "CHART_SERIES",
    "EXPORT_SUFFIXES",
    "build_report",
    "chart_data",
    "export_report",
    "open_inputs",
    "read_planned_codes",
    "read_run_info",
    "report_to_json",
    "run_info_from_record",
]
