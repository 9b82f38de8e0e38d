"""``apmkit classify``: HCP-LAN category, Advanced APM test, QP status, and a payer's portfolio by category."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from apmkit.classify import AdvancedApmFacts, advanced_apm, classify_lan, determine_qp, glide_path_stages
from apmkit.errors import ConfigurationError
from apmkit.workspace.classify import classify_portfolio
from apmkit.workspace.run import read_contract

classify_app = typer.Typer(help="Classify contracts: HCP-LAN category, Advanced APM, QP status, portfolio.")


def _share(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        number = Decimal(text.strip().rstrip("%"))
    except InvalidOperation as exc:
        raise ConfigurationError(f"--{name}: not a number ({text!r})") from exc
    if not number.is_finite():
        raise ConfigurationError(f"--{name}: a finite number is required (0.75 or 75%)")
    if number.copy_abs() > 100:  # shares are at most 1 (or 100 %); also keeps 1e+999999999 out of division
        raise ConfigurationError(f"--{name}: a share between 0 and 1 (or 0% and 100%) is required")
    return number / (100 if text.strip().endswith("%") else 1)


def _money(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.replace(",", "").replace("$", ""))
    except InvalidOperation as exc:
        raise ConfigurationError(f"--{name}: not an amount ({text!r})") from exc
    if not value.is_finite():
        raise ConfigurationError(f"--{name}: a finite amount is required")
    if value < 0:
        raise ConfigurationError(f"--{name}: must not be negative")
    return value


@classify_app.command("lan")
def lan_command(
    contract: Annotated[Path, typer.Argument(help="Contract YAML file")],
    period: Annotated[str | None, typer.Option(help="Apply the glide path up to this period first")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """HCP-LAN APM Framework category of a contract, the rule that decided it and the components considered."""
    spec = read_contract(contract)
    result = classify_lan(spec, period)
    data = result.to_dict()
    if spec.glide_path and period is None:
        data["glide_path_stages"] = [
            {"period": stage or "(start)", "category": category}
            for stage, category in glide_path_stages(spec)
        ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console = Console()
    console.print(f"[bold]{spec.id}[/]: HCP-LAN category [bold]{result.category}[/] - {result.name}")
    console.print(f"rule: {result.rule}", highlight=False)
    console.print(f"quality link: {result.quality_link or 'none'}", highlight=False)
    table = Table("component", "type", "category", "reason")
    for item in result.components:
        table.add_row(item.component_id, item.component_type, item.category or "-", item.reason)
    console.print(table)
    for stage in data.get("glide_path_stages", []):
        console.print(f"  glide path {stage['period']}: {stage['category']}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@classify_app.command("advanced-apm")
def advanced_apm_command(
    contract: Annotated[Path, typer.Argument(help="Contract YAML file")],
    performance_year: Annotated[int, typer.Option(help="QP performance period")] = 2025,
    cehrt_share: Annotated[
        str | None, typer.Option(help="Share of eligible clinicians required to use CEHRT (0.75 or 75%)")
    ] = None,
    outcome_measure: Annotated[
        bool | None,
        typer.Option(
            "--outcome-measure/--no-outcome-measure",
            help="Payment-linked measures include an outcome measure (default: read the contract)",
        ),
    ] = None,
    ab_revenue: Annotated[str | None, typer.Option(help="Participants' Medicare A+B revenue ($)")] = None,
    expected_expenditures: Annotated[
        str | None, typer.Option(help="Expected expenditures: benchmark or target ($)")
    ] = None,
    medical_home: Annotated[bool, typer.Option(help="The arrangement is a Medical Home Model")] = False,
    eligible_clinicians: Annotated[int | None, typer.Option(help="Eligible clinicians in the entity")] = None,
    medical_home_risk_share: Annotated[
        str | None, typer.Option(help="Medical home potential loss as a share of A+B revenue")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Is the contract an Advanced APM (42 CFR 414.1415)? CEHRT, quality with an outcome measure, nominal risk."""
    spec = read_contract(contract)
    facts = AdvancedApmFacts(
        performance_year=performance_year,
        cehrt_share=_share("cehrt-share", cehrt_share),
        outcome_measure=outcome_measure,
        ab_revenue=_money("ab-revenue", ab_revenue),
        expected_expenditures=_money("expected-expenditures", expected_expenditures),
        medical_home=medical_home,
        eligible_clinicians=eligible_clinicians,
        medical_home_risk_share=_share("medical-home-risk-share", medical_home_risk_share),
    )
    result = advanced_apm(spec, facts)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    console = Console()
    verdict = "an Advanced APM" if result["advanced_apm"] else f"not an Advanced APM ({result['apm_type']})"
    console.print(f"[bold]{spec.id}[/] in {performance_year}: {verdict}")
    for name, criterion in result["criteria"].items():
        console.print(f"  {name}: {'met' if criterion['met'] else 'not met'}", highlight=False)
        for finding in criterion.get("components", []):
            console.print(f"    {finding['component']}: {finding['reason']}", highlight=False)
        if criterion.get("reason"):
            console.print(f"    {criterion['reason']}", highlight=False)


