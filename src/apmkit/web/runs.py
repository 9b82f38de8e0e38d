"""Runs from the dashboard: background jobs over :class:`apmkit.workspace.Workspace`, and what they wrote.

The pages and the API call only this module for runs. It starts runs with :meth:`Workspace.run` (the same call
as ``apmkit run``), sizing each job's progress bar by :func:`apmkit.workspace.run_marts.run_stages`, and reads
what a finished run wrote through :class:`apmkit.workspace.run_marts.RunMarts` - the application layer's scoped
reads, given the signed-in user's grant (:meth:`apmkit.web.auth.Scope.grant`), so every query filters on the
server by the one scope rule of the reports.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from apmkit.contracts import Contract, load_template, parse_contract, template_names
from apmkit.errors import ApmkitError, ConfigurationError
from apmkit.web.auth import Scope
from apmkit.web.state import AppState, Job
from apmkit.workspace.run_marts import NotFound, Page, RunMarts, json_rows, run_stages

log = logging.getLogger("apmkit.web")

MAX_CONTRACT_CHARS = 64 * 1024


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
        self.marts = RunMarts()
        state.fail_unfinished_jobs()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def start(self, user: str, contract: Contract, period: str) -> Job:
        """Queue a run of ``contract`` for ``period``; returns the job (status ``queued``)."""
        if self.data_dir is None:
            raise ConfigurationError("runs need canonical tables: start the server with --data")
        check_period(contract, period)
        job = self.state.create_job("run", user, contract.id, period, steps=len(run_stages(contract, period)))
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

    def summary(self, run_id: str, scope: Scope | None) -> list[dict[str, Any]]:
        """The summary rows of the entities the user's scope reaches."""
        return self.marts.summary(self._finished(run_id), _grant(scope))

    def statement(self, run_id: str, entity: str, scope: Scope | None) -> dict[str, Any]:
        """Every traced line of one entity's statement, with its summary row."""
        return self.marts.statement(self._finished(run_id), entity, _grant(scope))

    def benchmark(self, run_id: str, entity: str, scope: Scope | None) -> dict[str, Any]:
        """The benchmark's build-up for one entity (benchmark_lines) and its key factors."""
        return self.marts.benchmark(self._finished(run_id), entity, _grant(scope))

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
        folder = self._finished(run_id)
        return self.marts.members(folder, _grant(scope), entity=entity, member=member, page=page, size=size)

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
        folder = self._finished(run_id)
        return self.marts.attribution(
            folder, _grant(scope), entity=entity, member=member, attributed=attributed, page=page, size=size
        )

    def file(self, run_id: str, name: str) -> Path:
        """A statement file of a finished run (statement.json/html/xlsx) - only for unscoped users."""
        if name not in ("statement.json", "statement.html", "statement.xlsx"):
            raise NotFound("no such file")
        path = self._finished(run_id) / name
        if not path.is_file():
            raise NotFound("no such file")
        return path


def _grant(scope: Scope | None) -> Any:
    return None if scope is None else scope.grant()


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """JSON-ready rows of an Arrow table (decimals as exact text, dates as ISO text)."""
    return json_rows(table)


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
    "NotFound",
    "Page",
    "RunJobs",
    "check_period",
    "contract_from_request",
    "rows_to_csv",
    "table_rows",
]
