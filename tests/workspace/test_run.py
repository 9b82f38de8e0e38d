"""One contract, one run: the benchmark and the actuals under one set of definitions, checked against an
independent pandas computation written from the contract's words; the fail-closed paths leave OUT whole."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from apmkit.contracts import parse_contract
from apmkit.engines import Engine
from apmkit.errors import ApmkitError, ConfigurationError, InputFileError
from apmkit.synth import generate
from apmkit.workspace import Workspace

CONTRACT = """
id: run_test
name: one contract, one run (test)
attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}
benchmark:
  method: general
  general:
    base_years: [2024]
    performance_year: 2025
    annual_trend: "0.04"
    regional_weight: "0.25"
    full_credibility_member_months: 12000
definitions:
  cost_basis: allowed_amount
  eligible_months: enrolled
  truncation: {method: amount, amount: 100000}
  runout_months: 3
components:
  - id: shared_savings
    type: shared_savings
    clause: "test agreement section 5"
    terms:
      sided: one_sided
      minimum_savings_rate: {kind: fixed, rate: 0.02}
      sharing_basis: first_dollar
      max_sharing_rate: 0.50
      savings_cap: {pct_of_benchmark: 0.10}
"""
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "data"
    generate(1500, folder, years=2, seed=11)
    return folder


@pytest.fixture(scope="module")
def contract_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "contract.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_out(population: Path, contract_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "run"
    with Workspace(population) as workspace:
        workspace.run(contract_file, "2025", out=out)
    return out


def _member_year_spend(data: Path, year: int) -> pd.DataFrame:
    """The contract's words in pandas: allowed amounts of non-void medical lines dated (service date, else
    claim from date) in the year, processed by 31 March of the next year (or unknown), in a month the member
    was enrolled; each member's year capped at $100,000. Member months = distinct enrolled months."""
    enrollment = pd.read_parquet(data / "enrollment.parquet", columns=["member_id", "month"])
    enrollment["month"] = pd.to_datetime(enrollment["month"]).dt.to_period("M")
    enrollment = enrollment[enrollment["month"].dt.year == year].drop_duplicates()
    months = enrollment.groupby("member_id").size().rename("member_months")
    claims = pd.read_parquet(
        data / "medical_claims.parquet",
        columns=[
            "member_id",
            "service_date",
            "claim_from_date",
            "processed_date",
            "allowed_amount",
            "adjustment_type",
        ],
    )
    claims = claims[claims["adjustment_type"].fillna("original") != "void"]
    day = pd.to_datetime(claims["service_date"].fillna(claims["claim_from_date"]))
    processed = pd.to_datetime(claims["processed_date"])
    keep = (day.dt.year == year) & (processed.isna() | (processed <= pd.Timestamp(year + 1, 3, 31)))
    claims = claims[keep].assign(month=day[keep].dt.to_period("M"))
    claims = claims.merge(enrollment, on=["member_id", "month"])  # eligible months only
    cents = (
        (claims["allowed_amount"].map(lambda v: int((Decimal(str(v)) * 100).to_integral_value())))
        .groupby(claims["member_id"])
        .sum()
    )
    frame = months.to_frame().join(cents.rename("cents")).fillna({"cents": 0})
    frame["cents"] = frame["cents"].astype("int64").clip(upper=100_000 * 100)
    return frame


