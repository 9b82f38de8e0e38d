"""Money is never paid or charged on a default nobody chose (issue 14, MSSP defects).

Expected amounts are the regulation's arithmetic written out here (42 CFR 425.605(d), 425.610(d), (f)), not our
output: e.g. BASIC E's loss limit is the lower of 30 % of the loss, 8 % of participant revenue and 4 % of the
benchmark.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apmkit.contracts.document import load_template, template_text
from apmkit.contracts.spec import Contract
from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.rules import mssp_terms
from apmkit.programs.mssp.templates import ENTITY_INPUTS, TEMPLATE_TRACKS
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs
from apmkit.settlement.shared_savings import SharedSavingsInputs, compute_shared_savings

D = Decimal
SOURCE = "inputs.csv line 2"


def _entity(**fields: object) -> EntityInputs:
    return EntityInputs(entity_id="ACO1", source=SOURCE, **fields)  # type: ignore[arg-type]


def _with_terms(contract: Contract, year: str, **changes: object) -> Contract:
    """The contract resolved for ``year`` with ``changes`` (dotted paths under the component's terms) applied."""
    resolved, _ = contract.for_period(year)
    data = resolved.model_dump(mode="python")
    data["glide_path"] = []
    for key, value in changes.items():
        node = data["components"][0]["terms"]
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        node[last] = value
    return Contract.model_validate(data)


# ---- (a) missing quality data -------------------------------------------------------------------------------


def test_missing_quality_is_an_error_naming_entity_and_fields() -> None:
    # BASIC A PY2022: 5 % savings against a 2.5 % MSR (N 20,000). Without any quality data the entity used to be
    # paid the full 40 %; now it is refused with its source row and the missing fields.
    settlement = settle(
        load_template("mssp_basic_a"),
        "2022",
        [_entity(benchmark=D(100_000_000), expenditure=D(95_000_000), population=20_000)],
    )
    assert settlement.statements == ()
    (refused,) = settlement.rejected
    assert refused["source_file"] == "inputs.csv" and refused["source_line"] == "2"
    assert "quality_score and quality_standard_met are both missing" in refused["reason"]


def test_gate_quality_needs_the_standard_flag_not_just_a_score() -> None:
    terms = mssp_terms("basic_a", 2022)
    entity = SharedSavingsInputs(
        benchmark=D(100_000_000),
        expenditure=D(95_000_000),
        assigned_population=20_000,
        quality_score=D("0.9"),
    )
    with pytest.raises(ValueError, match="quality_standard_met is missing"):
        compute_shared_savings(terms, entity)


def test_explicit_quality_default_is_applied_and_shown_as_an_assumption() -> None:
    # The contract states the default: standard met. 5,000,000 x 40 % x (1 - 2 %) = 1,960,000.
    contract = _with_terms(
        load_template("mssp_basic_a"),
        "2022",
        **{
            "quality.if_missing": {
                "quality_standard_met": True,
                "reason": "agreement section 7: met until reported",
            }
        },
    )
    settlement = settle(
        contract, "2022", [_entity(benchmark=D(100_000_000), expenditure=D(95_000_000), population=20_000)]
    )
    (statement,) = settlement.statements
    assert statement.net_settlement == D("1960000.00")
    (assumption,) = [line for line in statement.lines if line.label.startswith("Assumption")]
    assert assumption.label == "Assumption: no quality data reported"
    assert "agreement section 7" in assumption.clause


def test_no_quality_data_is_fine_when_nothing_depends_on_it() -> None:
    # Savings of 1 % below the 2.5 % MSR: nothing is shared, so quality is not needed.
    result = compute_shared_savings(
        mssp_terms("basic_a", 2022),
        SharedSavingsInputs(benchmark=D(100_000_000), expenditure=D(99_000_000), assigned_population=20_000),
    )
    assert result.outcome == "neither" and result.net == 0


# ---- (b) revenue-based loss limit ---------------------------------------------------------------------------

# BASIC E PY2024: a $28M loss (benchmark 234M, spending 262M; 11.97 % beyond the 2.5 % MLR at N 20,000).
LOSS = {"benchmark": D(234_000_000), "expenditure": D(262_000_000), "population": 20_000}
QUALITY = {"quality_score": D(1), "quality_standard_met": True}


def test_revenue_loss_limit_without_revenue_is_an_error() -> None:
    settlement = settle(load_template("mssp_basic_e"), "2024", [_entity(**LOSS, **QUALITY)])
    assert settlement.statements == ()
    (refused,) = settlement.rejected
    assert refused["source_line"] == "2" and "participant_revenue is missing" in refused["reason"]


def test_revenue_loss_limit_with_revenue_binds() -> None:
    # min(30 % x 28,000,000 = 8,400,000; 8 % x 50,000,000 = 4,000,000; 4 % x 234,000,000 = 9,360,000).
    settlement = settle(
        load_template("mssp_basic_e"),
        "2024",
        [_entity(**LOSS, **QUALITY, participant_revenue=D(50_000_000))],
    )
    assert settlement.statements[0].net_settlement == D("-4000000.00")


def test_explicit_benchmark_part_only_choice_is_shown_as_an_assumption() -> None:
    contract = _with_terms(
        load_template("mssp_basic_e"), "2024", **{"loss_cap.if_revenue_missing": "benchmark_part_only"}
    )
    (statement,) = settle(contract, "2024", [_entity(**LOSS, **QUALITY)]).statements
    # min(8,400,000; 9,360,000): the revenue part is not applied, and the statement says so.
    assert statement.net_settlement == D("-8400000.00")
    assert any(line.label == "Assumption: loss cap without its revenue part" for line in statement.lines)


# ---- (c) ENHANCED PY2023+ alternative quality standard -----------------------------------------------------


def test_enhanced_loss_rate_uses_the_alternative_quality_standard() -> None:
    # 42 CFR 425.610(f)(4): QPS missed, alternative QPS met -> loss rate 1 - 0.75 x 0.60 = 55 %, in [40, 75] %.
    # An $8M loss (benchmark 200M, spending 208M; 4 % beyond a 2 % elected MLR) owes 0.55 x 8,000,000.
    terms = mssp_terms("enhanced", 2023, msr_election=D("0.02"))
    entity = SharedSavingsInputs(
        benchmark=D(200_000_000),
        expenditure=D(208_000_000),
        assigned_population=20_000,
        quality_score=D("0.60"),
        quality_standard_met=False,
        alternative_quality_standard_met=True,
    )
    result = compute_shared_savings(terms, entity)
    assert result.loss_rate == D("0.55")
    assert result.owed_losses == D("4400000.00")
    # Both standards missed: the 75 % ceiling (425.610(f)(4)(ii)).
    failed = compute_shared_savings(
        terms, entity.model_copy(update={"alternative_quality_standard_met": False})
    )
    assert failed.loss_rate == D("0.75") and failed.owed_losses == D("6000000.00")


# ---- (d) the cited clause describes the terms applied -------------------------------------------------------


def test_glide_path_step_changes_the_cited_clause() -> None:
    # BASIC E PY2025: 2 % sequestration applies (docs/reference/methodology.md §1.7 B: 8,000,000 x 50 % x 0.98 = 3,920,000), so no
    # line may cite the PY2019-2020 "no sequestration" clause.
    entity = _entity(benchmark=D(234_000_000), expenditure=D(226_000_000), population=20_000, **QUALITY)
    (statement,) = settle(load_template("mssp_basic_e"), "2025", [entity]).statements
    assert statement.net_settlement == D("3920000.00")
    clauses = [line.clause for line in statement.lines if line.component_id == "shared_savings"]
    assert clauses and not any(
        "no sequestration" in clause or "through PY2020" in clause for clause in clauses
    )
    assert all("2 % sequestration" in clause for clause in clauses)
    # PY2020 still cites its own terms (no sequestration during the moratorium): 8,000,000 x 50 % x 1.0.
    (early,) = settle(load_template("mssp_basic_e"), "2020", [entity]).statements
    assert early.net_settlement == D("4000000.00")
    assert all(
        "no sequestration" in line.clause for line in early.lines if line.component_id == "shared_savings"
    )


# ---- (e) templates refuse years outside their rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "period", "valid"),
    [
        ("mssp_track1", "2012", "2013-2021"),
        ("mssp_track1", "2030", "2013-2021"),
        ("mssp_basic_e", "2016", "2019-2025"),
    ],
)
def test_templates_refuse_years_outside_their_rules(template: str, period: str, valid: str) -> None:
    entity = _entity(benchmark=D(100_000_000), expenditure=D(95_000_000), population=20_000, **QUALITY)
    with pytest.raises(ConfigurationError, match=f"period '{period}'.*terms cover {valid}"):
        settle(load_template(template), period, [entity])


