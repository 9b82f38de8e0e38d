"""``apmkit attribute`` end to end on a synthetic population, and its user errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.synth import generate

CONTRACT = """
name: Demo agreement
attribution:
  - method: mssp_stepwise
    name: aco
    performance_year: 2025
    timing: hybrid
  - method: plurality
    name: pcp
    performance_year: 2025
    level: tin_npi
"""


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("synth")
    generate(300, folder, years=2, end_year=2025, seed=11)
    providers = pq.read_table(folder / "providers.parquet").to_pylist()
    tins = Counter(p["tin"] for p in providers if p["tin"] and p["is_primary_care"])
    return folder, tins.most_common(1)[0][0]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--quiet", "attribute", *args])


def test_end_to_end(population: tuple[Path, str], tmp_path: Path) -> None:
    folder, aco_tin = population
    (tmp_path / "contract.yaml").write_text(CONTRACT)
    (tmp_path / "participants.csv").write_text(f"entity_id,tin\nACO1,{aco_tin}\n")
    out = tmp_path / "out" / "attribution.parquet"
    common = ["--from", str(folder), "--participants", str(tmp_path / "participants.csv")]
    result = invoke(
        "--contract",
        str(tmp_path / "contract.yaml"),
        *common,
        "--as-of",
        "2025-12-31",
        "--out",
        str(out),
        "--fhir",
        str(tmp_path / "out" / "atr.json"),
    )
    assert result.exit_code == 0, result.output
    members = pq.read_table(folder / "members.parquet").num_rows
    rows = pq.read_table(out).to_pylist()
    assert Counter(r["contract_id"] for r in rows) == {"aco": members, "pcp": members}
    assert pacsv.read_csv(out.with_suffix(".csv")).num_rows == len(rows)
    attributed = [r for r in rows if r["attributed"]]
    assert attributed, "the synthetic population has primary care visits"
    assert all(
        r["entity_id"] == "ACO1" and r["step"] in ("step1", "step2", "step3")
        for r in attributed
        if r["contract_id"] == "aco"
    )
    assert all(r["reason"] for r in rows if not r["attributed"])
    listed = pq.read_table(out.with_name("attribution_list.parquet"))
    assert listed.num_rows == len(attributed)
    assert listed.schema.field("month").type == pa.date32()
    bundle = json.loads((tmp_path / "out" / "atr.json").read_text())
    assert sum(e["resource"]["quantity"] for e in bundle["entry"]) == len(attributed)

    # A later run against the first one writes the change report.
    (tmp_path / "mssp.yaml").write_text(
        "method: mssp_stepwise\nname: aco\nperformance_year: 2025\ntiming: hybrid\n"
    )
    second = tmp_path / "out" / "q3.parquet"
    result = invoke(
        "--contract",
        str(tmp_path / "mssp.yaml"),
        *common,
        "--as-of",
        "2025-09-30",
        "--out",
        str(second),
        "--previous",
        str(out),
    )
    assert result.exit_code == 0, result.output
    now = {r["member_id"]: r for r in pq.read_table(second).to_pylist()}
    before = {r["member_id"]: r for r in rows if r["contract_id"] == "aco"}
    changed = pq.read_table(second.with_name("q3_changes.parquet")).to_pylist()
    added = {r["member_id"] for r in changed if r["change"] == "added" and r["contract_id"] == "aco"}
    dropped = {r["member_id"] for r in changed if r["change"] == "dropped" and r["contract_id"] == "aco"}
    assert added == {m for m, r in now.items() if r["attributed"] and not before[m]["attributed"]}
    assert dropped == {m for m, r in before.items() if r["attributed"] and not now[m]["attributed"]}


def test_participants_file_without_tin_column(population: tuple[Path, str], tmp_path: Path) -> None:
    (tmp_path / "contract.yaml").write_text(CONTRACT)
    (tmp_path / "participants.csv").write_text("entity_id,npi\nACO1,1234567893\n")
    result = invoke(
        "--contract",
        str(tmp_path / "contract.yaml"),
        "--from",
        str(population[0]),
        "--as-of",
        "2025-12-31",
        "--out",
        str(tmp_path / "a.parquet"),
        "--participants",
        str(tmp_path / "participants.csv"),
    )
    assert isinstance(result.exception, InputFileError)
    assert (
        str(result.exception)
        == f"{tmp_path / 'participants.csv'}, line 1, field tin: missing required column"
    )


def test_contract_without_attribution_and_bad_date(population: tuple[Path, str], tmp_path: Path) -> None:
    (tmp_path / "contract.yaml").write_text("name: x\nattribution:\n")
    args = ["--from", str(population[0]), "--out", str(tmp_path / "a.parquet")]
    result = invoke("--contract", str(tmp_path / "contract.yaml"), "--as-of", "2025-12-31", *args)
    assert isinstance(result.exception, ConfigurationError)
    assert "field attribution" in str(result.exception)
    result = invoke("--contract", str(tmp_path / "contract.yaml"), "--as-of", "31/12/2025", *args)
    assert isinstance(result.exception, ConfigurationError)
    assert "--as-of" in str(result.exception)
