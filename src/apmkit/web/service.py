"""What the pages and the API ask of the library: run a design on the server's population and save it.

This is the web layer's only bridge to the domain: :func:`apmkit.design.worksheet.draft_contract`, then
:func:`apmkit.design.pipeline.measure_population` on the ``--data`` tables, then
:func:`apmkit.design.pipeline.assemble_design` (classification, Advanced APM test, capability, document) -
the same path as ``apmkit design``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from apmkit.classify import classify_lan
from apmkit.contracts import Contract, load_template
from apmkit.design.pipeline import DesignOutcome, PopulationFigures, assemble_design, measure_population
from apmkit.design.worksheet import (
    STARTING_NOTES,
    STARTING_POINTS,
    DesignAnswers,
    draft_contract,
    parse_answers,
)
from apmkit.engines import Engine
from apmkit.web.store import DesignStore, SavedDesign

log = logging.getLogger("apmkit.web")

STARTING_POINT_LABELS: dict[str, str] = {
    "ocm": "Oncology Care Model (OCM)",
    "cpc_plus": "Comprehensive Primary Care Plus (CPC+)",
    "cjr": "Comprehensive Care for Joint Replacement (CJR)",
    "bpci": "BPCI Advanced",
    "pioneer": "Pioneer ACO",
    "cec": "Comprehensive ESRD Care (CEC)",
}
"""The toolkit's example models offered as starting points (keys of ``STARTING_POINTS``)."""


class DesignRunner:
    """Runs designs on one population and saves them.

    Parameters
    ----------
    data_dir
        Canonical tables of the population (``apmkit synth`` / ``apmkit ingest`` output); None = no simulation.
    store
        Where finished designs are saved.
    engine_name
        ``duckdb`` (default) or ``pyspark``.
    performance_year
        QP performance period of the Advanced APM test.
    """

    def __init__(
        self,
        data_dir: Path | None,
        store: DesignStore,
        engine_name: str = "duckdb",
        performance_year: int = 2025,
    ):
        self.data_dir = data_dir
        self.store = store
        self.engine_name = engine_name
        self.performance_year = performance_year
        # One simulation at a time: a run takes both cores of a small server for a moment, and a queue is
        # fairer than several runs thrashing each other.
        self._simulation_lock = threading.Lock()

    def run(self, answers: DesignAnswers, user: str) -> tuple[SavedDesign, DesignOutcome]:
        """Draft, classify, simulate on the population and save; raises ApmkitError on bad answers."""
        contract = draft_contract(answers)
        population = self._measure(answers, contract) if self.data_dir is not None else None
        outcome = assemble_design(answers, contract, self.performance_year, population)
        saved = self.store.save(answers, outcome, user)
        # Names and ids only: answers and figures stay out of the log.
        log.info("design %s saved by %s (HCP-LAN %s)", saved.id, user, saved.lan_category)
        return saved, outcome

    def _measure(self, answers: DesignAnswers, contract: Contract) -> PopulationFigures:
        assert self.data_dir is not None
        with self._simulation_lock, Engine.connect(self.engine_name) as engine:
            return measure_population(
                engine.canonical(self.data_dir),
                contract,
                answers.simulation,
                rows=lambda table: engine.to_arrow(table).to_pylist(),
            )


def starting_point_summary(key: str) -> dict[str, Any] | None:
    """What a starting point brings: its template's name, components and the HCP-LAN category of its draft."""
    if key not in STARTING_POINTS:
        return None
    template = load_template(STARTING_POINTS[key])
    draft = draft_contract(parse_answers({"name": template.name, "starting_point": key}))
    lan = classify_lan(draft)
    return {
        "key": key,
        "label": STARTING_POINT_LABELS[key],
        "template": STARTING_POINTS[key],
        "template_name": template.name,
        "periods": [str(p) for p in template.periods],
        "components": [{"id": c.id, "type": c.type} for c in template.components],
        "lan_category": lan.category,
        "lan_name": lan.name,
        "note": STARTING_NOTES.get(key, ""),
    }


__all__ = ["STARTING_POINT_LABELS", "DesignRunner", "starting_point_summary"]