def test_statement_matches_an_independent_computation(population: Path, run_out: Path) -> None:
    summary = pd.read_parquet(run_out / "summary.parquet")
    attribution = pd.read_parquet(run_out / "attribution.parquet")
    links = attribution[attribution["attributed"]][["member_id", "entity_id"]]
    base, performance = _member_year_spend(population, 2024), _member_year_spend(population, 2025)
    # the largest entity: its benchmark has the most weight of its own experience
    entity = links["entity_id"].value_counts().index[0]
    mine = set(links.loc[links["entity_id"] == entity, "member_id"])
    attributed = set(links["member_id"])

    py = performance[performance.index.isin(mine)]
    expenditure = (Decimal(int(py["cents"].sum())) / 100).quantize(CENT)
    py_months = int(py["member_months"].sum())

    own_base = base[base.index.isin(mine)]
    peer_base = base[base.index.isin(attributed)]
    trend = Decimal("1.04")
    own = Decimal(int(own_base["cents"].sum())) / 100 / int(own_base["member_months"].sum()) * trend
    peer = Decimal(int(peer_base["cents"].sum())) / 100 / int(peer_base["member_months"].sum()) * trend
    blended = Decimal("0.75") * own + Decimal("0.25") * peer
    z = min(Decimal(1), (Decimal(int(own_base["member_months"].sum())) / Decimal(12000)).sqrt())
    pmpm = z * blended + (1 - z) * peer
    benchmark = (pmpm * py_months).quantize(CENT, rounding=ROUND_HALF_UP)

    row = summary.set_index("entity_id").loc[entity]
    assert Decimal(str(row["expenditure"])).quantize(CENT) == expenditure
    assert Decimal(str(row["benchmark"])).quantize(CENT) == benchmark
    assert {"entity_id", "net_settlement", "benchmark", "expenditure"} <= set(summary.columns)
    # savings and the one-sided share follow from those two figures (MSR 2 %, 50 %, cap 10 % of benchmark)
    savings = benchmark - expenditure
    expected = Decimal(0)
    if savings >= Decimal("0.02") * benchmark:
        expected = min(savings * Decimal("0.5"), Decimal("0.10") * benchmark).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
    assert Decimal(str(row["net_settlement"])).quantize(CENT) == expected


def test_marts_are_written_and_owner_only(run_out: Path) -> None:
    for name in (
        "attribution",
        "member_months",
        "expenditure",
        "member_years",
        "benchmark_lines",
        "member_detail",
    ):
        assert (run_out / f"{name}.parquet").exists(), name
    assert (run_out / "run.duckdb").exists()
    assert oct((run_out / "member_detail.parquet").stat().st_mode & 0o777) == "0o600"
    assert oct(run_out.stat().st_mode & 0o777) == "0o700"
    expenditure = pd.read_parquet(run_out / "expenditure.parquet")
    assert set(expenditure["service_category"]) <= {
        "inpatient",
        "outpatient",
        "professional",
        "snf",
        "hha",
        "hospice",
        "dme",
        "pharmacy",
    }
    # the spending mart adds up to the member-year mart, year by year, to the cent
    member_years = pd.read_parquet(run_out / "member_years.parquet")
    assert (
        expenditure.groupby("year")["cents"].sum().to_dict()
        == member_years.groupby("year")["cost_cents"].sum().to_dict()
    )


def test_run_database_holds_each_mart_as_its_parquet_file(run_out: Path, tmp_path: Path) -> None:
    """Each mart is written once and copied: run.duckdb's table and the Parquet file hold the same rows and
    types, and the database holds tables (no views over the files), so a moved output still opens."""
    moved = tmp_path / "moved"
    shutil.copytree(run_out, moved)
    marts = sorted(path.stem for path in moved.glob("*.parquet"))
    assert {"attribution", "expenditure", "member_detail", "summary", "lines", "utilization"} <= set(marts)
    with Engine.connect("duckdb", database=moved / "run.duckdb") as database:
        con = database.backend.con
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == set(marts)
        for name in marts:
            parquet = f"read_parquet('{moved / name}.parquet')"
            assert (
                con.execute(f'DESCRIBE "{name}"').fetchall()
                == con.execute(f"DESCRIBE SELECT * FROM {parquet}").fetchall()
            ), name
            for one, other in ((f'"{name}"', parquet), (parquet, f'"{name}"')):
                query = f"SELECT count(*) FROM (SELECT * FROM {one} EXCEPT ALL SELECT * FROM {other})"
                assert con.execute(query).fetchone() == (0,), name


