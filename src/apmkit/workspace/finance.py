"""Practice-finance jobs (``apmkit finance kpis | readiness``): load the files, compute the KPI tables, the
APM contribution and the readiness report. The CLI parses options, calls these and prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from apmkit.design.readiness import loss_cap_downside, readiness_report, simulated_downside
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.finance.kpis import ar_aging, days_in_ar, denials_by_reason, kpis
from apmkit.ingest.practice_finance import Loaded, load_billing_files, load_ledger, load_visits
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs
from apmkit.workspace.run import read_contract


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def rows_of(engine: Engine, expr: Any) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in engine.to_arrow(expr).to_pylist()]


def entity_inputs_from_csv(path: Path) -> list[EntityInputs]:
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


def load_finance(
    engine: Engine, ledger: list[Path], billing: list[Path]
) -> tuple[Loaded | None, Loaded | None]:
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
        out[f"kpis_{dimension}"] = rows_of(engine, kpis(lines, ledger, dimension, visits))
    if lines is not None:
        out["denials_carc"] = rows_of(engine, denials_by_reason(lines, "carc"))
        out["denials_rarc"] = rows_of(engine, denials_by_reason(lines, "rarc"))
        if as_of is not None:
            out["ar_aging"] = rows_of(engine, ar_aging(lines, as_of))
            out["days_in_ar"] = rows_of(engine, days_in_ar(lines, as_of, window_days))
    return out


def finance_kpis(
    engine: Engine,
    *,
    ledger: list[Path],
    billing: list[Path],
    visits: list[Path],
    dimensions: list[str],
    as_of: date | None,
    window_days: int,
    contract: Path | None,
    entity_inputs: Path | None,
    period: str | None,
    out: Path | None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load the files, compute every KPI table, counts and rejected rows, the APM contribution when a contract
    is given, and write the tables to ``out``."""
    step = on_step or (lambda _message: None)
    step("loading finance files")
    book, bill = load_finance(engine, ledger, billing)
    counted = load_visits(engine, visits) if visits else None
    step("computing KPIs")
    report = compute_kpis(engine, book, bill, dimensions, as_of, window_days, counted)
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
                {k: v for k, v in row.items() if k != "record"} for row in rows_of(engine, loaded.quarantine)
            )
    report["rejected"] = quarantine
    if contract is not None:
        report["apm_contribution"] = apm_contribution(contract, entity_inputs, period, report)
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
    return report


def apm_contribution(
    contract_path: Path, entity_inputs: Path | None, period: str | None, report: dict[str, Any]
) -> dict[str, Any]:
    if entity_inputs is None or period is None:
        raise ConfigurationError("--contract needs --entity-inputs and --period for the APM contribution")
    spec = read_contract(contract_path)
    settlement = settle(spec, period, entity_inputs_from_csv(entity_inputs))
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


def readiness(
    engine: Engine,
    contract: Path,
    *,
    reserves: Decimal,
    answers: dict[str, Any],
    entity_inputs: Path | None,
    period: str,
    scenarios: int,
    sd: Decimal,
    trend: Decimal,
    seed: int,
    benchmark: Decimal | None,
    revenue: Decimal | None,
    ledger: list[Path],
    billing: list[Path],
    out: Path | None,
) -> dict[str, Any]:
    """The readiness report: checklist, capability, reserves against the contract's 95th-percentile downside."""
    spec = read_contract(contract)
    levels = dict(answers.get("capability") or {})
    levels.setdefault("financial_reserves", 1)
    for domain in ("data", "care_management", "quality", "experience"):
        levels.setdefault(domain, 1)
    checklist = {str(k): bool(v) for k, v in (answers.get("checklist") or {}).items()}
    if entity_inputs is not None:
        entity = entity_inputs_from_csv(entity_inputs)[0]
        downside = simulated_downside(
            spec,
            period,
            entity,
            scenarios=scenarios,
            trend=trend,
            sd=sd,
            seed=seed,
        )
    else:
        downside = loss_cap_downside(spec, period, benchmark=benchmark, revenue=revenue)
    kpi_summary = None
    if ledger or billing:
        book, bill = load_finance(engine, ledger, billing)
        report = compute_kpis(engine, book, bill, ["all", "payer"], None, 90)
        totals = report["kpis_all"][0]
        kpi_summary = {**totals, "payers": len(report["kpis_payer"])}
    result = readiness_report(
        contract=spec,
        downside=downside,
        reserves=reserves,
        capability_levels=levels,
        checklist_answers=checklist,
        kpi_summary=kpi_summary,
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "readiness.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "readiness.md").write_text(readiness_markdown(result), encoding="utf-8")
    return result


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
