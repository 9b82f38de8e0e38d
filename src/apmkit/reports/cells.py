"""Report aggregates: the whole run's member-level marts summed by the dimensions the reports filter and group on,
so a report at 1M members reads tables of thousands of rows instead of joining member-months to spending for
every table (issue 16: "every report reads the marts in seconds").

A **cell** is one ``entity_id, tin, npi, payer, year, month`` of the run's eligible member-months
(:func:`apmkit.reports.measures.months_with_risk`: the attributed panel's member-months with their payer). Every
aggregate here is the sum, over the member-months of a cell (and a category, event, site, ...), of what the
reports summed over member rows before:

* ``cells_months`` — ``member_months`` (count), ``risk_sum`` (Σ risk score) and ``persons`` (distinct people)
  per cell;
* ``cells_shared_people`` — the people found in more than one cell of a month (one row per such cell): a count
  of people over several cells is the cells' ``persons`` summed less these repeats (:func:`people_by_month`);
* ``cells_spending`` — ``cents`` of the ``expenditure`` mart per cell and ``service_category``;
* ``cells_events`` — ``quantity`` of the ``utilization`` mart's events per cell and ``event``;
* ``cells_professional`` — professional ``lines`` and ``cents`` per cell, ``specialty`` and ``site``;
* ``cells_pharmacy`` — pharmacy ``fills`` and ``cents`` per cell and ``brand_generic``, and ``cents_once``: the
  cents of the member-month's first payer row only (a month enrolled with two payers counted once);
* ``cells_profile`` — one row per member, measured year and payer view (``*`` = every payer, else one payer's
  months alone): the population profile's columns (:func:`apmkit.reports.population.member_profile`);
* ``cells_profile_people`` — the people of ``cells_profile`` counted per ``entity_id, tin, npi``, year, payer view,
  ``dimension`` and ``value`` (each distribution dimension, the HCCs of ``member_hccs`` and the HCC count,
  ``members`` for everyone): ``members`` counts the people with one profile row in the year and payer view (they
  are in one cell, so cells sum); a person with several rows (two member ids) is listed by ``person_id`` instead,
  and a group counts ``members`` summed plus those listed people, distinct (:func:`apmkit.reports.population
  .profile_people`);
* ``cells_equity`` — ``member_months``, ``cents`` and ``admissions`` per cell and the member's ``race`` and
  ``dual`` strata;
* ``cells_drugs`` — pharmacy ``fills`` and ``cents`` per cell and ``ndc``;
* ``cells_drug_people`` — the distinct ``person_id`` of each ``entity_id, tin, npi, payer, year`` and ``ndc``
  (people with a fill of the NDC in an eligible month of the year);
* ``cells_persons`` — the distinct ``person_id`` of each ``entity_id, tin, npi, payer, year`` (members are counted
  as people, which is not a sum over cells).

Why the reports read the same figures: a provider's scope (:meth:`apmkit.reports.framework.Scope.reaches`) and
the payer filter are predicates on ``entity_id, tin, npi`` and ``payer`` alone, so restricting the cells is
restricting the member-months they sum; grouping by entity, TIN or NPI groups whole cells. Each aggregate is
built once on a report's first use and kept in the run folder like the other report marts
(:data:`apmkit.reports.marts.REPORT_MARTS`); a caller without them gets the same expression computed from the
member-level marts (:func:`cells`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apmkit.errors import ConfigurationError
from apmkit.reports.framework import ReportInputs, ReportRequest, apply_scope, tidy

CELL: tuple[str, ...] = ("entity_id", "tin", "npi", "payer", "year", "month")
"""The columns of a cell: the provider levels a scope reaches, the payer and the month."""

MONTH_CELLS = "cells_months"
SPENDING_CELLS = "cells_spending"
EVENT_CELLS = "cells_events"
PROFESSIONAL_CELLS = "cells_professional"
PHARMACY_CELLS = "cells_pharmacy"
PERSON_CELLS = "cells_persons"
SHARED_PEOPLE = "cells_shared_people"
DRUG_CELLS = "cells_drugs"
DRUG_PEOPLE = "cells_drug_people"
PROFILE = "cells_profile"
PROFILE_PEOPLE = "cells_profile_people"
EQUITY_CELLS = "cells_equity"

CELL_MARTS = (
    MONTH_CELLS,
    SPENDING_CELLS,
    EVENT_CELLS,
    PROFESSIONAL_CELLS,
    PHARMACY_CELLS,
    DRUG_CELLS,
    DRUG_PEOPLE,
    PERSON_CELLS,
    SHARED_PEOPLE,
    PROFILE,
    PROFILE_PEOPLE,
    EQUITY_CELLS,
)
"""The report aggregates, in the order they are built (each after the marts it reads, :data:`DEPENDS`)."""


def panel_rows(inputs: ReportInputs) -> ir.Table:
    """The whole run's eligible member-months with score (no scope, every payer)."""
    from apmkit.reports.measures import months_with_risk

    return months_with_risk(inputs, ReportRequest("cells"), scoped=False)


