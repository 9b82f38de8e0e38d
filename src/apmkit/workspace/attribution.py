"""Attribution jobs (``apmkit attribute``): every run date, rejects, lists, panels, changes and the ATR export,
written beside the attribution file. The CLI parses options and prints the report this returns."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from apmkit.attribution.assign import AttributionInputs, attribute_many
from apmkit.attribution.fhir import atr_bundle, atr_groups
from apmkit.attribution.inputs import ASSIGNMENT_INPUT, PARTICIPANTS, REJECTS, conform_input
from apmkit.attribution.outputs import ATTRIBUTION
from apmkit.attribution.reports import changes, monthly_list, panel_summary
from apmkit.attribution.spec import AnySpec, parse_attribution_specs, program_year
from apmkit.attribution.windows import add_months, month_end
from apmkit.documents import read_csv_header, read_yaml
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.schemas.model import TableSchema


def load_specs(path: Path) -> list[AnySpec]:
    """The ``attribution:`` section of a contract YAML, or a YAML whose top level is the spec (or a list)."""
    data = read_yaml(path)
    if isinstance(data, dict) and "attribution" in data and data["attribution"] is None:
        raise ConfigurationError(f"{path}: field attribution: the contract has no attribution section")
    return parse_attribution_specs(data, source=str(path))


def read_input_csv(
    engine: Engine, path: Path, schema: TableSchema, input_name: str
) -> tuple[ir.Table, ir.Table, int]:
    """Read a participants/roster/selection/alignment CSV as text, check its header, conform its rows."""
    if not path.is_file():
        raise InputFileError(path, "file not found")
    header = read_csv_header(path)
    for column in schema.columns:
        if (
            column.required
            and column.name not in header
            and column.name not in ("source_file", "source_line")
        ):
            raise InputFileError(path, "missing required column", line=1, field=column.name)
    try:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        )
    except pa.ArrowInvalid as exc:
        raise InputFileError(path, f"not a readable CSV file ({str(exc).splitlines()[0]})") from None
    known = [name for name in header if name in schema.names]
    raw = raw.select(known)
    raw = raw.append_column("source_file", pa.array([path.name] * raw.num_rows, pa.string()))
    # Header is line 1, so data lines start at 2.
    raw = raw.append_column("source_line", pa.array(range(2, raw.num_rows + 2), pa.int64()))
    valid, rejects = conform_input(engine.from_arrow(raw), schema, input_name)
    return valid, rejects, raw.num_rows


def write_table(engine: Engine, table: ir.Table, parquet_path: Path) -> int:
    """Write Parquet and a CSV beside it; return the row count."""
    engine.write_parquet(table, parquet_path)
    arrow = engine.to_arrow(table)
    pacsv.write_csv(arrow, parquet_path.with_suffix(".csv"))
    return arrow.num_rows


def sibling_path(out: Path, suffix: str) -> Path:
    return out.with_name(f"{out.stem}_{suffix}.parquet")


def run_attribution_job(
    engine: Engine,
    specs: list[AnySpec],
    *,
    data: Path,
    run_date: dt.date,
    out: Path,
    inputs_csv: dict[str, Path | None],
    previous: Path | None,
    monthly: bool,
    fhir: Path | None,
    member_system: str,
    on_run: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Run the attributions and write every output; return the lines of the run report.

    ``on_run(done, total)`` is called after each run date (``--monthly`` runs every month end).
    """
    tables = engine.canonical(data)
    if "medical_claims" not in tables.present() and any(s.method != "roster" for s in specs):
        raise InputFileError(data, "no medical_claims table in the folder")
    extras: dict[str, ir.Table | None] = {}
    input_rejects: list[ir.Table] = []
    read_counts: dict[str, int] = {}
    for name, path in inputs_csv.items():
        if path is None:
            continue
        schema = PARTICIPANTS if name == "participants" else ASSIGNMENT_INPUT
        valid, rejects, read = read_input_csv(engine, path, schema, name)
        extras[name] = engine.materialize(valid)
        input_rejects.append(rejects)
        read_counts[name] = read
    inputs = AttributionInputs.from_tables(tables, **extras)
    run_dates = [run_date]
    if monthly:
        year = program_year(specs[0], run_date)
        ends = [month_end(add_months(dt.date(year, 1, 1), i)) for i in range(12)]
        run_dates = [d for d in ends if d < run_date] + [run_date]
    runs: list[tuple[ir.Table, ir.Table]] = []
    for done, day in enumerate(run_dates, start=1):
        result = attribute_many(inputs, specs, day, materialize=engine.materialize)
        runs.append((engine.materialize(result.attribution), result.rejects))
        if on_run is not None:
            on_run(done, len(run_dates))
    current, all_rejects = runs[-1]
    for extra in input_rejects:
        all_rejects = all_rejects.union(REJECTS.select_from(extra), distinct=False)
    all_rejects = engine.materialize(all_rejects)
    written = {"attribution": write_table(engine, current, out)}
    written["rejects"] = write_table(engine, all_rejects, sibling_path(out, "rejects"))
    history = runs[0][0]
    for table, _ in runs[1:]:
        history = history.union(table, distinct=False)
    written["list"] = write_table(engine, monthly_list(history), sibling_path(out, "list"))
    written["panels"] = write_table(engine, panel_summary(history), sibling_path(out, "panels"))
    pairs = [(runs[i][0], runs[i + 1][0]) for i in range(len(runs) - 1)]
    if previous is not None:
        pairs.insert(0, (ATTRIBUTION.select_from(engine.read_parquet(previous)), runs[0][0]))
    last_changes: ir.Table | None = None
    if pairs:
        change_table = changes(*pairs[0])
        for before, after in pairs[1:]:
            change_table = change_table.union(changes(before, after), distinct=False)
        written["changes"] = write_table(
            engine, engine.materialize(change_table), sibling_path(out, "changes")
        )
        last_changes = changes(*pairs[-1])
    if fhir is not None:
        groups: list[dict[str, Any]] = []
        for spec in specs:
            year = program_year(spec, run_date)
            mine = current.filter(current.contract_id == spec.name)
            their_changes = (
                engine.to_arrow(last_changes.filter(last_changes.contract_id == spec.name))
                if last_changes is not None
                else None
            )
            groups.extend(
                atr_groups(
                    engine.to_arrow(mine),
                    period_start=dt.date(year, 1, 1),
                    period_end=dt.date(year, 12, 31),
                    changes=their_changes,
                    member_system=member_system,
                )
            )
        fhir.parent.mkdir(parents=True, exist_ok=True)
        fhir.write_text(json.dumps(atr_bundle(groups), indent=1), encoding="utf-8")
    summary = engine.to_arrow(
        current.group_by("contract_id").agg(
            members=current.member_id.nunique(), attributed=current.attributed.sum().cast("int64")
        )
    ).to_pylist()
    claims_read = engine.count(tables["medical_claims"])
    rejected = {
        r["input"]: r["rows"]
        for r in engine.to_arrow(
            # A claim line rejected by several contracts of the job counts once.
            all_rejects.select("input", "source_file", "source_line")
            .distinct()
            .group_by("input")
            .agg(rows=ibis._.count())
        ).to_pylist()
    }
    report = [
        f"medical_claims: {claims_read:,} lines read, {rejected.get('medical_claims', 0):,} qualifying lines rejected"
    ]
    for name, read in read_counts.items():
        bad = rejected.get(name, 0)
        report.append(f"{name}: {read:,} rows read, {read - bad:,} loaded, {bad:,} rejected")
    for row in summary:
        report.append(
            f"{row['contract_id']}: {row['members']:,} members, {row['attributed']:,} attributed, "
            f"{row['members'] - row['attributed']:,} not attributed (reasons in {out.name})"
        )
    report.append(f"rejected rows with file, line, field and reason: {sibling_path(out, 'rejects')}")
    report.append(
        "wrote: " + ", ".join(f"{k} ({n:,} rows)" for k, n in written.items()) + (f", {fhir}" if fhir else "")
    )
    return report