@pytest.mark.parametrize("suffix", sorted(TEMPLATE_TRACKS))
def test_every_template_lists_verified_parameters_and_inputs(suffix: str) -> None:
    contract = load_template(f"mssp_{suffix}")
    assert any(source.startswith("verified against 42 CFR Part 425") for source in contract.sources)
    assert any(source.startswith("verified against CMS's published results") for source in contract.sources)
    text = template_text(f"mssp_{suffix}")
    for name in ("benchmark", "expenditure", "quality_standard_met"):
        assert f"#   {name}: {ENTITY_INPUTS[name]}" in text


# ---- PY2024+ low-revenue exception below the MSR (42 CFR 425.605(h)) ---------------------------------------


def test_below_msr_sharing_needs_eligibility_when_it_decides_the_amount() -> None:
    # BASIC E PY2024, N 10,000 (MSR 3.0 %), 2 % savings: an eligible low-revenue ACO earns
    # 2,000,000 x (50 % x 1/2) x 0.98 = 490,000; an ineligible one 0.
    terms = mssp_terms("basic_e", 2024, msr_election="variable")
    entity = SharedSavingsInputs(
        benchmark=D(100_000_000),
        expenditure=D(98_000_000),
        assigned_population=10_000,
        quality_score=D("0.9"),
        quality_standard_met=True,
    )
    # The template states eligible: false (listed under unverified); without an entity input that explicit
    # contract value decides, and the statement shows it as an assumption.
    assert terms.below_msr_sharing is not None and terms.below_msr_sharing.eligible is False
    by_contract = compute_shared_savings(terms, entity)
    assert by_contract.net == 0
    assert any(
        line.label == "Assumption: eligibility for sharing below the MSR" for line in by_contract.trace
    )
    eligible = compute_shared_savings(terms, entity.model_copy(update={"below_msr_sharing_eligible": True}))
    assert eligible.final_sharing_rate == D("0.25") and eligible.earned_savings == D("490000.00")
    # Terms that state nothing: the entity input is required.
    silent = terms.model_copy(
        update={"below_msr_sharing": terms.below_msr_sharing.model_copy(update={"eligible": None})}
    )
    with pytest.raises(ValueError, match="below_msr_sharing_eligible is missing"):
        compute_shared_savings(silent, entity)
    assert (
        compute_shared_savings(silent, entity.model_copy(update={"below_msr_sharing_eligible": False})).net
        == 0
    )
    # Below 5,000 beneficiaries the exception does not apply, and eligibility is not asked for.
    small = entity.model_copy(update={"assigned_population": 4_999, "expenditure": D(99_000_000)})
    assert compute_shared_savings(silent, small).net == 0


