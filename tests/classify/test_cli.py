"""``apmkit classify`` end to end: the JSON interfaces the issue fixes as a user contract, and the portfolio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.contracts import template_text

runner = CliRunner()


def _template(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(template_text(name), encoding="utf-8")
    return path


def test_qp_json_contract() -> None:
    result = runner.invoke(
        app,
        [
            "classify",
            "qp",
            "--payment-year",
            "2025",
            "--payment-share",
            "0.52",
            "--patient-share",
            "0.30",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "QP"
    assert data["basis"] == "payment"


def test_qp_all_payer_json() -> None:
    args = [
        "classify",
        "qp",
        "--payment-year",
        "2025",
        "--payment-share",
        "0.45",
        "--patient-share",
        "0.10",
        "--option",
        "all-payer",
        "--medicare-payment-share",
        "0.22",
        "--medicare-patient-share",
        "0.05",
        "--json",
    ]
    data = json.loads(runner.invoke(app, args).output)
    # all-payer 0.45 >= 0.40 Partial and Medicare 0.22 >= 0.20 Partial minimum; Medicare Option alone: Not QP
    assert (data["status"], data["basis"], data["option"]) == ("Partial QP", "payment", "all-payer")


def test_qp_not_qp_basis_is_null() -> None:
    args = [
        "classify",
        "qp",
        "--payment-year",
        "2027",
        "--payment-share",
        "0.49",
        "--patient-share",
        "0.34",
        "--json",
    ]
    data = json.loads(runner.invoke(app, args).output)
    assert data["status"] == "Not QP"
    assert data["basis"] is None


def test_qp_bad_share_is_a_user_error() -> None:
    result = runner.invoke(app, ["classify", "qp", "--payment-year", "2025", "--payment-share", "abc"])
    assert result.exit_code != 0


def test_advanced_apm_json(tmp_path: Path) -> None:
    contract = _template(tmp_path, "mssp_enhanced")
    args = [
        "classify",
        "advanced-apm",
        str(contract),
        "--performance-year",
        "2024",
        "--cehrt-share",
        "0.8",
        "--outcome-measure",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["advanced_apm"] is True
    assert set(data["criteria"]) == {"cehrt", "quality", "financial_risk"}


def test_lan_json(tmp_path: Path) -> None:
    data = json.loads(
        runner.invoke(app, ["classify", "lan", str(_template(tmp_path, "mssp_basic_c")), "--json"]).output
    )
    assert data["category"] == "3B"
    assert data["components"][0]["id"] == "shared_savings"
    # base terms + the PY2021, PY2023 and PY2024 glide-path steps of the BASIC C template, all two-sided
    assert [s["category"] for s in data["glide_path_stages"]] == ["3B", "3B", "3B", "3B"]


def test_portfolio_shares_and_rejects(tmp_path: Path) -> None:
    """Payments 600 (3B) + 300 (2C) + 100 (4A) = 1,000: shares 0.6, 0.3, 0.1; APM (3A-4C) = 700 / 1,000 = 0.7."""
    for name in ("mssp_enhanced", "cpc_plus_track1", "primary_care_first"):
        _template(tmp_path, name)
    listing = tmp_path / "portfolio.csv"
    listing.write_text(
        "contract,payments\n"
        "mssp_enhanced.yaml,600\n"
        "cpc_plus_track1.yaml,300\n"
        "primary_care_first.yaml,100\n"
        "missing.yaml,50\n"
        "mssp_enhanced.yaml,-5\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["classify", "portfolio", str(listing), "--json", "--out", str(tmp_path / "out.csv")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    shares = {row["category"]: row["share"] for row in data["categories"]}
    assert shares["3B"] == "0.6000"
    assert shares["2C"] == "0.3000"
    assert shares["4A"] == "0.1000"
    assert shares["APM"] == "0.7000"
    assert data["counts"] == {"read": 5, "loaded": 3, "rejected": 2}
    assert {(r["line"], r["field"]) for r in data["rejected"]} == {(5, "contract"), (6, "payments")}
    assert (tmp_path / "out.csv").is_file()


def test_qp_nan_and_huge_numbers_are_one_line_errors(tmp_path: Path) -> None:
    cases = [
        (["--payment-share", "NaN"], "--payment-share: a finite number is required"),
        (["--payment-share", "nan%"], "--payment-share: a finite number is required"),
        (["--payment-share", "-Infinity"], "--payment-share: a finite number is required"),
        (["--payment-share", "1e+999999999"], "--payment-share: a share between 0 and 1"),
        (["--payment-share", "0.6", "--part-b-payments", "NaN"], "--part-b-payments: a finite amount"),
        (
            ["--payment-share", "0.6", "--part-b-payments", "1e+999999999"],
            "--part-b-payments: a non-negative",
        ),
    ]
    for args, message in cases:
        result = subprocess.run(
            [sys.executable, "-m", "apmkit", "classify", "qp", "--payment-year", "2026", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr, args
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