@classify_app.command("qp")
def qp_command(
    payment_year: Annotated[int, typer.Option(help="Payment year (performance year + 2)")],
    payment_share: Annotated[str | None, typer.Option(help="Payment amount threshold score")] = None,
    patient_share: Annotated[str | None, typer.Option(help="Patient count threshold score")] = None,
    option: Annotated[str, typer.Option(help="medicare or all-payer")] = "medicare",
    medicare_payment_share: Annotated[
        str | None, typer.Option(help="Medicare Option payment score (all-payer option)")
    ] = None,
    medicare_patient_share: Annotated[
        str | None, typer.Option(help="Medicare Option patient score (all-payer option)")
    ] = None,
    part_b_payments: Annotated[
        str | None, typer.Option(help="Base-year Part B covered professional services payments ($)")
    ] = None,
    qp_payment_threshold: Annotated[
        str | None, typer.Option(help="Replace the QP payment-amount threshold (statutory changes)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """QP, Partial QP or Not QP by payment year, Medicare or All-Payer Combination Option, and the incentive."""
    if option not in ("medicare", "all-payer"):
        raise ConfigurationError(f"--option: choose medicare or all-payer, not {option!r}")
    result = determine_qp(
        payment_year,
        _share("payment-share", payment_share),
        _share("patient-share", patient_share),
        option=option,  # type: ignore[arg-type]
        medicare_payment_share=_share("medicare-payment-share", medicare_payment_share),
        medicare_patient_share=_share("medicare-patient-share", medicare_patient_share),
        part_b_payments=_money("part-b-payments", part_b_payments),
        qp_payment_threshold=_share("qp-payment-threshold", qp_payment_threshold),
    ).data
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    console = Console()
    basis = f" on the {result['basis']} basis" if result["basis"] else ""
    console.print(f"payment year {payment_year}: [bold]{result['status']}[/]{basis}", highlight=False)
    console.print(f"thresholds: {result['thresholds']}", highlight=False)
    if result["incentive_payment"] is not None:
        console.print(f"APM incentive payment: ${result['incentive_payment']}", highlight=False)
    for warning in result["warnings"]:
        console.print(f"[yellow]note:[/] {warning}", highlight=False)


@classify_app.command("portfolio")
def portfolio_command(
    contracts_csv: Annotated[
        Path, typer.Argument(help="CSV with columns contract (file, relative to the CSV) and payments")
    ],
    out: Annotated[Path | None, typer.Option(help="Write the table as CSV here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Share of a payer's payments by HCP-LAN category across its contracts."""
    portfolio = classify_portfolio(contracts_csv)
    table, counts, rejected = portfolio.table, portfolio.counts, portfolio.rejected
    if out is not None:
        import pyarrow.csv as pcsv

        out.parent.mkdir(parents=True, exist_ok=True)
        pcsv.write_csv(table, out)
    if as_json:
        typer.echo(json.dumps(portfolio.to_dict(), indent=2))
        return
    console = Console()
    shown = Table("category", "name", "contracts", "payments", "share")
    for r in table.to_pylist():
        shown.add_row(
            r["category"], r["name"], str(r["contracts"]), f"{r['payments']:,}", f"{r['share'] * 100:.2f} %"
        )
    console.print(shown)
    console.print(f"read {counts['read']}, loaded {counts['loaded']}, rejected {counts['rejected']}")
    for item in rejected:
        console.print(
            f"[yellow]rejected:[/] {contracts_csv.name}, line {item['line']}, field {item['field']}: {item['reason']}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(classify_app, name="classify")