def month_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, member_months, risk_sum, persons`` (the distinct people of the cell)."""
    rows = panel_rows(inputs)
    return rows.group_by(list(CELL)).aggregate(
        member_months=rows.count().cast("int64"),
        risk_sum=rows.score.cast("float64").sum(),
        persons=rows.person_id.nunique().cast("int64"),
    )


def shared_people(inputs: ReportInputs) -> ir.Table:
    """``CELL, person_id``: the people found in more than one cell of the same month (two payers that month, or
    two member ids attributed apart), one row per cell they are in; what a count of people over several cells
    subtracts (:func:`people_by_month`)."""
    rows = panel_rows(inputs).select(*CELL, "person_id").distinct()
    counts = rows.group_by(["person_id", "month"]).aggregate(_cells=rows.count())
    return rows.semi_join(counts.filter(counts._cells > 1), ["person_id", "month"])


def people_by_month(inputs: ReportInputs, request: ReportRequest, by: list[str]) -> ir.Table:
    """``*by, members``: the distinct people of each ``by`` group of cells (``by`` holds ``month``), restricted to
    the request's scope and payer: the cells' people summed, less one for each further cell of the group a person
    is in (``cells_shared_people``)."""
    months = cells(inputs, MONTH_CELLS, request)
    summed = months.group_by(by).aggregate(members=months.persons.sum())
    shared = cells(inputs, SHARED_PEOPLE, request)
    repeats = shared.group_by([*by, "person_id"]).aggregate(_n=shared.count())
    excess = repeats.group_by(by).aggregate(_excess=(repeats._n - 1).sum())
    joined = tidy(summed.left_join(excess, by))
    return joined.select(*by, members=(joined.members - joined._excess.fill_null(0)).cast("int64"))


def person_cells(inputs: ReportInputs) -> ir.Table:
    """``entity_id, tin, npi, payer, year, person_id``: the people of each cell's year (distinct)."""
    rows = panel_rows(inputs)
    return rows.select("entity_id", "tin", "npi", "payer", "year", "person_id").distinct()


def spending_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, service_category, cents``: the expenditure mart's rows in the cell's member-months."""
    from apmkit.reports.measures import spending_by_month

    spend = spending_by_month(inputs, panel_rows(inputs))
    return spend.group_by([*CELL, "service_category"]).aggregate(cents=spend.cents.sum().cast("int64"))


def event_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, event, quantity``: the utilization mart's events in the cell's member-months."""
    from apmkit.reports.utilization import scoped_events

    events = scoped_events(inputs, panel_rows(inputs))
    return events.group_by([*CELL, "event"]).aggregate(quantity=events.quantity.sum().cast("int64"))


