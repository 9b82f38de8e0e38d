"""Contract numbers are finite and bounded: NaN, infinities and absurd magnitudes are validation errors that name
the field, never a traceback from the decimal arithmetic (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from apmkit.contracts import parse_contract, template_text
from apmkit.errors import ConfigurationError

CAPITATION = template_text("commercial_capitation")
RULE = "must be a finite number smaller than 10^15 in magnitude"

# (template line, field path shown in the message)
PLACES = [
    ("default_pmpm: 420", "components[0:capitation]: default_pmpm"),
    ("withhold_rate: 0.05", "components[1:quality_withhold]: withhold_rate"),
    ("{min_score: 0.6, value: 0.5}", "components[1:quality_withhold].returned_by_score[1]: min_score"),
    ("runout_months: 3", "definitions: runout_months"),
]
BAD = [".nan", ".NaN", ".inf", "-.inf", "1e+999999999", "-1e+999999999", "1e999", "'1e+999999999'"]


def _with(place: str, bad: str) -> str:
    assert place in CAPITATION
    if place.startswith("{min_score"):
        return CAPITATION.replace(place, f"{{min_score: {bad}, value: 0.5}}", 1)
    return CAPITATION.replace(place, f"{place.split(':')[0]}: {bad}", 1)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(("place", "field"), PLACES)
def test_non_finite_and_huge_numbers_are_named_validation_errors(place: str, field: str, bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_contract(_with(place, bad), "contract.yaml")
    message = str(info.value)
    assert field in message
    assert RULE in message or "Input should be a valid integer" in message  # runout_months is an int


def test_map_values_are_bounded_too() -> None:
    for bad in (".nan", "1e+999999999"):
        text = CAPITATION.replace("{low: 180,", f"{{low: {bad},", 1)
        with pytest.raises(ConfigurationError) as info:
            parse_contract(text, "contract.yaml")
        assert "components[0:capitation].pmpm_by_cell.low" in str(info.value)


def test_large_but_real_numbers_and_identifiers_still_load() -> None:
    text = CAPITATION.replace("attachment_point: 150000", "attachment_point: 999999999999999.99", 1)
    contract = parse_contract(text, "contract.yaml")
    assert contract.components[0].stop_loss.attachment_point == D("999999999999999.99")
    # words that are also YAML/Decimal spellings of special numbers are ordinary text in text fields
    named = CAPITATION.replace("name: Commercial capitation", "name: nan", 1).replace(
        "payer: Example Health Plan", "payer: inf", 1
    )
    assert parse_contract(named, "contract.yaml").name == "nan"


def test_classify_reports_a_nan_contract_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(_with("withhold_rate: 0.05", ".nan"))
    result = subprocess.run(
        [sys.executable, "-m", "apmkit", "classify", "lan", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "withhold_rate: must be a finite number" in " ".join(result.stderr.split())


@pytest.mark.parametrize("bad", [".nan", "1e+999999999", "'1e+999999999'", "1000000000000000000000"])
def test_contract_level_numbers_are_bounded(bad: str) -> None:
    # definitions.truncation.amount is a plain Decimal of the contract's definitions (not a component field)
    text = template_text("commercial_upside_shared_savings")
    assert "truncation: {method: amount, amount: 250000}" in text
    with pytest.raises(ConfigurationError) as info:
        parse_contract(text.replace("amount: 250000}", f"amount: {bad}}}"), "c.yaml")
    assert f"definitions.truncation: amount: {RULE}" in str(info.value)


@pytest.mark.parametrize("bad", [".nan", "-.inf"])
def test_shared_savings_terms_reject_non_finite_rates(bad: str) -> None:
    text = template_text("commercial_upside_shared_savings")
    line = next(line for line in text.splitlines() if "max_sharing_rate:" in line)
    key = line.split(":")[0]
    with pytest.raises(ConfigurationError) as info:
        parse_contract(text.replace(line, f"{key}: {bad}", 1), "c.yaml")
    assert "max_sharing_rate" in str(info.value)
