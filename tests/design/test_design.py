"""The design worksheet: drafting from each toolkit starting point, term edits, measure checks, the document,
and ``apmkit design`` end to end (answers YAML, prompts, simulation on a synthetic population)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from apmkit.classify import classify_lan
from apmkit.cli.main import app
from apmkit.design.worksheet import (
    STARTING_POINTS,
    draft_contract,
    markdown_to_html,
    parse_answers,
    ptac_review,
)
from apmkit.errors import ConfigurationError

runner = CliRunner()

BASE: dict[str, Any] = {"name": "Test model", "starting_point": "pioneer"}

# starting point -> HCP-LAN category of the drafted contract (same reasoning as tests/classify/test_lan.py)
EXPECTED = {"ocm": "3A", "cpc_plus": "2C", "cjr": "3A", "bpci": "3B", "pioneer": "3B", "cec": "3B"}


@pytest.mark.parametrize("start", sorted(STARTING_POINTS))
def test_every_starting_point_drafts_a_valid_contract(start: str) -> None:
    contract = draft_contract(parse_answers({**BASE, "starting_point": start, "id": f"draft_{start}"}))
    assert contract.id == f"draft_{start}"
    assert contract.version == "draft"
    assert classify_lan(contract).category == EXPECTED[start]


def test_terms_and_measures_are_applied() -> None:
    answers = parse_answers(
        {
            **BASE,
            "terms": {
                "shared_savings.terms.max_sharing_rate": 0.65,
                "shared_savings.terms.sided": "one_sided",
            },
            "quality": {"measures": ["CMS122", "ACR"]},
        }
    )
    contract = draft_contract(answers)
    terms = contract.components[0].terms  # type: ignore[union-attr]
    assert terms.max_sharing_rate == D("0.65")
    assert classify_lan(contract).category == "3A"  # one-sided now
    assert list(contract.quality.measures) == ["CMS122", "ACR"]  # type: ignore[union-attr]
    assert any("Pioneer-like" in note for note in contract.unverified)


def test_bad_term_path_names_the_component() -> None:
    with pytest.raises(ConfigurationError, match=r"nosuch\.rate"):
        draft_contract(parse_answers({**BASE, "terms": {"nosuch.rate": 1}}))


def test_unsupported_measure_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"quality\.measures"):
        parse_answers({**BASE, "quality": {"measures": ["CMS999"]}})


def test_ptac_review_marks_high_priority_criteria() -> None:
    review = ptac_review(parse_answers({**BASE, "apm_type": {"ptac": {"scope": "all specialties"}}}))
    high = {r["criterion"] for r in review if r["high_priority"]}
    assert high == {"scope", "quality_and_cost", "payment_methodology"}
    assert [r["criterion"] for r in review if r["addressed"]] == ["scope"]


def test_markdown_to_html_escapes_and_renders_tables() -> None:
    page = markdown_to_html("# A <b>\n\n| x | y |\n|---|---|\n| 1 | **2** |\n\n- item\n", "t")
    assert "<h1>A &lt;b&gt;</h1>" in page
    assert "<th>x</th>" in page and "<td><strong>2</strong></td>" in page
    assert "<li>item</li>" in page


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    result = runner.invoke(
        app, ["--quiet", "synth", "--members", "60", "--years", "1", "--seed", "11", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_design_cli_with_population(tmp_path: Path, population: Path) -> None:
    """At a break-even benchmark (the population's own spending) savings are 0, so the settlement at the measured
    expenditure is 0; a given benchmark per person-year times the person-years is the benchmark used."""
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        yaml.safe_dump(
            {
                **BASE,
                "quality": {"measures": ["CMS165"]},
                "cehrt_share": 0.8,
                "capability": {
                    "data": 3,
                    "care_management": 3,
                    "quality": 3,
                    "financial_reserves": 3,
                    "experience": 3,
                },
                "simulation": {"period": "2025", "scenarios": 30},
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "design"
    args = [
        "--quiet",
        "design",
        "--answers",
        str(answers),
        "--from",
        str(population),
        "--out",
        str(out),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["lan"]["category"] == "3B"
    assert summary["advanced_apm"]["advanced_apm"] is True
    assert summary["capability"]["recommended_step"] == "two-sided"
    simulation = summary["simulation"]
    assert D(simulation["net_settlement"]) == 0
    assert simulation["benchmark"] == simulation["expenditure"]
    assert summary["scale_from_data"]["members"] == 60
    for name in ("contract.yaml", "design.md", "design.html", "design.json"):
        assert (out / name).is_file()
    assert "## 7. Operational feasibility" in (out / "design.md").read_text(encoding="utf-8")
    # the drafted contract reads back through the contracts loader
    check = runner.invoke(app, ["classify", "lan", str(out / "contract.yaml"), "--json"])
    assert json.loads(check.output)["category"] == "3B"

    given = {
        **yaml.safe_load(answers.read_text()),
        "simulation": {"period": "2025", "scenarios": 30, "benchmark_per_person_year": 12000},
    }
    answers.write_text(yaml.safe_dump(given), encoding="utf-8")
    again = json.loads(runner.invoke(app, args).output)["simulation"]
    # $12,000 per person-year x member months / 12 = $1,000 per member month
    assert D(again["benchmark"]) == D(1000) * again["member_months"]


def test_design_prompts(tmp_path: Path) -> None:
    """The interactive worksheet: name, payer, starting point, seven elements, no capability assessment."""
    keys = [
        "Prompted model",
        "",
        "bpci",
        "advanced_apm",
        *[""] * 10,
        "joint care pathway",
        "variation",
        "",
        "",
        "",
        "ACR",
        "ok",
        "n",
    ]
    result = runner.invoke(
        app, ["--quiet", "design", "--out", str(tmp_path / "d"), "--json"], input="\n".join(keys) + "\n"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["starting_point"] == "bpci"
    assert summary["lan"]["category"] == "3B"
