"""``apmkit finance kpis`` and ``apmkit finance readiness`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.contracts import template_text

runner = CliRunner()
FIN = Path(__file__).parent.parent / "fixtures" / "finance"


def test_kpis_json_with_quarantine_and_apm_contribution(tmp_path: Path) -> None:
    """Commercial upside shared savings on benchmark $1,000,000, expenditure $950,000: savings 5 % >= 2 % MSR,
    shared first-dollar at 50 % x quality 0.9 = 45 % -> $22,500; reporting bonus $0.50 PBPM x 1,200 member
    months = $600; total $23,100 (template terms)."""
    billing = tmp_path / "billing.csv"
    billing.write_text(
        (FIN / "billing_example.csv").read_text(encoding="utf-8")
        + "A7,1,not-a-date,Acme,,,,10.00,,,,,,,,,\n",
        encoding="utf-8",
    )
    contract = tmp_path / "c.yaml"
    contract.write_text(template_text("commercial_upside_shared_savings"), encoding="utf-8")
    inputs = tmp_path / "aco.csv"
    inputs.write_text(
        "entity_id,benchmark,expenditure,person_years,population,quality_score,member_months,reported\n"
        "P1,1000000,950000,100,100,0.9,1200,yes\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = [
        "--quiet",
        "finance",
        "kpis",
        "--ledger",
        str(FIN / "ledger_example.csv"),
        "--billing",
        str(billing),
        "--as-of",
        "2025-03-31",
        "--by",
        "all,payer",
        "--contract",
        str(contract),
        "--entity-inputs",
        str(inputs),
        "--period",
        "2025",
        "--out",
        str(out),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kpis_all"][0]["net_collection_rate"] == "0.6269"
    assert data["counts"]["billing"] == {"read": 7, "loaded": 6, "rejected": 1}
    assert [(r["source_line"], r["field"]) for r in data["rejected"]] == [(8, "service_date")]
    assert data["days_in_ar"][0]["days_in_ar"] == "15.0"
    contribution = data["apm_contribution"]
    assert contribution["net_settlement"] == "23100.00"
    assert (out / "finance_kpis.json").is_file() and (out / "quarantine_billing.parquet").exists()


def test_readiness_loss_cap_method(tmp_path: Path) -> None:
    contract = tmp_path / "e.yaml"
    contract.write_text(template_text("mssp_basic_e"), encoding="utf-8")
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "capability: {data: 3, care_management: 3, quality: 3, experience: 3}\nchecklist: {leadership: true}\n",
        encoding="utf-8",
    )
    args = [
        "--quiet",
        "finance",
        "readiness",
        str(contract),
        "--reserves",
        "500000",
        "--assessment",
        str(answers),
        "--benchmark",
        "10000000",
        "--revenue",
        "3000000",
        "--period",
        "2024",
        "--json",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["downside"]["method"] == "loss cap"
    assert data["downside"]["p95_loss"] == "240000.00"
    assert data["can_afford"] is True
    # reserves 500,000 / 240,000 = 2.08 -> level 4; experience 3 -> two-sided
    assert data["capability"]["recommended_step"] == "two-sided"
    assert (tmp_path / "readiness.md").read_text(encoding="utf-8").startswith("# APM readiness: mssp_basic_e")


def test_readiness_simulation_with_practice_data(tmp_path: Path) -> None:
    """Simulated downside on a $10M benchmark with BASIC E terms stays within the loss limit min(8 % x $3M, 4 % x
    $10M) = $240,000; the ledger and billing files mark the KPI checklist items done."""
    contract = tmp_path / "e.yaml"
    contract.write_text(template_text("mssp_basic_e"), encoding="utf-8")
    inputs = tmp_path / "aco.csv"
    inputs.write_text(
        "entity_id,benchmark,person_years,population,quality_score,quality_standard_met,participant_revenue\n"
        "P1,10000000,1000,6000,0.9,yes,3000000\n",
        encoding="utf-8",
    )
    args = [
        "--quiet",
        "finance",
        "readiness",
        str(contract),
        "--reserves",
        "100000",
        "--entity-inputs",
        str(inputs),
        "--period",
        "2024",
        "--scenarios",
        "60",
        "--ledger",
        str(FIN / "ledger_example.csv"),
        "--billing",
        str(FIN / "billing_example.csv"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["downside"]["method"] == "simulation"
    assert data["downside"]["scenarios"] == 60
    from decimal import Decimal

    assert Decimal(0) < Decimal(data["downside"]["p95_loss"]) <= Decimal("240000.00")
    status = {item["item"]: item["status"] for item in data["checklist"]}
    assert [status[k] for k in ("ledger", "revenue_cycle", "payer_mix", "value_based_revenue")] == [
        "done"
    ] * 4
