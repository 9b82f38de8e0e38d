"""The synthetic population: schema-valid, reproducible, and shaped like Medicare FFS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from apmkit.ingest import ingest
from apmkit.synth import generate
from apmkit.synth.generator import npi_with_check_digit


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(4000, out, years=2, seed=7, chunk_size=1500)
    return out


def test_npi_check_digit_matches_the_cms_worked_example():
    # CMS's NPI check-digit example (NPPES "Requirements for NPI check digit"): 123456789 -> 1234567893.
    assert npi_with_check_digit(np.array([123456789]))[0] == "1234567893"


def test_every_generated_row_conforms_to_the_canonical_schema(engine, population, tmp_path):
    if engine.name != "duckdb":
        pytest.skip("re-ingest of single Parquet files is exercised on DuckDB")
    report = ingest(engine, "parquet", population, tmp_path / "ingested")
    assert report.reconciles
    assert report.totals.quarantined == 0, report.quarantine[:5]
    assert set(report.tables) == {
        "members",
        "enrollment",
        "medical_claims",
        "pharmacy_claims",
        "providers",
        "clinical",
    }


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    def digest(folder: Path) -> str:
        table = pq.read_table(folder / "medical_claims.parquet")
        return hashlib.sha256(table.to_pandas().to_csv().encode()).hexdigest()

    generate(300, tmp_path / "a", seed=3, chunk_size=100)
    generate(300, tmp_path / "b", seed=3, chunk_size=100)
    generate(300, tmp_path / "c", seed=4, chunk_size=100)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_population_mix_and_utilization_are_medicare_like(engine, population):
    tables = engine.canonical(population)
    members = engine.to_arrow(tables.members).to_pandas()
    assert len(members) == 4000
    assert 0.50 < (members.sex == "F").mean() < 0.60
    assert 0.08 < (members.orec == "1").mean() < 0.18  # originally disabled
    assert 0.12 < (members.dual_status_code != "NA").mean() < 0.30
    claims = tables.medical_claims
    assert set(
        engine.to_arrow(claims.claim_type.name("t").as_table().distinct()).column("t").to_pylist()
    ) == {"inpatient", "outpatient", "professional", "snf", "hha", "hospice", "dme"}
    drgs = set(
        engine.to_arrow(claims.filter(claims.ms_drg.notnull()).ms_drg.name("d").as_table().distinct())
        .column("d")
        .to_pylist()
    )
    assert {"469", "470"} <= drgs
    per_member = claims.group_by("member_id").agg(total=claims.allowed_amount.sum())
    totals = np.sort(engine.to_arrow(per_member).column("total").to_numpy(zero_copy_only=False).astype(float))
    # Heavy tail: the top 1% of members account for well over 5% of spending.
    top = totals[-len(totals) // 100 :].sum() / totals.sum()
    assert top > 0.05
    clinical = tables.clinical
    codes = set(engine.to_arrow(clinical.code.name("c").as_table().distinct()).column("c").to_pylist())
    assert {"4548-4", "85354-9", "24606-6", "45378", "73832-8"} <= codes


def test_institutional_bill_types_match_the_claim_type(population):
    # NUBC UB-04 type of bill, first two digits (facility type + bill classification): 11x hospital inpatient,
    # 13x hospital outpatient, 21x SNF inpatient, 32x-34x home health, 81x/82x hospice (non-hospital /
    # hospital based). Issue 15: hospice claims were written as 341 (home health).
    allowed = {
        "inpatient": {"11"},
        "outpatient": {"13"},
        "snf": {"21"},
        "hha": {"32", "33", "34"},
        "hospice": {"81", "82"},
    }
    claims = pq.read_table(population / "medical_claims.parquet", columns=["claim_type", "bill_type"])
    pairs = {
        (kind, (bill or "")[:2])
        for kind, bill in zip(
            claims.column("claim_type").to_pylist(), claims.column("bill_type").to_pylist(), strict=True
        )
        if kind in allowed
    }
    assert {kind for kind, _ in pairs} == set(allowed)  # every institutional type was generated
    wrong = sorted(pair for pair in pairs if pair[1] not in allowed[pair[0]])
    assert wrong == []
