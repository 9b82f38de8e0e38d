"""The design run shared by ``apmkit design`` and the dashboard page: draft -> classify -> simulate -> document.

The CLI and the web layer differ only in where the answers come from and where the files go; both call
:func:`measure_population` (when a population is given) and :func:`assemble_design`. Neither function opens a
file or a connection: the caller passes the canonical tables and a ``rows`` callable that executes an ibis
table on its engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir

from apmkit.classify import AdvancedApmFacts, advanced_apm, classify_lan
from apmkit.contracts import Contract, contract_to_yaml
from apmkit.design.capability import assess
from apmkit.design.simulate import population_measures, scale_measures, simulate
from apmkit.design.worksheet import DesignAnswers, SimulationAnswer, design_markdown, markdown_to_html
from apmkit.money import to_decimal

RowsOf = Callable[[ir.Table], list[dict[str, Any]]]
"""Executes an ibis table on the caller's engine and returns its rows (e.g. ``engine.to_arrow(t).to_pylist()``)."""

DESIGN_FILES: tuple[str, ...] = ("contract.yaml", "design.md", "design.html", "design.json")
"""The files a design run produces, in the order ``apmkit design`` writes them."""


@dataclass(frozen=True)
class PopulationFigures:
    """Aggregate figures of the population: its scale and the simulation (never member-level rows).

    Attributes
    ----------
    scale
        ``members`` (distinct enrolled members), ``providers`` and ``primary_care_providers`` (distinct NPIs).
    simulation
        :func:`apmkit.design.simulate.simulate`'s figures, or ``{"error": reason}`` when it could not run.
    """

    scale: dict[str, Any]
    simulation: dict[str, Any]


@dataclass(frozen=True)
class DesignOutcome:
    """A finished design: the drafted contract, the summary and the text of each design file.

    Attributes
    ----------
    contract
        The contract drafted from the answers.
    summary
        Classification, Advanced APM test, capability, scale and simulation (``design.json`` is its JSON).
    files
        ``contract.yaml``, ``design.md``, ``design.html`` and ``design.json`` -> text.
    """

    contract: Contract
    summary: dict[str, Any]
    files: dict[str, str]


def measure_population(
    tables: Mapping[str, ir.Table],
    contract: Contract,
    settings: SimulationAnswer,
    rows: RowsOf,
    advance: Callable[[], None] | None = None,
) -> PopulationFigures:
    """Measure the population's scale and simulate ``contract`` on it.

    Parameters
    ----------
    tables
        Canonical tables of the population (``enrollment``, ``providers`` and the claims).
    contract
        The drafted contract.
    settings
        The worksheet's simulation settings (period, benchmark, scenarios, ...).
    rows
        Executes an ibis table and returns its rows as dicts.
    advance
        Called after each of the two steps (scale, simulation), e.g. to move a progress bar.
    """
    step = advance or (lambda: None)
    scale = rows(scale_measures(tables))[0]
    step()
    try:
        measures, cells = population_measures(tables, contract, settings.period)
        simulation = simulate(contract, settings, rows(measures), rows(cells))
    except KeyError as exc:
        simulation = {"error": f"period {exc} is not defined in the contract"}
    step()
    return PopulationFigures(scale=scale, simulation=simulation)


def assemble_design(
    answers: DesignAnswers,
    contract: Contract,
    performance_year: int,
    population: PopulationFigures | None,
) -> DesignOutcome:
    """Classify the drafted contract, assess capability and write the design document's files (as text).

    Parameters
    ----------
    answers
        The validated worksheet answers.
    contract
        ``draft_contract(answers)``.
    performance_year
        QP performance period for the Advanced APM test.
    population
        :func:`measure_population`'s figures, or ``None`` when no population was given.
    """
    lan = classify_lan(contract).to_dict()
    facts = AdvancedApmFacts(
        performance_year=performance_year,
        cehrt_share=None if answers.cehrt_share is None else to_decimal(answers.cehrt_share),
    )
    advanced = advanced_apm(contract, facts)
    capability = assess(answers.capability).to_dict() if answers.capability else None
    scale = population.scale if population else None
    simulation = population.simulation if population else None
    contract_yaml = contract_to_yaml(contract)
    markdown = design_markdown(answers, contract_yaml, lan, advanced, capability, simulation, scale)
    summary: dict[str, Any] = {
        "contract_id": contract.id,
        "starting_point": answers.starting_point,
        "lan": lan,
        "advanced_apm": advanced,
        "capability": capability,
        "scale_from_data": scale,
        "simulation": simulation,
    }
    files = {
        "contract.yaml": contract_yaml,
        "design.md": markdown,
        "design.html": markdown_to_html(markdown, f"APM design: {answers.name}"),
        "design.json": json.dumps(summary, indent=2, default=_plain),
    }
    return DesignOutcome(contract=contract, summary=summary, files=files)


def _plain(value: Any) -> Any:
    # Decimals as their exact text, so design.json never carries a binary-float approximation of money.
    return str(value) if isinstance(value, Decimal) else repr(value)


__all__ = [
    "DESIGN_FILES",
    "DesignOutcome",
    "PopulationFigures",
    "RowsOf",
    "assemble_design",
    "measure_population",
]
