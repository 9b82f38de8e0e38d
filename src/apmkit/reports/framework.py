"""The performance-report framework: requests, results, the registry and the helpers every report shares.

A report is a pure function over ibis tables — the marts of one run (``apmkit run``) plus the canonical tables
it needs — and a :class:`ReportRequest`; it returns ibis tables, Vega-Lite chart specs (whose ``data`` names one
of the tables) and notes (:class:`ReportOutput`). The application layer (:mod:`apmkit.workspace.reports`) opens
the marts, executes the tables and fills the charts' data (:class:`ReportResult`).

Two rules hold for every report:

* a provider's :class:`Scope` is applied inside the query, to the member-level rows, **before** any
  aggregation: a TIN never sees another TIN's rows (peer figures are whole-run aggregates, one row, named
  ``peers``);
* small-cell suppression (:func:`suppress`) blanks counts from 1 to ``suppress_below - 1`` and every figure of
  the same row derived from them; zero is not suppressed (docs/reference/analytics-definitions.md §4).

Definitions: docs/reference/analytics-definitions.md; the reports: docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.errors import ConfigurationError

Grouping = Literal["entity", "tin", "npi"]
GROUPINGS: tuple[str, ...] = ("entity", "tin", "npi")
GROUP_COLUMN: dict[str, str] = {"entity": "entity_id", "tin": "tin", "npi": "npi"}
"""The column of the attribution panel each grouping reports by."""


@dataclass(frozen=True)
class Scope:
    """A provider's grant: its entities, TINs and NPIs. Applied inside the query, before any aggregation.

    One rule everywhere (reports, the dashboard's pages and API, exports, cached results): a row is the
    provider's when ANY of its identifiers is granted - its entity is one of ``entity_ids``, OR its TIN is one of
    ``tins``, OR its NPI is one of ``npis`` (:meth:`reaches`). A level left None (or empty) grants nothing, so
    ``Scope()`` reaches no row; "no restriction" is a request without a scope. Any-match is monotone (granting
    one more identifier never hides a row) and each row shown is matched by an identifier the provider holds."""

    entity_ids: frozenset[str] | None = None
    tins: frozenset[str] | None = None
    npis: frozenset[str] | None = None

    def levels(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """``(column, granted identifiers)`` of each level the scope grants (columns of the attribution panel)."""
        named = (("entity_id", self.entity_ids), ("tin", self.tins), ("npi", self.npis))
        return tuple((column, values) for column, values in named if values)

    def reaches(self, table: ir.Table, columns: Mapping[str, str] | None = None) -> ir.BooleanValue:
        """True for the rows of ``table`` any granted identifier reaches. ``columns`` maps a level
        (``entity_id``, ``tin``, ``npi``) to the column of ``table`` holding it (default: the level's name)."""
        named = columns or {}
        reached: ir.BooleanValue = ibis.literal(False)
        for level, values in self.levels():
            column = table[named.get(level, level)]
            reached = reached | column.isin(sorted(values)).fill_null(False)
        return reached


@dataclass(frozen=True)
class ReportRequest:
    """What to build.

    ``period`` is a measured year of the run (a 4-digit year; None = the run's performance period), ``payer``
    keeps that payer's member-months only (None = every payer, with a ``payer`` column where a table splits
    them), ``suppress_below`` blanks counts below it (e.g. 11 for the CMS cell-size policy; None = no
    suppression, for use inside the entity)."""

    name: str
    by: Grouping = "entity"
    payer: str | None = None
    period: str | None = None
    scope: Scope | None = None
    suppress_below: int | None = None


@dataclass
class ReportResult:
    """An executed report: Arrow tables, Vega-Lite specs (data inline) and the notes a reader needs."""

    name: str
    title: str
    tables: dict[str, pa.Table]
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportInfo:
    """A report's name (the CLI argument), title and one-paragraph description."""

    name: str
    title: str
    description: str


@dataclass(frozen=True)
class RunInfo:
    """What the run recorded about itself (``OUT/run.json``)."""

    contract_id: str
    period: str
    start: date
    end: date
    data: str
    cost_basis: str = "allowed_amount"
    base_years: tuple[int, ...] = ()
    include_pharmacy: bool = False

    @property
    def year(self) -> int:
        """The label of the performance period in the marts' ``year`` columns (its start year)."""
        return self.start.year


@dataclass
class ReportInputs:
    """The tables a report reads: the run's marts and canonical tables by name, and the run's facts."""

    tables: Mapping[str, ir.Table]
    run: RunInfo
    fetch: Callable[[ir.Table], pa.Table] | None = None
    """Executes a table (``Engine.to_arrow``): for the reports that fit a model in Python (prediction)."""
    materialize: Callable[[ir.Table], ir.Table] | None = None
    """Computes a table once (``Engine.materialize``) where a report reads it many times (the eCQMs of the gaps)."""
    stage: Callable[[ir.Table], ir.Table] | None = None
    """Computes a large table once into compressed files (``Engine.stage``): the clinical records and tags of
    the open-gaps mart, which as temp tables outgrew the disk at 1M members."""

    run_notes: dict[str, str] = field(default_factory=dict)
    """What the caller says about an input it added (e.g. the file a code list came from), by table name."""
    memo: dict[Any, ir.Table] = field(default_factory=dict)
    """Tables a report reads several times, computed once per report (:meth:`once`)."""

    def keep(self, table: ir.Table) -> ir.Table:
        """``table`` computed once when the caller gave a ``materialize`` hook, else as it is."""
        return table if self.materialize is None else self.materialize(table)

    def keep_large(self, table: ir.Table) -> ir.Table:
        """``table`` computed once into files when the caller gave a ``stage`` hook, else as :meth:`keep`."""
        return self.keep(table) if self.stage is None else self.stage(table)

    def once(self, key: Any, build: Callable[[], ir.Table]) -> ir.Table:
        """The table ``build()`` gives, computed once (:meth:`keep`) and reused for the same ``key``: the scoped
        member-months every table of a report starts from are read from the run's marts once, not per table."""
        if key not in self.memo:
            self.memo[key] = self.keep(build())
        return self.memo[key]

    def __getitem__(self, name: str) -> ir.Table:
        if name not in self.tables:
            raise ConfigurationError(
                f"the report needs table {name!r}, which this run did not write (a run of a contract with the "
                "section that produces it, or the canonical table in the run's data folder)"
            )
        return self.tables[name]

    def has(self, name: str) -> bool:
        return name in self.tables


@dataclass
class ReportOutput:
    """What a report function returns: ibis tables (executed by the caller), chart specs whose
    ``data: {"name": TABLE}`` names one of the tables, and notes."""

    tables: dict[str, ir.Table]
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


ReportFunction = Callable[[ReportInputs, ReportRequest], ReportOutput]


@dataclass(frozen=True)
class _Registered:
    info: ReportInfo
    build: ReportFunction
    needs: tuple[str, ...]


_REGISTRY: dict[str, _Registered] = {}


def register(
    name: str, title: str, description: str, *, needs: Sequence[str] = ()
) -> Callable[[ReportFunction], ReportFunction]:
    """Decorator: register a report function under ``name``; ``needs`` names the tables it reads (marts or
    canonical tables), so the caller opens only those."""

    def decorate(function: ReportFunction) -> ReportFunction:
        _REGISTRY[name] = _Registered(ReportInfo(name, title, description), function, tuple(needs))
        return function

    return decorate


def _load() -> tuple[str, ...]:
    # the report modules register themselves on import
    from apmkit.reports.catalog_reports import ORDER

    return ORDER


def catalog() -> list[ReportInfo]:
    """Every registered report, in the order the docs list them."""
    order = _load()
    names = sorted(_REGISTRY, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [_REGISTRY[name].info for name in names]


def lookup(name: str) -> tuple[ReportInfo, ReportFunction, tuple[str, ...]]:
    """The report named ``name``: its info, function and the tables it needs.

    Raises
    ------
    ConfigurationError
        No such report (the message lists the names).
    """
    _load()
    if name not in _REGISTRY:
        raise ConfigurationError(f"unknown report {name!r} (choose from {', '.join(_REGISTRY)})")
    entry = _REGISTRY[name]
    return entry.info, entry.build, entry.needs


# ---- shared helpers -----------------------------------------------------------------------------------------


def group_column(request: ReportRequest) -> str:
    if request.by not in GROUPINGS:
        raise ConfigurationError(f"--by {request.by!r}: choose from {', '.join(GROUPINGS)}")
    return GROUP_COLUMN[request.by]


def report_year(inputs: ReportInputs, request: ReportRequest) -> int:
    """The measured year the request names (None = the run's performance period)."""
    if request.period is None:
        return inputs.run.year
    text = request.period.strip()
    if text == inputs.run.period:
        return inputs.run.year
    if not (len(text) == 4 and text.isdigit()):
        raise ConfigurationError(
            f"--period {request.period!r}: give a measured year of the run (4 digits) or the run's period "
            f"{inputs.run.period!r}"
        )
    return int(text)


def apply_scope(panel: ir.Table, scope: Scope | None) -> ir.Table:
    """``panel`` (with ``entity_id, tin, npi``) restricted to the scope (rows any granted identifier reaches,
    :meth:`Scope.reaches`); applied to member rows."""
    if scope is None:
        return panel
    return panel.filter(scope.reaches(panel))


def panel(inputs: ReportInputs, request: ReportRequest) -> ir.Table:
    """``member_id, entity_id, tin, npi``: the members attributed in the run, restricted to the scope.

    The TIN and NPI are the attribution's (the TIN and clinician of the member's attributing visits); a run
    without an attribution section reports every member of ``member_detail`` under its entity."""
    if inputs.has("attribution"):
        attribution = inputs["attribution"]
        kept = attribution.filter(attribution.entity_id.notnull())
        if "attributed" in attribution.columns:
            kept = kept.filter(kept.attributed.fill_null(False))
        cols = {
            "member_id": kept.member_id.cast("string"),
            "entity_id": kept.entity_id.cast("string"),
            "tin": (kept.tin if "tin" in kept.columns else ibis.null("string")).cast("string"),
            "npi": (kept.npi if "npi" in kept.columns else ibis.null("string")).cast("string"),
        }
        members = kept.select(**cols)
    else:
        detail = inputs["member_detail"]
        members = detail.select(
            member_id=detail.member_id.cast("string"),
            entity_id=detail.entity_id.cast("string"),
            tin=ibis.null("string"),
            npi=ibis.null("string"),
        )
    members = members.mutate(tin=members.tin.fill_null("(none)"), npi=members.npi.fill_null("(none)"))
    return apply_scope(members, request.scope)


def person_map(inputs: ReportInputs) -> ir.Table | None:
    """``member_id, person_id``: one person id per member id (``member_persons`` of a multi-payer folder, else
    ``member_xref``); None when the data have neither (every member id is its own person)."""
    if inputs.has("member_persons"):
        persons = inputs["member_persons"]
        return persons.group_by(member_id=persons.member_id.cast("string")).aggregate(
            person_id=persons.person_id.cast("string").min()
        )
    if inputs.has("member_xref"):
        xref = inputs["member_xref"]
        return xref.group_by(member_id=xref.previous_id.cast("string")).aggregate(
            person_id=xref.member_id.cast("string").min()
        )
    return None


def with_person(table: ir.Table, persons: ir.Table | None) -> ir.Table:
    """``table`` with ``person_id`` (its ``member_id`` mapped, else the member id itself)."""
    if persons is None:
        return table.mutate(person_id=table.member_id.cast("string"))
    mapped = persons.rename(_mapped_member="member_id")
    joined = table.left_join(mapped, table.member_id.cast("string") == mapped._mapped_member)
    return joined.mutate(person_id=ibis.coalesce(joined.person_id, joined.member_id.cast("string"))).drop(
        "_mapped_member"
    )


def member_month_payers(inputs: ReportInputs) -> ir.Table:
    """``member_id, month, payer``: the payer of each enrolled member-month (the enrollment row's payer; a
    month enrolled with two payers belongs to each)."""
    enrollment = inputs["enrollment"]
    return enrollment.select(
        member_id=enrollment.member_id.cast("string"),
        month=enrollment.month.truncate("M").cast("date"),
        payer=enrollment.payer.cast("string"),
    ).distinct()


def scoped_months(inputs: ReportInputs, request: ReportRequest, members: ir.Table) -> ir.Table:
    """``member_id, year, month, payer, person_id`` + the panel's columns: eligible member-months of the scoped
    members (every measured year), with their payer, restricted to ``request.payer``; ``person_id`` matches one
    person's member ids across payers (:func:`person_map`), so member counts are counts of people."""
    months = inputs["member_months"]
    months = months.select(
        member_id=months.member_id.cast("string"),
        year=months.year.cast("int32"),
        month=months.month.cast("date"),
    )
    joined = months.inner_join(members, "member_id")
    if inputs.has("enrollment"):
        payers = member_month_payers(inputs)
        joined = tidy(joined.left_join(payers, ["member_id", "month"]))
        joined = joined.mutate(payer=joined.payer.fill_null("(unknown)"))
    else:
        joined = joined.mutate(payer=ibis.literal("(unknown)"))
    if request.payer is not None:
        joined = joined.filter(joined.payer == request.payer)
    return with_person(joined, person_map(inputs))


def tidy(table: ir.Table) -> ir.Table:
    """``table`` without the ``*_right`` key copies a join by column names leaves (left joins keep them)."""
    extra = [c for c in table.columns if c.endswith("_right")]
    return table.drop(*extra) if extra else table


def ratio(
    numerator: ir.NumericValue | float, denominator: ir.NumericValue | float, digits: int = 4
) -> ir.NumericValue:
    """numerator / denominator as float64, null when the denominator is 0 (engines differ on x/0)."""
    top = ibis.literal(numerator) if isinstance(numerator, int | float) else numerator
    bottom = ibis.literal(denominator) if isinstance(denominator, int | float) else denominator
    return (top.cast("float64") / bottom.cast("float64").nullif(0)).round(digits)


def suppress(
    table: ir.Table,
    threshold: int | None,
    counts: Sequence[str],
    derived: Sequence[str] = (),
) -> ir.Table:
    """Blank small cells: each column in ``counts`` with a value from 1 to ``threshold - 1`` becomes null, and
    every ``derived`` column of that row becomes null when any of the row's counts was blanked (a rate or a
    PMPM whose denominator is a small count would reveal it). Zero is not suppressed."""
    if threshold is None or threshold <= 1:
        return table
    small = [(table[c] >= 1) & (table[c] < threshold) for c in counts]
    if not small:
        return table
    any_small = small[0]
    for flag in small[1:]:
        any_small = any_small | flag
    any_small = any_small.fill_null(False)
    changes: dict[str, ir.Value] = {}
    for column, flag in zip(counts, small, strict=True):
        changes[column] = ibis.ifelse(flag.fill_null(False), ibis.null(table[column].type()), table[column])
    for column in derived:
        changes[column] = ibis.ifelse(any_small, ibis.null(table[column].type()), table[column])
    return table.mutate(**changes)


def suppression_note(request: ReportRequest) -> list[str]:
    if request.suppress_below is None or request.suppress_below <= 1:
        return []
    return [
        f"small cells suppressed: counts from 1 to {request.suppress_below - 1} are blank, and so is every "
        "figure of the same row derived from them (zero is shown) — docs/reference/analytics-definitions.md §4"
    ]


def scope_note(request: ReportRequest) -> list[str]:
    scope = request.scope
    if scope is None:
        return []
    parts = []
    for label, values in (("entities", scope.entity_ids), ("TINs", scope.tins), ("NPIs", scope.npis)):
        if values is not None:
            parts.append(f"{label} {', '.join(sorted(values)) or '(none)'}")
    return [
        f"restricted to the members attributed to {'; or '.join(parts)}; peer figures are whole-run aggregates"
    ]


def bar_chart(table: str, x: str, y: str, *, color: str | None = None, title: str = "") -> dict[str, Any]:
    """A Vega-Lite bar chart over report table ``table``."""
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": "nominal", "sort": None},
        "y": {"field": y, "type": "quantitative"},
    }
    if color is not None:
        encoding["color"] = {"field": color, "type": "nominal"}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "data": {"name": table},
        "mark": "bar",
        "encoding": encoding,
    }


def line_chart(table: str, x: str, y: str, *, color: str | None = None, title: str = "") -> dict[str, Any]:
    """A Vega-Lite line chart (x temporal) over report table ``table``."""
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": "temporal"},
        "y": {"field": y, "type": "quantitative"},
    }
    if color is not None:
        encoding["color"] = {"field": color, "type": "nominal"}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "data": {"name": table},
        "mark": {"type": "line", "point": True},
        "encoding": encoding,
    }


__all__ = [
    "GROUPINGS",
    "GROUP_COLUMN",
    "Grouping",
    "ReportFunction",
    "ReportInfo",
    "ReportInputs",
    "ReportOutput",
    "ReportRequest",
    "ReportResult",
    "RunInfo",
    "Scope",
    "apply_scope",
    "bar_chart",
    "catalog",
    "group_column",
    "line_chart",
    "lookup",
    "member_month_payers",
    "panel",
    "person_map",
    "ratio",
    "register",
    "report_year",
    "scope_note",
    "scoped_months",
    "suppress",
    "suppression_note",
    "tidy",
    "with_person",
]
