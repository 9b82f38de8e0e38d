"""``apmkit simulate compare``: contracts compared on the same population and random numbers (application job)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine
from apmkit.errors import ConfigurationError
from apmkit.simulation import charts
from apmkit.simulation.contract import Simulator
from apmkit.workspace.run import read_contract
from apmkit.workspace.simulate.job import (
    MONEY,
    NET_DISTRIBUTION_COLUMNS,
    JobResult,
    Progress,
    SimulationRequest,
    open_job,
    resolve,
)

COMPARE_COLUMNS: dict[str, pa.DataType] = {
    "contract": pa.string(),
    "entity_id": pa.string(),
    **NET_DISTRIBUTION_COLUMNS,
    "on_frontier": pa.bool_(),
}
APPETITE_COLUMNS: dict[str, pa.DataType] = {
    "entity_id": pa.string(),
    "risk_weight": pa.float64(),
    "best_contract": pa.string(),
    "score": MONEY,
}

_NOT_POPULATION = {
    "id",
    "name",
    "version",
    "components",
    "glide_path",
    "unverified",
    "sources",
    "hcp_lan_category",
    "payer",
    "program",
    "line_of_business",
    "entity_type",
    "rounding",
}
"""Contract fields that do not change who is measured or how (two contracts equal elsewhere share one run)."""


def contract_at(given: str | Path, period: str) -> tuple[Contract, str]:
    """A contract file, or ``FILE@PERIOD``: the file's terms as its glide path sets them for PERIOD (a later or
    earlier step), settled on ``period``'s population. Returns the contract and its label."""
    text = str(given)
    path, at, step = text.rpartition("@")
    if not at or not path:
        document = read_contract(Path(text))
        return document, document.id
    document = read_contract(Path(path))
    stepped = resolve(document, step)
    current = resolve(document, period)
    # the glide path is applied: the step's components replace the period's, everything else is the period's
    changed = current.model_copy(update={"components": stepped.components, "glide_path": []})
    return changed, f"{document.id}@{step}"


def _population_key(contract: Contract) -> str:
    return json.dumps(contract.model_dump(mode="json", exclude=_NOT_POPULATION), sort_keys=True)


def _named(contracts: Sequence[str | Path], period: str) -> list[tuple[str, Contract]]:
    """Each contract with its label (the file name added when two labels are the same)."""
    named: list[tuple[str, Contract]] = []
    seen: set[str] = set()
    for given in contracts:
        document, label = contract_at(given, period)
        name = label if label not in seen else f"{label} ({Path(str(given)).name})"
        seen.add(name)
        named.append((name, document))
    return named


def run_compare(
    request: SimulationRequest,
    contracts: Sequence[str | Path],
    *,
    out: str | Path | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Contracts compared on the same population and the same random numbers: distribution of the net per
    contract and entity, the expected-value / CVaR frontier, the best contract at each risk weight.

    Contracts whose population sections (definitions, attribution, risk adjustment, benchmark, quality, target)
    are equal share one run and one simulator; a contract that measures differently gets its own run, with the
    same seed. The request's own contract is not used.
    """
    from apmkit.simulation.analysis import ALL, compare, frontier

    if len(contracts) < 2:
        raise ConfigurationError("simulate compare: give at least two contract files")
    period = request.period
    named = _named(contracts, period)
    with open_job(request, out, engine, progress) as job:
        groups: dict[str, list[tuple[str, Contract]]] = {}
        for name, document in named:
            groups.setdefault(_population_key(resolve(document, period)), []).append((name, document))
        notes: list[str] = []
        if len(groups) > 1:
            notes.append(
                f"the contracts measure the population differently ({len(groups)} runs): their rows compare terms and "
                "measurement together"
            )
        simulators: list[tuple[Simulator, list[tuple[str, Contract]]]] = []
        for members in groups.values():
            prepared = job.prepare(members[0][1])
            notes.extend(prepared.notes)
            simulators.append(
                (job.simulator(prepared), [(name, resolve(doc, period)) for name, doc in members])
            )
        rows: list[dict[str, Any]] = []
        for simulator, alternatives in simulators:
            rows.extend(compare(simulator, alternatives, request.assumptions))
        appetite_rows = frontier(rows)  # over every contract together
        shown = [r for r in rows if r["entity_id"] == ALL] or rows
        files = job.write(
            {"compare": (rows, COMPARE_COLUMNS), "appetite": (appetite_rows, APPETITE_COLUMNS)},
            {"frontier": charts.frontier_chart(shown, f"Contracts compared, period {period}")},
            {
                "contracts": [n for n, _ in named],
                "period": period,
                "scenarios": request.scenarios,
                "seed": request.seed,
                "assumptions": {k: str(v) for k, v in request.assumptions.__dict__.items()},
                "notes": notes,
            },
        )
    return job.result({"compare": rows, "appetite": appetite_rows}, files, notes)


__all__ = ["APPETITE_COLUMNS", "COMPARE_COLUMNS", "contract_at", "run_compare"]
