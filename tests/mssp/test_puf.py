"""Reproducing CMS's published MSSP EarnSaveLoss from the public use files (the expected values are CMS's own
published amounts in the fixture files; tests/fixtures/mssp/SOURCES.md)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.cli.mssp import read_puf_csv
from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.programs.mssp.puf import (
    LINE_COLUMN,
    OUTPUT_COLUMNS,
    PufReproduction,
    map_puf_header,
    reproduce_puf,
)

RAW_2013 = "PY2013_SSP_ACO_PUF_columns.csv"
RAW_2014 = "PY2014_SSP_ACO_PUF_columns.csv"
STANDARDIZED = "mssp_aco_results_2013_2017_columns.csv"
RAW_2018_ROWS = "PY2018_SSP_ACO_PUF_rows.csv"


def _reproduce(engine: Engine, path: Path, year: int) -> PufReproduction:
    return reproduce_puf(engine.rows(engine.from_arrow(read_puf_csv(path))), year)


def _row(result: PufReproduction, aco: str):  # type: ignore[no-untyped-def]
    return next(row for row in result.rows if row.aco_id == aco)


@pytest.mark.parametrize(
    ("file_name", "year", "acos", "track_2", "track_3", "losses"),
    [
        (RAW_2013, 2013, 220, 5, 0, 1),
        (RAW_2014, 2014, 333, 3, 0, 0),
        (STANDARDIZED, 2014, 333, 3, 0, 0),
        (STANDARDIZED, 2015, 392, 3, 0, 0),
        (STANDARDIZED, 2016, 432, 6, 16, 4),
        (STANDARDIZED, 2017, 472, 6, 33, 11),
        (RAW_2018_ROWS, 2018, 15, 0, 3, 1),
    ],
)
def test_every_aco_matches_published_earn_save_loss(
    engine: Engine,
    fixtures_dir: Path,
    file_name: str,
    year: int,
    acos: int,
    track_2: int,
    track_3: int,
    losses: int,
) -> None:
    result = _reproduce(engine, fixtures_dir / "mssp" / file_name, year)
    assert len(result.rows) == acos
    assert [row for row in result.rows if row.status != "match"] == []
    assert result.match_rate == 1
    tracks = [row.track for row in result.rows]
    assert (tracks.count("track_2"), tracks.count("track_3")) == (track_2, track_3)
    # The published losses (negative EarnSaveLoss) are reproduced too, not only savings and zeros.
    assert sum(1 for row in result.rows if row.published is not None and row.published < 0) == losses
    for row in result.rows:
        assert row.published is not None and row.computed is not None and row.difference is not None
        assert abs(row.difference) <= max(Decimal(2), abs(row.published) * Decimal("0.0005"))


def test_py2013_shifted_layout_and_interim_payment_aco(engine: Engine, fixtures_dir: Path) -> None:
    result = _reproduce(engine, fixtures_dir / "mssp" / RAW_2013, 2013)
    # A85439 (Track 2, interim payment): 0.6 x 0.98 x 20,239,381.44 = 11,900,756.29 published (docs/reference/mssp-settlement-rules.md §3).
    rgv = _row(result, "A85439")
    assert rgv.track == "track_2" and rgv.published == Decimal("11900756.29")
    # The file's B and E are printed to 10 cents (B - E = 20,239,381.40 against the published 20,239,381.44), so
    # the recomputation lands 3 cents off: 0.6 x 0.98 x 20,239,381.40 = 11,900,756.26.
    assert rgv.computed == Decimal("11900756.26")
    # A14269 (Track 2) owed 0.40 x 9,966,380.30 = 3,986,552.12 (published in the "owed losses" position).
    dean = _row(result, "A14269")
    assert dean.published == Decimal("-3986552.12") and dean.computed == Decimal("-3986552.12")
    assert dean.calculation is not None and dean.calculation.loss_rate == Decimal("0.4")


def test_standardized_2017_euc_and_loss_rate_floor(engine: Engine, fixtures_dir: Path) -> None:
    result = _reproduce(engine, fixtures_dir / "mssp" / STANDARDIZED, 2017)
    # 2016-2017 rows have no aco_id in this table: they are keyed by name.
    medstar = _row(result, "MedStar Accountable Care, LLC")
    assert medstar.published == Decimal(-2_997_653) and medstar.status == "match"
    banner = _row(result, "Banner Network Colorado, LLC")  # Track 2, loss rate 1 - 0.60 = 0.40
    assert banner.calculation is not None and banner.calculation.loss_rate == Decimal("0.40")
    assert banner.published == Decimal(-663_357) and banner.status == "match"
    # KCMPA-ACO, N = 152: below the MSR table, so the published MSR (25.419 %) is used; QPS not met.
    kcmpa = _row(result, "KCMPA-ACO, LLC")
    assert kcmpa.calculation is not None
    assert kcmpa.calculation.minimum_savings_rate == Decimal("0.254190476")
    assert kcmpa.computed == 0 and kcmpa.status == "match"


def test_py2018_raw_names_track_1_plus_cap_and_failed_quality(engine: Engine, fixtures_dir: Path) -> None:
    result = _reproduce(engine, fixtures_dir / "mssp" / RAW_2018_ROWS, 2018)
    tracks = {row.aco_id: row.track for row in result.rows}
    assert [aco for aco, track in tracks.items() if track == "track_1_plus"] == [
        "A1033",
        "A1051",
        "A1498",
        "A3631",
    ]
    # A1409: the savings cap binds, 10 % x 121,182,225 (published 12,118,223).
    balance = _row(result, "A1409")
    assert balance.calculation is not None and balance.calculation.savings_cap == balance.computed
    # A3743 (Track 3) failed the quality standard: FSR 0, loss rate 75 %, less the EUC amount:
    # 0.75 x 2,828,054 - 2,797 = 2,118,243.50 (published -2,118,244; docs/reference/mssp-settlement-rules.md §3).
    nevada = _row(result, "A3743")
    assert nevada.calculation is not None and nevada.calculation.loss_rate == Decimal("0.75")
    assert nevada.computed == Decimal("-2118243.50")


def _single_row(engine: Engine, year: int, **fields: str) -> PufReproduction:
    row = {"aco_id": "X1", "met_qps": "1", LINE_COLUMN: "2", **fields}
    return reproduce_puf(
        engine.rows(engine.from_arrow(pa.table({key: [value] for key, value in row.items()}))), year
    )


def test_py2019_six_month_period_halves_the_euc_amount(engine: Engine) -> None:
    # docs/reference/mssp-settlement-rules.md §5, A1498 (Track 1+, January-June 2019): owed 0.3 x 2,348,698 - 3,870 / 2 = 702,674 (published).
    # The PUF's benchmark level is not quoted there: a 12-month benchmark of 10,000 x 20,000 person-years and
    # the half-year total of 100,000,000 stand in for it (only B = UpdatedBnchmk x N_AB_Year_PY / 2 matters).
    result = _single_row(
        engine,
        2019,
        current_track_1_plus="1",
        n_ab="20000",
        minsavperc="0",
        abtotbnchmk="100000000",
        abtotexp="102348698",
        updatedbnchmk="10000",
        n_ab_year_py="20000",
        qualscore="0.9",
        disadj="-3870",
        revlosslimit="0",
        earnsaveloss="-702674",
    )
    (row,) = result.rows
    assert row.computed == Decimal("-702674.40") and row.status == "match"
    assert any("January-June" in note for note in row.notes)


def test_py2020_covid_euc_zeroes_owed_losses(engine: Engine) -> None:
    # docs/reference/mssp-settlement-rules.md §5, PY2020 A4692 (ENHANCED): shared loss 0.40 x 7,384,788 = 2,953,915 = DisAdj; EarnSaveLoss 0.
    # Benchmark level and election are not quoted: 200,000,000 and a 0 % MLR stand in for them.
    result = _single_row(
        engine,
        2020,
        current_enhanced="1",
        n_ab="20000",
        minsavperc="0",
        abtotbnchmk="200000000",
        abtotexp="207384788",
        qualscore="1",
        disadj="-2953915",
        earnsaveloss="0",
    )
    (row,) = result.rows
    assert row.calculation is not None
    assert row.calculation.shared_losses_before_cap == Decimal("2953915.2")
    assert row.computed == 0 and row.status == "match"


def test_revenue_capped_loss_is_not_reproducible(engine: Engine) -> None:
    # docs/reference/mssp-settlement-rules.md §5/§8: PY2019 A2392 (Track 1+, RevLossLimit 1) published -2,074,092 against 30 % of its loss,
    # -2,561,463: the revenue-based limit binds and participant revenue is not in the PUF. Its generated loss
    # (2,561,463 / 0.3 = 8,538,210) and a 100,000,000 benchmark stand in for the unquoted inputs.
    result = _single_row(
        engine,
        2019,
        current_track_1_plus="1",
        n_ab="20000",
        minsavperc="0",
        abtotbnchmk="100000000",
        abtotexp="108538210",
        qualscore="0.9",
        revlosslimit="1",
        earnsaveloss="-2074092",
    )
    (row,) = result.rows
    assert row.computed == Decimal("-2561463.00")
    assert row.status == "not_reproducible"
    assert "participant revenue" in row.status_text


def test_standardized_2013_has_no_published_amount(engine: Engine, fixtures_dir: Path) -> None:
    result = _reproduce(engine, fixtures_dir / "mssp" / STANDARDIZED, 2013)
    assert len(result.rows) == 220 and result.rows_other_years == 1629
    assert {row.status_text for row in result.rows} == {
        "not_reproducible: published EarnSaveLoss is blank (this file does not publish it for this year)"
    }


def test_header_mapping_is_case_insensitive_and_checks_required_columns() -> None:
    mapped = map_puf_header(["\ufeffACO_ID", "N_AB", "ABTOTBNCHMK", "abtotexp", "EarnSaveLoss", "Extra"])
    assert mapped == ["aco_id", "n_ab", "abtotbnchmk", "abtotexp", "earnsaveloss", None]
    with pytest.raises(
        InputFileError, match=r"puf\.csv, line 1: not an MSSP ACO PUF: no column for abtotexp"
    ):
        map_puf_header(["ACO_ID", "N_AB", "ABtotBnchmk", "EarnSaveLoss"], source="puf.csv")


def test_bad_cells_are_kept_as_not_reproducible_with_line_and_field(engine: Engine) -> None:
    rows = {
        "aco_id": ["A1", "A2", "A3"],
        "current_track_1": ["1", "1", "1"],
        "n_ab": ["20000", "20000", ""],
        "abtotbnchmk": ["$100,000,000", "lots", "100000000"],
        "abtotexp": ["90000000", "90000000", "90000000"],
        "minsavperc": ["0.025", "0.025", "0.025"],
        "qualscore": ["0.9", "0.9", "0.9"],
        "met_qps": ["1", "1", "1"],
        "earnsaveloss": ["4410000", "1", "1"],
        LINE_COLUMN: ["2", "3", "4"],
    }
    result = reproduce_puf(engine.rows(engine.from_arrow(pa.table(rows))), 2016)
    # A1: 10 % savings >= 2.5 % MSR (N 20,000); 0.5 x 0.9 x 0.98 x 10,000,000 = 4,410,000.
    assert [row.status_text for row in result.rows] == [
        "match",
        "not_reproducible: line 3, field abtotbnchmk: not a number",
        "not_reproducible: line 4, field n_ab: blank",
    ]
    assert result.rows[0].computed == Decimal("4410000.00")
    assert result.to_arrow().column_names == list(OUTPUT_COLUMNS)


def test_cli_writes_exact_columns_and_prints_match_rate(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    puf = fixtures_dir / "mssp" / RAW_2014
    outcome = CliRunner().invoke(
        app, ["--quiet", "mssp", "reproduce-puf", str(puf), "--performance-year", "2014", "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "match 333/333 (100.0 %)" in outcome.stdout
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == OUTPUT_COLUMNS
    assert len(rows) == 334
    first = dict(zip(rows[0], rows[1], strict=True))
    # A67373 PY2014 published EarnSaveLoss 14,455,933 (raw PY2014 PUF).
    assert first["aco_id"] == "A67373" and first["published_earned_save_loss"] == "14455933.00"
    assert first["status"] == "match"


def test_cli_rejects_year_outside_range_and_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    outcome = runner.invoke(
        app,
        ["mssp", "reproduce-puf", "x.csv", "--performance-year", "2012", "--out", str(tmp_path / "o.csv")],
    )
    assert outcome.exit_code != 0
    assert isinstance(outcome.exception, Exception) and "2013-2024" in str(outcome.exception)
    with pytest.raises(InputFileError, match="no such file"):
        read_puf_csv(tmp_path / "missing.csv")


@pytest.mark.spark
def test_spark_gives_the_same_results(
    spark_engine: Engine, duckdb_engine: Engine, fixtures_dir: Path
) -> None:
    arrow = read_puf_csv(fixtures_dir / "mssp" / RAW_2013).slice(0, 20)
    on_spark = reproduce_puf(spark_engine.rows(spark_engine.from_arrow(arrow)), 2013)
    on_duckdb = reproduce_puf(duckdb_engine.rows(duckdb_engine.from_arrow(arrow)), 2013)
    assert on_spark.to_arrow().equals(on_duckdb.to_arrow())
    assert on_spark.matched == 20
