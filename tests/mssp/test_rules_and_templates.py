"""MSSP rules by year and track against the regulation figures in the reference (docs/reference/mssp-settlement-rules.md §3,
docs/reference/methodology.md §1.1), and the shipped contract templates against the rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apmkit.contracts.document import load_template, template_text
from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.rules import mssp_terms, sequestration_rate, track_years
from apmkit.programs.mssp.templates import TEMPLATE_TRACKS, default_msr_election, render_template

D = Decimal


@pytest.mark.parametrize(
    ("track", "year", "max_rate", "savings_cap", "quality"),
    [
        ("track_1", 2013, "0.50", "0.10", "scale"),
        ("track_1", 2021, "0.50", "0.10", "gate"),
        ("track_2", 2014, "0.60", "0.15", "scale"),
        ("track_3", 2017, "0.75", "0.20", "scale"),
        ("track_1_plus", 2018, "0.50", "0.10", "scale"),
        ("basic_a", 2020, "0.40", "0.10", "scale"),
        ("basic_c", 2021, "0.50", "0.10", "gate"),
        ("enhanced", 2024, "0.75", "0.20", "gate_or_sliding_scale"),
    ],
)
def test_sharing_rates_caps_and_quality_by_track_and_year(
    track: str, year: int, max_rate: str, savings_cap: str, quality: str
) -> None:
    terms = mssp_terms(track, year, msr_election="variable")
    assert terms.max_sharing_rate == D(max_rate)
    assert terms.savings_cap.pct_of_benchmark == D(savings_cap)
    assert terms.quality.method == quality


@pytest.mark.parametrize(
    ("year", "rate"),
    [(2013, "0.02"), (2018, "0.02"), (2019, "0"), (2020, "0"), (2021, "0.02"), (2025, "0.02")],
)
def test_sequestration_by_year(year: int, rate: str) -> None:
    assert sequestration_rate(year)[0] == D(rate)


def test_loss_terms() -> None:
    track_2 = mssp_terms("track_2", 2015)
    assert track_2.minimum_savings_rate.kind == "fixed" and track_2.minimum_savings_rate.rate == D("0.02")
    assert track_2.loss_rate is not None and track_2.loss_rate.ceiling == D("0.60")
    assert [
        mssp_terms("track_2", 2015, agreement_year=n).loss_cap.pct_of_benchmark for n in (1, 2, 3, 4)
    ] == [
        D("0.05"),
        D("0.075"),
        D("0.10"),
        D("0.10"),
    ]
    track_3 = mssp_terms("track_3", 2016, msr_election=D("0.01"))
    assert track_3.loss_rate is not None
    assert (track_3.loss_rate.floor, track_3.loss_rate.ceiling) == (D("0.40"), D("0.75"))
    assert track_3.loss_cap.pct_of_benchmark == D("0.15")
    # BASIC C/D/E: lower of 2/4/8 % of participant revenue and 1/2/4 % of the benchmark (docs/reference/methodology.md §1.1).
    for level, revenue, benchmark in (("c", "0.02", "0.01"), ("d", "0.04", "0.02"), ("e", "0.08", "0.04")):
        cap = mssp_terms(f"basic_{level}", 2024, msr_election="variable").loss_cap
        assert (cap.pct_of_revenue, cap.pct_of_benchmark) == (D(revenue), D(benchmark))
        assert mssp_terms(
            f"basic_{level}", 2024, msr_election="variable", revenue_loss_limit=False
        ).loss_cap == (cap.model_copy(update={"pct_of_revenue": None}))
    enhanced_2021 = mssp_terms("enhanced", 2021, msr_election="variable").loss_rate
    assert enhanced_2021 is not None and enhanced_2021.method == "one_minus_max_rate_times_quality"
    assert enhanced_2021.max_rate_factor == D("0.75")


def test_rule_errors_name_the_problem() -> None:
    with pytest.raises(ConfigurationError, match="'track_9' is not an MSSP track"):
        mssp_terms("track_9", 2016)
    with pytest.raises(ConfigurationError, match="track 'track_3' has no rules for performance year 2014"):
        mssp_terms("track_3", 2014, msr_election="variable")
    with pytest.raises(ConfigurationError, match="the MSR/MLR is elected by the ACO"):
        mssp_terms("enhanced", 2022)


@pytest.mark.parametrize("suffix", sorted(TEMPLATE_TRACKS))
def test_shipped_template_is_generated_from_the_rules(suffix: str) -> None:
    track = TEMPLATE_TRACKS[suffix]
    assert template_text(f"mssp_{suffix}") == render_template(track)
    contract = load_template(f"mssp_{suffix}")
    for year in track_years(track):
        effective, _ = contract.for_period(str(year))
        terms = effective.component("shared_savings").terms  # type: ignore[attr-defined]
        assert terms == mssp_terms(track, year, msr_election=default_msr_election(track)), year


def test_templates_settle_through_the_contract_engine() -> None:
    from apmkit.settlement.engine import settle
    from apmkit.settlement.inputs import EntityInputs

    # docs/reference/methodology.md §1.7 B (BASIC E, PY2025): $234.0M benchmark, $226.0M spending, N 20,000, QPS met -> $3,920,000.
    basic_e = settle(
        load_template("mssp_basic_e"),
        "2025",
        [
            EntityInputs(
                entity_id="ACO",
                benchmark=D(234_000_000),
                expenditure=D(226_000_000),
                population=20_000,
                quality_standard_met=True,
                quality_score=D(1),
            )
        ],
    )
    assert basic_e.statements[0].net_settlement == D("3920000.00")
    # PY2018 A1409 (Track 1, CMS PUF): capped at 10 % x 121,182,225 = 12,118,222.50 (published 12,118,223).
    track_1 = settle(
        load_template("mssp_track1"),
        "2018",
        [
            EntityInputs(
                entity_id="A1409",
                benchmark=D(121_182_225),
                expenditure=D(83_501_144),
                population=5_451,
                quality_standard_met=True,
                quality_score=D("0.9081"),
            )
        ],
    )
    assert track_1.statements[0].net_settlement == D("12118222.50")


@pytest.mark.parametrize(
    ("file_name", "year", "percent", "acos", "below_5000"),
    [
        ("PY2013_SSP_ACO_PUF_columns.csv", None, False, 215, 2),
        ("PY2014_SSP_ACO_PUF_columns.csv", None, True, 330, 14),
        ("mssp_aco_results_2013_2017_columns.csv", "2016.0", False, 410, 12),
        ("mssp_aco_results_2013_2017_columns.csv", "2017.0", False, 432, 18),
        ("PY2018_SSP_ACO_PUF_rows.csv", None, False, 8, 0),
    ],
)
def test_variable_msr_table_gives_every_published_one_sided_msr(
    fixtures_dir: Path, file_name: str, year: str | None, percent: bool, acos: int, below_5000: int
) -> None:
    # CMS's published MinSavPerc of every Track 1 ACO with 500+ beneficiaries, to the file's last digit: the
    # 42 CFR 425.604(b) bands from 5,000 up and the data-derived bands below (docs/mssp.md).
    from apmkit.cli.mssp import read_puf_csv
    from apmkit.programs.mssp.rules import one_sided_msr

    two_sided_flags = ("current_track_2", "current_track_3", "current_track_1_plus")
    checked = small = 0
    for row in read_puf_csv(fixtures_dir / "mssp" / file_name).to_pylist():
        if year is not None and row.get("performance_year") != year:
            continue
        if any(row.get(flag) in ("1", "1.0") for flag in two_sided_flags):
            continue
        population = int(float(row["n_ab"]))
        if population < 500:
            continue
        text = row["minsavperc"].replace("%", "")
        published = D(text) / 100 if percent else D(text)
        last_digit = D(1).scaleb(-len(text.partition(".")[2])) / (100 if percent else 1)
        assert abs(one_sided_msr(population) - published) <= last_digit, (row.get("aco_id"), population)
        checked += 1
        small += population < 5000
    assert (checked, small) == (acos, below_5000)
