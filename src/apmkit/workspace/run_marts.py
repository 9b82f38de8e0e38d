"""Scoped reads of a finished run's marts, and the stages a run goes through - what the dashboard's pages and API
(and any other shell) call to show a run.

A run's folder (``apmkit run --out``) never changes once written, so each mart is read once and kept, and so is
each provider's share of it. Every read takes a :class:`apmkit.reports.framework.Scope` (None = every row) and
applies the one rule of :meth:`Scope.reaches <apmkit.reports.framework.Scope.reaches>` - a row is the provider's
when ANY identifier of the row is granted - in the query itself, before a row is returned:

- member-level marts: an ``attribution`` row by its own ``entity_id``, ``tin`` and ``npi``; a ``member_detail``
  row by its ``entity_id`` and the TIN and NPI through which its member is attributed;
- entity-level marts (``summary``, ``lines``, ``benchmark_lines``, ``benchmark_entities``): a row by its entity,
  which a scope reaches when it grants the entity id, or the entity *is* one of its TINs or NPIs (attribution at
  TIN or NPI level names the entity by it). A TIN taking part in a larger entity does not see that entity's
  statement or its other TINs' members: grant the entity id for that.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apmkit.contracts import Contract
from apmkit.engines import Engine
from apmkit.reports.framework import Scope
from apmkit.workspace.episodes import settles_episodes

MAX_PAGE_SIZE = 500
"""Rows of one page (``size``); the exports (``size`` None) hold every row."""

ENTITY_MARTS = {
    "summary": "entity_id",
    "lines": "entity_id",
    "benchmark_lines": "entity",
    "benchmark_entities": "entity_id",
}
"""Entity-level marts and the column naming their entity."""
SORT_KEYS = {
    "summary": ("entity_id",),
    "lines": ("entity_id", "sequence"),
    "benchmark_lines": ("entity", "line"),
    "benchmark_entities": ("entity_id",),
    "member_detail": ("entity_id", "member_id"),
    "attribution": ("member_id",),
}


class NotFound(LookupError):
    """No such run, entity or file - or nothing of it the scope reaches (the same answer, so a provider cannot
    probe which entities exist)."""


def run_stages(contract: Contract, period: str, *, writes: bool = True) -> tuple[str, ...]:
    """The progress messages :meth:`apmkit.workspace.Workspace.run` reports for ``contract`` and ``period``, in
    order: the fixed stages plus those the contract's sections add (episodes, episode initiators, quality) and
    "writing the marts" when it writes an output folder. A progress bar's length."""
    try:
        resolved, _ = contract.for_period(period)
    except KeyError:
        resolved = contract
    stages = ["eligibility and spending", "attribution"]
    if resolved.episodes is not None:
        stages.append("episodes")
    stages += ["risk scores", "performance-period expenditure"]
    if settles_episodes(resolved):
        stages.append("episode initiators")
    stages.append("benchmark")
    if resolved.quality is not None:
        stages.append("quality")
    stages.append("settlement")
    if writes:
        stages.append("writing the marts")
    return tuple(stages)


@dataclass(frozen=True)
class Page:
    """One page of rows (JSON-ready: decimals as exact text, dates as ISO text) and how many rows match."""

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


