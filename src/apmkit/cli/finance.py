"""``apmkit finance``: practice KPIs from ledger, billing and 835 files; APM readiness report."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from apmkit.cli.classify import read_contract
from apmkit.cli.common import open_engine, progress
from apmkit.documents import read_yaml
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.finance.kpis import DIMENSIONS, ar_aging, days_in_ar, denials_by_reason, kpis
from apmkit.finance.readiness import loss_cap_downside, readiness_report, simulated_downside
from apmkit.ingest.practice_finance import Loaded, load_billing_files, load_ledger, load_visits
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs

finance_app = typer.Typer(
    help="Practice finance: KPIs from ledger, billing and 835 ERA files; APM readiness."
)


def _decimal(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", "").replace("$", ""))
    except InvalidOperation as exc:
        raise ConfigurationError(f"--{name}: not a number ({text!r})") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(engine: Engine, expr: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in engine.to_arrow(expr).to_pylist()]


def _entity_inputs(path: Path) -> list[EntityInputs]:
    from apmkit.workspace.run import read_inputs

    inputs, _, rejected = read_inputs(path)
    if rejected:
        first = rejected[0]
        raise InputFileError(
            path, str(first.get("reason", "invalid row")), line=int(first.get("source_line") or 0) or None
        )
    if not inputs:
        raise InputFileError(path, "no entity rows")
    return list(inputs.values())


def _load(engine: Engine, ledger: list[Path], billing: list[Path]) -> tuple[Loaded | None, Loaded | None]:
    book = load_ledger(engine, ledger) if ledger else None
    bill = load_billing_files(engine, billing) if billing else None
    if book is None and bill is None:
        raise ConfigurationError("give --ledger and/or --billing files")
    return book, bill


def compute_kpis(
    engine: Engine,
    book: Loaded | None,
    bill: Loaded | None,
    dimensions: list[str],
    as_of: date | None,
    window_days: int,
    visit_counts: Loaded | None = None,
) -> dict[str, Any]:
    """Every KPI table as rows (the CLI prints and writes them)."""
    out: dict[str, Any] = {}
    lines = bill.table if bill else None
    ledger = book.table if book else None
    visits = visit_counts.table if visit_counts else None
    for dimension in dimensions:
        out[f"kpis_{dimension}"] = _rows(engine, kpis(lines, ledger, dimension, visits))
    if lines is not None:
        out["denials_carc"] = _rows(engine, denials_by_reason(lines, "carc"))
        out["denials_rarc"] = _rows(engine, denials_by_reason(lines, "rarc"))
        if as_of is not None:
            out["ar_aging"] = _rows(engine, ar_aging(lines, as_of))
            out["days_in_ar"] = _rows(engine, days_in_ar(lines, as_of, window_days))
    return out


@finance_app.command("kpis")
def kpis_command(
    ledger: Annotated[list[Path] | None, typer.Option(help="General-ledger / P&L CSV (repeatable)")] = None,
    billing: Annotated[
        list[Path] | None, typer.Option(help="Billing/remittance CSV or X12 835 file (repeatable)")
    ] = None,
    visits: Annotated[
        list[Path] | None, typer.Option(help="Visit counts CSV (visit_month, visits, ...), repeatable")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Dimensions: all,month,payer,location,clinician")
    ] = "all,month,payer",
    as_of: Annotated[str | None, typer.Option(help="A/R as-of date (YYYY-MM-DD)")] = None,
    window_days: Annotated[int, typer.Option(help="Days of charges behind days in A/R")] = 90,
    contract: Annotated[Path | None, typer.Option(help="APM contract for the projected contribution")] = None,
    entity_inputs: Annotated[
        Path | None, typer.Option(help="Aggregate inputs CSV of the APM entity (settle's format)")
    ] = None,
    period: Annotated[str | None, typer.Option(help="Contract period for the APM contribution")] = None,
    out: Annotated[Path | None, typer.Option(help="Write Parquet tables and finance_kpis.json here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """KPIs by month, payer, location and clinician; denials by CARC/RARC; A/R aging and days in A/R."""
    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    for dimension in dimensions:
        if dimension not in DIMENSIONS:
            raise ConfigurationError(
                f"--by: unknown dimension {dimension!r} (choose from {', '.join(DIMENSIONS)})"
            )
    as_of_date = _date("as-of", as_of)
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("loading finance files", total=3)
        book, bill = _load(engine, ledger or [], billing or [])
        counted = load_visits(engine, visits) if visits else None
        bar.advance(task)
        bar.update(task, description="computing KPIs")
        report = compute_kpis(engine, book, bill, dimensions, as_of_date, window_days, counted)
        bar.advance(task)
        counts = {}
        if book:
            counts["ledger"] = book.counts()
        if bill:
            counts["billing"] = bill.counts()
        if counted:
            counts["visits"] = counted.counts()
        report["counts"] = counts
        quarantine: list[dict[str, Any]] = []
        for loaded in (book, bill, counted):
            if loaded is not None:
                quarantine.extend(
                    {k: v for k, v in row.items() if k != "record"}
                    for row in _rows(engine, loaded.quarantine)
                )
        report["rejected"] = quarantine
        if contract is not None:
            report["apm_contribution"] = _apm_contribution(contract, entity_inputs, period, report)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            if bill:
                engine.write_parquet(bill.table, out / "billing_lines.parquet")
            if book:
                engine.write_parquet(book.table, out / "ledger_entries.parquet")
            for name, loaded in (("ledger", book), ("billing", bill), ("visits", counted)):
                if loaded is not None and loaded.rejected:
                    engine.write_parquet(loaded.quarantine, out / f"quarantine_{name}.parquet")
            (out / "finance_kpis.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        bar.advance(task)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print(report, dimensions)


def _date(name: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(f"--{name}: not a date YYYY-MM-DD ({text!r})") from exc


def _apm_contribution(
    contract_path: Path, entity_inputs: Path | None, period: str | None, report: dict[str, Any]
) -> dict[str, Any]:
    if entity_inputs is None or period is None:
        raise ConfigurationError("--contract needs --entity-inputs and --period for the APM contribution")
    spec = read_contract(contract_path)
    settlement = settle(spec, period, _entity_inputs(entity_inputs))
    net = settlement.total_net
    totals = report.get("kpis_all", [{}])[0] if report.get("kpis_all") else {}
    revenue = totals.get("revenue")
    share = None
    if revenue not in (None, "0", "0.00"):
        share = str((net / Decimal(revenue)).quantize(Decimal("0.0001")))
    return {
        "contract_id": spec.id,
        "period": period,
        "net_settlement": str(net),
        "share_of_revenue": share,
        "entities": len(settlement.statements),
        "method": "settlement engine on the entity inputs given",
    }


def _print(report: dict[str, Any], dimensions: list[str]) -> None:
    console = Console()
    shown = (
        "dimension_value",
        "billed",
        "collections",
        "net_collection_rate",
        "denial_rate",
        "payer_mix",
        "revenue",
        "operating_margin",
        "overhead_ratio",
        "cost_per_visit",
        "value_based_revenue_share",
    )
    for dimension in dimensions:
        table = Table(*shown, title=f"KPIs by {dimension}")
        for row in report[f"kpis_{dimension}"]:
            table.add_row(*[str(row.get(name) if row.get(name) is not None else "-") for name in shown])
        console.print(table)
    for key in ("denials_carc", "denials_rarc", "ar_aging", "days_in_ar"):
        rows = report.get(key)
        if rows:
            names = [n for n in rows[0] if n != "bucket_order"]
            extra = Table(*names, title=key.replace("_", " "))
            for row in rows:
                extra.add_row(*[str(row[n]) for n in names])
            console.print(extra)
    console.print(f"counts: {report['counts']}", highlight=False)
    for row in report["rejected"]:
        console.print(
            f"[yellow]rejected:[/] {row['source_file']}, line {row['source_line']}, field {row['field']}: {row['reason']}",
            highlight=False,
        )


@finance_app.command("readiness")
def readiness_command(
    contract: Annotated[Path, typer.Argument(help="The APM contract being considered")],
    reserves: Annotated[str, typer.Option(help="Cash reserves available for losses ($)")],
    assessment: Annotated[
        Path | None, typer.Option(help="YAML with capability levels (1-4) and checklist answers (true/false)")
    ] = None,
    entity_inputs: Annotated[
        Path | None, typer.Option(help="Aggregate inputs CSV (benchmark etc.): enables the simulation")
    ] = None,
    period: Annotated[str, typer.Option(help="Contract period to settle")] = "2025",
    scenarios: Annotated[int, typer.Option(help="Simulated expenditure scenarios")] = 400,
    sd: Annotated[str, typer.Option(help="Standard deviation of expenditure vs benchmark")] = "0.05",
    trend: Annotated[str, typer.Option(help="Mean expenditure deviation vs benchmark")] = "0",
    seed: Annotated[int, typer.Option(help="Random seed of the scenarios")] = 7,
    benchmark: Annotated[
        str | None, typer.Option(help="Benchmark/target ($) for the loss-cap method")
    ] = None,
    revenue: Annotated[
        str | None, typer.Option(help="Participant revenue ($) for revenue-based caps")
    ] = None,
    ledger: Annotated[list[Path] | None, typer.Option(help="General-ledger CSV (adds KPI evidence)")] = None,
    billing: Annotated[list[Path] | None, typer.Option(help="Billing CSV / 835 (adds KPI evidence)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write readiness.json and readiness.md here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Readiness report: checklist, capability assessment, reserves vs the contract's 95th-percentile downside."""
    spec = read_contract(contract)
    answers: dict[str, Any] = {}
    if assessment is not None:
        loaded = read_yaml(assessment) or {}
        if not isinstance(loaded, dict):
            raise InputFileError(assessment, "must be a mapping with capability: and checklist:")
        answers = loaded
    levels = dict(answers.get("capability") or {})
    levels.setdefault("financial_reserves", 1)
    for domain in ("data", "care_management", "quality", "experience"):
        levels.setdefault(domain, 1)
    checklist = {str(k): bool(v) for k, v in (answers.get("checklist") or {}).items()}
    reserve_amount = _decimal("reserves", reserves)
    assert reserve_amount is not None
    if entity_inputs is not None:
        entity = _entity_inputs(entity_inputs)[0]
        downside = simulated_downside(
            spec,
            period,
            entity,
            scenarios=scenarios,
            trend=_decimal("trend", trend) or Decimal(0),
            sd=_decimal("sd", sd) or Decimal("0.05"),
            seed=seed,
        )
    else:
        downside = loss_cap_downside(
            spec, period, benchmark=_decimal("benchmark", benchmark), revenue=_decimal("revenue", revenue)
        )
    kpi_summary = None
    if ledger or billing:
        with open_engine() as engine:
            book, bill = _load(engine, ledger or [], billing or [])
            report = compute_kpis(engine, book, bill, ["all", "payer"], None, 90)
        totals = report["kpis_all"][0]
        kpi_summary = {**totals, "payers": len(report["kpis_payer"])}
    result = readiness_report(
        contract=spec,
        downside=downside,
        reserves=reserve_amount,
        capability_levels=levels,
        checklist_answers=checklist,
        kpi_summary=kpi_summary,
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "readiness.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "readiness.md").write_text(readiness_markdown(result), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(readiness_markdown(result))


def readiness_markdown(result: dict[str, Any]) -> str:
    """The readiness report as Markdown."""
    d = result["downside"]
    lines = [
        f"# APM readiness: {result['contract_id']}",
        "",
        f"- Reserves: ${result['reserves']}",
        f"- 95th-percentile downside: ${d['p95_loss']} (method: {d['method']}; {d['detail']})",
        f"- Reserves cover the downside: {'yes' if result['reserves_cover_downside'] else 'no'}"
        + (f" (cover ratio {result['reserve_cover_ratio']})" if result["reserve_cover_ratio"] else ""),
    ]
    if d["expected_net_settlement"] is not None:
        lines.append(f"- Expected net settlement (mean of scenarios): ${d['expected_net_settlement']}")
    cap = result["capability"]
    lines += [
        "",
        "## Capability assessment",
        "",
        "| domain | level | meaning |",
        "|---|---|---|",
        *[f"| {k} | {v['level']} | {v['meaning']} |" for k, v in cap["levels"].items()],
        "",
        f"Recommended step: **{cap['recommended_step']}** (HCP-LAN {cap['recommended_category']}); "
        f"glide path: {' -> '.join(cap['glide_path'])}",
    ]
    for domain, gap in cap["gaps_to_next_step"].items():
        lines.append(f"- gap, {domain}: {gap}")
    lines += ["", "## Checklist", "", "| group | item | status |", "|---|---|---|"]
    lines += [f"| {i['group']} | {i['description']} | {i['status']} |" for i in result["checklist"]]
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    app.add_typer(finance_app, name="finance")
