"""Simulating a drafted contract on the user's population (canonical tables, e.g. from ``apmkit synth``).

The population's members, member months and expenditure are measured with the settlement claims path
(:mod:`apmkit.settlement.claims`, ibis over whole tables); the contract is then settled by the settlement engine
at the measured expenditure and over expenditure scenarios around the benchmark
(:func:`apmkit.design.readiness.simulated_downside`). Without a benchmark in the answers, the population's own
measured spending is the benchmark: the simulation then shows the contract's spread of outcomes when the
entity spends as it did, not a forecast of savings.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir

from apmkit.contracts import Contract
from apmkit.design.readiness import simulated_downside
from apmkit.design.worksheet import SimulationAnswer
from apmkit.errors import ConfigurationError
from apmkit.money import round_money, to_decimal
from apmkit.settlement import claims as claims_path
from apmkit.settlement.engine import settle
from apmkit.settlement.inputs import EntityInputs


def scale_measures(tables: Mapping[str, ir.Table]) -> ir.Table:
    """Members with enrollment, providers and primary-care providers in the data (one row)."""
    enrollment = tables["enrollment"]
    providers = tables["providers"]
    members = enrollment.aggregate(members=enrollment.member_id.nunique().cast("int64"))
    counted = providers.aggregate(
        providers=providers.npi.nunique().cast("int64"),
        primary_care_providers=providers.npi.nunique(where=providers.is_primary_care.fill_null(False)).cast(
            "int64"
        ),
    )
    return members.cross_join(counted)


def population_measures(
    tables: Mapping[str, ir.Table], contract: Contract, period: str
) -> tuple[ir.Table, ir.Table]:
    """The claims-path measures of the whole population as one entity (no attribution file)."""
    spec = claims_path.ClaimsMeasureSpec.from_contract(contract, period)
    return claims_path.measure(tables, None, spec)


def simulate(
    contract: Contract,
    answers: SimulationAnswer,
    measured: list[dict[str, Any]],
    cells: list[dict[str, Any]],
) -> dict[str, Any]:
    """Settle the contract at the measured expenditure and over scenarios; a dict for the design document."""
    if not measured:
        return {"error": "no enrolled members in the period"}
    spec = claims_path.ClaimsMeasureSpec.from_contract(contract, answers.period)
    row = measured[0]
    member_months = int(row["member_months"] or 0)
    if member_months == 0:
        return {"error": "no member months in the period"}
    person_years = Decimal(member_months) / 12
    expenditure = Decimal(int(row["truncated_expenditure_cents"] or 0)) / 100
    if answers.benchmark_per_person_year is not None:
        benchmark = round_money(to_decimal(answers.benchmark_per_person_year) * person_years)
        source = f"{answers.benchmark_per_person_year} per person-year from the answers"
    else:
        benchmark = round_money(expenditure)
        source = "the population's own measured spending (break-even baseline)"
    if benchmark <= 0:
        return {"error": "the benchmark is zero (no spending measured and none given)"}
    given = {
        str(row["entity_id"]): EntityInputs(
            entity_id=str(row["entity_id"]),
            benchmark=benchmark,
            quality_score=to_decimal(answers.quality_score),
            quality_standard_met=True,
            reported=True,
            participant_revenue=None
            if answers.participant_revenue is None
            else round_money(to_decimal(answers.participant_revenue)),
        )
    }
    entities = claims_path.entity_inputs(measured, cells, spec, contract, given, source="population")
    try:
        at_actual = settle(contract, answers.period, entities)
        if not at_actual.statements:
            raise ConfigurationError(at_actual.rejected[0]["reason"] if at_actual.rejected else "not settled")
        spread = simulated_downside(
            contract,
            answers.period,
            entities[0],
            scenarios=answers.scenarios,
            sd=to_decimal(answers.expenditure_sd),
            seed=answers.seed,
        )
    except ConfigurationError as exc:
        return {"error": str(exc).splitlines()[0]}
    return {
        "period": answers.period,
        "population": int(row["population"]),
        "member_months": member_months,
        "person_years": str(round_money(person_years)),
        "benchmark": str(benchmark),
        "benchmark_source": source,
        "expenditure": str(round_money(entities[0].expenditure or 0)),
        "net_settlement": str(at_actual.total_net),
        "scenarios": spread.scenarios,
        "expected_net": str(spread.expected_net),
        "p95_loss": str(spread.p95_loss),
    }


__all__ = ["population_measures", "scale_measures", "simulate"]
