"""MSSP templates in one run: ``benchmark.mssp`` is the ACO's to fill with CMS's figures; filled, the run builds
the benchmark from claims (with CMS's county rates) and settles on it.

The population and its expected benchmark are the hand-worked example of tests/benchmark/test_mssp_end_to_end.py
(42 CFR 425.652, 425.656; docs/reference/methodology.md §1.5): four aged non-dual members spending $11,000 a year,
a region at $12,000 in BY3 → regional adjustment $350, update 1.047 → $11,883.45 per capita × 4 person-years =
$47,533.80, against a performance-year expenditure of 4 × $11,000 = $44,000.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from apmkit.engines import Engine
from apmkit.errors import ApmkitError
from apmkit.schemas.canonical import ENROLLMENT, MEDICAL_CLAIMS, MEMBERS
from apmkit.workspace import Overrides, Workspace

YEARS = (2021, 2022, 2023, 2024)
FILLED = """benchmark:
  method: mssp
  mssp:
    base_years: [2021, 2022, 2023]
    performance_year: 2024
    truncation_thresholds: {2021: {aged_non_dual: 1000000}, 2022: {aged_non_dual: 1000000},
                            2023: {aged_non_dual: 1000000}, 2024: {aged_non_dual: 1000000}}
    national_per_capita: {2021: {aged_non_dual: 11500}, 2022: {aged_non_dual: 11500}, 2023: {aged_non_dual: 11500}}
    national_weight: "0.20"
    minimum_loss_rate: "0.02"
    update:
      national_growth: {aged_non_dual: "1.040"}
      regional_growth: {aged_non_dual: "1.050"}
      acpt: {aged_non_dual: "1.045"}
"""
PUF_HEADER = "Year,State Name,County Name,State ID,County ID," + ",".join(
    f"Per capita {t} expenditures,Average {t} HCC risk score,{t} person-years "
    for t in ("ESRD", "DISABLED", "AGED/DUAL", "AGED/NON-DUAL")
)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mssp") / "data"
    members, enrollment, claims = [], [], []
    for i in range(4):
        mid = f"M{i}"
        members.append({"member_id": mid, "birth_date": dt.date(1940, 1, 1), "county_fips": "01000"})
        for year in YEARS:
            enrollment += [
                {
                    "member_id": mid,
                    "month": dt.date(year, month, 1),
                    "payer": "cms",
                    "product": "ffs",
                    "part_a": True,
                    "part_b": True,
                    "medicare_advantage": False,
                }
                for month in range(1, 13)
            ]
            for n, amount in enumerate(("6000.00", "5000.00")):
                claims.append(
                    {
                        "claim_id": f"{mid}-{year}-{n}",
                        "claim_line_number": 1,
                        "claim_type": "inpatient",
                        "member_id": mid,
                        "service_date": dt.date(year, 3 + n, 1),
                        "paid_amount": Decimal(amount),
                    }
                )
    with Engine.duckdb() as engine:
        for name, rows, schema in (
            ("members", members, MEMBERS),
            ("enrollment", enrollment, ENROLLMENT),
            ("medical_claims", claims, MEDICAL_CLAIMS),
        ):
            engine.write_parquet(engine.from_rows(rows, schema), folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def county_puf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("puf") / "county_2023.csv"
    row = "2023,Alabama,Autauga,1,0," + ",".join(["12000.00,1.00000,100.00"] * 4)
    path.write_text(PUF_HEADER + "\n" + row + "\n", encoding="utf-8")
    return path


def _template(tmp_path: Path, filled: bool) -> Path:
    path = tmp_path / "basic_e.yaml"
    subprocess.run(
        [sys.executable, "-m", "apmkit", "contract", "template", "mssp_basic_e", "--out", str(path)],
        check=True,
        capture_output=True,
    )
    text = path.read_text(encoding="utf-8")
    assert "benchmark:\n  method: mssp\n  mssp: REQUIRED\n" in text
    if filled:
        text = text.replace("benchmark:\n  method: mssp\n  mssp: REQUIRED\n", FILLED)
        # the ACO's MSR/MLR election (the template's unverified note): a fixed 2 % (the variable table starts at
        # 5,000 beneficiaries; this population has four)
        text = re.sub(
            r"    minimum_savings_rate:\n(      .*\n)+",
            "    minimum_savings_rate: {kind: fixed, rate: 0.02}\n",
            text,
        )
    path.write_text(text, encoding="utf-8")
    return path


def _inputs(tmp_path: Path) -> Path:
    path = tmp_path / "inputs.csv"
    path.write_text(
        "entity_id,quality_score,quality_standard_met,participant_revenue\nENTITY,0.8,true,9000000\n",
        encoding="utf-8",
    )
    return path


def test_template_asks_for_the_benchmark_section_by_name(population: Path, tmp_path: Path) -> None:
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(_template(tmp_path, filled=False), "2024", inputs=_inputs(tmp_path))
    assert "benchmark.mssp is REQUIRED" in str(info.value)


def test_filled_benchmark_needs_cms_county_rates_by_name(population: Path, tmp_path: Path) -> None:
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(_template(tmp_path, filled=True), "2024", inputs=_inputs(tmp_path))
    assert "--county-puf" in str(info.value)


def test_filled_template_builds_the_benchmark_from_claims(
    population: Path, county_puf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(
            _template(tmp_path, filled=True),
            "2024",
            inputs=_inputs(tmp_path),
            out=out,
            overrides=Overrides(county_puf=(county_puf,)),
        )
    (statement,) = result.settlement.statements
    assert statement.summary["benchmark"] == Decimal("47533.80")
    assert statement.summary["expenditure"] == Decimal("44000.00")
    assert (out / "benchmark_lines.parquet").exists()


def test_run_command_takes_the_county_puf(population: Path, county_puf: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "apmkit", "--quiet", "run"),
            *("--contract", str(_template(tmp_path, filled=True)), "--from", str(population)),
            *("--period", "2024", "--inputs", str(_inputs(tmp_path)), "--out", str(out)),
            *("--county-puf", str(county_puf)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
