"""What every simulation job shares: the request, the open workspace with its progress callback, the run prepared
once, and the staged writer of Parquet tables, Vega-Lite charts and ``simulation.json``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from apmkit.contracts import Contract
from apmkit.engines import Engine, check_output, staged_output
from apmkit.errors import ConfigurationError
from apmkit.simulation.contract import Simulator
from apmkit.simulation.model import Assumptions
from apmkit.workspace.run import Overrides, RunResult, Workspace

if TYPE_CHECKING:
    from apmkit.workspace.simulate.preparation import Prepared

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the CLI's progress bar."""

MONEY = pa.decimal128(18, 2)

NET_DISTRIBUTION_COLUMNS: dict[str, pa.DataType] = {
    "expected_net": MONEY,
    "p05_net": MONEY,
    "p95_net": MONEY,
    "cvar95": MONEY,
    "prob_negative": pa.float64(),
}
"""The distribution of the net under one alternative (:func:`apmkit.simulation.analysis.distribution`)."""

Tables = dict[str, tuple[Sequence[dict[str, Any]] | dict[str, list[Any]], dict[str, pa.DataType]]]
"""Table name -> (rows or columns, column types): one ``NAME.parquet`` each."""


@dataclass(frozen=True)
class SimulationRequest:
    """What a simulation job runs: the data, the contract and period, the scenarios, seed and assumptions, and the
    run's own inputs (``--inputs``, overrides such as ``--quality-rates``). The assumptions are checked here."""

    data: str | Path
    contract: Contract | str | Path | None
    """``None`` only for ``compare``, which takes its contracts separately."""
    period: str
    scenarios: int
    seed: int
    assumptions: Assumptions = field(default_factory=Assumptions)
    inputs: Path | None = None
    overrides: Overrides | None = None

    def __post_init__(self) -> None:
        self.assumptions.check()

    def with_contract(self, contract: Contract | str | Path) -> SimulationRequest:
        return replace(self, contract=contract)


@dataclass
class JobResult:
    """Rows of a job (per table name), the files written and the notes."""

    tables: dict[str, list[dict[str, Any]]]
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve(document: Contract, period: str) -> Contract:
    """The contract with its glide path applied for ``period`` (an unknown period is an error naming it)."""
    try:
        resolved, _ = document.for_period(period)
    except KeyError:
        raise ConfigurationError(
            f"period {period!r} is neither a period of contract {document.id} "
            f"({', '.join(document.periods) or 'none named'}) nor a calendar year (1900-2199)"
        ) from None
    return resolved


@contextmanager
def run_once(
    workspace: Workspace,
    request: SimulationRequest,
    document: Contract,
    *,
    prefix: str,
    progress: Callable[[str], None] | None,
) -> Iterator[tuple[RunResult, Path]]:
    """The contract run once on the request's period and inputs into a temporary folder (no statements):
    the run's result and its folder of marts, removed on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        folder = Path(work) / "run"
        result = workspace.run(
            document,
            request.period,
            out=folder,
            inputs=request.inputs,
            formats=(),
            progress=progress,
            overrides=request.overrides,
        )
        yield result, folder


def arrow_table(
    rows: Sequence[dict[str, Any]] | dict[str, list[Any]], schema: dict[str, pa.DataType]
) -> pa.Table:
    """Rows (or columns) as an Arrow table with the given column types."""
    columns = rows if isinstance(rows, dict) else {name: [row.get(name) for row in rows] for name in schema}
    return pa.table({name: pa.array(columns[name], type=kind) for name, kind in schema.items()})


def write_tables(
    engine: Engine, out: Path, tables: Tables, specs: dict[str, dict[str, Any]], record: dict[str, Any]
) -> dict[str, Path]:
    """Parquet tables, Vega-Lite specs (``charts/NAME.vl.json``) and ``simulation.json``, staged into ``out``
    (replaced whole on success)."""
    files: dict[str, Path] = {}
    with staged_output(out) as staging:
        for name, (rows, schema) in tables.items():
            files[name] = engine.write_parquet(
                engine.from_arrow(arrow_table(rows, schema)), staging / f"{name}.parquet"
            )
        if specs:
            (staging / "charts").mkdir()
        for name, spec in specs.items():
            path = staging / "charts" / f"{name}.vl.json"
            path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
            files[f"charts/{name}"] = path
        path = staging / "simulation.json"
        path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        files["simulation.json"] = path
        written = {name: out / p.relative_to(staging) for name, p in files.items()}
    return written


def assumption_values(assumptions: Assumptions) -> dict[str, Any]:
    """The assumptions as ``simulation.json`` records them (Decimal amounts as text)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in assumptions.__dict__.items()}


@dataclass
class Job:
    """One job on an open workspace: its request, output folder and progress callback."""

    request: SimulationRequest
    workspace: Workspace
    out: Path | None
    tell: Progress

    def prepare(self, contract: Contract | str | Path | None = None, *, total: int = 0) -> Prepared:
        """The contract (the request's by default) run once, as :func:`~.preparation.prepare` builds it."""
        from apmkit.workspace.simulate.preparation import prepare

        request = self.request if contract is None else self.request.with_contract(contract)
        return prepare(self.workspace, request, progress=lambda stage: self.tell(f"run: {stage}", 0, total))

    def simulator(self, prepared: Prepared) -> Simulator:
        """A :class:`~apmkit.simulation.contract.Simulator` of the prepared entities (seeded by the request)."""
        scenarios = self.request.scenarios
        total = scenarios * len(prepared.setups)
        done = [0]

        def advance(count: int) -> None:
            done[0] += count
            self.tell("drawing scenarios", min(done[0], total), total)

        return Simulator(prepared.setups, scenarios=scenarios, seed=self.request.seed, progress=advance)

    def write(
        self, tables: Tables, specs: dict[str, dict[str, Any]], record: dict[str, Any]
    ) -> dict[str, Path]:
        """The job's files staged into OUT (nothing without OUT)."""
        if self.out is None:
            return {}
        return write_tables(self.workspace.engine, self.out, tables, specs, record)

    def result(
        self, tables: dict[str, list[dict[str, Any]]], files: dict[str, Path], notes: list[str]
    ) -> JobResult:
        return JobResult(tables, self.out, files, notes)


def _silent(_stage: str, _done: int, _total: int) -> None:
    return None


@contextmanager
def open_job(
    request: SimulationRequest, out: str | Path | None, engine: Engine | None, progress: Progress | None
) -> Iterator[Job]:
    """OUT checked, the request's data opened as a :class:`Workspace` on ``engine``."""
    if out is not None:
        check_output(Path(out))
    with Workspace(request.data, engine=engine) as workspace:
        yield Job(request, workspace, None if out is None else Path(out), progress or _silent)


__all__ = [
    "MONEY",
    "NET_DISTRIBUTION_COLUMNS",
    "Job",
    "JobResult",
    "Progress",
    "SimulationRequest",
    "arrow_table",
    "assumption_values",
    "open_job",
    "resolve",
    "run_once",
    "write_tables",
]