def professional_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, specialty, site, lines, cents``: professional claim lines (``professional_months``) in the cell's
    member-months."""
    from apmkit.reports.marts import PROFESSIONAL_MONTHS, professional_months

    if inputs.has(PROFESSIONAL_MONTHS):
        lines = inputs[PROFESSIONAL_MONTHS]
    else:
        lines = professional_months(inputs["medical_claims"], inputs.run.cost_basis)
    lines = lines.select(
        member_id=lines.member_id.cast("string"),
        month=lines.month.cast("date"),
        specialty=lines.specialty.cast("string"),
        site=lines.site.cast("string"),
        lines=lines.lines.cast("int64"),
        cents=lines.cents.cast("int64"),
    )
    rows = panel_rows(inputs).select("member_id", *CELL)
    joined = tidy(lines.inner_join(rows, ["member_id", "month"]))
    return joined.group_by([*CELL, "specialty", "site"]).aggregate(
        lines=joined.lines.sum().cast("int64"), cents=joined.cents.sum().cast("int64")
    )


def _fills(inputs: ReportInputs) -> ir.Table:
    from apmkit.reports.marts import PHARMACY_MONTHS, pharmacy_months

    if inputs.has(PHARMACY_MONTHS):
        rx = inputs[PHARMACY_MONTHS]
    else:
        rx = pharmacy_months(inputs["pharmacy_claims"], inputs.run.cost_basis)
    return fill_rows(rx)


def fill_rows(rx: ir.Table) -> ir.Table:
    """``pharmacy_months`` rows with the column types every pharmacy table of the reports joins on."""
    return rx.select(
        member_id=rx.member_id.cast("string"),
        month=rx.month.cast("date"),
        ndc=rx.ndc.cast("string"),
        brand_generic=rx.brand_generic.cast("string"),
        fills=rx.fills.cast("int64"),
        cents=rx.cents.cast("int64"),
    )


def drug_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, ndc, fills, cents``: pharmacy fills (``pharmacy_months``) in the cell's member-months by NDC."""
    rows = panel_rows(inputs).select("member_id", *CELL)
    joined = tidy(_fills(inputs).inner_join(rows, ["member_id", "month"]))
    return joined.group_by([*CELL, "ndc"]).aggregate(
        fills=joined.fills.sum().cast("int64"), cents=joined.cents.sum().cast("int64")
    )


def drug_people(inputs: ReportInputs) -> ir.Table:
    """``entity_id, tin, npi, payer, year, ndc, person_id``: the people with a fill of the NDC in an eligible
    member-month of the year (distinct)."""
    rows = panel_rows(inputs).select("member_id", "person_id", *CELL)
    joined = tidy(_fills(inputs).inner_join(rows, ["member_id", "month"]))
    return joined.select("entity_id", "tin", "npi", "payer", "year", "ndc", "person_id").distinct()


def pharmacy_cells(inputs: ReportInputs) -> ir.Table:
    """``CELL, brand_generic, fills, cents, cents_once``: pharmacy fills (``pharmacy_months``) in the cell's
    member-months; ``cents_once`` counts a member-month enrolled with several payers under its first payer
    only (the Part D peer figure reads each member-month once)."""
    rx = _fills(inputs).drop("ndc")
    rows = panel_rows(inputs).select("member_id", *CELL)
    rows = rows.mutate(
        _first=ibis.row_number().over(group_by=[rows.member_id, rows.month], order_by=[rows.payer]) == 0
    )
    joined = tidy(rx.inner_join(rows, ["member_id", "month"]))
    return joined.group_by([*CELL, "brand_generic"]).aggregate(
        fills=joined.fills.sum().cast("int64"),
        cents=joined.cents.sum().cast("int64"),
        cents_once=joined.cents.sum(where=joined._first).fill_null(0).cast("int64"),
    )


def _profile(inputs: ReportInputs) -> ir.Table:
    from apmkit.reports.population import profile_views

    return profile_views(inputs)


def _profile_people(inputs: ReportInputs) -> ir.Table:
    from apmkit.reports.population import profile_people

    return profile_people(inputs)


def _equity(inputs: ReportInputs) -> ir.Table:
    from apmkit.reports.population import equity_cells

    return equity_cells(inputs)


@dataclass(frozen=True)
class _Aggregate:
    build: Callable[[ReportInputs], ir.Table]
    needs: tuple[str, ...]
    """The marts it reads when the run has them (report marts among them are built first)."""
    requires: tuple[tuple[str, ...], ...] = ()
    """Without one table of each of these groups the run lacks what it sums: no aggregate."""


