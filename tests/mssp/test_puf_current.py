"""PUF reproduction for PY2021 Track 3, unknown tracks, and the PY2022+ layout and rules.

Expected values are CMS's published amounts (tests/fixtures/mssp/PY2022_SSP_ACO_PUF_columns.csv, SOURCES.md) or
the rule's arithmetic written out in the comments (42 CFR 425.605, 425.610, 425.221), never our own output.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from apmkit.cli.mssp import read_puf_csv
from apmkit.engines import Engine
from apmkit.programs.mssp.puf import LINE_COLUMN, PufReproduction, reproduce_puf

PY2022 = "PY2022_SSP_ACO_PUF_columns.csv"


def _rows(engine: Engine, year: int, *rows: dict[str, str]) -> PufReproduction:
    """Rows with canonical field names (as map_puf_header gives them: start_date = Current_Start_Date, ...)."""
    columns = sorted({key for row in rows for key in row})
    table = {column: [row.get(column, "") for row in rows] for column in columns}
    table[LINE_COLUMN] = [str(n) for n in range(2, len(rows) + 2)]
    return reproduce_puf(engine.rows(engine.from_arrow(pa.table(table))), year)


def test_py2022_every_aco_matches(engine: Engine, fixtures_dir: Path) -> None:
    result = reproduce_puf(engine.rows(engine.from_arrow(read_puf_csv(fixtures_dir / "mssp" / PY2022))), 2022)
    assert len(result.rows) == 482
    assert [row.aco_id for row in result.rows if row.status != "match"] == []
    assert Counter(row.track for row in result.rows) == {
        "basic_b": 169,
        "enhanced": 146,
        "basic_e": 98,
        "basic_a": 29,
        "basic_c": 25,
        "basic_d": 15,
    }
    by_id = {row.aco_id: row for row in result.rows}
    # A1001 (ENHANCED, QPS met): 62,404,688 x 75 % x 0.98 = 45,867,445.68; published 45,867,446.
    assert by_id["A1001"].computed == Decimal("45867445.68")
    # A1494 (ENHANCED): loss rate 1 - 0.75 x 0.9244 = 30.67 %, raised to the 40 % floor; 0.40 x 754,135 =
    # 301,654 = the published DisAdj; PY2022 EUC (COVID-19 all year) removes it: published 0.
    a1494 = by_id["A1494"].calculation
    assert a1494 is not None and a1494.loss_rate == Decimal("0.40")
    assert a1494.shared_losses_before_cap == Decimal("301654.00")
    assert by_id["A1494"].computed == 0
    # A1080 (BASIC C) terminated during the year: 3.45 % savings above its 1 % MSR, but no shared savings
    # (42 CFR 425.221(b)(2)); CMS's current release publishes 0.
    assert by_id["A1080"].published == 0 and by_id["A1080"].computed == 0
    assert any("terminated" in note for note in by_id["A1080"].notes)


def test_py2021_track_3_has_rules(engine: Engine) -> None:
    # Track 3 in PY2021 settles as ENHANCED: 75 % if the QPS is met. 5,000,000 x 0.75 x 0.98 = 3,675,000.
    result = _rows(
        engine,
        2021,
        {
            "aco_id": "T3",
            "current_track_3": "1",
            "met_qps": "1",
            "n_ab": "20000",
            "minsavperc": "0.02",
            "abtotbnchmk": "100000000",
            "abtotexp": "95000000",
            "qualscore": "0.9",
            "earnsaveloss": "3675000",
        },
    )
    (row,) = result.rows
    assert row.track == "track_3" and row.computed == Decimal("3675000.00") and row.status == "match"


def test_unknown_track_is_reported_and_the_file_goes_on(engine: Engine) -> None:
    # A BASIC flag in 2016 (BASIC starts in 2019): that row is not reproducible, with the reason; the next row is
    # still computed (Track 1: 10,000,000 x 0.5 x 0.9 x 0.98 = 4,410,000).
    common = {"met_qps": "1", "n_ab": "20000", "minsavperc": "0.025", "qualscore": "0.9"}
    result = _rows(
        engine,
        2016,
        {
            "aco_id": "X",
            "current_basic_a": "1",
            "abtotbnchmk": "100000000",
            "abtotexp": "90000000",
            **common,
            "earnsaveloss": "1",
        },
        {
            "aco_id": "Y",
            "current_track_1": "1",
            "abtotbnchmk": "100000000",
            "abtotexp": "90000000",
            **common,
            "earnsaveloss": "4410000",
        },
    )
    first, second = result.rows
    assert first.track == "basic_a" and first.status == "not_reproducible"
    assert "track 'basic_a' has no rules for performance year 2016" in first.status_text
    assert second.status == "match" and second.computed == Decimal("4410000.00")


def test_unknown_current_track_code(engine: Engine) -> None:
    result = _rows(
        engine,
        2022,
        {
            "aco_id": "Z",
            "current_track": "Q",
            "met_qps": "1",
            "n_ab": "20000",
            "minsavperc": "2.00%",
            "abtotbnchmk": "100000000",
            "abtotexp": "95000000",
            "qualscore": "90.00%",
            "earnsaveloss": "0",
        },
    )
    (row,) = result.rows
    assert row.status == "not_reproducible" and "Current_Track code is not one of" in row.status_text


def _current(**fields: str) -> dict[str, str]:
    row = {
        "aco_id": "N1",
        "met_qps": "1",
        "n_ab": "10000",
        "minsavperc": "3.00",
        "abtotbnchmk": "100000000",
        "qualscore": "90.00",
        "start_date": "01/01/2022",
    }
    row.update(fields)
    return row


def test_py2023_alternative_quality_standard(engine: Engine) -> None:
    # 42 CFR 425.610(d)(4): QPS missed, alternative met -> FSR = 75 % x 0.60 = 45 %.
    # 5,000,000 (5 % savings, 2 % elected MSR) x 0.45 x 0.98 = 2,205,000.
    result = _rows(
        engine,
        2023,
        _current(
            current_track="EN",
            met_qps="0",
            met_alt_qps="1",
            qualscore="60.00%",
            minsavperc="2.00%",
            abtotexp="95000000",
            earnsaveloss="2205000",
        ),
    )
    (row,) = result.rows
    assert row.computed == Decimal("2205000.00") and row.status == "match"


def test_py2024_low_revenue_half_rate_below_the_msr(engine: Engine) -> None:
    # 42 CFR 425.605(h): BASIC E, low revenue, agreement from 2024-01-01, N 10,000 (MSR 3.0 %), 2 % savings:
    # 2,000,000 x (50 % / 2) x 0.98 = 490,000. The same ACO in an earlier agreement, or high-revenue, gets 0.
    base = _current(current_track="E", abtotexp="98000000", revenue_category="Low Revenue", reduced_ss="1")
    eligible = _rows(engine, 2024, {**base, "start_date": "01/01/2024", "earnsaveloss": "490000"})
    (row,) = eligible.rows
    assert row.computed == Decimal("490000.00") and row.status == "match"
    earlier = _rows(engine, 2024, {**base, "reduced_ss": "0", "earnsaveloss": "0"})
    high = _rows(
        engine,
        2024,
        {
            **base,
            "revenue_category": "High Revenue",
            "reduced_ss": "0",
            "start_date": "01/01/2024",
            "earnsaveloss": "0",
        },
    )
    assert earlier.rows[0].computed == 0 and high.rows[0].computed == 0


def test_py2024_guardrail_removes_shared_savings(engine: Engine) -> None:
    # Guardrail = 1: no shared savings (5,000,000 x 50 % x 0.98 = 2,450,000 would otherwise be earned).
    result = _rows(
        engine,
        2024,
        _current(
            current_track="E",
            abtotexp="95000000",
            minsavperc="2.00",
            guardrail="1",
            earnsaveloss="0",
            start_date="01/01/2024",
            revenue_category="High Revenue",
        ),
    )
    (row,) = result.rows
    assert row.computed == 0 and row.status == "match"
    assert row.calculation is not None and row.calculation.earned_savings == Decimal("2450000.00")


def test_py2023_revenue_loss_limit_upper_bound_or_exact(engine: Engine) -> None:
    # BASIC E, 10,000,000 loss (10 % beyond a 2 % MLR), DisAdj -1,000,000 (PY2023: owed = capped loss - |DisAdj|).
    # 30 % x 10,000,000 = 3,000,000 <= 4 % x 100,000,000; owed 2,000,000 before any revenue-based limit.
    loss = {
        "current_track": "E",
        "abtotexp": "110000000",
        "minsavperc": "2.00%",
        "disadj": "-1000000",
        "qualscore": "90.00%",
    }
    # Low revenue: the 8 %-of-revenue limit may bind (revenue unpublished). Published -1,500,000 lies within the
    # computed bound: reported as an upper bound, not guessed.
    low = _rows(engine, 2023, _current(**loss, revenue_category="Low Revenue", earnsaveloss="-1500000"))
    (row,) = low.rows
    assert row.computed == Decimal("-2000000.00") and row.status == "not_reproducible"
    assert row.status_text.startswith("not_reproducible: upper bound")
    # High revenue: revenue >= 35 % x 110,000,000, so 8 % of it >= 3,080,000 >= 3,000,000: cannot bind -> exact.
    high = _rows(engine, 2023, _current(**loss, revenue_category="High Revenue", earnsaveloss="-2000000"))
    (exact,) = high.rows
    assert exact.status == "match"
    assert exact.calculation is not None and not exact.calculation.loss_cap_incomplete


def test_cli_reproduces_py2022(fixtures_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from apmkit.cli.main import app

    out = tmp_path / "py2022.csv"
    puf = fixtures_dir / "mssp" / PY2022
    outcome = CliRunner().invoke(
        app, ["--quiet", "mssp", "reproduce-puf", str(puf), "--performance-year", "2022", "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "match 482/482 (100.0 %), mismatch 0, not reproducible 0" in outcome.stdout


def test_py2024_below_msr_without_revenue_category_is_not_guessed(engine: Engine) -> None:
    # Savings below the MSR decide on eligibility; without Rev_Exp_Cat the row names what is missing.
    result = _rows(
        engine,
        2024,
        _current(current_track="E", abtotexp="98000000", start_date="01/01/2024", earnsaveloss="0"),
    )
    (row,) = result.rows
    assert row.status == "not_reproducible" and "below_msr_sharing_eligible is missing" in row.status_text
