"""Runs from the dashboard: background jobs over :class:`apmkit.workspace.Workspace` and scoped reads of marts.

The pages and the API call only this module for runs; it calls the application layer
(:meth:`Workspace.run`, the same call as ``apmkit run``) and reads the marts a run wrote (Parquet, columns as
:data:`apmkit.workspace.MART_TABLES` describes). Every read takes the signed-in user's
:class:`~apmkit.web.auth.Scope` and filters on the server, in the query itself:

- entity-level marts (``summary``, ``lines``, ``benchmark_lines``, ``benchmark_entities``): rows of the
  entities the scope reaches - its entity ids, its TINs (an entity attributed at TIN level is the TIN), and the
  entities of members attributed through one of its TINs;
- member-level marts (``attribution``, ``member_detail``): rows of those entities, plus members attributed
  through one of the scope's TINs or NPIs.

A provider with an NPI only sees its attributed members, not the entity's statement.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from apmkit.contracts import Contract, load_template, parse_contract, template_names
from apmkit.errors import ApmkitError, ConfigurationError
from apmkit.web.auth import Scope
from apmkit.web.state import AppState, Job

log = logging.getLogger("apmkit.web")

MAX_CONTRACT_CHARS = 64 * 1024
MAX_PAGE_SIZE = 500
RUN_STAGES = 7
"""Progress messages a run reports (eligibility and spending ... writing the marts), for the progress bar."""

STATEMENT_MARTS = ("summary", "lines", "benchmark_lines", "benchmark_entities")
MEMBER_MARTS = ("attribution", "member_detail")


class NotFound(LookupError):
    """No such run, or nothing of it the user may see."""


@dataclass(frozen=True)
class Page:
    """One page of rows and how many rows match in all."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "pages": max(1, -(-self.total // self.size)),
        }


def contract_from_request(template: str | None, text: str | None) -> Contract:
    """The contract a run request names: a template of the toolkit or contract YAML (strict, bounded)."""
    if bool(template) == bool(text):
        raise ConfigurationError("contract: give either a template name or the contract YAML, not both")
    if template:
        if template not in template_names():
            raise ConfigurationError("template: not a template of the toolkit (GET /api/v1/templates)")
        return load_template(template)
    assert text is not None
    if len(text) > MAX_CONTRACT_CHARS:
        raise ConfigurationError(f"contract: larger than {MAX_CONTRACT_CHARS:,} characters")
    return parse_contract(text, source="contract")


def check_period(contract: Contract, period: str) -> None:
    """Refuse a period the contract does not have (the same rule as ``apmkit run``)."""
    try:
        contract.period(period)
    except KeyError:
        raise ConfigurationError(
            f"period: neither a period of contract {contract.id} "
            f"({', '.join(contract.periods) or 'none named'}) nor a calendar year (1900-2199)"
        ) from None