def test_a_duckdb_run_opens_one_database(
    population: Path, contract_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's memory is bounded by one engine's limit only if it opens one DuckDB database: each database has
    a buffer pool and a limit of its own, so run.duckdb loaded from a second connection while the run's engine
    still held its buffers added a second limit's worth (docs/run.md, Performance). The run's engine attaches it."""
    import duckdb

    opened: list[str] = []
    connect = duckdb.connect

    def counted(database: str = ":memory:", *args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        opened.append(str(database))
        return connect(database, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(duckdb, "connect", counted)
    with Workspace(population) as workspace:
        workspace.run(contract_file, "2025", out=tmp_path / "run")
    assert opened == [":memory:"]
    assert (tmp_path / "run" / "run.duckdb").exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apmkit", "--quiet", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_claims", "missing required table medical_claims"),
        ("period_outside_benchmark", "benchmark.general.performance_year is 2025"),
        ("empty_period", "no eligible member-month in the period"),
    ],
)
def test_failures_exit_2_with_one_line_and_leave_out_whole(
    case: str, message: str, population: Path, contract_file: Path, run_out: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_out, out)
    before = _snapshot(out)
    data, period, contract = population, "2025", contract_file
    if case == "no_claims":
        data = tmp_path / "data"
        data.mkdir()
        for name in ("members", "enrollment", "providers"):
            shutil.copy(population / f"{name}.parquet", data)
    elif case == "period_outside_benchmark":
        period = "2026"
    else:
        contract = tmp_path / "no_benchmark.yaml"
        text = CONTRACT.split("benchmark:")[0] + "definitions:" + CONTRACT.split("definitions:")[1]
        contract.write_text(
            text.replace("attribution: {", "target: {benchmark_per_person_year: 9000}\nattribution: {")
        )
        period = "2030"
    result = _cli(
        "run", "--contract", str(contract), "--from", str(data), "--period", period, "--out", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert _snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_a_missing_table_is_never_zero_spending(
    population: Path, contract_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("members", "enrollment", "providers"):
        shutil.copy(population / f"{name}.parquet", data)
    with Workspace(data) as workspace, pytest.raises(InputFileError, match="medical_claims"):
        workspace.run(contract_file, "2025")


def test_benchmark_may_not_use_rules_of_its_own() -> None:
    text = CONTRACT.replace(
        "    full_credibility_member_months: 12000",
        "    full_credibility_member_months: 12000\n    cost_basis: paid_amount",
    )
    with pytest.raises(
        ConfigurationError, match=r"benchmark\.general\.cost_basis differs from definitions\.cost_basis"
    ):
        parse_contract(text, "c.yaml")
    text = CONTRACT.replace(
        "    full_credibility_member_months: 12000",
        "    full_credibility_member_months: 12000\n    outliers: {method: none}",
    )
    with pytest.raises(ConfigurationError, match=r"truncation is definitions\.truncation"):
        parse_contract(text, "c.yaml")


def test_unattributed_members_are_not_in_the_peer_pmpm(run_out: Path) -> None:
    entities = pd.read_parquet(run_out / "benchmark_entities.parquet")
    assert entities["entity_id"].notna().all()
    assert "None" not in set(entities["entity_id"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("base: &b {x: 1}\nother: *b\n", "aliases"),
    ],
)
def test_contract_reader_refuses_duplicates_and_aliases(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_contract(text, "c.yaml")


def test_no_entity_settled_is_an_error(population: Path, tmp_path: Path) -> None:
    # no benchmark section and no target: every entity lacks its benchmark, so nothing can be settled
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT.split("benchmark:")[0] + "definitions:" + CONTRACT.split("definitions:")[1])
    with Workspace(population) as workspace, pytest.raises(ApmkitError, match="no entity was settled"):
        workspace.run(contract, "2025", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_credibility_is_below_one_for_small_entities(run_out: Path) -> None:
    # a guard that the independent check exercises the credibility step, not only the blend
    entities = pd.read_parquet(run_out / "benchmark_entities.parquet")
    assert any(Decimal(str(v)) < 1 for v in entities["credibility"])
    assert all(math.isfinite(float(v)) for v in entities["benchmark_pmpm"])


def test_settle_from_claims_replaces_out_whole_and_fails_without_touching_it(
    population: Path, contract_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "statement"
    out.mkdir()  # an earlier statement folder, with a file this run will not write
    (out / "statement.json").write_text("{}")
    (out / "from_an_earlier_run.parquet").write_text("stale")
    base = ["settle", "--contract", str(contract_file), "--from", str(population), "--period", "2025"]
    done = _cli(*base, "--out", str(out), "--format", "json")
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    assert "from_an_earlier_run.parquet" not in names
    assert {"statement.json", "summary.parquet", "member_detail.parquet"} <= names
    assert "statement.html" not in names
    before = _snapshot(out)
    bad_scores = tmp_path / "scores.parquet"
    pd.DataFrame({"member_id": ["M1"]}).to_parquet(bad_scores)
    failed = _cli(*base, "--out", str(out), "--risk-scores", str(bad_scores))
    assert failed.returncode == 2
    assert "missing required columns" in failed.stderr and "field score" in failed.stderr
    assert _snapshot(out) == before


def test_settle_diff_names_the_first_divergent_step(run_out: Path, tmp_path: Path) -> None:
    summary = pd.read_parquet(run_out / "summary.parquet")
    payer = summary[["entity_id", "benchmark", "expenditure", "net_settlement"]].rename(
        columns={"net_settlement": "payment"}
    )
    changed = str(payer.loc[0, "entity_id"])
    payer["expenditure"] = [
        str(Decimal(str(v)).quantize(CENT) + (Decimal(100) if i == 0 else 0))
        for i, v in enumerate(payer["expenditure"])
    ]
    payer["benchmark"] = [str(Decimal(str(v)).quantize(CENT)) for v in payer["benchmark"]]
    payer["payment"] = [str(Decimal(str(v)).quantize(CENT)) for v in payer["payment"]]
    report = tmp_path / "payer.csv"
    payer.to_csv(report, index=False)
    result = _cli("settle", "diff", str(run_out), str(report))
    assert result.returncode == 1
    assert f"{changed}: differs, first at expenditure" in result.stdout
    assert "difference -100.00" in result.stdout
    assert f"entities: 1 differs, {len(payer) - 1} matches" in result.stdout


def test_settle_breakdown_parts_add_up_to_each_entity(run_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "shares.csv"
    result = _cli(
        "settle", "breakdown", str(run_out), "--out", str(out), "--by", "tin", "--basis", "spending"
    )
    assert result.returncode == 0, result.stderr
    shares = pd.read_csv(out, dtype={"entity_id": str, "tin": str})
    summary = pd.read_parquet(run_out / "summary.parquet")
    for entity, net in zip(summary["entity_id"], summary["net_settlement"], strict=True):
        parts = shares.loc[shares["entity_id"] == str(entity), "amount"]
        total = sum((Decimal(str(v)).quantize(CENT) for v in parts), Decimal(0))
        assert total == Decimal(str(net)).quantize(CENT) or (Decimal(str(net)) == 0 and parts.empty)


def test_true_up_after_run_out(population: Path, tmp_path: Path) -> None:
    # the preliminary statement counts claims processed by period end (no run-out); the final one 3 months later
    early_contract = tmp_path / "early.yaml"
    early_contract.write_text(CONTRACT.replace("runout_months: 3", "runout_months: 0"), encoding="utf-8")
    final_contract = tmp_path / "final.yaml"
    final_contract.write_text(CONTRACT, encoding="utf-8")
    with Workspace(population) as workspace:
        early = workspace.run(early_contract, "2025", out=tmp_path / "early")
        final = workspace.run(final_contract, "2025", out=tmp_path / "final")
    result = _cli("settle", "true-up", str(tmp_path / "early"), str(tmp_path / "final"))
    assert result.returncode == 0, result.stderr
    assert f"total true-up: {final.total_net - early.total_net}" in result.stdout


TEMPLATE_NEEDS = {
    # what each shipped template asks for, by name, when run from claims alone (claims cannot hold it)
    "bpci_advanced": "REQUIRED",
    "cjr": "field quality_score is required",  # on five years of claims (baseline 2021-2023): only the CQS
    "commercial_capitation": "field quality_score is required",
    "commercial_upside_shared_savings": "field reported is required",
    "cpc_plus_track1": "REQUIRED",
    "cpc_plus_track2": "REQUIRED",
    "enhancing_oncology_model": "episodes.build.oncology.trigger_codes is REQUIRED",  # CMS's list: not shipped
    "mssp_basic_a": "benchmark.mssp is REQUIRED",
    "mssp_basic_b": "benchmark.mssp is REQUIRED",
    "mssp_basic_c": "benchmark.mssp is REQUIRED",
    "mssp_basic_d": "benchmark.mssp is REQUIRED",
    "mssp_basic_e": "benchmark.mssp is REQUIRED",
    "mssp_enhanced": "benchmark.mssp is REQUIRED",
    "mssp_track1": "outside the performance years",
    "mssp_track2": "outside the performance years",
    "mssp_track3": "outside the performance years",
    "oncology_care_model": "episodes.build.oncology.trigger_codes is REQUIRED",
    "primary_care_first": "REQUIRED",
}


def test_every_template_is_listed() -> None:
    from apmkit.contracts import template_names

    assert sorted(TEMPLATE_NEEDS) == sorted(template_names())


EPISODE_TEMPLATES = {"cjr"}
"""Templates whose episode prices come from historical claims: run on five years of synth data."""


@pytest.fixture(scope="module")
def long_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run5") / "data"
    generate(1500, folder, years=5, seed=11)
    return folder


@pytest.mark.parametrize("name", sorted(TEMPLATE_NEEDS))
def test_every_template_runs_from_claims_or_names_what_it_needs(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # in-process (the CLI's one-line exit 2 for these errors is tested above): the error names what to give
    from apmkit.contracts import load_template

    population = request.getfixturevalue("long_population" if name in EPISODE_TEMPLATES else "population")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(load_template(name), "2025", out=tmp_path / "o")
    assert TEMPLATE_NEEDS[name] in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "o").exists()


def test_mssp_template_settles_with_what_claims_cannot_hold(population: Path, tmp_path: Path) -> None:
    # BASIC E PY2025 from claims plus CMS's benchmark, the quality determination and participant revenue
    contract = tmp_path / "basic_e.yaml"
    _cli("contract", "template", "mssp_basic_e", "--out", str(contract))
    inputs = tmp_path / "inputs.csv"
    inputs.write_text(
        "entity_id,benchmark,quality_score,quality_standard_met,participant_revenue\n"
        "ENTITY,20000000,0.8,true,9000000\n",
        encoding="utf-8",
    )
    with Workspace(population) as workspace:
        result = workspace.run(contract, "2025", inputs=inputs, out=tmp_path / "o")
    (statement,) = result.settlement.statements
    summary = statement.summary
    assert summary["benchmark"] == Decimal("20000000")
    # the actuals follow the template's definitions: Parts A+B FFS months, paid amounts, 99th-percentile cap
    assert "eligible months: medicare_ffs_parts_ab" in " ".join(result.settlement.warnings)
    assert Decimal(str(summary["net_settlement"])) == statement.net_settlement


def test_cjr_template_settles_synth_hospitals_with_only_the_quality_score(
    long_population: Path, tmp_path: Path
) -> None:
    # template -> run from claims; the composite quality score is the one input claims cannot hold
    contract = tmp_path / "cjr.yaml"
    _cli("contract", "template", "cjr", "--out", str(contract))
    with Workspace(long_population) as workspace:
        built = workspace.engine.canonical(long_population)["medical_claims"]
        ccns = workspace.engine.rows(
            built.filter(built.ms_drg.isin(["469", "470"]), built.claim_type == "inpatient")
            .select("facility_ccn")
            .distinct()
        )
    inputs = tmp_path / "cqs.csv"
    inputs.write_text(
        "entity_id,quality_score\n" + "".join(f"{r['facility_ccn']},8\n" for r in ccns), encoding="utf-8"
    )
    out = tmp_path / "o"
    done = _cli(
        "run",
        *("--contract", str(contract), "--from", str(long_population), "--period", "2025"),
        *("--inputs", str(inputs), "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    performance = pd.read_parquet(out / "episode_performance.parquet")
    assert len(performance) > 0 and len(summary) > 0
    # every hospital with episodes is settled, or refused naming the price claims could not give (a region
    # without baseline episodes in one of its price groups)
    refused = set()
    if (out / "rejected.csv").exists():
        for row in pd.read_csv(out / "rejected.csv", dtype=str).itertuples():
            assert "field regional_price." in row.reason
            refused |= {ccn for ccn in performance["facility_ccn"] if f"facility_ccn {ccn} " in row.reason}
    assert set(summary["entity_id"]) | refused == set(performance["facility_ccn"])


@pytest.mark.parametrize("name", ["oncology_care_model", "enhancing_oncology_model"])
def test_oncology_templates_settle_synth_practices_with_what_claims_cannot_hold(
    name: str, population: Path, tmp_path: Path
) -> None:
    # the trigger list and the REQUIRED terms filled (test values); then only CMS's benchmark price per cancer
    # type and the quality score are asked for, by name, and given they settle every practice with episodes
    contract = tmp_path / f"{name}.yaml"
    _cli("contract", "template", name, "--out", str(contract))
    text = contract.read_text(encoding="utf-8").replace(
        "trigger_codes: REQUIRED", "trigger_codes: [{system: hcpcs, code: J9271}]"
    )
    for term, value in (
        ("pbpm", "70"),
        ("dual_pbpm_addition", "30"),
        ("discount", "0.05"),
        ("quality_adjustment_of_gain", "0.1"),
        ("quality_adjustment_of_loss", "0.1"),
        ("quality_full_score", "100"),
        ("stop_gain", "0.2"),
        ("stop_loss", "0.2"),
    ):
        text = text.replace(f"{term}: REQUIRED", f"{term}: {value}")
    contract.write_text(text, encoding="utf-8")
    with Workspace(population) as workspace, pytest.raises(ApmkitError) as info:
        workspace.run(contract, "2025", out=tmp_path / "o")
    assert "field benchmark_price." in str(info.value) or "field quality_score" in str(info.value)
    assert "\n" not in str(info.value)
    # the practices and cancer types of the period's episodes, to give each its price
    from apmkit.episodes.build import build_episodes
    from apmkit.workspace.episodes import prepare_episode_contract

    resolved = prepare_episode_contract(parse_contract(text), contract.parent)
    assert resolved.episodes is not None
    with Workspace(population) as workspace:
        engine = workspace.engine
        mart = build_episodes(
            engine.canonical(population),
            resolved.episodes.build,
            fetch=engine.rows,
            materialize=engine.materialize,
        ).episodes
        kept = engine.to_arrow(mart.filter(mart.status == "kept")).to_pandas()
    kept = kept[kept["anchor_start"].astype(str).str.startswith("2025")]
    assert len(kept) > 0
    types = sorted(set(kept["cancer_type"]))
    inputs = tmp_path / "inputs.csv"
    inputs.write_text(
        "entity_id,quality_score,"
        + ",".join(f"benchmark_price.{t}" for t in types)
        + "\n"
        + "".join(
            f"{tin},80," + ",".join("40000" for _ in types) + "\n" for tin in sorted(set(kept["billing_tin"]))
        ),
        encoding="utf-8",
    )
    out = tmp_path / "o"
    done = _cli(
        "run",
        *("--contract", str(contract), "--from", str(population), "--period", "2025"),
        *("--inputs", str(inputs), "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["entity_id"]) == set(kept["billing_tin"])
    performance = pd.read_parquet(out / "episode_performance.parquet")
    assert len(performance) == len(kept)


def test_episodes_section_adds_the_episodes_mart(population: Path, tmp_path: Path) -> None:
    contract = tmp_path / "with_episodes.yaml"
    contract.write_text(CONTRACT + "episodes:\n  build: {overlap: precedence}\n", encoding="utf-8")
    out = tmp_path / "out"
    with Workspace(population) as workspace:
        result = workspace.run(contract, "2025", out=out)
    episodes = pd.read_parquet(out / "episodes.parquet")
    assert set(episodes["status"]) <= {"kept", "ineligible", "overlap_dropped"}
    assert result.counts["episodes_kept"] == int((episodes["status"] == "kept").sum())
    kept = episodes[episodes["status"] == "kept"]
    # amounts are on kept episodes only, and each is anchor + post-anchor spending
    assert (kept["total_amount"] == kept["anchor_amount"] + kept["post_anchor_amount"]).all()


def test_benchmark_command_builds_the_run_s_general_benchmark(
    population: Path, contract_file: Path, run_out: Path, tmp_path: Path
) -> None:
    # `apmkit benchmark` on the same contract and the run's attribution measures spending under the contract's
    # definitions, as the run does: the same entities, PMPMs and build-up (the run's figures are checked against
    # an independent pandas computation above)
    out = tmp_path / "bench"
    done = _cli(
        "benchmark",
        *("--contract", str(contract_file), "--from", str(population), "--out", str(out)),
        *("--attribution", str(run_out / "attribution.parquet")),
    )
    assert done.returncode == 0, done.stderr
    ours = pd.read_parquet(out / "benchmark_entities.parquet").sort_values("entity_id").reset_index(drop=True)
    run = (
        pd.read_parquet(run_out / "benchmark_entities.parquet")
        .sort_values("entity_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(ours, run)


def test_benchmark_command_refuses_outlier_rules_spending_does_not_have(
    population: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "benchmark:\n  method: general\n  general:\n    base_years: [2024]\n    performance_year: 2025\n"
        "    outliers: {method: winsorize}\n",
        encoding="utf-8",
    )
    done = _cli("benchmark", "--contract", str(spec), "--from", str(population), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "outliers.method: winsorize is not a spending rule" in done.stderr
