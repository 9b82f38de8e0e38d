"""The ``apmkit settle`` and ``apmkit contract`` commands, end to end in a temporary folder."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.contracts import template_text

runner = CliRunner()

AGGREGATE = """entity_id,benchmark,expenditure,person_years,population,quality_score,member_months,reported
A1,1000000,900000,100,100,0.9,1200,yes
A2,1000000,990000,100,100,0.9,1200,no
A3,abc,990000,100,100,0.9,1200,yes
"""


def _contract(tmp_path: Path, name: str = "commercial_upside_shared_savings") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(template_text(name), encoding="utf-8")
    return path


def test_settle_aggregate_csv_writes_every_statement(tmp_path: Path) -> None:
    inputs = tmp_path / "aco.csv"
    inputs.write_text(AGGREGATE, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(_contract(tmp_path)),
            "--from",
            str(inputs),
            "--period",
            "2025",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    statement = json.loads((out / "statement.json").read_text())
    # A1: 10 % savings >= 2 % MSR; 50 % x 0.9 quality x 100,000 = 45,000 + reporting bonus 0.50 x 1,200 = 600.
    # A2: 1 % savings < 2 % MSR -> 0; not reported -> no bonus. A3 rejected (benchmark is not a number).
    nets = {s["entity_id"]: D(s["net_settlement"]) for s in statement["statements"]}
    assert nets == {"A1": D("45600.00"), "A2": D("0")}
    assert statement["counts"]["rows_read"] == 3 and statement["counts"]["rows_rejected"] == 1
    assert "aco.csv,4,field benchmark: expected a number" in (out / "rejected.csv").read_text()
    summary = pq.read_table(out / "summary.parquet").to_pylist()
    assert [row["entity_id"] for row in summary] == ["A1", "A2"]
    assert summary[0]["net_settlement"] == D("45600")
    lines = pq.read_table(out / "lines.parquet")
    amounts = [
        D(r["value_text"]) for r in lines.to_pylist() if r["entity_id"] == "A1" and r["role"] == "amount"
    ]
    assert sum(amounts) == D("45600.00")
    book = load_workbook(out / "statement.xlsx")
    assert book.sheetnames[:3] == ["Summary", "Lines", "Contract"]
    html = (out / "statement.html").read_text()
    assert "Settlement statement" in html and "A1" in html and "45,600.00" in html


def test_settle_unknown_period_is_a_user_error(tmp_path: Path) -> None:
    inputs = tmp_path / "aco.csv"
    inputs.write_text(AGGREGATE, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "settle",
            "--contract",
            str(_contract(tmp_path, "cjr")),
            "--from",
            str(inputs),
            "--period",
            "PY9",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code != 0
    assert "PY9" in str(result.exception) or "PY9" in result.output


def test_settle_from_claims_matches_an_independent_sum(tmp_path: Path) -> None:
    from apmkit.synth import generate

    data = tmp_path / "synth"
    generate(150, data, years=1, end_year=2025, seed=11)
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        """
id: claims_cli
name: claims CLI test
expenditure: {amount_field: paid_amount, runout_months: 3}
target: {benchmark_per_person_year: 12000}
components:
  - id: corridor
    type: risk_corridor
    gain_bands: [{lower: 0, entity_share: 0.5}]
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(data),
            "--period",
            "2025",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    statement = json.loads((out / "statement.json").read_text())["statements"][0]

    # Independent computation with pandas over the same Parquet files.
    enrollment = pd.read_parquet(data / "enrollment.parquet")
    enrollment = enrollment[(enrollment.month >= date(2025, 1, 1)) & (enrollment.month <= date(2025, 12, 31))]
    months = enrollment.groupby("member_id").month.nunique()
    claims = pd.read_parquet(data / "medical_claims.parquet")
    day = claims.service_date.fillna(claims.claim_from_date)
    counted = claims[
        (day >= date(2025, 1, 1))
        & (day <= date(2025, 12, 31))
        & (claims.processed_date.isna() | (claims.processed_date <= date(2026, 3, 31)))
        & claims.member_id.isin(months.index)
    ]
    expected_spend = sum((D(str(v)) for v in counted.paid_amount.dropna()), D(0))
    assert statement["summary"]["population"] == len(months)
    assert statement["summary"]["member_months"] == int(months.sum())
    assert D(statement["summary"]["expenditure"]) == expected_spend
    benchmark = D(12000) * D(int(months.sum())) / D(12)
    assert D(statement["summary"]["benchmark"]) == benchmark
    # the member rows behind the entity figures reconcile to them
    detail = pq.read_table(out / "member_detail.parquet").to_pylist()
    assert len(detail) == statement["summary"]["population"]
    assert sum(row["expenditure"] for row in detail) == expected_spend

    # a benchmark build-up from `apmkit benchmark` (general method layout) replaces the contract's target
    pd.DataFrame({"entity_id": ["ENTITY"], "benchmark_pmpm": ["1000.25"]}).to_parquet(
        tmp_path / "bench.parquet"
    )
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(data),
            "--period",
            "2025",
            "--out",
            str(out),
            "--benchmark",
            str(tmp_path / "bench.parquet"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    again = json.loads((out / "statement.json").read_text())["statements"][0]
    assert D(again["summary"]["benchmark"]) == D("1000.25") * int(months.sum())


def test_contract_validate_and_schema(tmp_path: Path) -> None:
    good = _contract(tmp_path, "primary_care_first")
    result = runner.invoke(app, ["contract", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid contract primary_care_first" in result.output
    assert "unverified" in result.output
    # the template's REQUIRED terms are listed, so the user knows what settle will ask for
    assert (
        "REQUIRED before settling: components[0:total_primary_care_payment].flat_visit_fee" in result.output
    )
    schema_file = tmp_path / "schema.json"
    assert runner.invoke(app, ["contract", "schema", "--out", str(schema_file)]).exit_code == 0
    assert json.loads(schema_file.read_text())["title"] == "apmkit contract"
    listing = runner.invoke(app, ["contract", "templates"])
    assert "cjr" in listing.output.split()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nname: y\ncomponents: []\n", "components: List should have at least 1 item"),
        (
            "id: x\nname: y\ncomponents:\n  - {id: s, type: sequestration, rate: 0.02}\n",
            "applies_to: Field required",
        ),
    ],
)
def test_contract_validate_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["contract", "validate", str(bad)])
    assert result.exit_code != 0
    assert message in str(result.exception)
    assert str(bad) in str(result.exception)