class RunJobs:
    """Starts runs in the background, one at a time, and reads what they wrote.

    Parameters
    ----------
    state
        The app state (the jobs table is the history).
    data_dir
        The canonical tables runs read; None = runs cannot be started.
    runs_dir
        Where each run writes its marts (``<runs_dir>/<job id>/``).
    engine_name
        ``duckdb`` or ``pyspark``.
    """

    def __init__(self, state: AppState, data_dir: Path | None, runs_dir: Path, engine_name: str = "duckdb"):
        self.state = state
        self.data_dir = data_dir
        self.runs_dir = runs_dir
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.engine_name = engine_name
        # One run at a time: each takes the machine's cores for a while; a queue is fairer than thrashing.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apmkit-run")
        self._cache: dict[tuple[str, str], pa.Table] = {}
        self._cache_lock = threading.Lock()
        state.fail_unfinished_jobs()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def start(self, user: str, contract: Contract, period: str) -> Job:
        """Queue a run of ``contract`` for ``period``; returns the job (status ``queued``)."""
        if self.data_dir is None:
            raise ConfigurationError("runs need canonical tables: start the server with --data")
        check_period(contract, period)
        job = self.state.create_job("run", user, contract.id, period)
        self._pool.submit(self._run, job.id, contract, period)
        log.info("run %s queued by %s", job.id, user)
        return job

    def _run(self, job_id: str, contract: Contract, period: str) -> None:
        from apmkit.engines import Engine
        from apmkit.workspace import Workspace

        assert self.data_dir is not None
        self.state.update_job(job_id, status="running", stage="starting", started_at=datetime.now(UTC))
        try:
            with Engine.connect(self.engine_name) as engine:
                result = Workspace(self.data_dir, engine=engine).run(
                    contract,
                    period,
                    out=self.runs_dir / job_id,
                    formats=("json", "html", "xlsx"),
                    progress=lambda stage: self.state.job_step(job_id, stage),
                )
        except ApmkitError as exc:
            # apmkit errors name files and fields, never data values: safe to show.
            self.state.update_job(job_id, status="failed", error=str(exc), finished_at=datetime.now(UTC))
            log.info("run %s failed", job_id)
        except Exception:
            log.exception("run %s failed with an internal error", job_id)
            self.state.update_job(
                job_id,
                status="failed",
                error="internal error (see the server log)",
                finished_at=datetime.now(UTC),
            )
        else:
            counts = {k: int(v) for k, v in result.counts.items()}
            self.state.update_job(
                job_id, status="done", stage="done", counts=counts, finished_at=datetime.now(UTC)
            )
            log.info("run %s done", job_id)

    def start_design(self, user: str, answers: Any, runner: Any) -> Job:
        """Queue a design (draft, classify, simulate on the population, save) as a background job."""
        job = self.state.create_job("design", user, answers.id, answers.simulation.period)
        self._pool.submit(self._design, job.id, answers, runner, user)
        log.info("design job %s queued by %s", job.id, user)
        return job

    def _design(self, job_id: str, answers: Any, runner: Any, user: str) -> None:
        self.state.update_job(job_id, status="running", stage="simulating", started_at=datetime.now(UTC))
        try:
            saved, _ = runner.run(answers, user)
        except ApmkitError as exc:
            self.state.update_job(job_id, status="failed", error=str(exc), finished_at=datetime.now(UTC))
        except Exception:
            log.exception("design job %s failed with an internal error", job_id)
            self.state.update_job(
                job_id,
                status="failed",
                error="internal error (see the server log)",
                finished_at=datetime.now(UTC),
            )
        else:
            self.state.update_job(
                job_id,
                status="done",
                stage="done",
                steps_done=1,
                result={"design_id": saved.id, "url": f"/ui/designs/{saved.id}"},
                finished_at=datetime.now(UTC),
            )

    # ---- reading marts ----------------------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        """A job of any kind (NotFound when there is none by that id)."""
        job = self.state.get_job(job_id)
        if job is None:
            raise NotFound("no such job")
        return job

    def run(self, run_id: str) -> Job:
        """A run job (NotFound for another kind of job)."""
        job = self.job(run_id)
        if job.kind != "run":
            raise NotFound("no such run")
        return job

    def run_dir(self, run_id: str) -> Path:
        """The folder of a finished run (NotFound while it is queued, running or failed)."""
        return self._finished(run_id)

    def _finished(self, run_id: str) -> Path:
        job = self.job(run_id)
        folder = self.runs_dir / job.id
        if job.kind != "run" or job.status != "done" or not (folder / "summary.parquet").is_file():
            raise NotFound("the run has not finished")
        return folder

    def _table(self, run_id: str, mart: str) -> pa.Table:
        # A finished run's marts never change: each is read once and kept (member marts too - the scope and
        # the filters are then Arrow compute over the cached table, and a page is a slice of it).
        key = (run_id, mart)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        table = pq.read_table(self._finished(run_id) / f"{mart}.parquet")
        with self._cache_lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = table
        return table

    def visible_entities(self, run_id: str, scope: Scope | None) -> set[str] | None:
        """The entities ``scope`` reaches in this run (None = every entity)."""
        if scope is None:
            return None
        entities = set(scope.entity_ids) | set(scope.tins)
        if scope.tins:
            attribution = self._table(run_id, "attribution")
            through = attribution.filter(
                pc.and_(
                    _is_in(attribution["tin"], scope.tins), pc.fill_null(attribution["attributed"], False)
                )
            )
            entities |= {e for e in through.column("entity_id").to_pylist() if e}
        return entities

    def summary(self, run_id: str, scope: Scope | None) -> list[dict[str, Any]]:
        table = _only_entities(
            self._table(run_id, "summary"), "entity_id", self.visible_entities(run_id, scope)
        )
        return _rows(table.sort_by("entity_id"))

    def statement(self, run_id: str, entity: str, scope: Scope | None) -> dict[str, Any]:
        """Every traced line of one entity's statement, with its summary row."""
        allowed = self.visible_entities(run_id, scope)
        if allowed is not None and entity not in allowed:
            raise NotFound("no such entity in this run")
        summary = _only_entities(self._table(run_id, "summary"), "entity_id", {entity})
        if summary.num_rows == 0:
            raise NotFound("no such entity in this run")
        lines = _only_entities(self._table(run_id, "lines"), "entity_id", {entity}).sort_by("sequence")
        return {"entity_id": entity, "summary": _rows(summary)[0], "lines": _rows(lines)}

    def benchmark(self, run_id: str, entity: str, scope: Scope | None) -> dict[str, Any]:
        """The benchmark's build-up for one entity (benchmark_lines) and its key factors."""
        allowed = self.visible_entities(run_id, scope)
        if allowed is not None and entity not in allowed:
            raise NotFound("no such entity in this run")
        folder = self._finished(run_id)
        lines: list[dict[str, Any]] = []
        factors: dict[str, Any] | None = None
        if (folder / "benchmark_lines.parquet").is_file():
            table = _only_entities(self._table(run_id, "benchmark_lines"), "entity", {entity})
            lines = _rows(table.sort_by("line"))
        if (folder / "benchmark_entities.parquet").is_file():
            found = _rows(_only_entities(self._table(run_id, "benchmark_entities"), "entity_id", {entity}))
            factors = found[0] if found else None
        return {"entity_id": entity, "lines": lines, "factors": factors}

    def members(
        self,
        run_id: str,
        scope: Scope | None,
        *,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        size: int | None = 50,
    ) -> Page:
        """Member rows behind the figures (member_detail), scoped, filtered and paged (``size`` None: every
        row, for the export)."""
        table = self._sorted(run_id, "member_detail", ["entity_id", "member_id"])
        if scope is not None:
            entities = self.visible_entities(run_id, scope) or set()
            reached = _is_in(table["entity_id"], entities)
            if scope.tins or scope.npis:
                reached = pc.or_(reached, _is_in(table["member_id"], self._members_through(run_id, scope)))
            table = table.filter(reached)
        if entity:
            table = table.filter(pc.equal(table["entity_id"], entity))
        if member:
            table = table.filter(pc.equal(table["member_id"], member))
        return _page(table, page, size)

    def attribution(
        self,
        run_id: str,
        scope: Scope | None,
        *,
        entity: str | None = None,
        member: str | None = None,
        attributed: bool | None = None,
        page: int = 1,
        size: int = 50,
    ) -> Page:
        """Attribution rows (one per member: attributed or not, entity, step, reason), scoped, filtered, paged."""
        table = self._sorted(run_id, "attribution", ["member_id"])
        if scope is not None:
            entities = self.visible_entities(run_id, scope) or set()
            reached = pc.or_(
                pc.or_(_is_in(table["entity_id"], entities), _is_in(table["tin"], scope.tins)),
                _is_in(table["npi"], scope.npis),
            )
            table = table.filter(pc.fill_null(reached, False))
        if entity:
            table = table.filter(pc.equal(table["entity_id"], entity))
        if member:
            table = table.filter(pc.equal(table["member_id"], member))
        if attributed is not None:
            table = table.filter(pc.equal(table["attributed"], attributed))
        return _page(table, page, size)

    def _members_through(self, run_id: str, scope: Scope) -> set[str]:
        """Members attributed through one of the scope's TINs or NPIs."""
        attribution = self._table(run_id, "attribution")
        through = pc.or_(_is_in(attribution["tin"], scope.tins), _is_in(attribution["npi"], scope.npis))
        linked = attribution.filter(
            pc.and_(pc.fill_null(through, False), pc.fill_null(attribution["attributed"], False))
        )
        return set(linked.column("member_id").to_pylist())

    def _sorted(self, run_id: str, mart: str, keys: list[str]) -> pa.Table:
        key = (run_id, f"{mart} sorted")
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._table(run_id, mart).sort_by([(k, "ascending") for k in keys])
            with self._cache_lock:
                self._cache[key] = cached
        return cached

    def file(self, run_id: str, name: str) -> Path:
        """A statement file of a finished run (statement.json/html/xlsx) - only for unscoped users."""
        if name not in ("statement.json", "statement.html", "statement.xlsx"):
            raise NotFound("no such file")
        path = self._finished(run_id) / name
        if not path.is_file():
            raise NotFound("no such file")
        return path