# ---- ACPT guardrail on losses (42 CFR 425.652(b)(5)) ---------------------------------------------------------


def test_loss_benchmark_guardrail() -> None:
    # ENHANCED PY2024, 2 % elected MLR, QPS met at 1.0: loss rate 1 - 0.75 = 25 %, raised to the 40 % floor.
    # Benchmark 100M, spending 104M: 4 % loss -> 0.40 x 4,000,000 = 1,600,000 against the updated benchmark.
    terms = mssp_terms("enhanced", 2024, msr_election=D("0.02"))
    entity = SharedSavingsInputs(
        benchmark=D(100_000_000),
        expenditure=D(104_000_000),
        assigned_population=20_000,
        quality_score=D(1),
        quality_standard_met=True,
    )
    # The template states applies: false (listed under unverified): updated benchmark, shown as an assumption.
    stated = compute_shared_savings(terms, entity)
    assert stated.owed_losses == D("1600000.00")
    assert any(line.label == "Assumption: loss benchmark guardrail" for line in stated.trace)
    applies = entity.model_copy(update={"guardrail_applies": True})
    with pytest.raises(ValueError, match="recalculated_benchmark is missing"):
        compute_shared_savings(terms, applies)
    # Recalculated benchmark 101M: 3M above it (< 4M): losses against it, 2.97 % >= 2 % MLR: 0.40 x 3,000,000.
    recalc = compute_shared_savings(
        terms, applies.model_copy(update={"recalculated_benchmark": D(101_000_000)})
    )
    assert recalc.total_benchmark == D(101_000_000) and recalc.owed_losses == D("1200000.00")
    # Recalculated 105M: spending below it -> no losses and no savings.
    below = compute_shared_savings(
        terms, applies.model_copy(update={"recalculated_benchmark": D(105_000_000)})
    )
    assert below.outcome == "neither" and below.net == 0
    # Terms that state nothing: the entity's flag is required when there are losses.
    silent = terms.model_copy(
        update={
            "loss_benchmark_guardrail": terms.loss_benchmark_guardrail.model_copy(update={"applies": None})  # type: ignore[union-attr]
        }
    )
    with pytest.raises(ValueError, match="guardrail_applies is missing"):
        compute_shared_savings(silent, entity)