def test_contract_attribution_section_equals_the_attribute_command(tmp_path: Path) -> None:
    from apmkit.synth import generate

    data = tmp_path / "synth"
    generate(150, data, years=1, end_year=2025, seed=3)
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        """
id: attributed
name: attribution wired
target: {benchmark_per_person_year: 12000}
attribution: {method: plurality, level: tin}
components:
  - id: corridor
    type: risk_corridor
    gain_bands: [{lower: 0, entity_share: 0.5}]
""",
        encoding="utf-8",
    )
    inline = tmp_path / "inline"
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(data),
            "--period",
            "2025",
            "--out",
            str(inline),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    attribution = tmp_path / "attribution.parquet"
    made = runner.invoke(
        app,
        [
            "-q",
            "attribute",
            "--contract",
            str(contract),
            "--from",
            str(data),
            "--as-of",
            "2025-12-31",
            "--out",
            str(attribution),
        ],
    )
    assert made.exit_code == 0, made.output
    from_file = tmp_path / "from_file"
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(data),
            "--period",
            "2025",
            "--out",
            str(from_file),
            "--attribution",
            str(attribution),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    first = json.loads((inline / "statement.json").read_text())["statements"]
    second = json.loads((from_file / "statement.json").read_text())["statements"]
    assert len(first) >= 1
    assert [(s["entity_id"], s["net_settlement"]) for s in first] == [
        (s["entity_id"], s["net_settlement"]) for s in second
    ]
    attributed = pd.read_parquet(attribution)
    attributed = attributed[attributed.attributed]
    enrolled = pd.read_parquet(data / "enrollment.parquet")
    enrolled = set(
        enrolled[(enrolled.month >= date(2025, 1, 1)) & (enrolled.month <= date(2025, 12, 31))].member_id
    )
    expected = (
        attributed[attributed.member_id.isin(enrolled)].groupby("entity_id").member_id.nunique().to_dict()
    )
    assert {s["entity_id"]: s["summary"]["population"] for s in first} == expected
