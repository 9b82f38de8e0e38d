"""``apmkit benchmark`` end to end on canonical Parquet tables written to a temporary folder."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.engines import Engine
from apmkit.errors import InputFileError

from .test_mssp_end_to_end import _population

CONTRACT = """
benchmark:
  method: mssp
  mssp:
    base_years: [2021, 2022, 2023]
    performance_year: 2024
    truncation_thresholds: {2021: {aged_non_dual: 1000000}, 2022: {aged_non_dual: 1000000},
                            2023: {aged_non_dual: 1000000}, 2024: {aged_non_dual: 1000000}}
    national_per_capita: {2021: {aged_non_dual: 11500}, 2022: {aged_non_dual: 11500}, 2023: {aged_non_dual: 11500}}
    national_weight: "0.20"
    update:
      national_growth: {aged_non_dual: "1.040"}
      regional_growth: {aged_non_dual: "1.050"}
      acpt: {aged_non_dual: "1.045"}
"""


@pytest.fixture
def canonical_dir(tmp_path: Path, engine: Engine) -> Path:
    folder = tmp_path / "data"
    for name, table in _population(engine).items():
        engine.write_parquet(table, folder / f"{name}.parquet")
    return folder


def test_benchmark_command_writes_build_up(tmp_path: Path, canonical_dir: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["-q", "benchmark", "--contract", str(contract), "--from", str(canonical_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    (summary,) = pq.read_table(out / "benchmark_summary.parquet").to_pylist()
    # historical $11,000 (flat years), no regional inputs, update 1.0470 (docs/reference/methodology.md §1.5 step 5)
    assert summary["historical_per_capita"] == D("11000.00")
    assert summary["updated_per_capita"] == D("11517.00")
    lines = pq.read_table(out / "benchmark_lines.parquet").to_pylist()
    assert [line["line"] for line in lines] == list(range(1, len(lines) + 1))
    assert (out / "member_year_expenditure.parquet").exists()


def test_benchmark_command_names_bad_field(tmp_path: Path, canonical_dir: Path) -> None:
    contract = tmp_path / "bad.yaml"
    contract.write_text(CONTRACT.replace('national_weight: "0.20"', 'national_weight: "1.5"'))
    result = CliRunner().invoke(
        app,
        [
            "-q",
            "benchmark",
            "--contract",
            str(contract),
            "--from",
            str(canonical_dir),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0
    assert "bad.yaml, field benchmark.mssp.national_weight" in str(result.exception)


def test_county_puf_through_fips_crosswalk(tmp_path: Path, engine: Engine, fixtures_dir: Path) -> None:
    # Members carry the FIPS code of Autauga County, AL (01001); the PUF keys it by SSA code 01000.
    folder = tmp_path / "data"
    for name, table in _population(engine).items():
        if name == "members":
            table = table.mutate(county_fips=ibis.literal("01001"))
        engine.write_parquet(table, folder / f"{name}.parquet")
    crosswalk = tmp_path / "crosswalk.csv"
    crosswalk.write_text("county_fips,county_code\n01001,01000\n")
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "-q",
            "benchmark",
            "--contract",
            str(contract),
            "--from",
            str(folder),
            "--out",
            str(out),
            "--county-puf",
            str(fixtures_dir / "benchmark" / "county_puf_2018_slice.csv"),
            "--county-crosswalk",
            str(crosswalk),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = pq.read_table(out / "benchmark_lines.parquet").to_pylist()
    regional = [
        line for line in lines if line["step"] == "regional_per_capita" and line["entity"] == "aged_non_dual"
    ]
    # the PUF's Autauga AGED/NON-DUAL per capita (2018)
    assert [(line["year"], line["value"]) for line in regional] == [(2018, D("9388.28000000"))]


def test_risk_scores_from_apmkit_risk_score_need_their_year(tmp_path: Path, canonical_dir: Path) -> None:
    # `apmkit risk score` writes member_id, segment, score, ... for one payment year and no year column
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT)
    members = pq.read_table(canonical_dir / "members.parquet").column("member_id").to_pylist()
    scores = tmp_path / "scores.csv"
    scores.write_text("member_id,segment,score\n" + "".join(f"{m},CNA,1.000\n" for m in members))
    args = [
        "-q",
        "benchmark",
        "--contract",
        str(contract),
        "--from",
        str(canonical_dir),
        "--out",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(app, [*args, "--risk-scores", str(scores)])
    assert isinstance(result.exception, InputFileError)
    assert "field year" in str(result.exception) and "--risk-year" in str(result.exception)
    result = CliRunner().invoke(app, [*args, "--risk-scores", str(scores), "--risk-year", "2023"])
    assert result.exit_code == 0, result.output
