"""The PY2024+ entity flags (ACPT guardrail, half rate below the MSR) and termination during the year, from the
regulation's words, on every path: the calculator, ``apmkit settle`` on an aggregate CSV, and a claims run.

Expected amounts are written from 42 CFR 425.652(b)(5) (guardrail), 425.605(h) (half rate below the MSR),
425.221(b) and 425.605(f)(2)(i) (termination), not read off our own output.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app
from apmkit.contracts import load_template, template_text
from apmkit.errors import ApmkitError, InputFileError
from apmkit.programs.mssp.rules import mssp_terms
from apmkit.settlement.inputs import EntityInputs, apply_benchmarks
from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings
from apmkit.synth import generate
from apmkit.workspace import Workspace

D = Decimal
CENT = D("0.01")
runner = CliRunner()


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---- termination during the year (42 CFR 425.221(b)) --------------------------------------------------------


def test_termination_forfeits_savings() -> None:
    terms = mssp_terms("basic_e", 2024, msr_election=D("0.02"))
    base = {
        "benchmark": D(100_000_000),
        "expenditure": D(95_000_000),  # 5 % savings >= 2 % MSR
        "assigned_population": 20_000,
        "quality_score": D("0.9"),
        "quality_standard_met": True,
    }
    # not terminated: 50 % of 5,000,000 first dollar, less 2 % sequestration = 2,450,000.00
    assert compute_shared_savings(terms, SharedSavingsInputs(**base)).net == D("2450000.00")
    ended = compute_shared_savings(terms, SharedSavingsInputs(**base, terminated_during_year=True))
    assert ended.earned_savings == D(0) and ended.net == D(0)
    (line,) = [t for t in ended.trace if t.label == "Termination during the period"]
    assert line.formula == "no shared savings for the period" and "425.221(b)" in line.rule


def test_termination_prorates_owed_losses() -> None:
    terms = mssp_terms("basic_e", 2024, msr_election=D("0.02"))
    base = {
        "benchmark": D(100_000_000),
        "expenditure": D(103_000_000),  # 3 % over >= 2 % MLR
        "assigned_population": 20_000,
        "quality_score": D("0.9"),
        "quality_standard_met": True,
        "participant_revenue": D(50_000_000),
        "terminated_during_year": True,
    }
    # 30 % of 3,000,000 = 900,000 (limit min(8 % x 50M, 4 % x 100M) = 4M does not bind) x 7/12 = 525,000.00
    owed = compute_shared_savings(terms, SharedSavingsInputs(**base, termination_loss_share=D(7) / D(12)))
    assert owed.owed_losses == D("525000.00") and owed.net == D("-525000.00")
    with pytest.raises(ValueError, match="termination_loss_share is missing"):
        compute_shared_savings(terms, SharedSavingsInputs(**base))


def test_termination_without_a_clause_in_the_terms_is_refused() -> None:
    terms = mssp_terms("basic_a", 2024).model_copy(update={"termination": None})
    inputs = SharedSavingsInputs(
        benchmark=D(100),
        expenditure=D(90),
        assigned_population=6000,
        quality_standard_met=True,
        terminated_during_year=True,
    )
    with pytest.raises(ValueError, match=r"terms\.termination"):
        compute_shared_savings(terms, inputs)


# ---- the half rate below the MSR (42 CFR 425.605(h)) -------------------------------------------------------


def test_below_msr_without_population_is_an_error_not_zero() -> None:
    # Fixed 2 % MSR: the MSR does not need the population, but the 5,000-beneficiary test of 425.605(h)(1)(iii)
    # does. Before the fix the half rate was silently skipped (net 0).
    terms = mssp_terms("basic_c", 2024, msr_election=D("0.02"))
    inputs = SharedSavingsInputs(
        benchmark=D(100_000_000),
        expenditure=D(99_000_000),
        quality_standard_met=True,
        below_msr_sharing_eligible=True,
    )
    with pytest.raises(ValueError, match="assigned_population is missing"):
        compute_shared_savings(terms, inputs)


def test_below_msr_half_rate_on_the_alternative_standard() -> None:
    # 425.605(h)(2): one half of the (d)(1)(i)(A)(4) percentage; with only the alternative standard met that
    # percentage is 40 % x quality score (d)(1)(i)(A)(4)(ii). 2,000,000 x 0.4 x 0.7 / 2 x 0.98 = 274,400.00
    terms = mssp_terms("basic_a", 2024)
    inputs = SharedSavingsInputs(
        benchmark=D(100_000_000),
        expenditure=D(98_000_000),  # 2 % < MSR 3.6 % at N = 6,000
        assigned_population=6000,
        quality_score=D("0.7"),
        quality_standard_met=False,
        alternative_quality_standard_met=True,
        below_msr_sharing_eligible=True,
    )
    assert compute_shared_savings(terms, inputs).net == D("274400.00")
    # neither standard met: 425.605(c)(2)(ii) is not met, nothing is shared
    failed = inputs.model_copy(update={"alternative_quality_standard_met": False})
    assert compute_shared_savings(terms, failed).net == D(0)


# ---- apmkit settle on an aggregate CSV -------------------------------------------------------------------


AGGREGATE = """entity_id,benchmark,expenditure,population,quality_score,quality_standard_met,participant_revenue,\
guardrail_applies,recalculated_benchmark,terminated_during_year,termination_loss_share
G1,100000000,106000000,20000,0.9,true,,true,101000000,,
G2,100000000,104000000,20000,0.9,true,,true,105000000,,
G3,100000000,104000000,20000,0.9,true,,true,102000000,,
G4,100000000,106000000,20000,0.9,true,,false,101000000,,
T1,100000000,106000000,20000,0.9,true,,,,true,0.5
T2,100000000,90000000,20000,0.9,true,,,,true,
"""


def test_settle_applies_guardrail_and_termination_columns(tmp_path: Path) -> None:
    contract = tmp_path / "enhanced.yaml"
    contract.write_text(template_text("mssp_enhanced"), encoding="utf-8")
    inputs = tmp_path / "aco.csv"
    inputs.write_text(AGGREGATE, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(inputs),
            "--period",
            "2024",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    statement = json.loads((out / "statement.json").read_text())
    nets = {s["entity_id"]: D(s["net_settlement"]) for s in statement["statements"]}
    # ENHANCED PY2024, variable MLR at N = 20,000: 2.5 %. Loss rate 1 - 0.75 x 0.9 = 0.325 -> floor 40 %.
    # G1: 6 % over the updated benchmark >= MLR; 5M / 101M = 4.95 % over the recalculated one, which is
    #     smaller: losses against it, 40 % x 5,000,000 = 2,000,000 (425.652(b)(5)(i)).
    # G2: below the recalculated benchmark: neither losses nor savings (425.652(b)(5)(ii)).
    # G3: 2M / 102M = 1.96 % over the recalculated benchmark < MLR: no losses are shared.
    # G4: the guardrail does not apply (agreement before 2024): 40 % x 6,000,000 = 2,400,000.
    # T1: terminated, half the months: 2,400,000 x 0.5 = 1,200,000. T2: terminated with savings: nothing.
    assert nets == {
        "G1": D("-2000000.00"),
        "G2": D("0"),
        "G3": D("0"),
        "G4": D("-2400000.00"),
        "T1": D("-1200000.00"),
        "T2": D("0"),
    }
    g2 = next(s for s in statement["statements"] if s["entity_id"] == "G2")
    (line,) = [x for x in g2["lines"] if x["label"] == "Loss benchmark guardrail"]
    assert "no losses" in line["formula"]


def test_guardrail_flag_without_guardrail_terms_is_refused(tmp_path: Path) -> None:
    contract = tmp_path / "c.yaml"
    contract.write_text(template_text("mssp_basic_a"), encoding="utf-8")  # one-sided: no guardrail terms
    inputs = tmp_path / "aco.csv"
    inputs.write_text(
        "entity_id,benchmark,expenditure,population,quality_standard_met,guardrail_applies\n"
        "A,100000000,90000000,6000,true,true\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "-q",
            "settle",
            "--contract",
            str(contract),
            "--from",
            str(inputs),
            "--period",
            "2024",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code != 0
    assert (
        "field guardrail_applies is true but component 'shared_savings' has no loss_benchmark_guardrail"
        in (result.output + str(result.exception))
    )


# ---- the MSSP benchmark summary (apmkit benchmark output) ---------------------------------------------------


def test_benchmark_summary_lets_the_settlement_apply_the_guardrail() -> None:
    entity = [EntityInputs(entity_id="A")]
    row = {
        "settlement_benchmark": D(104),
        "total_benchmark": D(100),
        "total_two_way_benchmark": D(104),
        "guardrail_applies": True,
        "guardrail_status": "no_savings_no_losses",
    }
    (done,) = apply_benchmarks(entity, [row], "summary.parquet")
    assert (done.benchmark, done.recalculated_benchmark, done.guardrail_applies) == (D(100), D(104), True)
    # an older summary without the two-way total cannot say "neither savings nor losses": refused, since
    # settling on its settlement_benchmark (the two-way blend, above spending) would share savings
    old = {
        "settlement_benchmark": D(104),
        "total_benchmark": D(100),
        "guardrail_status": "no_savings_no_losses",
    }
    with pytest.raises(InputFileError, match="total_two_way_benchmark"):
        apply_benchmarks(entity, [old], "summary.parquet")


# ---- a claims run (Workspace.run) -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flags") / "data"
    generate(600, folder, years=2, seed=5)
    return folder


def _run(population: Path, tmp: Path, name: str, row: dict[str, object]) -> Decimal:
    inputs = tmp / f"{name}.csv"
    inputs.write_text(",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n", encoding="utf-8")
    with Workspace(population) as workspace:
        result = workspace.run(load_template("mssp_basic_e"), "2025", inputs=inputs)
    (statement,) = result.settlement.statements
    return statement


def test_claims_run_applies_guardrail_and_termination(population: Path, tmp_path: Path) -> None:
    common = {"entity_id": "ENTITY", "quality_score": "0.9", "quality_standard_met": "true"}
    first = _run(population, tmp_path, "probe", {**common, "benchmark": "100000000"})
    spent = D(str(first.summary["expenditure"]))  # measured from claims by the template's definitions
    assert spent > 0 and first.summary["population"] < 1000  # variable MLR below 12.2 %

    # updated benchmark 20 % under spending (a loss above the MLR of this small population); recalculated
    # benchmark above spending: neither losses nor savings (425.652(b)(5)(ii)).
    low = _cents(spent / D("1.25"))
    above = _cents(spent * D("1.01"))
    neither = _run(
        population,
        tmp_path,
        "neither",
        {
            **common,
            "benchmark": low,
            "guardrail_applies": "true",
            "recalculated_benchmark": above,
            "participant_revenue": spent,
        },
    )
    assert neither.net_settlement == D(0)
    assert any(line.label == "Loss benchmark guardrail" for line in neither.lines)
    (given,) = [
        line for line in neither.lines if line.component_id == "inputs" and "Recalculated" in line.label
    ]
    assert given.value == above

    # recalculated benchmark 12.5 % under spending (still at least the MLR), above the updated one: losses
    # against it, BASIC E 30 %; the limit min(8 % x revenue, 4 % x benchmark) does not bind (0.30 x 12.5 % =
    # 3.75 % < 4 %): 0.30 x (spent - recalculated)
    recalculated = _cents(spent / D("1.125"))
    owed = _run(
        population,
        tmp_path,
        "owed",
        {
            **common,
            "benchmark": low,
            "guardrail_applies": "true",
            "recalculated_benchmark": recalculated,
            "participant_revenue": spent,
        },
    )
    assert owed.net_settlement == -_cents(D("0.30") * (spent - recalculated))

    # savings (benchmark 20 % above spending) but the agreement ended during the year: nothing is paid
    ended = _run(
        population,
        tmp_path,
        "ended",
        {**common, "benchmark": _cents(spent * D("1.2")), "terminated_during_year": "true"},
    )
    assert ended.net_settlement == D(0)
    assert any(line.label == "Termination during the period" for line in ended.lines)


def test_claims_run_names_a_missing_recalculated_benchmark(population: Path, tmp_path: Path) -> None:
    common = {"entity_id": "ENTITY", "quality_score": "0.9", "quality_standard_met": "true"}
    first = _run(population, tmp_path, "probe2", {**common, "benchmark": "100000000"})
    spent = D(str(first.summary["expenditure"]))
    with pytest.raises(ApmkitError, match="recalculated_benchmark is missing"):
        _run(
            population,
            tmp_path,
            "missing",
            {
                **common,
                "benchmark": _cents(spent / D("1.25")),
                "guardrail_applies": "true",
                "participant_revenue": spent,
            },
        )