class RunMarts:
    """Reads finished runs' marts, scoped; each mart and each scope's share of it is computed once and kept.

    Parameters
    ----------
    cache_size
        Tables kept (whole marts and scoped shares; least recently used dropped first).
    derived_size
        Results derived from them kept (an entity's rows of a mart, a summary's or a statement's JSON rows; some
        eight per entity a page reads - together about one more copy of the marts).
    """

    def __init__(self, cache_size: int = 64, derived_size: int = 4096):
        self.cache_size = cache_size
        self.derived_size = derived_size
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        # What requests derive from the kept tables (an entity's rows, JSON rows of a summary or a statement):
        # kept apart, so many small results never push a whole mart out.
        self._derived: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

    # ---- the scoped tables ------------------------------------------------------------------------------

    def _kept(self, key: tuple[Any, ...], build: Any, *, derived: bool = False) -> Any:
        cache, size = (self._derived, self.derived_size) if derived else (self._cache, self.cache_size)
        with self._lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per key; others asking for it wait for that build
            with self._lock:
                if key in cache:
                    return cache[key]
            try:
                value = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                cache[key] = value
                while len(cache) > size:
                    cache.popitem(last=False)
        return value

    def _rows_of(
        self, folder: Path, mart: str, scope: Scope | None, column: str, value: str | None
    ) -> pa.Table:
        """The scoped rows of ``mart`` whose ``column`` is ``value`` (all of them when ``value`` is None)."""
        table = self.table(folder, mart, scope)
        if value is None:
            return table
        return self._kept(
            (folder, mart, scope, column, value), lambda: _only(table, column, value), derived=True
        )

    def has(self, folder: Path, mart: str) -> bool:
        return (folder / f"{mart}.parquet").is_file()

    def table(self, folder: Path, mart: str, scope: Scope | None) -> pa.Table:
        """The rows of ``mart`` the scope reaches, in the mart's order (:data:`SORT_KEYS`)."""
        if scope is None:
            return self._kept((folder, mart, None), lambda: self._read(folder, mart))
        return self._kept((folder, mart, scope), lambda: self._scoped(folder, mart, scope))

    def _read(self, folder: Path, mart: str) -> pa.Table:
        table = pq.read_table(folder / f"{mart}.parquet")
        return table.sort_by([(key, "ascending") for key in SORT_KEYS[mart]]).combine_chunks()

    def _scoped(self, folder: Path, mart: str, scope: Scope) -> pa.Table:
        with Engine.connect("duckdb") as engine:
            table = engine.read_parquet(folder / f"{mart}.parquet")
            if mart in ENTITY_MARTS:
                # the entity's own id, matched at every level (a TIN- or NPI-level entity is named by it)
                panel = table.mutate(_scope_id=table[ENTITY_MARTS[mart]].cast("string"))
                as_id = {"entity_id": "_scope_id", "tin": "_scope_id", "npi": "_scope_id"}
                kept = panel.filter(scope.reaches(panel, as_id)).select(*table.columns)
            elif mart == "attribution":
                kept = table.filter(scope.reaches(table))
            else:  # member_detail: its entity, and the TIN and NPI its member is attributed through
                links = engine.read_parquet(folder / "attribution.parquet")
                links = links.filter(links.attributed.fill_null(False)).select(
                    member_id=links.member_id, tin=links.tin, npi=links.npi
                )
                joined = table.left_join(links, table.member_id == links.member_id)
                kept = joined.filter(scope.reaches(joined)).select(*table.columns)
            ordered = kept.order_by(list(SORT_KEYS[mart]))
            return engine.to_arrow(ordered).combine_chunks()

    # ---- reads ----------------------------------------------------------------------------------------

    def visible_entities(self, folder: Path, scope: Scope | None) -> set[str] | None:
        """The entities whose statement the scope reaches in this run (None = every entity)."""
        if scope is None:
            return None
        return set(self.table(folder, "summary", scope).column("entity_id").to_pylist())

    def summary(self, folder: Path, scope: Scope | None) -> list[dict[str, Any]]:
        """One row per entity the scope reaches (its settlement figures), by entity id (kept: do not change)."""
        return self._kept(
            (folder, "summary rows", scope),
            lambda: json_rows(self.table(folder, "summary", scope)),
            derived=True,
        )

    def statement(self, folder: Path, entity: str, scope: Scope | None) -> dict[str, Any]:
        """Every traced line of one entity's statement, with its summary row (kept: do not change)."""
        summary = self._rows_of(folder, "summary", scope, "entity_id", entity)
        if summary.num_rows == 0:
            raise NotFound("no such entity in this run")

        def build() -> dict[str, Any]:
            lines = self._rows_of(folder, "lines", scope, "entity_id", entity)
            return {"entity_id": entity, "summary": json_rows(summary)[0], "lines": json_rows(lines)}

        return self._kept((folder, "statement", scope, entity), build, derived=True)

    def benchmark(self, folder: Path, entity: str, scope: Scope | None) -> dict[str, Any]:
        """The benchmark's build-up for one entity (benchmark_lines) and its key factors (kept: do not change)."""
        if self._rows_of(folder, "summary", scope, "entity_id", entity).num_rows == 0:
            raise NotFound("no such entity in this run")

        def build() -> dict[str, Any]:
            lines: list[dict[str, Any]] = []
            factors: dict[str, Any] | None = None
            if self.has(folder, "benchmark_lines"):
                lines = json_rows(self._rows_of(folder, "benchmark_lines", scope, "entity", entity))
            if self.has(folder, "benchmark_entities"):
                found = json_rows(self._rows_of(folder, "benchmark_entities", scope, "entity_id", entity))
                factors = found[0] if found else None
            return {"entity_id": entity, "lines": lines, "factors": factors}

        return self._kept((folder, "benchmark", scope, entity), build, derived=True)

    def members(
        self,
        folder: Path,
        scope: Scope | None,
        *,
        entity: str | None = None,
        member: str | None = None,
        page: int = 1,
        size: int | None = 50,
    ) -> Page:
        """Member rows behind the figures (member_detail), scoped, filtered and paged (``size`` None: every row,
        for an export)."""
        table = _only(self._rows_of(folder, "member_detail", scope, "entity_id", entity), "member_id", member)
        return _page(table, page, size)

    def attribution(
        self,
        folder: Path,
        scope: Scope | None,
        *,
        entity: str | None = None,
        member: str | None = None,
        attributed: bool | None = None,
        page: int = 1,
        size: int = 50,
    ) -> Page:
        """Attribution rows (one per member: attributed or not, entity, step, reason), scoped, filtered, paged."""
        table = _only(self._rows_of(folder, "attribution", scope, "entity_id", entity), "member_id", member)
        if attributed is not None:
            table = table.filter(pc.equal(pc.fill_null(table["attributed"], False), attributed))
        return _page(table, page, size)


def _only(table: pa.Table, column: str, value: str | None) -> pa.Table:
    if value is None:
        return table
    return table.filter(pc.fill_null(pc.equal(table[column], value), False))


def _page(table: pa.Table, page: int, size: int | None) -> Page:
    if size is None:
        return Page(rows=json_rows(table), total=table.num_rows, page=1, size=max(1, table.num_rows))
    size = max(1, min(size, MAX_PAGE_SIZE))
    page = max(1, page)
    return Page(
        rows=json_rows(table.slice((page - 1) * size, size)), total=table.num_rows, page=page, size=size
    )


def _json_value(value: Any) -> Any:
    # Decimals as exact text (money is never a float); dates as ISO text.
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """JSON-ready rows of an Arrow table (decimals as exact text, dates as ISO text)."""
    return [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]


__all__ = ["MAX_PAGE_SIZE", "NotFound", "Page", "RunMarts", "json_rows", "run_stages"]