def _is_in(column: Any, values: Any) -> Any:
    return pc.is_in(column, value_set=pa.array(sorted(values), type=pa.string()))


def _only_entities(table: pa.Table, column: str, entities: set[str] | None) -> pa.Table:
    if entities is None:
        return table
    return table.filter(pc.is_in(table[column], value_set=pa.array(sorted(entities), type=pa.string())))


def _page(table: pa.Table, page: int, size: int | None) -> Page:
    if size is None:
        return Page(rows=_rows(table), total=table.num_rows, page=1, size=max(1, table.num_rows))
    size = max(1, min(size, MAX_PAGE_SIZE))
    page = max(1, page)
    return Page(rows=_rows(table.slice((page - 1) * size, size)), total=table.num_rows, page=page, size=size)


def _json_value(value: Any) -> Any:
    # Decimals as exact text (money is never a float); dates as ISO text.
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """JSON-ready rows of an Arrow table (decimals as exact text, dates as ISO text)."""
    return _rows(table)


def rows_to_csv(rows: list[dict[str, Any]]) -> bytes:
    """CSV of JSON-ready rows (the exports of the pages)."""
    if not rows:
        return b""
    buffer = io.BytesIO()
    table = pa.Table.from_pylist([{k: None if v is None else str(v) for k, v in r.items()} for r in rows])
    pacsv.write_csv(table, buffer)
    return buffer.getvalue()


ProgressCallback = Callable[[str], None]

__all__ = [
    "MAX_PAGE_SIZE",
    "RUN_STAGES",
    "NotFound",
    "Page",
    "RunJobs",
    "check_period",
    "contract_from_request",
    "rows_to_csv",
    "table_rows",
]