_PROFESSIONAL = ("professional_months", "medical_claims")
_PHARMACY = ("pharmacy_months", "pharmacy_claims")
_AGGREGATES: dict[str, _Aggregate] = {
    MONTH_CELLS: _Aggregate(month_cells, ("member_month_panel",)),
    PERSON_CELLS: _Aggregate(person_cells, ("member_month_panel",)),
    SHARED_PEOPLE: _Aggregate(shared_people, ("member_month_panel",)),
    SPENDING_CELLS: _Aggregate(spending_cells, ("member_month_panel", "expenditure"), (("expenditure",),)),
    EVENT_CELLS: _Aggregate(event_cells, ("member_month_panel", "utilization"), (("utilization",),)),
    PROFESSIONAL_CELLS: _Aggregate(
        professional_cells, ("member_month_panel", *_PROFESSIONAL), (_PROFESSIONAL,)
    ),
    PHARMACY_CELLS: _Aggregate(pharmacy_cells, ("member_month_panel", *_PHARMACY), (_PHARMACY,)),
    DRUG_CELLS: _Aggregate(drug_cells, ("member_month_panel", *_PHARMACY), (_PHARMACY,)),
    DRUG_PEOPLE: _Aggregate(drug_people, ("member_month_panel", *_PHARMACY), (_PHARMACY,)),
    PROFILE: _Aggregate(_profile, ("member_month_panel", "members"), (("members",),)),
    PROFILE_PEOPLE: _Aggregate(
        _profile_people, ("member_month_panel", "members", "member_hccs", PROFILE), (("members",),)
    ),
    EQUITY_CELLS: _Aggregate(
        _equity,
        ("member_month_panel", "members", "expenditure", "utilization"),
        (("members",), ("expenditure",), ("utilization",)),
    ),
}

DEPENDS: dict[str, tuple[str, ...]] = {name: spec.needs for name, spec in _AGGREGATES.items()}
"""The marts each aggregate is built from (report marts among them are built first)."""


def build_cells(inputs: ReportInputs, name: str) -> ir.Table | None:
    """The aggregate ``name`` of the whole run; None when the run lacks what it sums (no expenditure mart, no
    pharmacy claims, ...)."""
    spec = _AGGREGATES[name]
    if not (inputs.has("member_month_panel") or inputs.has("member_months")):
        return None
    if not (inputs.has("attribution") or inputs.has("member_detail") or inputs.has("member_month_panel")):
        return None
    if not all(any(inputs.has(n) for n in group) for group in spec.requires):
        return None
    return spec.build(inputs)


def cells(inputs: ReportInputs, name: str, request: ReportRequest, *, scoped: bool = True) -> ir.Table:
    """The aggregate ``name`` restricted to ``request``'s scope (``scoped=False``: the whole run, for peer
    figures) and payer: the run folder's mart when it has one, else computed from the member-level marts once
    per report."""
    table = (
        inputs[name] if inputs.has(name) else inputs.once(("cells", name), lambda: _required(inputs, name))
    )
    if scoped:
        table = apply_scope(table, request.scope)
    return table if request.payer is None else table.filter(table.payer == request.payer)


def _required(inputs: ReportInputs, name: str) -> ir.Table:
    built = build_cells(inputs, name)
    if built is None:
        raise ConfigurationError(
            f"the report needs table {name!r}, the sum of {', '.join(DEPENDS[name])}, which this run lacks"
        )
    return built


__all__ = [
    "CELL",
    "CELL_MARTS",
    "DEPENDS",
    "DRUG_CELLS",
    "DRUG_PEOPLE",
    "EQUITY_CELLS",
    "EVENT_CELLS",
    "MONTH_CELLS",
    "PERSON_CELLS",
    "PHARMACY_CELLS",
    "PROFESSIONAL_CELLS",
    "PROFILE",
    "PROFILE_PEOPLE",
    "SHARED_PEOPLE",
    "SPENDING_CELLS",
    "build_cells",
    "cells",
    "drug_cells",
    "drug_people",
    "event_cells",
    "fill_rows",
    "month_cells",
    "panel_rows",
    "people_by_month",
    "person_cells",
    "pharmacy_cells",
    "professional_cells",
    "shared_people",
    "spending_cells",
]
